"""A real PostgreSQL + PostGIS server for the registry tests (no mocks).

``AGRIGIS_TEST_POSTGRES`` (a superuser URL such as ``postgresql://postgres:pw@127.0.0.1:5432/postgres``)
names a running server; otherwise a throwaway cluster is started from Debian's binaries
(``/usr/lib/postgresql/*/bin``) in a temp folder, on 127.0.0.1 and a free port, as the
``postgres`` user when the tests run as root, with password (scram) logins. Without the
binaries the PostGIS tests skip with the reason, unless ``AGRIGIS_REQUIRE_POSTGRES=1``
(or ``AGRIGIS_REQUIRE_POSTGIS=1``): then they fail, as in CI.

Import the fixtures into a test module: ``from conftest_postgis import pg_server, pg_url  # noqa: F401``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import pytest

SUPERUSER_PASSWORD = "agrigis-test"
_counter = itertools.count()


@dataclass(frozen=True)
class PgServer:
    """A server the tests may use as superuser: ``url(db)`` gives a URL for a database."""

    base: str  # superuser URL of the maintenance database

    def url(self, database: str, user: str | None = None, password: str | None = None) -> str:
        p = urlsplit(self.base)
        host = p.hostname + (f":{p.port}" if p.port else "")
        auth = p.netloc.rsplit("@", 1)[0] if user is None else user + (f":{password}" if password is not None else "")
        return urlunsplit(p._replace(netloc=f"{auth}@{host}", path=f"/{database}"))

    @property
    def host_port(self) -> tuple[str, int]:
        p = urlsplit(self.base)
        return p.hostname, p.port or 5432

    def execute(self, sql: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as con:
            con.execute(sql)

    def new_database(self, prefix: str = "agrigis_t", postgis: bool = True) -> str:
        """A fresh database (with PostGIS when asked); returns its URL as superuser."""
        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        self.execute(f"DROP DATABASE IF EXISTS {name}")
        self.execute(f"CREATE DATABASE {name}")
        if postgis:
            self.execute("CREATE EXTENSION postgis", database=name)
        return self.url(name)


def _required() -> bool:
    return "1" in (os.environ.get("AGRIGIS_REQUIRE_POSTGRES"), os.environ.get("AGRIGIS_REQUIRE_POSTGIS"))


def _unavailable(reason: str):
    if _required():
        pytest.fail(f"PostgreSQL/PostGIS required (AGRIGIS_REQUIRE_POSTGRES=1) but {reason}")
    pytest.skip(reason)


def _binaries() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{d}/initdb") and glob.glob(f"{d}/../../../../share/postgresql/*/extension/postgis.control"):
            return d
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(f"{d}/initdb"):
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _start_cluster(bindir: str) -> tuple[str, str]:
    """initdb + pg_ctl start in a temp folder; returns (superuser URL, folder)."""
    folder = tempfile.mkdtemp(prefix="agrigis-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
    pw = os.path.join(folder, "pw")
    with open(pw, "w") as f:
        f.write(SUPERUSER_PASSWORD)
    if os.geteuid() == 0:
        shutil.chown(pw, "postgres")
    data, port = os.path.join(folder, "data"), _free_port()
    subprocess.run(_as_postgres([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--pwfile", pw, "-A",
                                 "scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]),
                   check=True, capture_output=True)
    opts = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
    subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(folder, "log"),
                                 "-w", "-t", "60", "start"]), check=True, capture_output=True)
    return f"postgresql://postgres:{SUPERUSER_PASSWORD}@127.0.0.1:{port}/postgres", folder


@pytest.fixture(scope="session")
def pg_server():
    """A running PostgreSQL with PostGIS available (see the module docstring)."""
    pytest.importorskip("psycopg")
    given = os.environ.get("AGRIGIS_TEST_POSTGRES")
    if given:
        yield PgServer(given)
        return
    bindir = _binaries()
    if bindir is None:
        _unavailable("no PostgreSQL server binaries (apt-get install postgresql postgis) and no AGRIGIS_TEST_POSTGRES")
    try:
        base, folder = _start_cluster(bindir)
    except (subprocess.CalledProcessError, OSError, KeyError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        _unavailable(f"could not start a PostgreSQL cluster from {bindir}: {exc} {detail.decode(errors='replace')}")
    server = PgServer(base)
    try:
        server.new_database("agrigis_probe")
    except Exception as exc:  # noqa: BLE001 - any failure here means: no PostGIS
        _stop(bindir, folder)
        _unavailable(f"PostGIS is not available on the test server: {exc}")
    yield server
    _stop(bindir, folder)


def _stop(bindir: str, folder: str) -> None:
    subprocess.run(_as_postgres([f"{bindir}/pg_ctl", "-D", os.path.join(folder, "data"), "-m", "immediate",
                                 "stop"]), capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_url(pg_server):
    """A fresh database with PostGIS for one test module (superuser URL)."""
    return pg_server.new_database()


# -- county offices in their own processes (concurrency and kill -9 tests, benchmarks) ----------


def office_rows(county: str, prefix: str, n: int, status: str = "planned", seed: int = 0):
    """``n`` parcels of one county office (codes ``<prefix>-<i>``), 1 ha boxes near Baicheng."""
    import geopandas as gpd
    import numpy as np
    import shapely

    i = np.arange(n)
    x = 122.0 + (int(county) % 97) * 0.05 + (i % 100) * 0.002 + seed * 1e-6
    y = 45.0 + (i // 100) * 0.002
    return gpd.GeoDataFrame({
        "project_code": [f"{prefix}-{k}" for k in i], "project_name": f"项目 {prefix}", "category": "paddy_new",
        "county_code": county, "year": 2024, "status": status, "declared_area_mu": np.nan, "area_mu": np.nan,
        "investment_wan_yuan": np.round(i * 0.25, 2),
    }, geometry=shapely.box(x, y, x + 0.0013, y + 0.0009), crs="EPSG:4490")


def office_main(argv: list[str]) -> None:
    """A county office in its own process (``python -c`` from a test or benchmark).

    ``imports URL COUNTY N_IMPORTS N_PARCELS START``: wait until the epoch time START,
    then N_IMPORTS imports; every second import updates the parcels of the one before
    (status changed). Prints one JSON line per import (batch, seconds, rows, t0, t1).

    ``kill URL PREFIX N_PARCELS``: build the rows, wait for a line on stdin, open the
    transaction, print ``{"pid": backend pid}``, write, commit, print ``{"committed": …}``.
    """
    import json
    import sys
    import time

    from layers.registry import Registry

    mode, url = argv[0], argv[1]
    reg = Registry(url)
    if mode == "kill":
        prefix, n = argv[2], int(argv[3])
        rows = office_rows("220821", prefix, n)
        sys.stdin.readline()
        with reg.transaction() as tx:
            print(json.dumps({"pid": tx.info.backend_pid}), flush=True)
            res = reg.write(rows, source=f"{prefix}.shp", sha256="k" * 64, batch_id=f"kill-{prefix}", tx=tx)
        print(json.dumps({"committed": res.batch_id}), flush=True)
        return
    county, n_imports, n, start = argv[2], int(argv[3]), int(argv[4]), float(argv[5])
    time.sleep(max(0.0, start - time.time()))
    for k in range(n_imports):
        update = k % 2 == 1
        rows = office_rows(county, f"{county}-{k - 1 if update else k}", n, "approved" if update else "planned", k)
        t0 = time.time()
        res = reg.write(rows, source=f"{county}-{k}.shp", sha256="o" * 64, update=update)
        t1 = time.time()
        print(json.dumps({"batch": res.batch_id, "seconds": t1 - t0, "new": res.n_new, "updated": res.n_updated,
                          "t0": t0, "t1": t1}), flush=True)


def office_command(*args: str) -> list[str]:
    """The command line of :func:`office_main` with these arguments."""
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    code = f"import sys; sys.path.insert(0, {here!r}); from conftest_postgis import office_main; office_main(sys.argv[1:])"
    return [sys.executable, "-c", code, *args]
