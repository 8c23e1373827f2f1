"""Schema versions. Each migration runs once, in order, inside a transaction.

Version 1 is the frozen DDL of release 0.1 (schema_v1.py), not the live models: a fresh
install and an upgrade go through the same migrations. When a model changes, add a migration
(playhouse.migrate operations); never edit an applied one. tests/test_migrations.py checks that
the migrations end with the schema models.py describes.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from peewee import Database

from ..errors import StoreError
from . import models, schema_v1
from .db import is_postgres, write_transaction

_MIGRATION_LOCK = 0x464C3449  # "FL4I": advisory lock key for PostgreSQL


@contextmanager
def _exclusive(db: Database) -> Iterator[None]:
    """Serialise migrations across processes (IMMEDIATE on SQLite, advisory lock on PostgreSQL)."""
    with write_transaction():
        if is_postgres(db):
            db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        yield


def _v1(db: Database) -> None:
    for statement in schema_v1.statements("postgres" if is_postgres(db) else "sqlite"):
        db.execute_sql(statement)


def _v2(db: Database) -> None:
    """The clone's proof (run.proof, run.proven). Fields written out, not the live models'."""
    from peewee import BooleanField
    from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate
    migrator = PostgresqlMigrator(db) if is_postgres(db) else SqliteMigrator(db)
    migrate(migrator.add_column("run", "proof", models.JSONField(null=True)),
            migrator.add_column("run", "proven", BooleanField(null=True)))


V3_DDL = {
    "sqlite": ("""CREATE TABLE "recovery_point" (
    "id" INTEGER NOT NULL PRIMARY KEY,
    "environment_id" INTEGER NOT NULL,
    "generation" INTEGER NOT NULL,
    "run_id" INTEGER,
    "taken_at" DATETIME,
    "state" VARCHAR(255) NOT NULL,
    "space_used_bytes" INTEGER,
    "proven" INTEGER,
    "updated_at" DATETIME NOT NULL,
    FOREIGN KEY ("environment_id") REFERENCES "environment" ("id") ON DELETE CASCADE,
    FOREIGN KEY ("run_id") REFERENCES "run" ("id") ON DELETE SET NULL)"""),
    "postgres": ("""CREATE TABLE "recovery_point" (
    "id" SERIAL NOT NULL PRIMARY KEY,
    "environment_id" INTEGER NOT NULL,
    "generation" INTEGER NOT NULL,
    "run_id" INTEGER,
    "taken_at" TIMESTAMP,
    "state" VARCHAR(255) NOT NULL,
    "space_used_bytes" BIGINT,
    "proven" BOOLEAN,
    "updated_at" TIMESTAMP NOT NULL,
    FOREIGN KEY ("environment_id") REFERENCES "environment" ("id") ON DELETE CASCADE,
    FOREIGN KEY ("run_id") REFERENCES "run" ("id") ON DELETE SET NULL)"""),
}
V3_INDEXES = (
    'CREATE INDEX "recovery_point_environment_id" ON "recovery_point" ("environment_id")',
    'CREATE UNIQUE INDEX "recovery_point_environment_id_generation" ON "recovery_point" ("environment_id", "generation")',
    'CREATE INDEX "recovery_point_run_id" ON "recovery_point" ("run_id")',
)


def _v3(db: Database) -> None:
    """Recovery points: one row per generation of an environment (issue 13). Written out, frozen."""
    db.execute_sql(V3_DDL["postgres" if is_postgres(db) else "sqlite"])
    for statement in V3_INDEXES:
        db.execute_sql(statement)


MIGRATIONS: list[tuple[int, Callable[[Database], None]]] = [(1, _v1), (2, _v2), (3, _v3)]
SCHEMA_VERSION = MIGRATIONS[-1][0]


def current_version(db: Database) -> int:
    if not db.table_exists(models.SchemaVersion._meta.table_name):
        return 0
    row = models.SchemaVersion.select().order_by(models.SchemaVersion.version.desc()).first()
    return row.version if row else 0


def migrate(db: Database) -> int:
    """Apply the pending migrations; refuse a store written by a newer flash4i."""
    with _exclusive(db):
        db.create_tables([models.SchemaVersion], safe=True)
    version = current_version(db)
    if version > SCHEMA_VERSION:
        raise StoreError(f"the store has schema version {version}, newer than this flash4i ({SCHEMA_VERSION})")
    for number, step in MIGRATIONS:
        if number <= version:
            continue
        with _exclusive(db):
            # Re-check inside the transaction: another process may have migrated meanwhile.
            if current_version(db) >= number:
                continue
            step(db)
            models.SchemaVersion.create(version=number)
    return current_version(db)
