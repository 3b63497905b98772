"""The one persistence seam of the emulator.

Every piece of Harbor state is a JSON document in `objects`, addressed by (kind, id),
optionally under a parent (e.g. members under a project). Uniqueness (project names,
user names and e-mails, ...) is enforced by the database through `unique_keys`, never by
an in-process cache, so several emulator processes sharing one PostgreSQL database
behave as one Harbor. Each request runs in one transaction: a failed request changes
nothing.
"""

import contextlib
import json
import sqlite3
import threading

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS counters (kind TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, id BIGINT NOT NULL,"
    " parent BIGINT NOT NULL DEFAULT 0, name TEXT, data TEXT NOT NULL, PRIMARY KEY (kind, id))",
    # (kind, name, id) and (kind, parent, id): with `ORDER BY id` SQLite otherwise prefers the
    # primary key to skip the sort and scans every document of the kind (7 ms per member list
    # at 6,000 members, against 0.1 ms).
    "DROP INDEX IF EXISTS objects_by_name",
    "DROP INDEX IF EXISTS objects_by_parent",
    "CREATE INDEX IF NOT EXISTS objects_by_kind_name ON objects (kind, name, id)",
    "CREATE INDEX IF NOT EXISTS objects_by_kind_parent ON objects (kind, parent, id)",
    # (kind, id, name): a page of live documents by id (`window`) skips its offset and tests the
    # name in the index; through the primary key each skipped row cost a table lookup (4.7 ms
    # for the last page of 5,000 users, against 0.9 ms).
    "CREATE INDEX IF NOT EXISTS objects_by_kind_id_name ON objects (kind, id, name)",
    "CREATE TABLE IF NOT EXISTS unique_keys (kind TEXT NOT NULL, key TEXT NOT NULL,"
    " id BIGINT NOT NULL, PRIMARY KEY (kind, key))",
]


class Duplicate(Exception):
    """A unique key is already taken."""


class Doc(dict):
    """A stored document; `oid` and `parent` are the store's address of it."""

    oid = 0
    parent = 0


class Store:
    def __init__(self, url):
        self.url = url
        self.is_postgres = url.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()  # the connection of a transaction in progress on this thread
        self._idle = []
        self._idle_lock = threading.Lock()
        # SQLite allows one writer; serialising transactions in-process avoids
        # SQLITE_BUSY upgrades. PostgreSQL uses its own row locks.
        self._sqlite_lock = threading.RLock()
        with self.tx() as tx:
            if self.is_postgres:
                # CREATE TABLE IF NOT EXISTS races between processes starting together
                # (duplicate pg_type row): serialise schema creation with an advisory lock.
                tx.execute("SELECT pg_advisory_xact_lock(72616)")
            for statement in SCHEMA:
                tx.execute(statement)

    # Connections are pooled, not per thread: the HTTP server may start a thread per client
    # connection, and opening a database connection per thread (a PostgreSQL backend each)
    # cost more than the request. A connection only carries transactions, never state.
    POOL_IDLE_MAX = 8

    def _open(self):
        if self.is_postgres:
            import psycopg  # optional dependency: only for shared-database set-ups

            return psycopg.connect(self.url, autocommit=False)
        path = self.url[len("sqlite:///"):] if self.url.startswith("sqlite:///") else self.url
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _acquire(self):
        with self._idle_lock:
            if self._idle:
                return self._idle.pop()
        return self._open()

    def _release(self, conn):
        with self._idle_lock:
            if len(self._idle) < self.POOL_IDLE_MAX:
                self._idle.append(conn)
                return
        conn.close()

    @contextlib.contextmanager
    def tx(self):
        """One transaction; rolled back when the block raises.

        A tx opened inside another on the same thread shares its connection (as before pooling)."""
        held = getattr(self._local, "conn", None)
        conn = held or self._acquire()
        self._local.conn = conn
        healthy = True
        try:
            if self.is_postgres:
                import psycopg

                try:
                    yield Tx(conn, True)
                    conn.commit()
                except psycopg.OperationalError:
                    healthy = False
                    with contextlib.suppress(Exception):
                        conn.close()
                    raise
                except BaseException:
                    conn.rollback()
                    raise
                return
            with self._sqlite_lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield Tx(conn, False)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
        finally:
            if held is None:
                self._local.conn = None
                if healthy:
                    self._release(conn)

    def close(self):
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            with contextlib.suppress(Exception):
                conn.close()


class Tx:
    def __init__(self, conn, postgres):
        self.conn = conn
        self.postgres = postgres

    def execute(self, sql, params=()):
        if self.postgres:
            sql = sql.replace("?", "%s")
            cur = self.conn.cursor()
            cur.execute(sql, params)
            return cur
        return self.conn.execute(sql, params)

    def _is_unique_violation(self, exc):
        if self.postgres:
            import psycopg

            return isinstance(exc, psycopg.errors.UniqueViolation)
        return isinstance(exc, sqlite3.IntegrityError)

    # ids -------------------------------------------------------------------------
    def next_id(self, kind):
        """Harbor numbers each kind from 1 on its own."""
        self.execute("INSERT INTO counters (kind, value) VALUES (?, 0) ON CONFLICT (kind) DO NOTHING", (kind,))
        row = self.execute("UPDATE counters SET value = value + 1 WHERE kind = ? RETURNING value", (kind,)).fetchone()
        return int(row[0])

    # documents ---------------------------------------------------------------------
    @staticmethod
    def _doc(row):
        doc = Doc(json.loads(row[3]))
        doc.oid, doc.parent = int(row[0]), int(row[1])
        return doc

    def insert(self, kind, oid, data, parent=0, name=None, unique=()):
        self._claim(kind, oid, unique)
        self.execute(
            "INSERT INTO objects (kind, id, parent, name, data) VALUES (?, ?, ?, ?, ?)",
            (kind, oid, parent, name, json.dumps(data)),
        )
        return oid

    def _claim(self, kind, oid, keys):
        for key in keys:
            if key is None:
                continue
            savepoint = "sp_unique"
            self.execute(f"SAVEPOINT {savepoint}")
            try:
                self.execute("INSERT INTO unique_keys (kind, key, id) VALUES (?, ?, ?)", (kind, str(key), oid))
            except Exception as exc:
                self.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                if self._is_unique_violation(exc):
                    raise Duplicate(key) from None
                raise
            self.execute(f"RELEASE SAVEPOINT {savepoint}")

    def update(self, kind, oid, data, name=None, unique=None):
        """Replace a document; when `unique` is given it replaces the document's keys."""
        if unique is not None:
            self.execute("DELETE FROM unique_keys WHERE kind = ? AND id = ?", (kind, oid))
            self._claim(kind, oid, unique)
        if name is None:
            self.execute("UPDATE objects SET data = ? WHERE kind = ? AND id = ?", (json.dumps(data), kind, oid))
        else:
            self.execute(
                "UPDATE objects SET data = ?, name = ? WHERE kind = ? AND id = ?", (json.dumps(data), name, kind, oid)
            )

    def delete(self, kind, oid):
        self.execute("DELETE FROM unique_keys WHERE kind = ? AND id = ?", (kind, oid))
        self.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (kind, oid))

    def delete_children(self, kind, parent):
        for doc in self.list(kind, parent=parent):
            self.delete(kind, doc.oid)

    def get(self, kind, oid, for_update=False):
        sql = "SELECT id, parent, name, data FROM objects WHERE kind = ? AND id = ?"
        if for_update and self.postgres:
            sql += " FOR UPDATE"
        row = self.execute(sql, (kind, oid)).fetchone()
        return self._doc(row) if row else None

    def get_by_name(self, kind, name, parent=None):
        if parent is None:
            row = self.execute(
                "SELECT id, parent, name, data FROM objects WHERE kind = ? AND name = ? ORDER BY id LIMIT 1", (kind, name)
            ).fetchone()
        else:
            row = self.execute(
                "SELECT id, parent, name, data FROM objects WHERE kind = ? AND parent = ? AND name = ? ORDER BY id LIMIT 1",
                (kind, parent, name),
            ).fetchone()
        return self._doc(row) if row else None

    def list(self, kind, parent=None):
        if parent is None:
            rows = self.execute("SELECT id, parent, name, data FROM objects WHERE kind = ? ORDER BY id", (kind,))
        else:
            rows = self.execute(
                "SELECT id, parent, name, data FROM objects WHERE kind = ? AND parent = ? ORDER BY id", (kind, parent)
            )
        return [self._doc(row) for row in rows.fetchall()]

    def list_named(self, kind, name, parents=None):
        """Every document of `kind` with this name, under any parent or only under `parents`
        (e.g. one user's memberships, or those in the projects of one page)."""
        sql = "SELECT id, parent, name, data FROM objects WHERE kind = ? AND name = ?"
        params = [kind, name]
        if parents is not None:
            if not parents:
                return []
            sql += " AND parent IN (%s)" % ", ".join("?" * len(parents))
            params.extend(parents)
        rows = self.execute(sql + " ORDER BY id", tuple(params))
        return [self._doc(row) for row in rows.fetchall()]

    # Soft-deleted documents keep their row but not their name: Harbor renames a deleted user
    # `name#id` ('#' is illegal in live names) and its built-in anonymous user has none.
    LIVE = "name IS NOT NULL AND name NOT LIKE ?"  # with the parameter '%#%'

    def _where(self, live):
        return (" AND " + self.LIVE, ("%#%",)) if live else ("", ())

    def window(self, kind, offset, limit, live=False, order="id"):
        """One page of a kind's documents in SQL (decoding only that page), by id or by name;
        `live` leaves out the soft-deleted. With count_live/count it lists a large
        collection without reading all of it."""
        condition, params = self._where(live)
        sql = "SELECT id, parent, name, data FROM objects WHERE kind = ?" + condition
        # byte order for names on both databases, like Python's sort of the same strings
        sql += " ORDER BY " + ('name COLLATE "C", id' if self.postgres and order == "name" else
                               "name, id" if order == "name" else "id")
        if limit is None:
            return [self._doc(row) for row in self.execute(sql, (kind, *params)).fetchall()[offset:]]
        rows = self.execute(sql + " LIMIT ? OFFSET ?", (kind, *params, limit, offset))
        return [self._doc(row) for row in rows.fetchall()]

    def count_live(self, kind):
        condition, params = self._where(True)
        return int(self.execute("SELECT COUNT(*) FROM objects WHERE kind = ?" + condition, (kind, *params)).fetchone()[0])

    def count(self, kind, parent=None):
        if parent is None:
            row = self.execute("SELECT COUNT(*) FROM objects WHERE kind = ?", (kind,)).fetchone()
        else:
            row = self.execute("SELECT COUNT(*) FROM objects WHERE kind = ? AND parent = ?", (kind, parent)).fetchone()
        return int(row[0])
