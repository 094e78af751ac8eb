"""Throwaway certificates for TLS tests, made with the openssl CLI (no Python dependency)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
DAYS = "2"  # long enough for any run; nothing outlives the test's tmp dir anyway


@dataclass(frozen=True)
class TlsFiles:
    ca: Path  # the CA certificate clients trust (ssl_ca_certs)
    cert: Path  # the server's certificate, for 127.0.0.1 and localhost, signed by the CA
    key: Path
    client_cert: Path  # a client's certificate signed by the same CA (ssl_certfile)
    client_key: Path
    auth_clients: bool = False  # the server requires a client certificate (mutual TLS)

    def server_args(self) -> list[str]:
        """redis-server options for these files; TLS between the nodes too (replication)."""
        return [
            *("--tls-cert-file", str(self.cert), "--tls-key-file", str(self.key)),
            *("--tls-ca-cert-file", str(self.ca), "--tls-replication", "yes"),
            # Unless told otherwise, clients show no certificate: the CA is what they must get
            # right.
            *("--tls-auth-clients", "yes" if self.auth_clients else "no"),
        ]

    def client_options(self) -> dict[str, object]:
        return {"ssl": True, "ssl_ca_certs": str(self.ca)}


def _openssl(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True, timeout=30)


def make_ca(directory: Path, name: str = "relay-test-ca") -> tuple[Path, Path]:
    """A self-signed CA: (certificate, key)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    _openssl(
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS),
        *("-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)),
    )
    return cert, key


def make_server_files(directory: Path) -> TlsFiles:
    """A CA and a server certificate it signed, valid for 127.0.0.1 and localhost."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = make_ca(directory)
    cert, key = _signed(
        directory, "server", ca, ca_key, "subjectAltName=IP:127.0.0.1,DNS:localhost"
    )
    client_cert, client_key = _signed(
        directory, "client", ca, ca_key, "extendedKeyUsage=clientAuth"
    )
    return TlsFiles(ca=ca, cert=cert, key=key, client_cert=client_cert, client_key=client_key)


def _signed(
    directory: Path, name: str, ca: Path, ca_key: Path, extension: str
) -> tuple[Path, Path]:
    """A certificate (and its key) for `name`, signed by the CA, with one X.509 extension."""
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    _openssl(
        *("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}"),
        *("-keyout", str(key), "-out", str(csr)),
    )
    ext = directory / f"{name}.ext"
    ext.write_text(extension + "\n")
    _openssl(
        *("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key)),
        *("-CAcreateserial", "-days", DAYS, "-extfile", str(ext), "-out", str(cert)),
    )
    return cert, key
