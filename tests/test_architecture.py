"""The house rules: the core/UI wall and the other import contracts (import-linter)."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from .conftest import REPO


def test_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(__import__("pathlib").Path(sys.executable).parent / "lint-imports")
    if not __import__("os").path.exists(exe):
        pytest.fail("import-linter is not installed (pip install .[test])")
    out = subprocess.run([exe, "--no-cache", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_agent_uses_the_standard_library_only():
    """The agent runs in PASE on Python 3.9: it may import nothing outside the standard library."""
    agent = REPO / "flash4i_tui" / "agent"
    stdlib = set(sys.stdlib_module_names)
    for path in agent.glob("*.py"):
        for line in path.read_text().splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] in ("import", "from") and not line.startswith((" ", "\t")):
                top = words[1].split(".")[0]
                assert top in stdlib or top == "__future__" or words[1].startswith("."), f"{path.name}: {line}"
