"""CLI exit codes and output, through a real subprocess like an operator or a script sees it."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from .conftest import REPO, SAMPLE


def flash4i(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "flash4i_tui", *args], capture_output=True, text=True,
                          cwd=REPO, env=full_env, timeout=60)


def test_version():
    out = flash4i("--version")
    assert out.returncode == 0 and out.stdout.startswith("flash4i ")


def test_validate_good_file():
    out = flash4i("config", "validate", str(SAMPLE))
    assert out.returncode == 0, out.stderr
    assert "valid (4 environments" in out.stdout


def test_validate_bad_file_lists_every_error_with_line(tmp_path):
    data = yaml.safe_load(SAMPLE.read_text())
    data["environments"][2]["clone_identity"]["system_name"] = "CLONE-01"
    data["environments"][0]["clone"] = "NOPE"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, sort_keys=False))
    out = flash4i("config", "validate", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2
    assert any(f"{bad}:" in line and "environments[2].clone_identity.system_name: 'CLONE-01' is not a valid IBM i "
               "system name (A-Z 0-9, at most 8 characters)" in line for line in lines), lines
    assert "Traceback" not in out.stderr


def test_import_then_list(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    out = flash4i("--db", db, "config", "import", str(SAMPLE))
    assert out.returncode == 0, out.stderr
    out = flash4i("--db", db, "env", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {(r["name"], r["function"]) for r in rows} == {
        ("NIGHTLY", "*BRMS"), ("SUNDAY21", "*SAVE21"), ("TESTCOPY", "*USER"), ("RCVPNT", "*NONE")}
    out = flash4i("env", "show", "NIGHTLY", env={"FLASH4I_DB": db})
    assert out.returncode == 0 and "consistency_group: FL_NIGHTLY" in out.stdout
    out = flash4i("--db", db, "history", "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == []


def test_failed_import_leaves_the_store_untouched(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    data = yaml.safe_load(SAMPLE.read_text())
    data["environments"][3]["volumes"][0]["target"] = "X; rm -rf /"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, sort_keys=False))
    assert flash4i("--db", db, "config", "import", str(bad)).returncode == 2
    out = flash4i("--db", db, "env", "list", "--json")
    assert json.loads(out.stdout) == []


def test_unknown_environment_is_one_line_exit_3(tmp_path):
    out = flash4i("--db", f"sqlite:///{tmp_path / 's.db'}", "env", "show", "NOPE")
    assert out.returncode == 3
    assert out.stderr.strip() == "flash4i: environment NOPE not found"


def test_debug_shows_traceback(tmp_path):
    out = flash4i("--debug", "--db", "mysql://x/y", "env", "list")
    assert out.returncode == 1 and "Traceback" in out.stderr
    out = flash4i("--db", "mysql://x/y", "env", "list")
    assert out.returncode == 1 and "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_usage_error_exit_2():
    out = flash4i("config", "frobnicate")
    assert out.returncode == 2


def test_export_file_is_private(tmp_path):
    db = f"sqlite:///{tmp_path / 's.db'}"
    assert flash4i("--db", db, "config", "import", str(SAMPLE)).returncode == 0
    target = tmp_path / "out.yaml"
    assert flash4i("--db", db, "config", "export", "-o", str(target)).returncode == 0
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert yaml.safe_load(target.read_text())["environments"][0]["name"] == "NIGHTLY"
