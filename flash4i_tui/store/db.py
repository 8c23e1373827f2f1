"""Opening the store: SQLite (WAL) by default, PostgreSQL by URL."""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from peewee import Database, DatabaseProxy, OperationalError, PostgresqlDatabase, SqliteDatabase

from ..errors import StoreError
from ..paths import data_dir, touch_private

database = DatabaseProxy()

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "cache_size": -16000,
}


def utcnow() -> datetime:
    """Naive UTC timestamp: the store holds UTC only; panels convert to local time."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def default_url() -> str:
    return f"sqlite:///{data_dir() / 'flash4i.db'}"


def resolve_url(url: str | None = None) -> str:
    """--db URL, else $FLASH4I_DB, else the per-user SQLite file."""
    return url or os.environ.get("FLASH4I_DB") or default_url()


def make_database(url: str) -> Database:
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        # sqlite:///abs/path (three slashes + absolute path) or sqlite:///:memory:
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parsed.path
        if not path:
            raise StoreError(f"no database file in store URL {url!r}")
        if path != ":memory:":
            touch_private(Path(path))  # created 0600 before SQLite opens it
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10, check_same_thread=False)
    if parsed.scheme in ("postgresql", "postgres"):
        if not parsed.hostname and not parsed.path.strip("/"):
            raise StoreError(f"incomplete PostgreSQL URL {url!r}")
        return PostgresqlDatabase(
            parsed.path.lstrip("/") or "postgres",
            user=parsed.username, password=parsed.password,
            host=parsed.hostname, port=parsed.port or 5432,
            connect_timeout=10,
        )
    raise StoreError(f"unsupported store URL {url!r} (use sqlite:///PATH or postgresql://...)")


_bound_url: str | None = None   # the URL the models are bound to


def open_store(url: str | None = None, migrate: bool = True) -> Database:
    """Bind the models to the store at URL and bring its schema up to date."""
    from .migrations import migrate as run_migrations

    resolved = resolve_url(url)
    global _bound_url
    if resolved == _bound_url and database.obj is not None and ":memory:" not in resolved:
        # Already bound (a worker thread in the panels' process): swapping the database
        # object would pull it from under transactions open in other threads.
        db = database.obj
    else:
        db = make_database(resolved)
        database.initialize(db)
        _bound_url = resolved
    try:
        db.connect(reuse_if_open=True)
    except OperationalError as exc:
        raise StoreError(f"cannot open store {redact_url(resolve_url(url))}: {exc}".strip()) from exc
    if migrate:
        run_migrations(db)
    return db


def is_postgres(db: Database | None = None) -> bool:
    db = db or database.obj
    return isinstance(db, PostgresqlDatabase)


@contextmanager
def write_transaction() -> Iterator[None]:
    """A write transaction that takes the write lock at once on SQLite (no upgrade races)."""
    db = database.obj
    if isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE"):
            yield
    else:
        with db.atomic():
            yield


def redact_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
