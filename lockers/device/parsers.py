"""The device API's one parser: JSON, which may come gzip-compressed.

A day of events compresses about tenfold, which keeps one upload over a cellular
link small and under Django's request size limit. The signature covers the bytes
sent (the compressed ones), so nothing is decompressed before the request is verified.

The body is parsed from the bytes the signature check has already read, in one
`json.loads`: DRF's own JSON parser decodes through a stream reader, and with its
media-type matching took a twelfth of a pickup code check's CPU (docs/performance.md,
*Eleventh pass*). It is as strict: NaN and Infinity are refused, as JSON has neither.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, NoReturn

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A decompressed body larger than this is refused: a tiny gzip must not expand into gigabytes.
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024


def _not_json(constant: str) -> NoReturn:
    raise ValueError(f"{constant} is not JSON")


def _loads(raw: bytes) -> Any:
    try:
        return json.loads(raw, parse_constant=_not_json)
    except ValueError as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ParseError(f"JSON parse error: {error}") from error


def _inflated(raw: bytes) -> bytes:
    inflater = zlib.decompressobj(wbits=31)
    try:
        inflated = inflater.decompress(raw, MAX_DECOMPRESSED_BYTES)
    except zlib.error as error:
        raise ParseError("The body is not valid gzip.") from error
    if inflater.unconsumed_tail:
        raise ParseError(f"The decompressed body is larger than {MAX_DECOMPRESSED_BYTES} bytes.")
    return inflated


class GzipJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        meta = request._request.META if request is not None else {}
        raw = stream.read()
        if meta.get("HTTP_CONTENT_ENCODING", "").strip().lower() == "gzip":
            raw = _inflated(raw)
        return _loads(raw)
