"""The house rules: the layers, the core/UI wall and the other import contracts (import-linter)."""
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
    out = subprocess.run([exe, "--no-cache", "--config", str(REPO / "pyproject.toml")], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_layers_contract_is_there_and_only_the_cli_imports_the_cli():
    """The contract that lint-imports checks must stay in pyproject.toml, with the CLI on top."""
    import re
    text = (REPO / "pyproject.toml").read_text()
    block = re.search(r'type = "layers"\nlayers = \[(.*?)\]', text, re.S)
    assert block, "pyproject.toml has no layers contract"
    layers = re.findall(r'"([^"]+)"', block.group(1))
    assert layers[0] == "flash4i_tui.cli" and layers[-1].startswith("flash4i_tui.errors"), layers
    import grimp          # import-linter's own graph
    graph = grimp.build_graph("flash4i_tui", "screens")
    cli = {m for m in graph.modules if m == "flash4i_tui.cli" or m.startswith("flash4i_tui.cli.")}
    importers = {i for m in cli for i in graph.find_modules_that_directly_import(m)}
    assert importers - cli <= {"flash4i_tui.__main__"}, sorted(importers - cli)


def test_agent_uses_the_standard_library_only():
    """The agent runs in PASE on Python 3.9: it may import nothing outside the standard library."""
    import ast
    agent = REPO / "flash4i_tui" / "agent"
    for path in agent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                tops = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: a relative import ({node.module}) needs the package"
                tops = [node.module.split(".")[0]]
            else:
                continue
            for top in tops:
                assert _is_stdlib(top), f"{path.name}: imports {top}, which is not in the standard library"


def _is_stdlib(name: str) -> bool:
    """True for a module of the standard library (works on 3.9, which lacks sys.stdlib_module_names)."""
    import importlib.util
    import sysconfig
    if name in sys.builtin_module_names or name == "__future__":
        return True
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return spec is not None
    stdlib = sysconfig.get_paths()["stdlib"]
    return spec.origin.startswith(stdlib) and "site-packages" not in spec.origin


def _panels_graph():
    import grimp
    return grimp.build_graph("flash4i_tui", "screens", include_external_packages=True, cache_dir=None)


def test_panel_layout_needs_no_textual():
    """screens.layout is the CUA geometry in plain Python: it must stay testable without a terminal."""
    graph = _panels_graph()
    for external in ("textual", "textual_serve", "rich"):
        assert not graph.chain_exists("screens.layout", external, as_packages=True), \
            graph.find_shortest_chain("screens.layout", external)


def test_panels_are_layered_and_do_not_know_their_app():
    """The app composes the function panels, which stand on the base screens, which stand on the
    widgets, which stand on layout, theme and workers: nothing imports back up, and only the CLI
    imports the app (so there is no import circle through screens.app)."""
    import grimp
    graph = _panels_graph()
    functions = ("screens.wrkflenv", "screens.wrkfldfn", "screens.wrkflrcvp", "screens.fldsphst",
                 "screens.runpanel", "screens.logview", "screens.envedit", "screens.prompt")
    layers = [
        grimp.Layer("screens.app"),
        grimp.Layer(*functions, independent=False),
        grimp.Layer("screens.panel"),
        grimp.Layer("screens.widgets"),
        grimp.Layer("screens.layout", "screens.theme", "screens.workers", "screens.fmt", "screens.command"),
    ]
    illegal = graph.find_illegal_dependencies_for_layers(layers=layers)
    assert not illegal, sorted((d.importer, d.imported) for d in illegal)
    assert graph.find_modules_that_directly_import("screens.app") <= {"flash4i_tui.cli.tui"}
    panels = sorted(m for m in graph.modules if m.startswith("screens."))
    circles = [(a, b) for i, a in enumerate(panels) for b in panels[i + 1:]
               if graph.chain_exists(a, b) and graph.chain_exists(b, a)]
    assert not circles, circles
