"""The store's tables. Timestamps are naive UTC (see db.utcnow)."""
from __future__ import annotations

import json

from peewee import (BigIntegerField, BooleanField, CharField, DateTimeField, FloatField, ForeignKeyField,
                    IntegerField, Model, TextField)

from .db import database, utcnow


class JSONField(TextField):
    """JSON kept as text, so SQLite and PostgreSQL hold it the same way."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, sort_keys=True)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaVersion(BaseModel):
    version = IntegerField()
    applied_at = DateTimeField(default=utcnow)


# ------------------------------------------------------------------ definitions

class Hmc(BaseModel):
    name = CharField(unique=True, max_length=10)
    host = CharField()
    port = IntegerField(default=22)
    user = CharField()
    auth = JSONField()            # {"key_file": ...} | {"agent": true} | {"password_env": NAME}; never a secret
    known_hosts = TextField(null=True)
    description = TextField(default="")


class ManagedSystem(BaseModel):
    hmc = ForeignKeyField(Hmc, backref="managed_systems", on_delete="CASCADE")
    name = CharField()

    class Meta:
        indexes = ((("hmc", "name"), True),)


class StorageSystem(BaseModel):
    name = CharField(unique=True, max_length=10)
    type = CharField()            # svc | ds8000 | powermax
    host = CharField()
    port = IntegerField()
    user = CharField()
    auth = JSONField()
    known_hosts = TextField(null=True)
    options = JSONField(default=dict)
    description = TextField(default="")


class Partition(BaseModel):
    name = CharField(unique=True, max_length=10)
    managed_system = ForeignKeyField(ManagedSystem, backref="partitions", on_delete="RESTRICT")
    lpar_name = CharField()
    lpar_id = IntegerField()
    profile = CharField()
    ssh_host = CharField()
    ssh_port = IntegerField(default=22)
    ssh_user = CharField()
    ssh_auth = JSONField()
    known_hosts = TextField(null=True)
    address = CharField(null=True)              # the partition's IP address when SSH goes elsewhere
    storage_hosts = JSONField(default=list)   # the partition's own host objects on the storage (NPIV)
    description = TextField(default="")


class Environment(BaseModel):
    name = CharField(unique=True, max_length=10)
    description = TextField(default="")
    function = CharField()        # *NONE | *BRMS | *SAVE21 | *USER
    source = ForeignKeyField(Partition, backref="source_of", on_delete="RESTRICT")
    clone = ForeignKeyField(Partition, backref="clone_of", on_delete="RESTRICT")
    storage = ForeignKeyField(StorageSystem, backref="environments", on_delete="RESTRICT")
    consistency_group = CharField()
    copy_mode = CharField(default="space_efficient")   # space_efficient | full
    copy_rate = IntegerField(default=0)
    attach = JSONField(default=dict)       # {"type": "npiv"} | {"type": "vscsi", "vios": ..., "vhost": ...}
    quiesce_timeout = IntegerField(default=60)
    quiesce_action = CharField(default="*END")
    clone_system_name = CharField(max_length=8)
    clone_interfaces = JSONField(default=list)
    hold_job_schedules = BooleanField(default=True)
    end_job_scheduler = BooleanField(default=True)
    brms = JSONField(null=True)
    save21 = JSONField(null=True)
    user_commands = JSONField(null=True)     # {"commands": [...], "program": LIB/PGM}
    schedule = CharField(null=True)
    stop_clone_after = BooleanField(default=False)
    ipl_timeout = IntegerField(default=4 * 3600)
    log_retention_days = IntegerField(default=30)
    options = JSONField(default=dict)
    updated_at = DateTimeField(default=utcnow)


class VolumePair(BaseModel):
    environment = ForeignKeyField(Environment, backref="volume_pairs", on_delete="CASCADE")
    seq = IntegerField()
    source = CharField()
    target = CharField()

    class Meta:
        indexes = ((("environment", "seq"), True),)


# ------------------------------------------------------------------ runs

class Run(BaseModel):
    # The environment may be deleted later; its runs and logs stay readable by name.
    environment = ForeignKeyField(Environment, backref="runs", null=True, on_delete="SET NULL")
    env_name = CharField(index=True)
    function = CharField()
    state = CharField(index=True, default="QUEUED")   # QUEUED RUNNING SUCCEEDED FAILED CANCELLED
    requested_by = CharField(default="")
    requested_at = DateTimeField(default=utcnow, index=True)
    schedule_slot = DateTimeField(null=True)
    worker = CharField(null=True)
    heartbeat_at = DateTimeField(null=True)
    started_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    duration = FloatField(null=True)
    current_step = CharField(null=True)
    phase = CharField(default="NEW")       # NEW PREPARED SUSPENDED FLASHED RESUMED CLONE_STARTED DONE
    suspend_started_at = DateTimeField(null=True)
    suspend_ended_at = DateTimeField(null=True)
    suspended_seconds = FloatField(null=True)
    resume_confirmed = BooleanField(null=True)
    flash_time = DateTimeField(null=True)
    space_used_bytes = BigIntegerField(null=True)
    message = TextField(default="")
    cancel_requested = BooleanField(default=False)
    snapshot = JSONField(default=dict)     # the environment as it was when the run was queued
    # Whether the clone is a copy of production taken in the window (markers, its IPL): see
    # steps.resume and the agent's proof. proven is None until the clone could tell.
    proof = JSONField(null=True)
    proven = BooleanField(null=True)


class Step(BaseModel):
    run = ForeignKeyField(Run, backref="steps", on_delete="CASCADE")
    seq = IntegerField()
    name = CharField()
    status = CharField(default="PENDING")   # PENDING RUNNING OK FAILED SKIPPED
    started_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    duration = FloatField(null=True)
    bound_seconds = FloatField(null=True)
    progress = FloatField(null=True)        # 0..100 for long steps
    detail = TextField(default="")

    class Meta:
        indexes = ((("run", "seq"), True),)


class LogEntry(BaseModel):
    """One line of a log kept with a run: INTERNAL (ours), QHST (clone history log), JOBLOG, AGENT."""

    run = ForeignKeyField(Run, backref="log_entries", on_delete="CASCADE")
    kind = CharField()
    seq = IntegerField()
    logged_at = DateTimeField(null=True)
    msg_id = CharField(default="")
    severity = IntegerField(default=0)
    source = CharField(default="")          # device, job or program the line came from
    text = TextField()

    class Meta:
        indexes = ((("run", "kind", "seq"), True),)


class ResourceLock(BaseModel):
    """A clone LPAR or target volume held by one queued or running run (unique across processes)."""

    resource = CharField(unique=True)
    run = ForeignKeyField(Run, backref="locks", on_delete="CASCADE")
    acquired_at = DateTimeField(default=utcnow)


class ScheduleSlot(BaseModel):
    """One due time of an environment's schedule; unique, so no slot starts twice."""

    environment = ForeignKeyField(Environment, backref="slots", on_delete="CASCADE")
    slot_at = DateTimeField()
    status = CharField()                    # STARTED | SKIPPED
    run = ForeignKeyField(Run, null=True, on_delete="SET NULL")
    note = TextField(default="")
    decided_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("environment", "slot_at"), True),)


class RecoveryPoint(BaseModel):
    """One generation of an environment that keeps several recovery points (`generations: N`):
    the run that last took it, when, what the storage showed of it, and whether it was proven.
    A generation without a row was never used."""

    environment = ForeignKeyField(Environment, backref="recovery_points", on_delete="CASCADE")
    generation = IntegerField()                    # 1..N
    run = ForeignKeyField(Run, null=True, on_delete="SET NULL")
    taken_at = DateTimeField(null=True)            # the flash time; None while being taken, or if it failed
    state = CharField(default="")                  # taking | taken | invalid, then what the storage shows
    space_used_bytes = BigIntegerField(null=True)
    proven = BooleanField(null=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("environment", "generation"), True),)


MODELS = [SchemaVersion, Hmc, ManagedSystem, StorageSystem, Partition, Environment, VolumePair,
          Run, Step, LogEntry, ResourceLock, ScheduleSlot, RecoveryPoint]
