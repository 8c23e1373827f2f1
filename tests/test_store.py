"""The store: models round-tripped on SQLite and PostgreSQL, schema versions, file modes."""
from __future__ import annotations

import os
import stat
from datetime import datetime

import pytest

from flash4i_tui.config.store_io import import_config, load_config_file
from flash4i_tui.errors import StoreError
from flash4i_tui.store import models as m
from flash4i_tui.store import open_store, queries
from flash4i_tui.store.migrations import SCHEMA_VERSION, current_version

from .conftest import SAMPLE


def test_models_round_trip(store):
    import_config(load_config_file(SAMPLE))
    env = queries.environment("NIGHTLY")
    assert env.source.managed_system.hmc.name == "HMC1"
    assert [p.target for p in env.volume_pairs.order_by(m.VolumePair.seq)] == [
        "CLN1_001", "CLN1_002", "CLN1_003", "CLN1_004"]
    assert env.clone_interfaces[0]["address"] == "10.10.1.50"
    t0 = datetime(2026, 11, 24, 23, 0, 0, 123456)
    run = m.Run.create(environment=env, env_name=env.name, function=env.function, requested_by="qsecofr",
                       requested_at=t0, suspended_seconds=0.42, space_used_bytes=12 * 1024 ** 3,
                       snapshot={"volumes": 4})
    for i, name in enumerate(["CHECK", "STOP_CLONE", "QUIESCE"]):
        m.Step.create(run=run, seq=i, name=name, status="OK", started_at=t0, ended_at=t0, duration=1.5,
                      detail=f"step {name}")
    m.LogEntry.insert_many([dict(run=run, kind="QHST", seq=i, logged_at=t0, msg_id="CPF1124", severity=0,
                                 text=f"Job {i} started") for i in range(100)]).execute()
    again = queries.run(run.id)
    assert again.requested_at == t0
    assert again.space_used_bytes == 12 * 1024 ** 3
    assert again.snapshot == {"volumes": 4}
    assert [s.name for s in queries.steps(again)] == ["CHECK", "STOP_CLONE", "QUIESCE"]
    page = queries.log_page(run.id, "QHST", start_seq=40, limit=10)
    assert [e.seq for e in page] == list(range(40, 50))
    assert queries.log_bounds(run.id, "QHST") == (0, 99)
    assert queries.log_find(run.id, "QHST", "job 77", from_seq=10) == 77
    summary = queries.run_summary(again)
    assert summary["steps"][2]["detail"] == "step QUIESCE"


def test_deleting_an_environment_keeps_its_history(store):
    import_config(load_config_file(SAMPLE))
    env = queries.environment("RCVPNT")
    run = m.Run.create(environment=env, env_name=env.name, function=env.function)
    m.VolumePair.delete().where(m.VolumePair.environment == env).execute()
    env.delete_instance()
    again = queries.run(run.id)
    assert again.environment_id is None and again.env_name == "RCVPNT"


def test_resource_lock_is_unique(store):
    import_config(load_config_file(SAMPLE))
    env = queries.environment("NIGHTLY")
    r1 = m.Run.create(environment=env, env_name=env.name, function=env.function)
    r2 = m.Run.create(environment=env, env_name=env.name, function=env.function)
    m.ResourceLock.create(resource="lpar:HMC1/P10-PROD/5", run=r1)
    from peewee import IntegrityError
    with pytest.raises(IntegrityError):
        with store.atomic():
            m.ResourceLock.create(resource="lpar:HMC1/P10-PROD/5", run=r2)


def test_schema_is_versioned(store):
    assert current_version(store) == SCHEMA_VERSION
    m.SchemaVersion.create(version=SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="newer than this flash4i"):
        open_store(store_url_of(store))


def store_url_of(db) -> str:
    if hasattr(db, "database") and isinstance(db.database, str) and db.database.startswith("/"):
        return f"sqlite:///{db.database}"
    params = db.connect_params
    return f"postgresql://{params['user']}@{params['host']}:{params['port']}/{db.database}"


def test_sqlite_file_is_private_and_wal(sqlite_url, tmp_path):
    db = open_store(sqlite_url)
    path = tmp_path / "store.db"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert db.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 10000


def test_default_store_is_per_user(monkeypatch, tmp_path):
    from flash4i_tui.store.db import resolve_url
    monkeypatch.setenv("FLASH4I_HOME", str(tmp_path / "h"))
    assert resolve_url(None) == f"sqlite:///{tmp_path / 'h' / 'flash4i.db'}"
    monkeypatch.setenv("FLASH4I_DB", "sqlite:////x/y.db")
    assert resolve_url(None) == "sqlite:////x/y.db"
    assert resolve_url("postgresql://a@b/c") == "postgresql://a@b/c"


def test_bad_store_url():
    with pytest.raises(StoreError, match="unsupported store URL"):
        open_store("mysql://x/y")


def test_reopening_the_bound_store_keeps_open_transactions(sqlite_url):
    """A worker thread in the panels' process opens the store the panels already use:
    the models must stay bound to the same database, or a transaction open in another
    thread would end on a different one."""
    import threading

    from flash4i_tui.store import database

    db = open_store(sqlite_url)
    entered, reopened, errors = threading.Event(), threading.Event(), []

    def other_thread():
        try:
            with database.connection_context(), database.atomic():
                entered.set()
                reopened.wait(10)
                m.Hmc.create(name="HMC9", host="hmc9.example.com", user="flash4i", auth={"agent": True})
        except Exception as exc:       # reported below: a thread's exception would go unseen
            errors.append(exc)

    t = threading.Thread(target=other_thread)
    t.start()
    assert entered.wait(10)
    assert open_store(sqlite_url) is db
    reopened.set()
    t.join(10)
    assert errors == []
    assert m.Hmc.get(m.Hmc.name == "HMC9")
    db.close()
