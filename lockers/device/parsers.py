"""A JSON parser that also takes a gzip-compressed body, for the day-long event backlogs of a locker.

A day of events compresses about tenfold, which keeps one upload over a cellular
link small and under Django's request size limit. The signature covers the bytes
sent (the compressed ones), so nothing is decompressed before the request is verified.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# A decompressed body larger than this is refused: a tiny gzip must not expand into gigabytes.
MAX_DECOMPRESSED_BYTES = 16 * 1024 * 1024


class GzipJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        request = (parser_context or {}).get("request")
        encoding = request.headers.get("Content-Encoding", "") if request is not None else ""
        if encoding.strip().lower() != "gzip":
            return super().parse(stream, media_type, parser_context)
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(stream.read(), MAX_DECOMPRESSED_BYTES)
        except zlib.error as error:
            raise ParseError("The body is not valid gzip.") from error
        if inflater.unconsumed_tail:
            raise ParseError(f"The decompressed body is larger than {MAX_DECOMPRESSED_BYTES} bytes.")
        try:
            return json.loads(raw)
        except ValueError as error:
            raise ParseError(f"JSON parse error: {error}") from error
