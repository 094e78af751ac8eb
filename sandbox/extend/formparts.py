"""multipart/form-data read with python-multipart (Starlette's parser), not aiohttp's: the relay
writes its uploads with aiohttp, so the two ends of a test never share one library's reading.

A part's `filename` is what the parser gives (raw UTF-8, the quoted-pairs `\\"` and `\\\\`
undone; `filename*` ignored, as RFC 7578 forbids it), then the escapes the WHATWG form encoding
and httpx write (`%22`, `%0A`, `%0D`) are turned back into `"`, LF and CR, as the Fetch
standard's multipart parser does. No other `%` is decoded. Whether Extend itself undoes those
three escapes is UNCONFIRMED; its own SDK (httpx) sends them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

_WHATWG = {b"%22": b'"', b"%0A": b"\n", b"%0D": b"\r"}
_ESCAPED = re.compile(rb"%22|%0A|%0D")


class MalformedForm(ValueError):
    pass


@dataclass(slots=True)
class Part:
    name: str | None
    filename: str | None
    data: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Collector:
    parts: list[Part] = field(default_factory=list)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    ended: bool = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        name, filename = options.get(b"name"), options.get(b"filename")
        self.parts.append(Part(_text(name), _text(filename)))
        self.headers = {}

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.parts[-1].data += data[start:end]

    def on_end(self) -> None:
        self.ended = True


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return _ESCAPED.sub(lambda m: _WHATWG[m[0]], raw).decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedForm("a Content-Disposition parameter is not UTF-8") from None


def parse_form(content_type: str, body: bytes) -> list[Part]:
    """The parts of a multipart/form-data body, in order; MalformedForm if it is not one."""
    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise MalformedForm("the Content-Type has no boundary")
    sink = _Collector()
    callbacks = {
        "on_header_field": sink.on_header_field,
        "on_header_value": sink.on_header_value,
        "on_header_end": sink.on_header_end,
        "on_headers_finished": sink.on_headers_finished,
        "on_part_data": sink.on_part_data,
        "on_end": sink.on_end,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        parser.write(body)
        parser.finalize()
    except FormParserError as exc:
        raise MalformedForm(str(exc)) from None
    if not sink.ended:
        raise MalformedForm("the body ends before its closing boundary")
    return sink.parts
