"""A real PostgreSQL server for the tests: Debian's postgresql, started on a free loopback port
in a temporary folder (as the postgres user when the tests run as root) and stopped after."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server() -> Iterator[str]:
    """Start a server; yield its base URL ``postgresql+psycopg2://postgres@127.0.0.1:PORT``."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    if not initdb or not pg_ctl:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    # Its own folder under /tmp: pytest's folders are closed to the postgres user.
    tmp = Path(tempfile.mkdtemp(prefix="cspsearch-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
    data, port = tmp / "data", _free_port()
    run = lambda cmd: subprocess.run(_as_postgres(cmd), check=True, capture_output=True)  # noqa: E731
    run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c max_connections=100"
    run([pg_ctl, "-D", str(data), "-o", options, "-l", str(tmp / "log"), "-w", "start"])
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"])
        shutil.rmtree(tmp, ignore_errors=True)


def new_database(base: str, name: str) -> str:
    """Create database ``name`` on the server at ``base`` and return its URL."""
    import psycopg2

    host_port = base.rsplit("@", 1)[1]
    host, port = host_port.split(":")
    connection = psycopg2.connect(host=host, port=int(port), user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return f"{base}/{name}"
