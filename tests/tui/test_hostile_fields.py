"""Hostile text in the panels' fields: the `===>` command-line parser and the environment editor's
field conversion and save either give a value or the product's own error with a message (CommandError,
a list of problems), never another exception; a refused save leaves the store untouched."""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from screens.command import COMMANDS, Command, CommandError, build, check, fkey_of, parse, parse_raw, quote
from screens.envedit import ITEMS, EnvField, EnvGroup, build_record, from_text, to_text, validate_and_save

from ..hostile_support import hostile_settings, integrity_ok, store_snapshot, sample_store

pytestmark = pytest.mark.tui

NAMES = sorted(COMMANDS)
PIECES = NAMES + [n.lower() for n in NAMES] + ["QSYS/WRKFLENV", "/", "ENV", "RUN", "LOG", "(", ")", "'", "''", "*ALL",
                                              "*LAST", "*JOBLOG", "*qhst", " ", "\t", "\n", "\x00", "²", "١٢", "9" * 30,
                                              "9" * 5000, "-1", "0", "NIGHTLY", "nightly", "F3", "f24", "F25", "\udcff"]


def command_text():
    return st.one_of(
        st.text(max_size=60),
        st.lists(st.sampled_from(PIECES), max_size=12).map("".join),
        st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=5)), max_size=8).map(" ".join),
        st.builds(lambda n, k, v: f"{n} {k}({v})", st.sampled_from(NAMES + ["X"]),
                  st.sampled_from(["ENV", "RUN", "LOG", "env", "X", ""]), st.text(max_size=30)),
    )


@hostile_settings(300)
@given(text=command_text())
@example(text="WRKFLRUN RUN(²)")
@example(text="DSPFLLOG RUN(" + "9" * 5000 + ")")
@example(text="DSPFLLOG " + "9" * 30)
@example(text="FLDSPHST ENV('" + "x" * 100_000 + "')")
@example(text="FLDSPHST ENV(" + "(" * 5000 + ")" * 5000 + ")")
@example(text="STRFLENV ENV('NIGHTLY\x00')")
@example(text="QSYS/")
@example(text="/")
def test_command_line(text):
    try:
        cmd = parse(text)
    except CommandError as exc:
        assert str(exc).strip(), "an error without a message"
        return
    spec = COMMANDS[cmd.name]
    for param in spec.params:
        value = cmd.values.get(param.keyword)
        if param.kind == "int" and value is not None and value not in param.choices:
            # what the app does with it (int(values["RUN"])) works, and fits a store key
            assert 0 <= int(value) < 2 ** 63
        if param.kind == "choice" and value is not None:
            assert value in param.choices
        if param.required:
            assert value
    # what the prompter writes back parses to the same command
    again = parse(cmd.text())
    assert (again.name, again.values) == (cmd.name, cmd.values), cmd.text()
    assert parse(build(spec, cmd.values)).values == cmd.values


@hostile_settings(200)
@given(text=command_text())
def test_raw_parse_and_fkeys(text):
    number = fkey_of(text)
    assert number is None or 1 <= number <= 24
    try:
        spec, values = parse_raw(text)
    except CommandError as exc:
        assert str(exc).strip()
        return
    try:
        check(spec, values)
    except CommandError as exc:
        assert str(exc).strip()


@hostile_settings(200)
@given(value=st.text())
@example(value="'")
@example(value="a'b")
@example(value=" lead and trail ")
def test_quote_round_trip(value):
    """A value the prompter quotes comes back as typed (the command analyzer's doubled apostrophes)."""
    if not value.strip() or "\x00" in value:
        return
    spec = COMMANDS["FLDSPHST"]
    text = Command(spec.name, {"ENV": value}).text()
    try:
        values = check(spec, parse_raw(text)[1])
    except CommandError as exc:
        assert str(exc).strip()
        return
    assert values["ENV"] in (value, value.strip(), value.upper(), value.strip().upper()), (value, text, quote(value))


# ------------------------------------------------------------------ environment editor

FIELDS = [item for item in ITEMS if isinstance(item, EnvField)]
GROUPS = [item for item in ITEMS if isinstance(item, EnvGroup)]


def field_text(width=None):
    base = st.one_of(
        st.text(max_size=width or 60),
        st.sampled_from(["", " ", "*YES", "*no", "MAYBE", "-1", "0", "1e9", "nan", "²", "١٢", "9" * 40, "9" * 5000,
                         "x" * 100_000, "\x00", "A\x00B", "\n", "NIGHTLY", "PROD", "CLONE1", "fe80::1%eth0",
                         "10.10.1.50", "0 0 * * *", "* * * * * *", "61 25 32 13 8", "CLRLIB LIB(X", "'", "*brms",
                         "FULL", "space_efficient", "vscsi", "\udcff", "Ⅻ"]),
    )
    return base.map(lambda t: t[:width] if width else t)


@hostile_settings(300)
@given(field=st.sampled_from(FIELDS), text=field_text())
def test_from_text(field, text):
    value = from_text(field, text)
    assert value is None or isinstance(value, (str, int, bool, list))
    to_text(field, value)


@pytest.fixture
def env_store(tmp_path):
    return sample_store(tmp_path)


def _base():
    from screens.envedit import load_record
    return load_record("TESTCOPY")


@hostile_settings(60)
@given(changes=st.dictionaries(st.sampled_from([f.path for f in FIELDS]), field_text(), min_size=1, max_size=4),
       group=st.sampled_from(GROUPS), rows=st.lists(st.lists(field_text(30), min_size=1, max_size=3), max_size=3),
       mode=st.sampled_from(["change", "create"]))
@example(changes={"quiesce.timeout": "9" * 5000}, group=GROUPS[0], rows=[], mode="change")
@example(changes={"description": "x" * 100_000}, group=GROUPS[0], rows=[], mode="change")
@example(changes={"schedule": "0 0 * * * " + "1" * 1000}, group=GROUPS[0], rows=[], mode="change")
@example(changes={"name": "NEW\x00"}, group=GROUPS[0], rows=[["\x00", "\udcff"]], mode="create")
def test_env_editor_save(env_store, changes, group, rows, mode):
    """What the editor builds from any text is saved whole or refused with problems; refused, the store is
    as it was. (The panel's own widths are not applied here: the functions take what a paste could give.)"""
    base = _base()
    fields = {f.path: to_text(f, _get(base, f.path)) for f in FIELDS}
    fields.update(changes)
    groups = {g.path: [{p.path: to_text(p, v) for p, v in zip(g.parts, _rows_of(base, g, i))}
                       for i in range(len(_get(base, g.path) or []))] for g in GROUPS}
    groups[group.path] = [{p.path: v for p, v in zip(group.parts, row + [""] * len(group.parts))} for row in rows]
    if mode == "create":
        fields.setdefault("name", "HOSTILE")
    record = build_record(base, fields, groups)
    before = store_snapshot(env_store)
    problems = validate_and_save(record, "TESTCOPY" if mode == "change" else None)
    assert isinstance(problems, list)
    for where, text in problems:
        assert isinstance(where, str) and isinstance(text, str) and text.strip()
    integrity_ok(env_store)
    if problems:
        assert store_snapshot(env_store) == before, "a refused save changed the store"
    else:
        # saved: what is stored reads back as the same record
        from screens.envedit import load_record
        assert load_record(record["name"])["name"] == record["name"]


def _get(record, path):
    from screens.envedit import get_path
    return get_path(record, path)


def _rows_of(base, group, i):
    item = (_get(base, group.path) or [])[i]
    return [item.get(p.path) if isinstance(item, dict) else item for p in group.parts]


# ------------------------------------------------------------------ the editor driven by Pilot

EDIT_FIELDS = ["quiesce.timeout", "clone_identity.system_name", "schedule", "copy.rate", "consistency_group",
               "description", "clone_identity.default_route"]


@hostile_settings(4)
@given(path=st.sampled_from(EDIT_FIELDS), text=field_text(40))
@example(path="quiesce.timeout", text="9999")
@example(path="clone_identity.system_name", text="CLONE-01")
@example(path="schedule", text="\x00")
def test_env_edit_panel_refuses_hostile_text(make_app, tui_url, path, text):
    """Option 2 on TESTCOPY, hostile text in one field, Enter: saved, or refused with a message and the
    store untouched (the panel stays, nothing half-written)."""
    before = store_snapshot(tui_url)

    async def drive():
        from .test_panels import option, set_field
        from .conftest import settle
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await option(pilot, "TESTCOPY", "2")
            await pilot.press("enter")
            await settle(pilot)
            editor = app.screen
            await set_field(pilot, editor.fields[path], text)
            await pilot.press("enter")
            await settle(pilot)
            still_editing = app.screen is editor
            return still_editing, message(app)
    from .test_panels import message
    still_editing, shown = asyncio.run(drive())
    assert "Internal error" not in shown, shown
    integrity_ok(tui_url)
    if still_editing:
        assert shown, "refused without a message"
        assert store_snapshot(tui_url) == before, "a refused save changed the store"
