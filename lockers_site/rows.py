"""Hand-written joins for the hot paths, loaded into model instances as the ORM would.

Compiling a join of three or four models took the ORM 1 to 2.5 ms of CPU per query on
the benchmark machine, several times the query itself (docs/performance.md), and the
two busiest requests of the network make such a join on every call, as does every
reservation and deposit when it looks for a free door (`parcels.allocation`). Here the SQL is
written once, its column lists come from the models' own metadata (so a renamed
column cannot drift), and each row is loaded as `Model.from_db` would after the
database converters the ORM would apply. Fields not selected are deferred: reading
one later loads it, so a missing column costs a query, never a wrong value.

The default database only (the product has one; no router sends these models
elsewhere): the statements and the converters are built for its connection.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.db.models import signals
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute


@dataclass(frozen=True)
class Part:
    """The fields of one model a joined row carries, under its alias in the SQL."""

    model: type[models.Model]
    alias: str
    attnames: tuple[str, ...] | None = None  # None: every concrete field

    @functools.cached_property
    def fields(self) -> list[models.Field]:
        # Concrete-field order: `from_db` pairs values with fields in that order.
        return [field for field in self.model._meta.concrete_fields
                if self.attnames is None or field.attname in self.attnames]

    @property
    def table(self) -> str:
        """The quoted table name followed by the alias, for a FROM or JOIN clause."""
        return f"{table_name(self.model)} {self.alias}"

    def col(self, name: str) -> str:
        """The aliased, quoted column of field `name` (a foreign key names its id column)."""
        return f"{self.alias}.{column(self.model, name)}"

    @functools.cached_property
    def loading(self) -> _Loading:
        """What `load_row` needs for this part, looked up once rather than for every row."""
        primary_key = self.model._meta.pk
        return _Loading(attnames=tuple(field.attname for field in self.fields),
                        converters=tuple(_converters(field) for field in self.fields),
                        primary_key=self.fields.index(primary_key) if primary_key in self.fields else None,
                        plain=_plainly_built(self.model, self.fields))


@dataclass(frozen=True)
class _Loading:
    attnames: tuple[str, ...]
    converters: tuple[tuple[Callable[..., Any], ...], ...]  # each field's, in field order
    primary_key: int | None  # its place among the fields, if selected
    plain: bool  # `_plainly_built`


# The descriptors of a model's fields that store an assigned value as it is, as `Model.__init__`
# does with each value of a fresh instance.
_PLAIN_DESCRIPTORS = (DeferredAttribute, ForeignKeyDeferredAttribute)


def _plainly_built(model: type[models.Model], fields: list[models.Field]) -> bool:
    """Whether `from_db` of these fields' values is the instance's attributes set to them, and its state.

    Not so for a model that loads its own way (`from_db` overridden) or a field whose
    descriptor converts what is assigned to it (a phone number field, say); and not while
    something listens to the model's `pre_init` or `post_init` (`load_row` asks at each row).
    """
    overridden = model.from_db.__func__ is not models.Model.from_db.__func__
    return not overridden and all(type(inspect.getattr_static(model, field.attname, None)) in _PLAIN_DESCRIPTORS
                                  for field in fields)


def built(model: type[models.Model], values: Iterable[tuple[str, Any]], alias: str) -> models.Model:
    """An instance of `model` read from database `alias`, its attributes `values` (attname, value),
    as `from_db` makes one of a model that `_plainly_built` allows, but without `Model.__init__`:
    it walks every field of the model (a parcel has two dozen), a twelfth of a pickup code
    check's CPU. Fields not given are deferred, as with `from_db`."""
    instance = model.__new__(model)
    instance.__dict__.update(values)
    state = instance._state = ModelState()
    state.adding, state.db = False, alias
    return instance


def _init_listened(model: type[models.Model]) -> bool:
    return signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model)


def literal(value: str) -> str:
    """A code constant (a status, a state) written into the SQL rather than bound.

    A prepared statement's generic plan cannot use a partial index whose predicate
    names a bound parameter (`WHERE state = 'live'` against `state = $3`); the
    constants are ours, never input, and are checked to be plain words.
    """
    if not re.fullmatch(r"[a-z_]+", value):
        raise ValueError(f"Not a code constant: {value!r}")
    return f"'{value}'"


def select_list(parts: Sequence[Part]) -> str:
    """The SELECT list for `parts`, in the order `load_row` reads them."""
    return ", ".join(part.col(field.name) for part in parts for field in part.fields)


@dataclass(frozen=True)
class Numbered:
    """The rows of a SELECT of `select_list(parts)` as the part `name` of a `with_` statement.

    Its columns are numbered (`c0`, `c1`, ...) in the order of the select list, so the
    other parts can name one model's field even where two models have a field of that
    name (every model's `id`).
    """

    name: str
    parts: tuple[Part, ...]

    def of(self, select: Sql) -> Sql:
        """`select` (a SELECT of `select_list(self.parts)`) with its columns numbered."""
        width = sum(len(part.fields) for part in self.parts)
        numbered = ", ".join(f"c{index}" for index in range(width))
        return Sql(f"SELECT * FROM ({select.text}) AS numbered({numbered})", select.params)

    def col(self, alias: str, attname: str) -> str:
        """The column holding field `attname` of the part aliased `alias`, e.g. `found.c3`."""
        offset = 0
        for part in self.parts:
            names = [field.attname for field in part.fields]
            if part.alias == alias:
                return f"{self.name}.c{offset + names.index(attname)}"
            offset += len(names)
        raise KeyError(f"No part aliased {alias!r}.")


@functools.cache
def _converters(field: models.Field) -> tuple[Callable[..., Any], ...]:
    # Looked up once per field: the backend's converters depend on the field and the
    # settings, not on the thread's connection, which `_apply` passes at each call.
    column = field.get_col(field.model._meta.db_table)
    found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
    return tuple(functools.partial(_apply, converter, column) for converter in found)


def _apply(converter: Callable[..., Any], column: Any, value: Any) -> Any:
    return converter(value, column, connection)


def _converted(converters: tuple[Callable[..., Any], ...], value: Any) -> Any:
    for convert in converters:
        value = convert(value)
    return value


def load_row(parts: Sequence[Part], row: Sequence[Any]) -> list[models.Model | None]:
    """One instance per part from a row selected with `select_list(parts)` (None where an outer join missed)."""
    values = iter(row)
    alias = connection.alias
    instances: list[models.Model | None] = []
    for part in parts:
        loading = part.loading
        loaded = [_converted(converters, next(values)) for converters in loading.converters]
        if loading.primary_key is not None and loaded[loading.primary_key] is None:
            instances.append(None)  # the outer join found nothing for this part
            continue
        if loading.plain and not _init_listened(part.model):
            instances.append(built(part.model, zip(loading.attnames, loaded, strict=True), alias))
        else:
            instances.append(part.model.from_db(alias, loading.attnames, loaded))
    return instances


@contextlib.contextmanager
def _prepared() -> Iterator[None]:
    """Let psycopg prepare the statements run inside, where parameters are server-bound (PostgreSQL).

    Only these written-out statements are prepared: their plans are index look-ups that
    suit every parameter, so PostgreSQL may plan each once per connection. The ORM's
    queries stay unprepared (Django's default).
    """
    if not getattr(connection.features, "uses_server_side_binding", False):
        yield
        return
    driver = connection.connection
    previous, driver.prepare_threshold = driver.prepare_threshold, 0
    try:
        yield
    finally:
        driver.prepare_threshold = previous


@contextlib.contextmanager
def _cursor() -> Iterator[Any]:
    """The connection's kept cursor where its backend keeps one (`lockers_site.postgresql`), else a new one.

    A new one while queries are logged (DEBUG, tests counting queries): Django's logging
    cursor records them.
    """
    kept = getattr(connection, "kept_cursor", None)
    if kept is None or connection.queries_logged:
        with connection.cursor() as cursor:
            yield cursor
    else:
        yield kept()


def execute(sql: str, params: Sequence[Any], *, prepare: bool = True) -> list[tuple[Any, ...]]:
    """Every row of `sql`, as the database driver returns it (`prepare` as for `write`)."""
    with _cursor() as cursor, (_prepared() if prepare else contextlib.nullcontext()):
        cursor.execute(sql, params)
        return cursor.fetchall()


def alone() -> contextlib.AbstractContextManager[Any]:
    """What makes one statement atomic on its own: nothing in autocommit mode, a savepoint in a transaction.

    Outside a transaction the statement is its own (no BEGIN and COMMIT round trips);
    inside one, the savepoint keeps a refused statement from breaking the transaction.
    """
    return transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()


def write(sql: str, params: Sequence[Any], *, prepare: bool = True) -> int:
    """Run an INSERT, UPDATE or DELETE written out here; returns the rows it touched.

    `prepare=False` for a statement whose text varies with its input (a list of values):
    each variant would take a place in the connection's cache of prepared statements.
    """
    with _cursor() as cursor, (_prepared() if prepare else contextlib.nullcontext()):
        cursor.execute(sql, params)
        return cursor.rowcount


def fetch(sql: str, params: Sequence[Any], parts: Sequence[Part], *,
          prepare: bool = True) -> list[list[models.Model | None]]:
    """Run `sql` and load every row into one instance per part."""
    return [load_row(parts, row) for row in execute(sql, params, prepare=prepare)]


def column(model: type[models.Model], name: str) -> str:
    """The quoted column of field `name`, unqualified (an UPDATE or INSERT names its one table)."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def table_name(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def placeholders(count: int) -> str:
    """`%s, %s, ...`: the parameters of a VALUES or IN list."""
    return ", ".join(["%s"] * count)


def adapted(model: type[models.Model], values: dict[str, Any]) -> list[Any]:
    """The values as their fields would save them (datetimes, JSON), in the dict's order."""
    return [_adapted(model, name, value) for name, value in values.items()]


def _adapted(model: type[models.Model], name: str, value: Any) -> Any:
    if isinstance(value, Slot):  # given at each execution, as its field would save it (`Sql.bound`)
        return value
    return model._meta.get_field(name).get_db_prep_save(value, connection)


@dataclass(frozen=True)
class Slot:
    """A parameter of a statement built once and run many times (`Sql.bound`), named by what it holds.

    A slot stands where the statement's builders take a value; its value is given at each
    execution as the driver takes it, already what its field would save (an aware datetime,
    an id, a text).
    """

    name: str


@dataclass(frozen=True)
class Sql:
    """A piece of SQL with its parameters in the order of its placeholders: a statement, or an
    expression a statement is built around (`Sql("%s", (locker_id,))`, `Sql("(SELECT id FROM seen)")`)."""

    text: str
    params: tuple[Any, ...] = ()

    def bound(self, values: dict[str, Any]) -> Sql:
        """This statement with each `Slot` among its parameters given its value in `values`.

        Building a statement of several parts costs more CPU than running it: a hot path
        builds its statement once, with slots for what changes from one call to the next,
        and binds them at each call. Raises KeyError for a slot without a value.
        """
        return Sql(self.text, tuple(values[param.name] if isinstance(param, Slot) else param
                                    for param in self.params))


def with_(parts: dict[str, Sql], main: Sql) -> Sql:
    """`WITH name AS (part), ... main`: PostgreSQL runs data-modifying parts as one statement with the main one.

    Every part runs to completion once, all with one snapshot: the main statement does not
    see what the parts change, only what they return.
    """
    ctes = ", ".join(f"{name} AS ({part.text})" for name, part in parts.items())
    params = [param for part in parts.values() for param in part.params]
    return Sql(f"WITH {ctes} {main.text}", (*params, *main.params))


# Joins the values of `any_of` into one text parameter: a control character, which no value
# holds (door labels are printable text, checked where they come in).
_SEPARATOR = "\x1f"


def any_of(values: Sequence[str]) -> Sql:
    """What follows a column to test it is one of the text `values`.

    On PostgreSQL one text parameter split by the server (the statement's text, and so its
    prepared plan, does not vary with the values; psycopg adapting a list, element by
    element, cost a twentieth of a heartbeat), an IN list elsewhere. Raises ValueError for
    a value holding the separator.
    """
    one_text = joined(values)  # refuses a value holding the separator, on every database
    if connection.vendor == "postgresql":
        return any_of_joined(one_text)
    return Sql(f"IN ({placeholders(len(values))})" if values else "IN (NULL)", tuple(values))


def any_of_joined(values: str | Slot) -> Sql:
    """PostgreSQL: `any_of` of values already `joined` (or of a slot bound to them)."""
    return Sql("= ANY(string_to_array(%s, chr(31)))", (values,))


def joined(values: Sequence[str]) -> str:
    """The text values as `any_of_joined` takes them. Raises ValueError for a value holding the separator."""
    if any(_SEPARATOR in value for value in values):
        raise ValueError("A value to match holds the unit separator character.")
    return _SEPARATOR.join(values)


@functools.lru_cache(maxsize=64)
def _update_sql(model: type[models.Model], assigned: tuple[str, ...], matched: tuple[str, ...],
                returning: tuple[str, ...], also: tuple[str, ...]) -> str:
    assignments = ", ".join(f"{column(model, name)} = %s" for name in assigned)
    conditions = " AND ".join([*(f"{column(model, name)} = %s" for name in matched), *also])
    returned = f" RETURNING {', '.join(column(model, name) for name in returning)}" if returning else ""
    return f"UPDATE {table_name(model)} SET {assignments} WHERE {conditions}{returned}"


def update_sql(model: type[models.Model], values: dict[str, Any], *, where: dict[str, Any],
               returning: tuple[str, ...] = (), also: tuple[str, ...] = ()) -> Sql:
    """`UPDATE model SET values WHERE where (equalities) [AND also] [RETURNING columns]`, values
    adapted by their fields. `also`: conditions written in SQL without parameters (a test of
    another part of a `with_` statement), part of the statement's text."""
    meta = model._meta
    params = adapted(model, values)
    params += [value if isinstance(value, Slot) else meta.get_field(name).get_db_prep_value(value, connection)
               for name, value in where.items()]
    return Sql(_update_sql(model, tuple(values), tuple(where), returning, also), tuple(params))


def update(model: type[models.Model], values: dict[str, Any], *, where: dict[str, Any]) -> int:
    """`UPDATE model SET values WHERE where` (equalities), values adapted by their fields; rows touched.

    The hot paths' one-row updates: the same statement as `QuerySet.update`, prepared
    instead of compiled on every call.
    """
    statement = update_sql(model, values, where=where)
    return write(statement.text, statement.params)


@functools.lru_cache(maxsize=16)
def _insert_sql(model: type[models.Model], names: tuple[str, ...]) -> str:
    columns = ", ".join(column(model, name) for name in names)
    return f"INSERT INTO {table_name(model)} ({columns}) VALUES ({placeholders(len(names))})"


# A trailing length or precision, `(40)` or `(10, 2)`: dropped from a cast's type.
_TYPE_LENGTH = re.compile(r"\(\s*\d+\s*(,\s*\d+\s*)?\)$")


def _typed(field: models.Field) -> str:
    # PostgreSQL types the parameters of a VALUES list by their own rows, not by the columns
    # they go to: a column NULL in every row would be text. The cast names the column's type
    # without a trailing length (varchar, not varchar(40)), as Django's bulk insert does, so a
    # value too long is refused by the column, not cut to fit by the cast.
    if connection.vendor != "postgresql":
        return "%s"
    db_type = field.db_type(connection)
    if db_type is None:
        raise ValueError(f"{field} has no column type to cast to.")
    return f"CAST(%s AS {_TYPE_LENGTH.sub('', db_type)})"


@functools.lru_cache(maxsize=16)
def _insert_select_sql(model: type[models.Model], names: tuple[str, ...], count: int, source: str) -> str:
    meta = model._meta
    row = f"({', '.join(_typed(meta.get_field(name)) for name in names)})"
    columns = ", ".join(column(model, name) for name in names)
    return (f"INSERT INTO {table_name(model)} ({columns}) "
            f"SELECT v.* FROM {source} CROSS JOIN (VALUES {', '.join([row] * count)}) AS v")


def insert_sql(model: type[models.Model], values: Sequence[dict[str, Any]], *, for_each_row_of: str) -> Sql:
    """`INSERT INTO model (columns) SELECT ...`: the rows `values`, adapted by their fields, once for
    each row of `for_each_row_of` (a FROM item: the name of a `with_` part, a subquery with its alias).

    With a part that returns one row or none (`UPDATE ... WHERE ... RETURNING`), the rows are
    inserted only if the update happened, in the same statement. Every dict names the same fields,
    in the same order. The statement's text varies with the number of rows.
    """
    if not values:
        raise ValueError("Nothing to insert.")
    names = tuple(values[0])
    if any(tuple(row) != names for row in values):
        raise ValueError("Every row to insert names the same fields in the same order.")
    params = [param for row in values for param in adapted(model, row)]
    return Sql(_insert_select_sql(model, names, len(values), for_each_row_of), tuple(params))


@functools.lru_cache(maxsize=16)
def _insert_each_sql(model: type[models.Model], names: tuple[str, ...], expressions: tuple[str | None, ...],
                     source: str) -> str:
    meta = model._meta
    columns = ", ".join(column(model, name) for name in names)
    selected = ", ".join(expression if expression is not None else _typed(meta.get_field(name))
                         for name, expression in zip(names, expressions, strict=True))
    return f"INSERT INTO {table_name(model)} ({columns}) SELECT {selected} FROM {source}"


def insert_each_sql(model: type[models.Model], values: dict[str, Any], *, for_each_row_of: str) -> Sql:
    """`INSERT INTO model (columns) SELECT ... FROM for_each_row_of`: one row for each row of the FROM
    item, each value either an expression of its columns (an `Sql`, e.g. `Sql("found.c0")`) or a
    constant, adapted by its field. The statement's text does not vary with the number of rows.
    """
    expressions = tuple(value.text if isinstance(value, Sql) else None for value in values.values())
    params: list[Any] = []
    for name, value in values.items():
        params += value.params if isinstance(value, Sql) else [_adapted(model, name, value)]
    return Sql(_insert_each_sql(model, tuple(values), expressions, for_each_row_of), tuple(params))


def insert(model: type[models.Model], values: dict[str, Any]) -> None:
    """`INSERT INTO model (values)`, adapted by their fields: a hot path's one-row insert, prepared.

    No defaults, signals or returned id: for rows nothing reads back in the request.
    """
    write(_insert_sql(model, tuple(values)), adapted(model, values))
