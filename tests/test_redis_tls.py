"""REDIS_URL's TLS parameters (relay_core.redis.tls): read alike for rediss:// and
rediss+sentinel://, checked at start (one ConfigError line naming REDIS_URL). Live TLS:
tests/test_sentinel.py, and a client certificate against a server that requires one below."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from relay_core.redis import queue, sentinel
from relay_core.redis.client import connect
from relay_core.settings import ConfigError
from tests.support.redis_server import RedisServer, tls_binary
from tests.support.tls_certs import make_ca, make_server_files


@pytest.fixture(scope="module")
def ca_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture
def ca(ca_pair: tuple[Path, Path]) -> Path:
    return ca_pair[0]


def test_the_ca_serves_the_primary_and_the_sentinels(ca: Path) -> None:
    url = f"rediss+sentinel://:pw@h1,h2:26380/svc/1?ssl_ca_certs={ca}&ssl_check_hostname=yes"
    spec = sentinel.parse(url)
    assert spec.ssl_options == {"ssl_ca_certs": str(ca), "ssl_check_hostname": True}
    primary = sentinel.primary_options(spec)
    assert (primary["ssl"], primary["ssl_ca_certs"], primary["db"]) == (True, str(ca), 1)
    links = sentinel.sentinel_options(spec, socket_timeout=1.0)
    assert (links["ssl"], links["ssl_ca_certs"], links["socket_timeout"]) == (True, str(ca), 1.0)
    # Sentinels on a plain port: TLS to the primary only.
    plain = sentinel.parse(url + "&sentinel_ssl=false")
    assert "ssl" not in sentinel.sentinel_options(plain)
    assert sentinel.primary_options(plain)["ssl_ca_certs"] == str(ca)
    settings = queue.redis_settings(url)
    assert (settings.ssl, settings.ssl_ca_certs, settings.sentinel) == (True, str(ca), True)


def test_a_plain_rediss_url_gives_arq_the_same_options(ca: Path) -> None:
    settings = queue.redis_settings(f"rediss://h:6380/0?ssl_ca_certs={ca}&ssl_cert_reqs=optional")
    assert (settings.ssl, settings.ssl_ca_certs, settings.ssl_cert_reqs) == (
        True,
        str(ca),
        "optional",
    )
    assert queue.redis_settings("rediss://h:6380/0?ssl_cert_reqs=none").ssl_cert_reqs == "none"


def test_a_client_certificate_is_checked_and_passed_on(ca_pair: tuple[Path, Path]) -> None:
    cert, key = ca_pair  # any certificate with its key will do for the check
    spec = sentinel.parse(f"rediss+sentinel://h1/svc?ssl_certfile={cert}&ssl_keyfile={key}")
    links = sentinel.sentinel_options(spec)
    assert (links["ssl_certfile"], links["ssl_keyfile"]) == (str(cert), str(key))
    with pytest.raises(ConfigError, match="ssl_certfile"):  # a key that is not this one's
        sentinel.parse(f"rediss+sentinel://h1/svc?ssl_certfile={cert}&ssl_keyfile={cert}")


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("ssl_ca_certs=/nonexistent/ca.pem", "is not a readable file"),
        ("ssl_ca_certs=", "is not a readable file"),
        ("ssl_ca_certs={junk}", "cannot be used"),
        ("ssl_certfile={junk}", "cannot be used"),
        ("ssl_keyfile={ca}", "ssl_keyfile needs ssl_certfile"),
        ("ssl_cert_reqs=maybe", "none, optional or required"),
        ("ssl_check_hostname=perhaps", "true or false"),
        ("sentinel_ssl=perhaps", "true or false"),
        ("ssl_ca_cert={ca}", "unknown parameter 'ssl_ca_cert'"),
    ],
)
def test_a_bad_tls_parameter_is_one_clear_line(
    ca: Path, tmp_path: Path, query: str, says: str
) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    url = "rediss+sentinel://h1/svc?" + query.format(ca=ca, junk=junk)
    with pytest.raises(ConfigError, match="REDIS_URL") as caught:
        sentinel.parse(url)
    assert says in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://h1/svc?ssl_ca_certs={ca}",
        "redis+sentinel://h1/svc?sentinel_ssl=true",
        "redis://127.0.0.1:1/0?ssl_ca_certs={ca}",
    ],
)
def test_tls_parameters_need_a_tls_url(ca: Path, url: str) -> None:
    url = url.format(ca=ca)
    check = sentinel.parse if sentinel.is_sentinel(url) else connect
    with pytest.raises(ConfigError, match="needs"):
        check(url)


def test_a_plain_rediss_url_with_a_missing_ca_fails_at_connect() -> None:
    # redis-py would only fail at the first command; the check makes it the start's one line.
    with pytest.raises(ConfigError, match="REDIS_URL: ssl_ca_certs"):
        connect("rediss://127.0.0.1:1/0?ssl_ca_certs=/nonexistent/ca.pem")
    with pytest.raises(ConfigError, match="REDIS_URL: ssl_ca_certs"):
        queue.redis_settings("rediss://127.0.0.1:1/0?ssl_ca_certs=/nonexistent/ca.pem")


@pytest.mark.skipif(tls_binary() is None, reason="no redis-server with TLS on PATH")
async def test_a_client_certificate_opens_a_server_that_requires_one(tmp_path: Path) -> None:
    """Mutual TLS (`tls-auth-clients yes`): the URL's ssl_certfile and ssl_keyfile reach the
    connections of the web process's client and of the worker's arq pool."""
    files = make_server_files(tmp_path / "tls")
    server = RedisServer(tls=replace(files, auth_clients=True)).start()
    url = f"rediss://127.0.0.1:{server.port}/0?ssl_ca_certs={files.ca}"
    url += f"&ssl_certfile={files.client_cert}&ssl_keyfile={files.client_key}"
    try:
        client = connect(url)
        assert await client.set("relay:mtls-probe", "1") is True
        await client.aclose()
        pool = await queue.arq_pool(url)
        assert await pool.get("relay:mtls-probe") == b"1"
        await pool.aclose()
        # Without the certificate the server ends the session after the handshake: a plain
        # connection error (with redis-py's health check on, it was a RecursionError).
        anonymous = connect(url.split("&ssl_certfile")[0])
        with pytest.raises(RedisConnectionError):
            await anonymous.ping()
        await anonymous.aclose()
    finally:
        server.stop()
