"""A primary, a replica and three Sentinels on loopback, on private ports (valkey-server)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

from tests.support.redis_server import RedisServer, free_port, server_binary

SERVICE = "mymaster"
DOWN_AFTER_MS = 1000  # how long the primary may be silent before the Sentinels act


class SentinelCluster:
    def __init__(self, password: str | None = None, sentinel_password: str | None = None) -> None:
        common = ["--repl-diskless-sync-delay", "0"]
        # A password on the primary and the replica (what REDIS_URL's user:password is for);
        # the Sentinels are told it, as production configures them.
        self.password = password
        if password:
            common += ["--requirepass", password, "--masterauth", password]
        # Both nodes keep an AOF (everysec): the replica confirms WAITAOF 0 1, and a node that
        # is restarted comes back with its data, as on a real host.
        self.primary = RedisServer(valkey=True, appendfsync="everysec", extra=common)
        self.replica = RedisServer(
            valkey=True,
            appendfsync="everysec",
            extra=[*common, "--replicaof", "127.0.0.1", str(self.primary.port)],
        )
        self.sentinel_password = sentinel_password  # the Sentinels' own (requirepass)
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.sentinels: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports)
        auth = f":{self.password}@" if self.password else ""
        query = f"?sentinel_password={self.sentinel_password}" if self.sentinel_password else ""
        return f"redis+sentinel://{auth}{hosts}/{SERVICE}/0{query}"

    def start(self) -> SentinelCluster:
        self.primary.start()
        self.replica.start()
        wait_link_up(self.replica.port, password=self.password)
        auth = f"sentinel auth-pass {SERVICE} {self.password}\n" if self.password else ""
        if self.sentinel_password:  # each Sentinel's own password, and the one for its peers
            auth += f"requirepass {self.sentinel_password}\n"
            auth += f"sentinel sentinel-pass {self.sentinel_password}\n"
        for port in self.sentinel_ports:
            conf = self.primary.dir / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.primary.dir}\n"
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} 10000\n" + auth
            )
            args = [server_binary(valkey=True), str(conf), "--sentinel"]
            self.sentinels.append(
                subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        self._wait_sentinels_agree()
        return self

    def stop(self) -> None:
        for proc in self.sentinels:
            proc.kill()
            proc.wait(timeout=10)
        self.sentinels = []
        self.primary.stop()
        self.replica.stop()

    def primary_port(self) -> int | None:
        """The primary's port as the Sentinels name it now."""
        for port in self.sentinel_ports:
            client = redis.Redis(
                host="127.0.0.1", port=port, socket_timeout=1, password=self.sentinel_password
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
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [self._master_state(port) for port in self.sentinel_ports]
            if all(s.get("num-slaves") == 1 and s.get("num-other-sentinels") == 2 for s in states):
                return
            time.sleep(0.1)
        raise RuntimeError("the Sentinels did not find the replica and each other in time")

    def _master_state(self, port: int) -> dict[str, object]:
        client = redis.Redis(
            host="127.0.0.1",
            port=port,
            socket_timeout=1,
            decode_responses=True,
            password=self.sentinel_password,
        )
        try:
            state: dict[str, object] = client.sentinel_master(SERVICE)
            return state
        except redis.RedisError:
            return {}
        finally:
            client.close()


def wait_link_up(port: int, within: float = 20.0, password: str | None = None) -> None:
    client = redis.Redis(host="127.0.0.1", port=port, password=password)
    deadline = time.monotonic() + within
    try:
        while client.info("replication").get("master_link_status") != "up":
            assert time.monotonic() < deadline, f"the replica on {port} did not sync"
            time.sleep(0.02)
    finally:
        client.close()


def node_dir(server: RedisServer) -> Path:
    return server.dir
