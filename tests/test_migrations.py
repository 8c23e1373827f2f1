"""Migrations are frozen: a fresh store and an upgraded version 1 store end with the schema
that models.py describes (columns, types, nullability, indexes, foreign keys), on SQLite and
on PostgreSQL. A model changed without a migration fails here."""
from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from peewee import Database, PostgresqlDatabase, SqliteDatabase

from flash4i_tui.store import migrations, models, schema_v1
from flash4i_tui.store import open_store
from flash4i_tui.store.db import make_database

from .conftest import _pg_url


def schema_of(db: Database) -> dict:
    """Table -> its columns, indexes and constraints, in a form both backends compare by."""
    if isinstance(db, SqliteDatabase):
        tables = [r[0] for r in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                               "name NOT LIKE 'sqlite_%'")]
        out = {}
        for t in tables:
            columns = sorted(tuple(r[1:]) for r in db.execute_sql(f'PRAGMA table_info("{t}")'))
            indexes = sorted((r[1], r[2], tuple(c[2] for c in db.execute_sql(f'PRAGMA index_info("{r[1]}")')))
                             for r in db.execute_sql(f'PRAGMA index_list("{t}")'))
            keys = sorted(tuple(r[2:7]) for r in db.execute_sql(f'PRAGMA foreign_key_list("{t}")'))
            out[t] = (columns, indexes, keys)
        return out
    out = {}
    for (t,) in db.execute_sql("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"):
        columns = sorted(db.execute_sql(
            "SELECT column_name, data_type, is_nullable, character_maximum_length, column_default "
            "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s", (t,)))
        indexes = sorted(db.execute_sql("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", (t,)))
        keys = sorted(db.execute_sql("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                                     "WHERE conrelid = %s::regclass", (f'"{t}"',)))
        out[t] = (columns, indexes, keys)
    return out


@contextmanager
def scratch(kind: str, tmp_path):
    """An empty database of KIND (a file, or a throw-away PostgreSQL database)."""
    if kind == "sqlite":
        db = make_database(f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}")
        yield db
        db.close()
        return
    base = _pg_url()
    if not base:
        pytest.skip("FLASH4I_TEST_PG is not set (CI starts a throw-away PostgreSQL)")
    import psycopg2
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    db = make_database(base.rsplit("/", 1)[0] + "/" + name)
    try:
        yield db
    finally:
        db.close()
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def models_schema(kind: str, tmp_path) -> dict:
    """The schema models.py describes, created straight from the models."""
    with scratch(kind, tmp_path) as db, db.bind_ctx(models.MODELS):
        db.create_tables(models.MODELS)
        return schema_of(db)


def url_of(db: Database) -> str:
    if isinstance(db, PostgresqlDatabase):
        p = db.connect_params
        return f"postgresql://{p['user']}@{p['host']}:{p['port']}/{db.database}"
    return f"sqlite:///{db.database}"


@pytest.mark.parametrize("kind", ["sqlite", "pg"])
def test_a_fresh_store_has_the_models_schema(kind, tmp_path):
    with scratch(kind, tmp_path) as empty:
        db = open_store(url_of(empty))
        assert migrations.current_version(db) == migrations.SCHEMA_VERSION
        assert schema_of(db) == models_schema(kind, tmp_path)
        db.close()


@pytest.mark.parametrize("kind", ["sqlite", "pg"])
def test_a_version_1_store_upgrades_to_the_models_schema_and_keeps_its_rows(kind, tmp_path):
    with scratch(kind, tmp_path) as old:
        # a store as release 0.1 left it: version 1's DDL, a definition and a run in it
        dialect = "postgres" if isinstance(old, PostgresqlDatabase) else "sqlite"
        for statement in schema_v1.statements(dialect):
            old.execute_sql(statement)
        old.execute_sql('CREATE TABLE "schema_version" ("id" ' + schema_v1.DIALECTS[dialect]["id"] +
                        ', "version" INTEGER NOT NULL, "applied_at" ' + schema_v1.DIALECTS[dialect]["ts"] +
                        ' NOT NULL)')
        p = "%s" if dialect == "postgres" else "?"
        old.execute_sql(f'INSERT INTO "schema_version" ("version", "applied_at") VALUES (1, {p})',
                        ("2026-01-01 00:00:00",))
        old.execute_sql('INSERT INTO "hmc" ("name", "host", "port", "user", "auth", "description") '
                        f"VALUES ('HMC1', 'hmc1.example.com', 22, 'hscroot', '{{}}', 'old')")
        old.close()
        db = open_store(url_of(old))
        assert migrations.current_version(db) == migrations.SCHEMA_VERSION
        assert schema_of(db) == models_schema(kind, tmp_path)
        assert models.Hmc.get(models.Hmc.name == "HMC1").description == "old"
        db.close()
