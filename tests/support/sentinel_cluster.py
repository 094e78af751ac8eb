"""A primary, a replica and three Sentinels on loopback, on private ports (valkey-server).

With tls=True every link is TLS (Debian's redis-server: the bundled valkey-server has no TLS):
the nodes listen on TLS ports only and replicate over TLS; the Sentinels talk TLS to the nodes
and to each other, and listen on a TLS port (the URL's) and a plain one (sentinel_ssl=false).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis

from tests.support.redis_server import RedisServer, free_port
from tests.support.tls_certs import TlsFiles, make_server_files
from tests.support.wait import until_sync

SERVICE = "mymaster"
DOWN_AFTER_MS = 1000  # how long the primary may be silent before the Sentinels act


class SentinelCluster:
    def __init__(
        self, password: str | None = None, sentinel_password: str | None = None, tls: bool = False
    ) -> None:
        self.tls_dir = Path(tempfile.mkdtemp(prefix="relay-tls-")) if tls else None
        self.tls: TlsFiles | None = make_server_files(self.tls_dir) if self.tls_dir else None
        common = ["--repl-diskless-sync-delay", "0"]
        # A password on the primary and the replica (what REDIS_URL's user:password is for);
        # the Sentinels are told it, as production configures them.
        self.password = password
        if password:
            common += ["--requirepass", password, "--masterauth", password]
        # Both nodes keep an AOF (everysec): the replica confirms WAITAOF 0 1, and a node that
        # is restarted comes back with its data, as on a real host.
        node = {"valkey": True, "appendfsync": "everysec", "tls": self.tls}
        self.primary = RedisServer(**node, extra=common)
        replicaof = ["--replicaof", "127.0.0.1", str(self.primary.port)]
        self.replica = RedisServer(**node, extra=[*common, *replicaof])
        self.sentinel_password = sentinel_password  # the Sentinels' own (requirepass)
        self.sentinel_ports = [free_port() for _ in range(3)]  # TLS ones in TLS mode
        self.plain_sentinel_ports = [free_port() for _ in range(3)] if tls else self.sentinel_ports
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return self.url_for(ca=self.tls.ca if self.tls else None)

    def url_for(self, *, ca: Path | None, plain_sentinels: bool = False) -> str:
        """REDIS_URL for this cluster; `ca` is what ssl_ca_certs names (None: left out)."""
        ports = self.plain_sentinel_ports if plain_sentinels else self.sentinel_ports
        hosts = ",".join(f"127.0.0.1:{p}" for p in ports)
        auth = f":{self.password}@" if self.password else ""
        query = [f"sentinel_password={self.sentinel_password}"] if self.sentinel_password else []
        query += [f"ssl_ca_certs={quote(str(ca))}"] if ca else []
        query += ["sentinel_ssl=false"] if plain_sentinels else []
        scheme = "rediss+sentinel" if self.tls else "redis+sentinel"
        return f"{scheme}://{auth}{hosts}/{SERVICE}/0" + ("?" + "&".join(query) if query else "")

    def client_options(self) -> dict[str, Any]:
        """What this harness's own clients need to reach a node or a Sentinel's URL port."""
        return self.tls.client_options() if self.tls else {}

    def start(self) -> SentinelCluster:
        self.primary.start()
        self.replica.start()
        wait_link_up(self.replica.port, password=self.password, **self.client_options())
        auth = f"sentinel auth-pass {SERVICE} {self.password}\n" if self.password else ""
        if self.sentinel_password:  # each Sentinel's own password, and the one for its peers
            auth += f"requirepass {self.sentinel_password}\n"
            auth += f"sentinel sentinel-pass {self.sentinel_password}\n"
        for port, plain in zip(self.sentinel_ports, self.plain_sentinel_ports, strict=True):
            conf = self.primary.dir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {plain}\nbind 127.0.0.1\ndir {self.primary.dir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} 10000\n" + auth + self._tls_conf(port)
            )
            args = [self.primary.binary, str(conf), "--sentinel"]
            self.sentinels.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        self._wait_sentinels_agree()
        return self

    def _tls_conf(self, port: int) -> str:
        if self.tls is None:
            return ""
        # The same options as the nodes' (tls-replication: TLS to the nodes and to the peers).
        pairs = zip(self.tls.server_args()[::2], self.tls.server_args()[1::2], strict=True)
        return f"tls-port {port}\n" + "".join(f"{k[2:]} {v}\n" for k, v in pairs)

    def stop(self) -> None:
        for proc in self.sentinels:
            proc.kill()
            proc.wait(timeout=10)
        self.sentinels = []
        self.primary.stop()
        self.replica.stop()
        if self.tls_dir is not None:
            shutil.rmtree(self.tls_dir, ignore_errors=True)

    def primary_port(self) -> int | None:
        """The primary's port as the Sentinels name it now."""
        for port in self.sentinel_ports:
            client = redis.Redis(
                host="127.0.0.1",
                port=port,
                socket_timeout=1,
                password=self.sentinel_password,
                **self.client_options(),
            )
            try:
                addr = client.execute_command("SENTINEL", "get-master-addr-by-name", SERVICE)
                return int(addr[1])
            except redis.RedisError:
                continue
            finally:
                client.close()
        return None

    def _wait_sentinels_agree(self) -> None:
        def agree() -> bool:
            states = [self._master_state(port) for port in self.sentinel_ports]
            return all(
                s.get("num-slaves") == 1 and s.get("num-other-sentinels") == 2 for s in states
            )

        until_sync(agree, every=0.1, what="the Sentinels found the replica and each other")

    def _master_state(self, port: int) -> dict[str, object]:
        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=1,
            decode_responses=True,
            password=self.sentinel_password,
            **self.client_options(),
        )
        try:
            state: dict[str, object] = client.sentinel_master(SERVICE)
            return state
        except redis.RedisError:
            return {}
        finally:
            client.close()


def wait_link_up(port: int, within: float = 20.0, password: str | None = None, **tls: Any) -> None:
    client = redis.Redis(host="127.0.0.1", port=port, password=password, **tls)
    try:
        until_sync(
            lambda: client.info("replication").get("master_link_status") == "up",
            within=within,
            what=f"the replica on {port} synced",
        )
    finally:
        client.close()


def node_dir(server: RedisServer) -> Path:
    return server.dir
