"""File names on the multipart wire, both ways, so a name arrives exactly as it was given.

Sending (`disposition`, `file_form`): as browsers and httpx (the HTTP library of Extend's own
SDK) write it: the name in raw UTF-8 inside `filename="..."`, only `"` (as %22), `\\` (doubled)
and control characters (as %XX) escaped. Nothing else is encoded: RFC 7578 permits
percent-encoding a name, but a receiver cannot tell an encoded `a b.pdf` from a name that is
literally `a%20b.pdf`, and browsers, curl, httpx and the servers behind them keep what they
get. (aiohttp's FormData percent-encodes every non-token character, so it is not used.)

Reading (`read_disposition`): what those clients send, undone the way the WHATWG multipart
parser (Fetch standard) and python-multipart (Starlette's) undo it: the quoted-pairs `\\"` and
`\\\\`, then `%22`, `%0A` and `%0D` back to `"`, LF and CR. No other `%` is decoded. RFC
5987's `filename*=UTF-8''...` is read too and wins over `filename` when both are given (RFC
6266). The bytes must be UTF-8.

A name the relay uploads must be a file's own name: no `/`, no control characters, at most
MAX_NAME_LENGTH characters (`check_name`).
"""

from __future__ import annotations

import mimetypes
import re
from typing import IO
from urllib.parse import unquote_to_bytes

import aiohttp

MAX_NAME_LENGTH = 500
_ESCAPES = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in (*range(0x20), 0x7F)}}
_ESCAPE = re.compile("|".join(re.escape(c) for c in _ESCAPES))
_WHATWG = {"%22": '"', "%0A": "\n", "%0D": "\r"}
_UNESCAPE = re.compile("%22|%0A|%0D")
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_CHARSETS = {"utf-8": "utf-8", "iso-8859-1": "latin-1"}


def check_name(name: str) -> str:
    """The name unchanged, or ValueError saying why it cannot name an uploaded file."""
    if not name:
        raise ValueError("the file name is empty")
    if "/" in name:
        raise ValueError(f"the file name {name!r} contains '/': give the file's own name")
    bad = _CONTROL.search(name)
    if bad is not None:
        raise ValueError(
            f"the file name {name!r} contains a control character (U+{ord(bad[0]):04X})"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"the file name has more than {MAX_NAME_LENGTH} characters")
    return name


def disposition(field: str, filename: str | None = None) -> str:
    """`form-data; name="file"; filename="..."`, escaped exactly as httpx and browsers do."""
    out = f'form-data; name="{_escape(field)}"'
    return out if filename is None else f'{out}; filename="{_escape(filename)}"'


def _escape(value: str) -> str:
    return _ESCAPE.sub(lambda m: _ESCAPES[m[0]], value)


def file_form(
    content: bytes | IO[bytes], filename: str, field: str = "file"
) -> aiohttp.MultipartWriter:
    """A multipart/form-data body with one file part, its name written as `disposition` and
    its type guessed from the name (as httpx does)."""
    form = aiohttp.MultipartWriter("form-data")
    kind = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    form.append(
        content, {"Content-Type": kind, "Content-Disposition": disposition(field, filename)}
    )
    return form


def read_disposition(header: str) -> tuple[str | None, str | None]:
    """(name, filename) of a part's Content-Disposition; ValueError if they are not UTF-8 or
    `filename*` is malformed. `header` is as aiohttp gives it (its bytes decoded as UTF-8 with
    surrogateescape), so the bytes on the wire are recovered exactly."""
    params = _params(header)
    name = params.get("name")
    if "filename*" in params:
        return _text(name), _extended(params["filename*"])
    return _text(name), _text(params.get("filename"))


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    raw = _UNESCAPE.sub(lambda m: _WHATWG[m[0]], value).encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(
            "the file name is not UTF-8 (send UTF-8, or filename*=UTF-8''...)"
        ) from None


def _extended(value: str) -> str:
    """RFC 5987 `charset'language'percent-encoded`."""
    parts = value.split("'", 2)
    charset = _CHARSETS.get(parts[0].strip().lower()) if len(parts) == 3 else None
    if charset is None:
        raise ValueError("filename* must be UTF-8''percent-encoded-name (RFC 5987)")
    try:
        return unquote_to_bytes(parts[2].encode("utf-8", "surrogateescape")).decode(charset)
    except UnicodeDecodeError:
        raise ValueError("filename* is not valid UTF-8 once percent-decoded") from None


def _params(header: str) -> dict[str, str]:
    """The parameters after the disposition type, keys lowercased, quoted values unquoted
    (only `\\"` and `\\\\` are quoted-pairs: a browser sends `C:\\x` unescaped). First wins."""
    out: dict[str, str] = {}
    i, n = header.find(";"), len(header)
    if i < 0:
        return out
    while i < n:
        while i < n and header[i] in " \t;":
            i += 1
        eq = header.find("=", i)
        if eq < 0:
            break
        key = header[i:eq].strip().lower()
        i = eq + 1
        while i < n and header[i] in " \t":
            i += 1
        if i < n and header[i] == '"':
            value, i = _quoted(header, i + 1)
        else:
            end = header.find(";", i)
            end = n if end < 0 else end
            value, i = header[i:end].strip(), end
        out.setdefault(key, value)
    return out


def _quoted(text: str, i: int) -> tuple[str, int]:
    chars: list[str] = []
    while i < len(text):
        c = text[i]
        if c == "\\" and text[i + 1 : i + 2] in ('"', "\\"):
            chars.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1
    raise ValueError("a quoted Content-Disposition parameter is not closed")
