"""relay_core.batches.filenames against the references: the Content-Disposition it writes is byte for
byte what httpx (the HTTP library of Extend's SDK) writes, and it reads back what httpx, curl,
browsers (WHATWG) and RFC 5987 senders write, without decoding any other `%`."""

from __future__ import annotations

import httpx
import pytest

from relay_core.batches.filenames import check_name, disposition, file_form, read_disposition
from tests.support.names import LONG, NAMES


def disposition_line(body: bytes) -> bytes:
    head = body.split(b"\r\n\r\n", 1)[0]
    (line,) = [x for x in head.split(b"\r\n") if x.startswith(b"Content-Disposition: ")]
    return line.removeprefix(b"Content-Disposition: ")


def httpx_disposition(name: str) -> str:
    """The part header httpx writes for a file part named `name`."""
    request = httpx.Request("POST", "http://127.0.0.1/", files={"file": (name, b"x")})
    return disposition_line(request.read()).decode()


def as_aiohttp_gives(header: bytes) -> str:
    """A part header as aiohttp hands it over (UTF-8, undecodable bytes kept as surrogates)."""
    return header.decode("utf-8", "surrogateescape")


@pytest.mark.parametrize("name", NAMES)
def test_written_as_httpx_writes_it_and_read_back(name: str) -> None:
    written = disposition("file", name)
    assert written == httpx_disposition(name)
    assert read_disposition(as_aiohttp_gives(written.encode())) == ("file", name)


async def test_aiohttp_writes_the_header_as_given() -> None:
    """The bytes the relay's uploads put on the wire (aiohttp's MultipartWriter, the header
    set by file_form) carry httpx's header unchanged, name for name."""
    for name in NAMES:
        body = await file_form(b"%PDF", name).as_bytes()
        assert disposition_line(body) == httpx_disposition(name).encode()


def test_only_quotes_backslashes_and_controls_are_escaped() -> None:
    assert disposition("file", 'a "b" \\ é%20.pdf') == (
        'form-data; name="file"; filename="a %22b%22 \\\\ é%20.pdf"'
    )
    assert disposition("file", "a\nb\x1b.pdf").endswith('filename="a%0Ab%1B.pdf"')


def test_read_as_browsers_curl_and_rfc5987_send_it() -> None:
    def read(header: bytes) -> tuple[str | None, str | None]:
        return read_disposition(as_aiohttp_gives(header))

    # A browser or curl: raw UTF-8, `"` as %22, a backslash as it is.
    raw = 'form-data; name="file"; filename="say %22hi%22 C:\\x é;=.pdf"'.encode()
    assert read(raw) == ("file", 'say "hi" C:\\x é;=.pdf')
    # No other %-sequence is decoded: a%20b.pdf is a name, not an encoding.
    assert read(b'form-data; name="file"; filename="a%20b%C3%A9.pdf"')[1] == "a%20b%C3%A9.pdf"
    # Backslash-escaped quotes (curl --form-escape, RFC 2616 quoted-pairs).
    assert read(b'form-data; name="file"; filename="a \\"b\\" \\\\.pdf"')[1] == 'a "b" \\.pdf'
    # RFC 5987 wins over the plain parameter, whichever comes first.
    both = b"form-data; filename*=UTF-8''%E8%AB%8B%20a%2520b.pdf; name=file; filename=\"x.pdf\""
    assert read(both) == ("file", "請 a%20b.pdf")
    assert read(b"form-data; name=file; filename*=utf-8'en'caf%C3%A9.pdf")[1] == "café.pdf"
    assert read(b"form-data; name=file; filename=plain.pdf")[1] == "plain.pdf"
    assert read(b'form-data; name="file"') == ("file", None)
    assert read(f'form-data; name="file"; filename="{LONG}"'.encode()) == ("file", LONG)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b'form-data; name="file"; filename="caf\xe9.pdf"', "not UTF-8"),
        (b"form-data; name=file; filename*=UTF-8''caf%E9.pdf", "not valid UTF-8"),
        (b"form-data; name=file; filename*=koi8-r''a.pdf", "RFC 5987"),
        (b"form-data; name=file; filename*=a.pdf", "RFC 5987"),
        (b'form-data; name="file"; filename="open.pdf', "not closed"),
    ],
)
def test_unreadable_names_are_refused(header: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_disposition(as_aiohttp_gives(header))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("folder/a.pdf", "contains '/'"),
        ("a\x00b.pdf", "U\\+0000"),
        ("line\nbreak.pdf", "U\\+000A"),
        ("x" * 501, "more than 500"),
    ],
)
def test_names_that_cannot_be_uploaded(name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_name(name)
    assert check_name(LONG) == LONG
