"""A throwaway PostgreSQL cluster on loopback, for tests and benchmarks.

    with Cluster.start(tmp_dir) as cluster:
        cluster.dsn          # host=127.0.0.1 port=... user=reconciler dbname=postgres

The server binaries are found through $RECONCILE_TEST_PG_BIN (a folder holding initdb and
pg_ctl), else PATH, else /usr/lib/postgresql/<version>/bin. initdb refuses to run as root:
as root, the cluster runs as an unprivileged user (`nobody`, through runuser).
Unavailable is an error (ClusterUnavailable), never a skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

SUPERUSER = "reconciler"


class ClusterUnavailable(RuntimeError):
    pass


def server_bin() -> Path:
    """The folder holding initdb and pg_ctl."""
    env = os.environ.get("RECONCILE_TEST_PG_BIN")
    if env:
        folder = Path(env)
        if not (folder / "initdb").exists():
            raise ClusterUnavailable(f"RECONCILE_TEST_PG_BIN={env} holds no initdb")
        return folder
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise ClusterUnavailable(
        "no PostgreSQL server found (initdb): install Debian's postgresql package "
        "(.ci/postgres does) or set RECONCILE_TEST_PG_BIN to the folder holding initdb"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, root: Path, port: int, bin_dir: Path, as_user: list[str]) -> None:
        self.root = root
        self.data = root / "data"
        self.port = port
        self.bin = bin_dir
        self._as = as_user

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres"

    def dsn_for(self, dbname: str, user: str = SUPERUSER, password: str | None = None) -> str:
        text = f"host=127.0.0.1 port={self.port} user={user} dbname={dbname}"
        return text + (f" password={password}" if password else "")

    def _run(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if done.returncode != 0:
            raise ClusterUnavailable(
                f"{Path(args[0]).name} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )

    @classmethod
    def start(cls, root: Path, fsync: bool = True) -> Cluster:
        bin_dir = server_bin()
        root.mkdir(parents=True, exist_ok=True)
        as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ClusterUnavailable("running as root and no runuser to drop to nobody")
            as_user = [runuser, "-u", "nobody", "--"]
            shutil.chown(root, "nobody")
            os.chmod(root, 0o700)
            # nobody must reach the folder through its parents
            for parent in root.parents:
                mode = os.stat(parent).st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
        cluster = cls(root, free_port(), bin_dir, as_user)
        cluster._run(
            str(bin_dir / "initdb"), "-D", str(cluster.data), "-U", SUPERUSER,
            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={cluster.port} "
            f"-c unix_socket_directories='' -c fsync={'on' if fsync else 'off'} "
            "-c max_connections=60 -c shared_buffers=64MB"
        )
        cluster._run(
            str(bin_dir / "pg_ctl"), "-D", str(cluster.data), "-l", str(root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        cluster._wait()
        return cluster

    def _wait(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise ClusterUnavailable(f"PostgreSQL did not listen on 127.0.0.1:{self.port}")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn_for(name)

    def stop(self) -> None:
        subprocess.run(
            [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
             "-w", "stop"],
            capture_output=True, timeout=60, cwd=self.root,
        )  # fmt: skip

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
