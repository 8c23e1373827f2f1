"""Shared by the hostile-input property tests: run the CLI in-process, judge its answer, check the store.

FLASH4I_HOSTILE_SCALE multiplies every test's max_examples (10 for a deeper hunt)."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from hypothesis import HealthCheck, settings

from flash4i_tui.cli import main

SCALE = max(1, int(os.environ.get("FLASH4I_HOSTILE_SCALE", "1")))

DOCUMENTED_EXITS = {0, 1, 2, 3, 4}


def hostile_settings(examples: int) -> settings:
    # The store and the home folder are made once per test (tmp_path); every example checks
    # they are left intact, so sharing them across examples is the point, not a leak.
    return settings(max_examples=examples * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def run_cli(capsys, argv: Sequence[str]) -> Tuple[int, str, str]:
    """main(argv) in this process: (exit code, stdout, stderr). argparse's usage errors are SystemExit."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exited:
        code = exited.code if isinstance(exited.code, int) else (0 if exited.code is None else 2)
    out, err = capsys.readouterr()
    if isinstance(out, bytes):      # capsysbinary: what a terminal gets, bytes of file names included
        out, err = out.decode("utf-8", "surrogateescape"), err.decode("utf-8", "surrogateescape")
    return code, out, err


def assert_clean_answer(code: int, out: str, err: str, allowed: Optional[set] = None,
                        argparse_ok: bool = False) -> None:
    """One of the documented exit codes, no internal error, no traceback, every error line prefixed."""
    allowed = DOCUMENTED_EXITS if allowed is None else allowed
    assert code in allowed, (code, out[-500:], err[-2000:])
    assert "internal error" not in err and "internal error" not in out, err[-2000:] or out[-2000:]
    assert "Traceback" not in err and "Traceback" not in out, err[-2000:]
    if code != 0:
        assert err.strip() or out.strip(), f"exit {code} without a word"
    lines: List[str] = err.splitlines()
    if argparse_ok and code == 2 and any(": error: " in line for line in lines):
        return          # argparse's own usage message (usage: ... / flash4i X: error: ...)
    for line in lines:
        assert line.startswith("flash4i: "), (line[:300], err[:2000])


def sqlite_path(url: str) -> Path:
    assert url.startswith("sqlite:///")
    return Path(url[len("sqlite:///"):])


def integrity_ok(url: str) -> None:
    """PRAGMA integrity_check on a second connection (what a crash-recovering reader would see)."""
    con = sqlite3.connect(str(sqlite_path(url)))
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()


def store_snapshot(url: str) -> str:
    """The store's definitions in their normalized export form, and its runs."""
    from flash4i_tui.config.store_io import export_yaml
    from flash4i_tui.store import models as m
    from flash4i_tui.store import open_store
    open_store(url)
    runs = [(r.id, r.state, r.env_name) for r in m.Run.select().order_by(m.Run.id)]
    return export_yaml() + repr(runs)


def sample_store(tmp_path: Path) -> str:
    """A SQLite store in TMP_PATH holding the sample configuration (no runs); its URL."""
    from flash4i_tui.config.store_io import import_config, load_config_file
    from flash4i_tui.store import open_store

    from .conftest import SAMPLE
    url = f"sqlite:///{tmp_path / 'store.db'}"
    open_store(url)
    import_config(load_config_file(SAMPLE))
    return url
