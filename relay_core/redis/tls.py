"""TLS options in REDIS_URL's query, under the names redis-py reads from a `rediss://` URL.

`?ssl_ca_certs=/path/ca.pem` trusts a private CA (a self-signed server certificate);
`ssl_certfile` (and `ssl_keyfile`, when the key is not in the same file) present a client
certificate to servers with `tls-auth-clients yes`; `ssl_cert_reqs=none|optional|required` and
`ssl_check_hostname=true|false` are redis-py's. They are checked when a process starts, so a
wrong path or value is one ConfigError line, not a connection error at the first command.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from relay_core.settings import ConfigError

PARAMS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs", "ssl_check_hostname")
CERT_REQS = ("none", "optional", "required")
BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def query(url: str) -> dict[str, list[str]]:
    # Blank values kept: `?ssl_ca_certs=` is a mistake to report, not a parameter to drop.
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def flag(name: str, value: str) -> bool:
    try:
        return BOOLS[value.lower()]
    except KeyError:
        raise ConfigError(f"REDIS_URL: {name} is true or false, not {value!r}") from None


def options(params: Mapping[str, list[str]], *, tls: bool) -> dict[str, Any]:
    """redis-py connection keywords for the TLS parameters among `params`, checked."""
    found = {name: params[name][0] for name in PARAMS if name in params}
    if found and not tls:
        raise ConfigError(f"REDIS_URL: {next(iter(found))} needs a TLS URL (rediss://)")
    reqs = found.get("ssl_cert_reqs")
    if reqs is not None and reqs not in CERT_REQS:
        raise ConfigError(f"REDIS_URL: ssl_cert_reqs is none, optional or required, not {reqs!r}")
    _check_files(found)
    result: dict[str, Any] = dict(found)
    if "ssl_check_hostname" in found:
        result["ssl_check_hostname"] = flag("ssl_check_hostname", found["ssl_check_hostname"])
    return result


def url_options(url: str) -> dict[str, Any]:
    """The checked TLS keywords of a plain redis:// or rediss:// URL."""
    return options(query(url), tls=url.lower().startswith("rediss://"))


def _check_files(found: Mapping[str, str]) -> None:
    for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
        path = found.get(name)
        if path is not None and not os.path.isfile(path):
            raise ConfigError(f"REDIS_URL: {name}={path!r} is not a readable file")
    if "ssl_keyfile" in found and "ssl_certfile" not in found:
        raise ConfigError("REDIS_URL: ssl_keyfile needs ssl_certfile (the client certificate)")
    # Loaded once here, as the connections will: a file of the wrong kind fails now, by name.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if "ssl_ca_certs" in found:
        _load("ssl_ca_certs", found["ssl_ca_certs"], context.load_verify_locations)
    if "ssl_certfile" in found:
        certfile, keyfile = found["ssl_certfile"], found.get("ssl_keyfile")
        _load("ssl_certfile", certfile, lambda path: context.load_cert_chain(path, keyfile))


def _load(name: str, path: str, loader: Callable[[str], object]) -> None:
    try:
        loader(path)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise ConfigError(f"REDIS_URL: {name}={path!r} cannot be used: {reason}") from None
