"""Version 1 of the store's schema, written out (frozen): the tables as release 0.1 created them.

Never edit it. A model change is a new migration in migrations.py; tests/test_migrations.py
checks that a fresh store and an upgraded version 1 store end with the schema models.py
describes, on SQLite and on PostgreSQL. The {placeholders} are the column types that differ
between the two (see DIALECTS).
"""
from __future__ import annotations

DIALECTS = {
    "sqlite": {"id": "INTEGER NOT NULL PRIMARY KEY", "ts": "DATETIME", "bool": "INTEGER", "bigint": "INTEGER"},
    "postgres": {"id": "SERIAL NOT NULL PRIMARY KEY", "ts": "TIMESTAMP", "bool": "BOOLEAN", "bigint": "BIGINT"},
}

DDL = """
CREATE TABLE "hmc" (
    "id" {id},
    "name" VARCHAR(10) NOT NULL,
    "host" VARCHAR(255) NOT NULL,
    "port" INTEGER NOT NULL,
    "user" VARCHAR(255) NOT NULL,
    "auth" TEXT NOT NULL,
    "known_hosts" TEXT,
    "description" TEXT NOT NULL);
CREATE UNIQUE INDEX "hmc_name" ON "hmc" ("name");
CREATE TABLE "managed_system" (
    "id" {id},
    "hmc_id" INTEGER NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    FOREIGN KEY ("hmc_id") REFERENCES "hmc" ("id") ON DELETE CASCADE);
CREATE INDEX "managed_system_hmc_id" ON "managed_system" ("hmc_id");
CREATE UNIQUE INDEX "managed_system_hmc_id_name" ON "managed_system" ("hmc_id", "name");
CREATE TABLE "storage_system" (
    "id" {id},
    "name" VARCHAR(10) NOT NULL,
    "type" VARCHAR(255) NOT NULL,
    "host" VARCHAR(255) NOT NULL,
    "port" INTEGER NOT NULL,
    "user" VARCHAR(255) NOT NULL,
    "auth" TEXT NOT NULL,
    "known_hosts" TEXT,
    "options" TEXT NOT NULL,
    "description" TEXT NOT NULL);
CREATE UNIQUE INDEX "storage_system_name" ON "storage_system" ("name");
CREATE TABLE "partition" (
    "id" {id},
    "name" VARCHAR(10) NOT NULL,
    "managed_system_id" INTEGER NOT NULL,
    "lpar_name" VARCHAR(255) NOT NULL,
    "lpar_id" INTEGER NOT NULL,
    "profile" VARCHAR(255) NOT NULL,
    "ssh_host" VARCHAR(255) NOT NULL,
    "ssh_port" INTEGER NOT NULL,
    "ssh_user" VARCHAR(255) NOT NULL,
    "ssh_auth" TEXT NOT NULL,
    "known_hosts" TEXT,
    "address" VARCHAR(255),
    "storage_hosts" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    FOREIGN KEY ("managed_system_id") REFERENCES "managed_system" ("id") ON DELETE RESTRICT);
CREATE UNIQUE INDEX "partition_name" ON "partition" ("name");
CREATE INDEX "partition_managed_system_id" ON "partition" ("managed_system_id");
CREATE TABLE "environment" (
    "id" {id},
    "name" VARCHAR(10) NOT NULL,
    "description" TEXT NOT NULL,
    "function" VARCHAR(255) NOT NULL,
    "source_id" INTEGER NOT NULL,
    "clone_id" INTEGER NOT NULL,
    "storage_id" INTEGER NOT NULL,
    "consistency_group" VARCHAR(255) NOT NULL,
    "copy_mode" VARCHAR(255) NOT NULL,
    "copy_rate" INTEGER NOT NULL,
    "attach" TEXT NOT NULL,
    "quiesce_timeout" INTEGER NOT NULL,
    "quiesce_action" VARCHAR(255) NOT NULL,
    "clone_system_name" VARCHAR(8) NOT NULL,
    "clone_interfaces" TEXT NOT NULL,
    "hold_job_schedules" {bool} NOT NULL,
    "end_job_scheduler" {bool} NOT NULL,
    "brms" TEXT,
    "save21" TEXT,
    "user_commands" TEXT,
    "schedule" VARCHAR(255),
    "stop_clone_after" {bool} NOT NULL,
    "ipl_timeout" INTEGER NOT NULL,
    "log_retention_days" INTEGER NOT NULL,
    "options" TEXT NOT NULL,
    "updated_at" {ts} NOT NULL,
    FOREIGN KEY ("source_id") REFERENCES "partition" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("clone_id") REFERENCES "partition" ("id") ON DELETE RESTRICT,
    FOREIGN KEY ("storage_id") REFERENCES "storage_system" ("id") ON DELETE RESTRICT);
CREATE UNIQUE INDEX "environment_name" ON "environment" ("name");
CREATE INDEX "environment_source_id" ON "environment" ("source_id");
CREATE INDEX "environment_clone_id" ON "environment" ("clone_id");
CREATE INDEX "environment_storage_id" ON "environment" ("storage_id");
CREATE TABLE "volume_pair" (
    "id" {id},
    "environment_id" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "source" VARCHAR(255) NOT NULL,
    "target" VARCHAR(255) NOT NULL,
    FOREIGN KEY ("environment_id") REFERENCES "environment" ("id") ON DELETE CASCADE);
CREATE INDEX "volume_pair_environment_id" ON "volume_pair" ("environment_id");
CREATE UNIQUE INDEX "volume_pair_environment_id_seq" ON "volume_pair" ("environment_id", "seq");
CREATE TABLE "run" (
    "id" {id},
    "environment_id" INTEGER,
    "env_name" VARCHAR(255) NOT NULL,
    "function" VARCHAR(255) NOT NULL,
    "state" VARCHAR(255) NOT NULL,
    "requested_by" VARCHAR(255) NOT NULL,
    "requested_at" {ts} NOT NULL,
    "schedule_slot" {ts},
    "worker" VARCHAR(255),
    "heartbeat_at" {ts},
    "started_at" {ts},
    "ended_at" {ts},
    "duration" REAL,
    "current_step" VARCHAR(255),
    "phase" VARCHAR(255) NOT NULL,
    "suspend_started_at" {ts},
    "suspend_ended_at" {ts},
    "suspended_seconds" REAL,
    "resume_confirmed" {bool},
    "flash_time" {ts},
    "space_used_bytes" {bigint},
    "message" TEXT NOT NULL,
    "cancel_requested" {bool} NOT NULL,
    "snapshot" TEXT NOT NULL,
    FOREIGN KEY ("environment_id") REFERENCES "environment" ("id") ON DELETE SET NULL);
CREATE INDEX "run_environment_id" ON "run" ("environment_id");
CREATE INDEX "run_env_name" ON "run" ("env_name");
CREATE INDEX "run_state" ON "run" ("state");
CREATE INDEX "run_requested_at" ON "run" ("requested_at");
CREATE TABLE "step" (
    "id" {id},
    "run_id" INTEGER NOT NULL,
    "seq" INTEGER NOT NULL,
    "name" VARCHAR(255) NOT NULL,
    "status" VARCHAR(255) NOT NULL,
    "started_at" {ts},
    "ended_at" {ts},
    "duration" REAL,
    "bound_seconds" REAL,
    "progress" REAL,
    "detail" TEXT NOT NULL,
    FOREIGN KEY ("run_id") REFERENCES "run" ("id") ON DELETE CASCADE);
CREATE INDEX "step_run_id" ON "step" ("run_id");
CREATE UNIQUE INDEX "step_run_id_seq" ON "step" ("run_id", "seq");
CREATE TABLE "log_entry" (
    "id" {id},
    "run_id" INTEGER NOT NULL,
    "kind" VARCHAR(255) NOT NULL,
    "seq" INTEGER NOT NULL,
    "logged_at" {ts},
    "msg_id" VARCHAR(255) NOT NULL,
    "severity" INTEGER NOT NULL,
    "source" VARCHAR(255) NOT NULL,
    "text" TEXT NOT NULL,
    FOREIGN KEY ("run_id") REFERENCES "run" ("id") ON DELETE CASCADE);
CREATE INDEX "log_entry_run_id" ON "log_entry" ("run_id");
CREATE UNIQUE INDEX "log_entry_run_id_kind_seq" ON "log_entry" ("run_id", "kind", "seq");
CREATE TABLE "resource_lock" (
    "id" {id},
    "resource" VARCHAR(255) NOT NULL,
    "run_id" INTEGER NOT NULL,
    "acquired_at" {ts} NOT NULL,
    FOREIGN KEY ("run_id") REFERENCES "run" ("id") ON DELETE CASCADE);
CREATE UNIQUE INDEX "resource_lock_resource" ON "resource_lock" ("resource");
CREATE INDEX "resource_lock_run_id" ON "resource_lock" ("run_id");
CREATE TABLE "schedule_slot" (
    "id" {id},
    "environment_id" INTEGER NOT NULL,
    "slot_at" {ts} NOT NULL,
    "status" VARCHAR(255) NOT NULL,
    "run_id" INTEGER,
    "note" TEXT NOT NULL,
    "decided_at" {ts} NOT NULL,
    FOREIGN KEY ("environment_id") REFERENCES "environment" ("id") ON DELETE CASCADE,
    FOREIGN KEY ("run_id") REFERENCES "run" ("id") ON DELETE SET NULL);
CREATE INDEX "schedule_slot_environment_id" ON "schedule_slot" ("environment_id");
CREATE INDEX "schedule_slot_run_id" ON "schedule_slot" ("run_id");
CREATE UNIQUE INDEX "schedule_slot_environment_id_slot_at" ON "schedule_slot" ("environment_id", "slot_at");
"""


def statements(dialect: str) -> list:
    """The DDL of version 1 for DIALECT, one statement each."""
    text = DDL.format(**DIALECTS[dialect])
    return [s.strip() for s in text.split(";") if s.strip()]
