"""Shared fixtures: a fresh store per test (SQLite, or PostgreSQL when FLASH4I_TEST_PG is set)."""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample.yaml"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Never touch the developer's own store or lab state."""
    monkeypatch.setenv("FLASH4I_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLASH4I_DB", raising=False)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _pg_url() -> str | None:
    return os.environ.get("FLASH4I_TEST_PG")


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database for one test (skipped without FLASH4I_TEST_PG)."""
    base = _pg_url()
    if not base:
        pytest.skip("FLASH4I_TEST_PG is not set (CI starts a throw-away PostgreSQL)")
    import psycopg2
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(base)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    from flash4i_tui.store.db import database
    if database.obj is not None and not database.obj.is_closed():
        database.obj.close()
    admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


@pytest.fixture(params=["sqlite", "pg"])
def store_url(request, tmp_path):
    """Both backends: SQLite always, PostgreSQL when CI provides it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    from flash4i_tui.store import open_store
    db = open_store(store_url)
    yield db
    db.close()


@pytest.fixture
def sqlite_store(sqlite_url):
    from flash4i_tui.store import open_store
    db = open_store(sqlite_url)
    yield db
    db.close()


LAB_SPEED = 600.0     # an IPL of 10 lab minutes takes one real second


@pytest.fixture
def lab(tmp_path):
    """The shipped demo datacenter, started on loopback ports (real SSH servers)."""
    from flash4i_tui.lab.server import Lab, load_topology
    with Lab(load_topology(), tmp_path / "lab", speed=LAB_SPEED) as running:
        yield running


@pytest.fixture
def lab_store(lab, tmp_path):
    """A SQLite store (tmp_path/store.db) with the lab's configuration imported."""
    from flash4i_tui.config.store_io import import_config, load_config_file
    from flash4i_tui.store import open_store
    config = lab.write_config(tmp_path / "lab.yaml")
    db = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    import_config(load_config_file(config))
    yield db
    db.close()


# ------------------------------------------------------------------ the fault matrix's counts

_MATRIX: dict = {}


def pytest_runtest_logreport(report):
    """Count the fault matrix's cases by fault. Here, not in tests/engine: under xdist only the
    controller prints the summary, and it loads this conftest, not the ones it does not collect."""
    if "test_fault_matrix.py::test_fault[" not in report.nodeid:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        case = report.nodeid.rstrip("]")
        fault = next((f for f in ("store-locked", "store-gone") if case.endswith(f)), case.rsplit("-", 1)[-1])
        counts = _MATRIX.setdefault(fault, {"cases": 0, "passed": 0})
        counts["cases"] += 1
        counts["passed"] += report.outcome == "passed"


def pytest_terminal_summary(terminalreporter):
    if not _MATRIX:
        return
    cases = sum(c["cases"] for c in _MATRIX.values())
    passed = sum(c["passed"] for c in _MATRIX.values())
    terminalreporter.write_sep("=", f"fault matrix: {cases} cases, {passed} passed")
    for fault, c in sorted(_MATRIX.items()):
        terminalreporter.write_line(f"  {fault:<14} {c['cases']:>4} cases, {c['passed']:>4} passed")
