"""Migration operations of our own: indexes built and dropped without locking a live table's
writes, and room kept on a table's pages for its rows' next versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations.operations import AddConstraint, AddIndex, AlterField
from django.db.migrations.operations.base import Operation


def _on_postgresql(schema_editor: Any) -> bool:
    return schema_editor.connection.vendor == "postgresql"


def postgresql_only(*statements: str) -> Callable[[Any, Any], None]:
    """A RunPython function executing `statements` on PostgreSQL only, for what exists there
    alone (the bundle change log's triggers, Django's pattern-ops indexes). Each is sent on
    its own: PostgreSQL runs several statements sent at once as one transaction, where
    `CONCURRENTLY` is refused."""

    def run(apps: Any, schema_editor: Any) -> None:
        if _on_postgresql(schema_editor):
            for statement in statements:
                schema_editor.execute(statement)

    return run


class AddIndexOnline(AddIndexConcurrently):
    """`AddIndex` that PostgreSQL builds with `CREATE INDEX CONCURRENTLY`; other databases plainly.

    A plain build locks the table's writes until it ends: minutes on a parcels table of
    millions of rows, while lockers and partners keep writing. Its migration must set
    `atomic = False` (PostgreSQL refuses a concurrent build in a transaction). A build
    that fails leaves an INVALID index behind: drop it and run the migration again.
    """

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if _on_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if _on_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)


class _OnlineOnPostgreSQL:
    """A migration operation that PostgreSQL runs online, with the class's `online_forwards`
    and `online_backwards`, and other databases as its plain Django operation does."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if _on_postgresql(schema_editor):
            self.online_forwards(app_label, schema_editor, from_state, to_state)
        else:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if _on_postgresql(schema_editor):
            self.online_backwards(app_label, schema_editor, from_state, to_state)
        else:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class ForeignKeyIndexDroppedOnline(_OnlineOnPostgreSQL, AlterField):
    """`AlterField` of a foreign key to `db_index=False`: PostgreSQL drops the index with
    `DROP INDEX CONCURRENTLY` and nothing else; other databases as `AlterField` does.

    Django's own `AlterField` drops and re-adds the foreign key constraint around the index,
    and adding it back checks every row under a lock that stops the table's writes: a full
    scan of millions of parcels or custody events. Only `db_index` may differ between the
    two fields. Its migration must set `atomic = False`, as for `AddIndexOnline`.
    """

    def online_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        column = from_state.apps.get_model(app_label, self.model_name)._meta.get_field(self.name).column
        # The index on exactly this column that enforces nothing (not a unique constraint's),
        # other than one the model declares (a partial index built to replace it, say).
        declared = {index.name for index in model._meta.indexes}
        for name in schema_editor._constraint_names(model, [column], index=True, unique=False, primary_key=False):
            if name not in declared:
                schema_editor.execute(schema_editor._delete_index_sql(model, name, concurrently=True))

    def online_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[field], concurrently=True))


class LiveUniqueAddedOnline(_OnlineOnPostgreSQL, AddConstraint):
    """`AddConstraint` of a conditional `UniqueConstraint` (a unique index over some rows) that
    PostgreSQL builds with `CREATE UNIQUE INDEX CONCURRENTLY`; other databases plainly.

    A plain build locks the table's writes until it ends, as for `AddIndexOnline`, and its
    migration must set `atomic = False` likewise. A build that fails, or finds two rows
    the index refuses, leaves an INVALID index behind: drop it, mend the rows, migrate again.
    """

    def online_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if self.constraint.condition is None:
            raise ValueError("Only a conditional unique constraint is a unique index that can be built online.")
        model = to_state.apps.get_model(app_label, self.model_name)
        plain = str(self.constraint.create_sql(model, schema_editor))
        schema_editor.execute(plain.replace("CREATE UNIQUE INDEX ", "CREATE UNIQUE INDEX CONCURRENTLY ", 1))

    def online_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {schema_editor.quote_name(self.constraint.name)}")


class UniqueDroppedOnline(_OnlineOnPostgreSQL, AlterField):
    """`AlterField` from `unique=True` to `unique=False` (a column keeping no index), which
    on PostgreSQL drops the unique constraint `constraint_name` and nothing else, and gives
    it back built online; other databases as `AlterField` does.

    Django's own `AlterField` would, going back, also build the `varchar_pattern_ops`
    index that a unique `CharField` gets on PostgreSQL, and build the constraint's index
    under a lock that stops the table's writes. Only `unique` may differ between the two
    fields. Its migration must set `atomic = False`, as for `AddIndexOnline`.
    """

    def __init__(self, *args: Any, constraint_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.constraint_name = constraint_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        name, args, kwargs = super().deconstruct()
        return name, args, {**kwargs, "constraint_name": self.constraint_name}

    def _table_and_column(self, app_label: str, state: Any) -> tuple[str, str]:
        model = state.apps.get_model(app_label, self.model_name)
        return model._meta.db_table, model._meta.get_field(self.name).column

    def online_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        table, _ = self._table_and_column(app_label, from_state)
        quote = schema_editor.quote_name
        schema_editor.execute(f"ALTER TABLE {quote(table)} DROP CONSTRAINT IF EXISTS {quote(self.constraint_name)}")

    def online_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        table, column = self._table_and_column(app_label, to_state)
        quote, name = schema_editor.quote_name, schema_editor.quote_name(self.constraint_name)
        # The index first, without stopping writes; the constraint then takes it over at once.
        schema_editor.execute(
            f"CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {quote(table)} ({quote(column)})")
        schema_editor.execute(f"ALTER TABLE {quote(table)} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")


class SetFillFactor(Operation):
    """PostgreSQL's `fillfactor` for a model's table: inserts leave this percentage of a page used.

    A row updated all the time (a locker at every heartbeat) then finds room for its new
    version on its own page: with no indexed column changed, the update is HOT, writing no
    index entry. Only pages written after the change keep the room (or after a rewrite
    such as `VACUUM FULL`). Other databases have no such setting: nothing happens there.
    """

    reduces_to_sql = True
    reversible = True

    def __init__(self, model_name: str, percent: int, previous: int = 100) -> None:
        self.model_name, self.percent, self.previous = model_name, percent, previous

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return self.__class__.__name__, [self.model_name, self.percent], {"previous": self.previous}

    def state_forwards(self, app_label: str, state: Any) -> None:
        """The table's storage is not part of the models' state."""

    def _set(self, app_label: str, schema_editor: Any, state: Any, percent: int) -> None:
        if not _on_postgresql(schema_editor):
            return
        table = state.apps.get_model(app_label, self.model_name)._meta.db_table
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {int(percent)})")

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._set(app_label, schema_editor, to_state, self.percent)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        self._set(app_label, schema_editor, to_state, self.previous)

    def describe(self) -> str:
        return f"Set fillfactor {self.percent} on {self.model_name}"
