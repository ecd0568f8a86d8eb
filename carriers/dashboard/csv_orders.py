"""The order spreadsheet: its template and reading an upload into numbered rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.files.uploadedfile import UploadedFile

# Column -> OrderForm field. The template lists them in this order.
COLUMNS = {
    "order_number": "order_number",
    "customer_name": "customer_name",
    "phone": "phone",
    "email": "email",
    "size": "size",
    "length_mm": "length_mm",
    "width_mm": "width_mm",
    "height_mm": "height_mm",
    "weight_g": "weight_g",
    "needs": "temperature",
    "promised_at": "promised_at",
}
REQUIRED = ("order_number", "customer_name")
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 2000
EXAMPLE = {
    "order_number": "ORD-10001", "customer_name": "Ada Lovelace", "phone": "+16125550100",
    "email": "ada@example.com", "size": "M", "needs": "ambient", "promised_at": "2026-12-01 17:00",
}


class CsvRefused(Exception):
    """The file as a whole cannot be read (not rows: those are reported one by one)."""


@dataclass(frozen=True)
class Row:
    line: int
    data: dict[str, str]


def template_csv() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(EXAMPLE)
    return out.getvalue()


def _text(upload: UploadedFile) -> str:
    if upload.size > MAX_BYTES:
        raise CsvRefused(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it.")
    try:
        # utf-8-sig: spreadsheets saving "CSV UTF-8" put a byte-order mark first.
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvRefused("The file is not UTF-8 text: save it as 'CSV UTF-8'.") from error


def csv_rows(upload: UploadedFile) -> Iterator[Row]:
    """Rows of the upload with the line each ends on, form field names as keys.

    Raises `CsvRefused` for a file that is too big, not UTF-8, not readable as CSV (a
    cell over the csv module's field limit, 131,072 characters), lacks required
    columns or has too many rows. Blank lines are skipped.
    """
    text = _text(upload)
    try:
        yield from _rows(text)
    except csv.Error as error:
        raise CsvRefused(f"The file cannot be read as CSV ({error}): is a cell far too long?") from error


def _rows(text: str) -> Iterator[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in reader.fieldnames or []]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise CsvRefused(f"Missing column(s): {', '.join(missing)}. Start from the template.")
    reader.fieldnames = header
    for count, raw in enumerate(reader, start=1):
        if count > MAX_ROWS:
            raise CsvRefused(f"More than {MAX_ROWS} orders in one file; split it.")
        if not any((value or "").strip() for value in raw.values() if isinstance(value, str)):
            continue
        data = {field: (raw.get(column) or "").strip() for column, field in COLUMNS.items()}
        yield Row(line=reader.line_num, data=data)
