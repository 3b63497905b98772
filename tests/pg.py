"""A throwaway PostgreSQL cluster for tests (Debian's server binaries, started by the harness).

Use from a test module:

    from ..pg import pg_cluster, pg_url  # noqa: F401  (fixtures)

`pg_cluster` (session) runs one cluster: initdb into a temp dir, pg_ctl start on a free
loopback port with its unix socket in that dir, trust auth, a database `harbor`; it is
stopped and removed at the end. `pg_cluster.url` is
`postgresql://postgres@127.0.0.1:PORT/harbor`; `pg_cluster.create_database()` makes
another empty one. `pg_url` (per test) is a fresh database's URL, so tests never see each
other's state.

PostgreSQL refuses to run as root; as root the server binaries run as the `postgres`
system user (Debian's package creates it) through `runuser`. When the binaries are missing
the tests are skipped with the reason, except under CI (env CI set), where that fails.
"""

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

import pytest

BIN_GLOB = "/usr/lib/postgresql/*/bin"
_names = itertools.count(1)


def server_bin_dir():
    """The newest installed server bin dir holding initdb and pg_ctl, or None."""
    candidates = [d for d in glob.glob(BIN_GLOB)
                  if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK)]
    if not candidates:
        return None
    return max(candidates, key=lambda d: [int(p) for p in d.split("/")[-2].split(".") if p.isdigit()] or [0])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _missing(reason):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it: `make deps` installs it)")
    pytest.skip(f"{reason}; `make test` installs Debian's postgresql")


class Cluster:
    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.root = tempfile.mkdtemp(prefix="harbor-pg-")
        self.data = os.path.join(self.root, "data")
        self.log = os.path.join(self.root, "server.log")
        self.port = None
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        os.chmod(self.root, 0o700)

    @property
    def url(self):
        return self.url_for("harbor")

    def url_for(self, database):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv):
        command = [os.path.join(self.bin_dir, argv[0]), *argv[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            log = open(self.log).read()[-2000:] if os.path.exists(self.log) else ""
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {result.stdout}{result.stderr}{log}")
        return result

    def start(self):
        self._run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        # Throwaway data: durability off makes commits cheap.
        options = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        for attempt in range(3):
            self.port = free_port()
            try:
                self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "30",
                          "-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} {options}", "start")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self.create_database("harbor")
        return self

    def create_database(self, name=None):
        """An empty database; returns its URL."""
        import psycopg

        name = name or f"t{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url_for(name)

    def stop(self):
        try:
            if self.port is not None:
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster():
    bin_dir = server_bin_dir()
    if bin_dir is None:
        _missing(f"PostgreSQL server binaries not found ({BIN_GLOB}/initdb, pg_ctl)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            _missing("running as root but there is no `postgres` system user to run the server as")
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A fresh, empty database of the session's cluster."""
    return pg_cluster.create_database()
