"""Migration operations of our own: indexes built without locking a live table's writes."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndexConcurrently):
    """`AddIndex` that PostgreSQL builds with `CREATE INDEX CONCURRENTLY`; other databases plainly.

    A plain build locks the table's writes until it ends: minutes on a parcels table of
    millions of rows, while lockers and partners keep writing. Its migration must set
    `atomic = False` (PostgreSQL refuses a concurrent build in a transaction). A build
    that fails leaves an INVALID index behind: drop it and run the migration again.
    """

    def _on_postgresql(self, schema_editor: Any) -> bool:
        return schema_editor.connection.vendor == "postgresql"

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if self._on_postgresql(schema_editor):
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if self._on_postgresql(schema_editor):
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
