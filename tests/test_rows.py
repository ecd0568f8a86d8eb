"""Hand-written joins (`lockers_site.rows`) load the same values the ORM does."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, DataError, IntegrityError, connection, models, transaction
from django.db.models import Model, signals
from django.db.models.query_utils import DeferredAttribute
from django.utils import timezone
from phonenumber_field.phonenumber import PhoneNumber

from lockers.models import Compartment, DeviceNonce, Locker
from lockers_site import rows
from parcels.models import Parcel, ParcelEvent, PickupCode
from tests import parcel_states as states

pytestmark = pytest.mark.django_db

PARTS = (rows.Part(Parcel, "p"), rows.Part(Compartment, "d", ("id", "label")), rows.Part(PickupCode, "k"))


def _sql() -> str:
    parcel, door, code = PARTS
    return (f"SELECT {rows.select_list(PARTS)} FROM {parcel.table} "
            f"LEFT JOIN {door.table} ON {door.col('id')} = {parcel.col('compartment')} "
            f"LEFT JOIN {code.table} ON {code.col('id')} = {parcel.col('pickup_code')} "
            f"WHERE {parcel.col('id')} = %s")


def _field_values(instance: Model, attnames: list[str]) -> dict[str, object]:
    return {name: getattr(instance, name) for name in attnames}


def test_a_joined_row_loads_each_model_as_the_orm_does(announce, locker):
    ready = states.ready(announce)

    parcel, door, code = rows.fetch(_sql(), [ready.pk], PARTS)[0]

    expected = Parcel.objects.get(pk=ready.pk)
    every_field = [field.attname for field in Parcel._meta.concrete_fields]
    assert _field_values(parcel, every_field) == _field_values(expected, every_field)  # datetimes, JSON, choices
    assert parcel.pickup_deadline.tzinfo is not None
    assert (door.pk, door.label) == (expected.compartment_id, expected.compartment.label)
    assert code.pk == expected.pickup_code_id and code.state == PickupCode.State.LIVE


def test_an_outer_join_that_finds_nothing_gives_none_and_an_unselected_field_loads_on_access(announce, locker):
    waiting = announce()  # announced: no door yet

    parcel, door, code = rows.fetch(_sql(), [waiting.pk], PARTS)[0]
    assert door is None and code is None
    assert parcel.tracking_number == waiting.tracking_number

    ready = states.ready(announce)
    _, door, _ = rows.fetch(_sql(), [ready.pk], PARTS)[0]
    assert door.get_deferred_fields() >= {"size_class_id", "locker_id"}
    assert door.locker == Locker.objects.get(pk=ready.compartment.locker_id)  # loaded on access


def test_instances_are_built_as_from_db_builds_them_unless_a_field_converts_or_someone_listens(announce, locker):
    ready = states.ready(announce)
    parcel, door, _ = rows.fetch(_sql(), [ready.pk], PARTS)[0]
    # A phone number's descriptor makes a PhoneNumber of what it is given: a part with one goes through from_db.
    assert type(Parcel.recipient_phone) is not DeferredAttribute
    assert not rows.Part(Parcel, "p").loading.plain and rows.Part(Parcel, "p", ("id", "status")).loading.plain
    assert isinstance(parcel.recipient_phone, PhoneNumber) and parcel.recipient_phone == ready.recipient_phone
    assert not door._state.adding and door._state.db == "default"
    assert door.get_deferred_fields() == Compartment.objects.only("id", "label").get(pk=door.pk).get_deferred_fields()

    seen: list[Compartment] = []

    def listener(sender, instance, **kwargs):
        seen.append(instance)

    signals.post_init.connect(listener, sender=Compartment)
    try:
        _, door_watched, _ = rows.fetch(_sql(), [ready.pk], PARTS)[0]
    finally:
        signals.post_init.disconnect(listener, sender=Compartment)
    assert seen == [door_watched]  # built by Model.__init__, which sends the signal


@pytest.mark.postgres
def test_on_postgresql_the_written_out_statements_are_prepared_and_the_orms_are_not(announce, locker):
    ready = states.ready(announce)

    rows.fetch(_sql(), [ready.pk], PARTS)
    with pytest.raises(DatabaseError), transaction.atomic():
        rows.execute("SELECT no_such_column FROM lockers_locker", [])
    Parcel.objects.filter(status=ready.status).count()  # after them: the ORM's queries stay unprepared

    prepared = [statement for (statement,) in rows.execute("SELECT statement FROM pg_prepared_statements", [])]
    assert any(statement.startswith("SELECT p.") for statement in prepared)
    assert not any("COUNT(*)" in statement for statement in prepared)
    assert connection.connection.prepare_threshold is None  # Django's default, restored after each statement


def test_an_update_adapts_its_values_by_field_and_touches_only_the_matching_row(announce, locker):
    ready = states.ready(announce)
    code = ready.pickup_code
    ended = ready.created_at

    assert rows.update(PickupCode, {"state": PickupCode.State.USED, "ended_at": ended},
                       where={"id": code.pk, "state": PickupCode.State.LIVE}) == 1
    assert rows.update(PickupCode, {"state": PickupCode.State.USED, "ended_at": ended},
                       where={"id": code.pk, "state": PickupCode.State.LIVE}) == 0  # no longer live

    code.refresh_from_db()
    assert (code.state, code.ended_at) == (PickupCode.State.USED, ended)
    report = {"sensors": [{"zone": "ambient", "temperature_c": 21.5}]}
    rows.update(Locker, {"firmware_version": "9.9", "last_report": report}, where={"id": locker.pk})
    assert Locker.objects.values_list("firmware_version", "last_report").get(pk=locker.pk) == ("9.9", report)


def _nonce(locker: Locker, nonce: str) -> None:
    rows.insert(DeviceNonce, {"locker": locker.pk, "nonce": nonce, "seen_at": timezone.now()})


@pytest.mark.django_db(transaction=True)
def test_a_statement_alone_outside_a_transaction_commits_by_itself_and_a_refused_one_leaves_the_connection_usable(
    locker,
):
    with rows.alone():
        _nonce(locker, "a" * 20)
    assert connection.get_autocommit()  # no transaction was opened around it

    with pytest.raises(IntegrityError), rows.alone():
        _nonce(locker, "a" * 20)

    assert list(DeviceNonce.objects.values_list("nonce", flat=True)) == ["a" * 20]


def test_a_statement_alone_inside_a_transaction_refused_undoes_only_itself(locker):
    with transaction.atomic():
        _nonce(locker, "b" * 20)
        with pytest.raises(IntegrityError), rows.alone():
            _nonce(locker, "b" * 20)
        _nonce(locker, "c" * 20)  # the transaction goes on

    assert sorted(DeviceNonce.objects.values_list("nonce", flat=True)) == ["b" * 20, "c" * 20]


@pytest.mark.postgres
def test_postgresql_connections_do_not_jit_compile_queries():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)


@pytest.mark.parametrize("labels", [[], ["A1"], ["A1", "B2"]])
def test_any_of_matches_exactly_the_values_given_and_nothing_when_there_are_none(locker, labels):
    test = rows.any_of(labels)
    label = rows.column(Compartment, "label")

    found = rows.execute(f"SELECT {label} FROM {rows.table_name(Compartment)} "
                         f"WHERE {rows.column(Compartment, 'locker')} = %s AND {label} {test.text}",
                         (locker.pk, *test.params))

    assert sorted(value for (value,) in found) == labels


def test_any_of_matches_labels_with_commas_braces_quotes_and_backslashes(locker):
    odd = ["A 1,{x}", 'B"2\\', "NULL"]
    doors = list(Compartment.objects.filter(locker=locker).order_by("pk")[:3])
    for door, label in zip(doors, odd, strict=True):
        door.label = label
        door.save(update_fields=["label"])
    test = rows.any_of(odd)
    label = rows.column(Compartment, "label")

    found = rows.execute(f"SELECT {label} FROM {rows.table_name(Compartment)} "
                         f"WHERE {rows.column(Compartment, 'locker')} = %s AND {label} {test.text}",
                         (locker.pk, *test.params))

    assert sorted(value for (value,) in found) == sorted(odd)


def test_any_of_refuses_a_value_holding_its_separator():
    with pytest.raises(ValueError):
        rows.any_of(["A1", "B\x1f2"])


def _event(parcel: Parcel, **values: object) -> dict[str, object]:
    now = timezone.now()
    return {"parcel": parcel.pk, "type": "note", "from_status": "", "to_status": parcel.status, "reason": "",
            "occurred_at": now, "recorded_at": now, "site": parcel.site_id, "locker": None, "compartment": None,
            "actor": "system", "actor_label": "", "user": None, "details": {}, **values}


def test_insert_sql_writes_its_rows_once_for_each_row_of_its_source_with_nulls_json_and_times(announce):
    first, second = announce(), announce()
    values = [_event(first, details={"why": ["a", 1]}), _event(second, actor_label="courier 7")]
    attnames = {name: ParcelEvent._meta.get_field(name).attname for name in values[0]}

    statement = rows.insert_sql(ParcelEvent, values, for_each_row_of="(SELECT 1 AS one) AS source")
    assert rows.write(statement.text, statement.params) == 2
    nothing = rows.insert_sql(ParcelEvent, values, for_each_row_of="(SELECT 1 AS one WHERE 1 = 0) AS source")
    assert rows.write(nothing.text, nothing.params) == 0

    written = list(ParcelEvent.objects.filter(type="note").order_by("parcel_id").values(*attnames.values()))
    assert written == [{attnames[name]: value for name, value in given.items()} for given in values]


@pytest.mark.postgres
def test_insert_sql_leaves_a_value_too_long_to_the_column_to_refuse_not_cut(announce):
    statement = rows.insert_sql(ParcelEvent, [_event(announce(), type="x" * 41)],
                                for_each_row_of="(SELECT 1 AS one) AS source")

    with pytest.raises(DataError), transaction.atomic():
        rows.write(statement.text, statement.params)


def test_insert_sql_refuses_rows_that_name_other_fields(announce):
    parcel = announce()
    with pytest.raises(ValueError):
        rows.insert_sql(ParcelEvent, [_event(parcel), {"parcel": parcel.pk}], for_each_row_of="t")
    with pytest.raises(ValueError):
        rows.insert_sql(ParcelEvent, [], for_each_row_of="t")


@pytest.mark.postgres
def test_an_inserted_rows_casts_drop_a_trailing_length_and_nothing_else():
    assert rows._typed(models.CharField(max_length=40)) == "CAST(%s AS varchar)"
    assert rows._typed(models.DecimalField(max_digits=10, decimal_places=2)) == "CAST(%s AS numeric)"
    assert rows._typed(models.DateTimeField()) == "CAST(%s AS timestamp with time zone)"
    assert rows._typed(models.JSONField()) == "CAST(%s AS jsonb)"


@pytest.mark.postgres
def test_insert_each_sql_writes_one_row_for_each_source_row_from_its_columns_and_constants(announce):
    first, second = announce(), announce()
    source = rows.Numbered("found", (rows.Part(Parcel, "p", ("id", "site_id")),))
    found = source.of(rows.Sql(f"SELECT p.id, p.site_id FROM {rows.table_name(Parcel)} p WHERE p.id = ANY(%s)",
                               ([first.pk, second.pk],)))
    values = _event(first, details={"why": ["a", 1]}) | {"parcel": rows.Sql(source.col("p", "id")),
                                                          "site": rows.Sql(source.col("p", "site_id"))}

    main = rows.insert_each_sql(ParcelEvent, values, for_each_row_of="found")
    statement = rows.with_({"found": found}, main)
    assert rows.write(statement.text, statement.params) == 2

    written = ParcelEvent.objects.filter(type="note").order_by("parcel_id")
    assert list(written.values_list("parcel_id", "site_id", "details", "to_status")) == [
        (parcel.pk, parcel.site_id, {"why": ["a", 1]}, first.status) for parcel in (first, second)]


def test_a_numbered_select_names_each_parts_field_by_its_place():
    numbered = rows.Numbered("found", PARTS)

    assert numbered.col("p", "id") == "found.c0"
    assert numbered.col("d", "label") == f"found.c{len(PARTS[0].fields) + 1}"
    assert numbered.col("k", "id") == f"found.c{len(PARTS[0].fields) + 2}"
    with pytest.raises(KeyError):
        numbered.col("x", "id")


def test_a_statement_built_once_with_slots_runs_with_the_values_given_at_each_call(announce, locker):
    first, second = states.ready(announce), states.ready(announce)
    when, parcel = rows.Slot("when"), rows.Slot("parcel")
    assert rows.adapted(Parcel, {"updated_at": when}) == [when]  # given at each call, as its field saves it
    statement = rows.Sql(f"UPDATE {rows.table_name(Parcel)} SET {rows.column(Parcel, 'updated_at')} = %s "
                         f"WHERE {rows.column(Parcel, 'id')} = %s", (when, parcel))
    now = timezone.now()
    later = now + timedelta(minutes=5)

    for target, moment in ((first, now), (second, later)):
        bound = statement.bound({"when": moment, "parcel": target.pk})
        assert rows.write(bound.text, bound.params) == 1

    assert Parcel.objects.get(pk=first.pk).updated_at == now
    assert Parcel.objects.get(pk=second.pk).updated_at == later
    with pytest.raises(KeyError):
        statement.bound({"when": now})
