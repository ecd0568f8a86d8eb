from django.db import migrations

from lockers_site.migration_ops import postgresql_only

# lockers_bundle_changed_at_door was a LANGUAGE sql function. PostgreSQL before 18 keeps no
# plan of such a function between calls when it is not inlined (and a function called by
# PERFORM from a trigger is not): it parsed and planned its join on every parcel a write
# touched. Measured on PostgreSQL 15 with one commit per call, a call cost 119 to 139 µs
# against 39 to 51 µs written in PL/pgSQL, whose plan a session keeps: about 80 µs of
# the database's time saved on every write that moves a waiting parcel (a deposit, a door
# event's pickup, the expiry job; docs/performance.md, *Twelfth pass*).
# Same arguments, same effect; only the language changes.
PLPGSQL = """
CREATE OR REPLACE FUNCTION lockers_bundle_changed_at_door(door bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lockers_bundle_log(l.site_id)
    FROM lockers_compartment d JOIN lockers_locker l ON l.id = d.locker_id WHERE d.id = door;
END $$;
"""

SQL = """
CREATE OR REPLACE FUNCTION lockers_bundle_changed_at_door(door bigint) RETURNS void LANGUAGE sql AS $$
    SELECT lockers_bundle_log(l.site_id)
    FROM lockers_compartment d JOIN lockers_locker l ON l.id = d.locker_id WHERE d.id = door
$$;
"""


class Migration(migrations.Migration):

    dependencies = [
        ('lockers', '0010_fk_indexes_covered'),
    ]

    operations = [migrations.RunPython(postgresql_only(PLPGSQL), postgresql_only(SQL))]
