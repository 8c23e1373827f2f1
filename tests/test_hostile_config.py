"""Hostile configuration files: `config validate` and `config import` answer with exit 0 or 2 and one
`flash4i: ` line per problem, never an internal error or a traceback; a refused import leaves the store
as it was (same export, integrity_check ok)."""
from __future__ import annotations

import re

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from .conftest import SAMPLE
from .hostile_support import assert_clean_answer, hostile_settings, integrity_ok, run_cli, store_snapshot, sample_store

GOOD = SAMPLE.read_bytes()
GOOD_DATA = yaml.safe_load(GOOD.decode("utf-8"))
MARK = "__HOSTILE_VALUE__"


@pytest.fixture
def store(tmp_path):
    """A SQLite store holding the sample configuration, and a folder for the hostile files."""
    return sample_store(tmp_path)


def _judge_file(capsys, store: str, path, data: bytes) -> None:
    path.write_bytes(data)
    code, out, err = run_cli(capsys, ["config", "validate", str(path)])
    assert_clean_answer(code, out, err, allowed={0, 2})
    before = store_snapshot(store)
    code_i, out, err = run_cli(capsys, ["--db", store, "config", "import", str(path)])
    assert_clean_answer(code_i, out, err, allowed={0, 2})
    assert code_i == code, "validate and import disagree"
    integrity_ok(store)
    if code_i != 0:
        assert store_snapshot(store) == before, "a refused import changed the store"
    else:
        # what was imported exports and re-imports unchanged (the normalized form)
        after = store_snapshot(store)
        code, out, err = run_cli(capsys, ["--db", store, "config", "export"])
        assert code == 0, err
        path.write_text(out, encoding="utf-8")
        code, _, err = run_cli(capsys, ["--db", store, "config", "import", str(path)])
        assert code == 0, err
        assert store_snapshot(store) == after


# ------------------------------------------------------------------ whole files

@hostile_settings(40)
@given(data=st.binary(max_size=2000))
@example(data=b"")
@example(data=b"\xff\xfe\x00v\x00")
@example(data=b"\x00")
@example(data=b"version: 1\x00\n")
@example(data="version: 1\n# \U0001F600 \ufffe\n".encode("utf-8"))
@example(data=b"\xef\xbb\xbfversion: 1\n")
def test_random_bytes(capsys, store, tmp_path, data):
    _judge_file(capsys, store, tmp_path / "random.yaml", data)


@hostile_settings(40)
@given(cut=st.integers(0, len(GOOD)))
@example(cut=len(GOOD) // 2)
def test_truncated_sample(capsys, store, tmp_path, cut):
    _judge_file(capsys, store, tmp_path / "cut.yaml", GOOD[:cut])


@hostile_settings(30)
@given(at=st.integers(0, len(GOOD)), junk=st.binary(min_size=1, max_size=40))
@example(at=100, junk=b"\xc3\x28")
@example(at=len(GOOD), junk=b"\n\xff")
def test_bytes_spliced_into_sample(capsys, store, tmp_path, at, junk):
    _judge_file(capsys, store, tmp_path / "spliced.yaml", GOOD[:at] + junk + GOOD[at:])


# ------------------------------------------------------------------ one value replaced

def _paths(node, prefix=()):
    """Every path to a value of the sample (mappings by key, lists by index)."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


PATHS = [p for p in _paths(GOOD_DATA) if p]


def _replaced(path, value):
    import copy
    data = copy.deepcopy(GOOD_DATA)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=10 ** 6)


# Raw YAML tokens put where a value was: what a Python value cannot express through safe_dump.
RAW_TOKENS = [
    b"9" * 5000,                          # more digits than int() takes on Python 3.11+
    b"-" + b"9" * 40, b"0x" + b"f" * 40, b"0o777777777777777777777777", b"1e400", b"-.inf", b".nan", b".NaN",
    b"0b" + b"1" * 100, b"1_000_000", b"190:20:30",   # YAML 1.1 sexagesimal
    b"~", b"null", b"yes", b"off", b"''", b'""', b"[]", b"{}", b"[[[[[]]]]]",
    b'"\\0"', b'"a\\x00b"', b'"\\ud800"', b'"\\udcff"', b'"\\U0010ffff"', b'"\\uffff"', b'"\\N\\_\\L\\P"',
    b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80",     # not UTF-8; a UTF-8 encoded surrogate
    b"!!python/object:os.system {}", b"!!python/object/apply:os.system [echo hi]", b"!!python/name:os.system",
    b"0x" + b"f" * 5000, b"!!int " + b"1:" * 3000 + b"1", b"!!float 1:" + b"9" * 400,
    b"!!bool maybe", b"!!bool ''", b"!!timestamp x", b"!!float ''", b"!!int '-'",
    b"!!int abc", b"!!int ''", b"!!float x", b"!!bool maybe", b"!!timestamp 2020-13-45", b"!!binary ===",
    b"!!binary aGVsbG8=", b"!!set {a, b}", b"!!omap [a: 1]", b"!!omap [1, 2]", b"!!pairs [a]", b"!!str", b"!!null x",
    b"!!map [1]", b"!!seq {a: 1}", b"!<tag:yaml.org,2002:int> 12", b"!local x", b"!!merge x",
    b"2001-01-01", b"2001-01-01 10:00:00", b"2001-02-30", b"12:30",
    b"*undefined", b"&a x", b"&a [*a]", b"&a {k: *a}", b"{<<: *nope}", b"{<<: [1, 2]}", b"{<<: 5}",
    b"{? [a, b] : c}", b"{[1]: x}", b"{1: x}", b"{null: x}", b"{true: x}", b"{1.5: x}", b"{2001-01-01: x}",
    b"|\n  multi\n  line", b">-\n  folded", b"'it''s'", b"\"tab\\there\"", b"@reserved", b"`backtick", b"%TAG",
    b"- a\n- b", b"a: b: c", b"[" * 3000 + b"]" * 3000, b"{a: " * 2000 + b"1" + b"}" * 2000, b"[" * 20000,
    b"'" + b"x" * 100_000 + b"'", b"x" * 100_000,
]


def hostile_values():
    return st.one_of(
        st.integers(), st.integers(min_value=2 ** 63 - 2), st.integers(max_value=-(2 ** 63) + 1),
        st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
        st.text(max_size=50), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20),
        st.sampled_from(["x" * 100_000, "\x00", "A\x00B", "\n", "\t\r\n", "*BRMS\n", "\u202e", "\ufeff",
                         "PROD; rm -rf /", "$(reboot)", "'", "\"", "\\", "%", "fe80::1%eth0", "fe80::1%" + "a" * 500,
                         "::1", "10.10.1.50%x", "255.255.255.255", "0" * 400, "-1", "１２３", "ＰＲＯＤ", "Ⅻ"]),
        st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )


@hostile_settings(40)
@given(path=st.sampled_from(PATHS), value=hostile_values())
@example(path=("environments", 0, "quiesce", "timeout"), value=2 ** 70)
@example(path=("partitions", 0, "lpar_id"), value=-(2 ** 64))
@example(path=("environments", 0, "schedule"), value="0 0 * * * " + "1" * 1000)
@example(path=("environments", 0, "description"), value="x" * 100_000)
@example(path=("partitions", 0, "description"), value="A\x00B")
@example(path=("environments", 0, "clone_identity", "interfaces", 0, "address"), value="fe80::1%eth0")
@example(path=("environments", 0, "clone_identity", "default_route"), value="fe80::1%" + "a" * 500)
@example(path=("storage", 0, "port"), value=float("nan"))
@example(path=("hmcs", 0, "auth", "key_file"), value="~nosuchuser_flash4i/key")
@example(path=("hmcs", 0, "known_hosts"), value="\x00")
@example(path=("environments", 0, "volumes"), value=[1, 2])
@example(path=("environments", 2, "user", "commands", 0), value="x" * 100_000)
def test_one_value_replaced(capsys, store, tmp_path, path, value):
    # safe_dump escapes NUL and surrogates ("\0", "\uD800") so the file itself stays UTF-8
    _judge_file(capsys, store, tmp_path / "value.yaml", _dump(_replaced(path, value)).encode("utf-8"))


@hostile_settings(40)
@given(path=st.sampled_from(PATHS), token=st.sampled_from(RAW_TOKENS))
@example(path=("version",), token=b"9" * 5000)
@example(path=("environments", 0, "name"), token=b"!!python/object/apply:os.system [echo hi]")
@example(path=("partitions", 0, "lpar_id"), token=b"!!int abc")
@example(path=("environments", 0, "description"), token=b'"\\ud800"')
@example(path=("hmcs",), token=b"&a [*a]")
def test_one_value_replaced_by_raw_yaml(capsys, store, tmp_path, path, token):
    text = _dump(_replaced(path, MARK)).encode("utf-8")
    assert text.count(MARK.encode()) == 1
    if b"\n" in token:        # a block scalar or a sequence goes on its own lines, indented below its key
        line_start = text.rfind(b"\n", 0, text.index(MARK.encode())) + 1
        indent = len(text[line_start:]) - len(text[line_start:].lstrip(b" -")) + 2
        token = token.replace(b"\n", b"\n" + b" " * indent)
    _judge_file(capsys, store, tmp_path / "raw.yaml", text.replace(MARK.encode(), token))


# ------------------------------------------------------------------ structure

def _mapping_paths(node, prefix=()):
    if isinstance(node, dict):
        yield prefix
        for k, v in node.items():
            yield from _mapping_paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _mapping_paths(v, prefix + (i,))


MAPPINGS = list(_mapping_paths(GOOD_DATA))


@hostile_settings(30)
@given(where=st.sampled_from(MAPPINGS), pick=st.integers(0, 50))
def test_key_deleted(capsys, store, tmp_path, where, pick):
    import copy
    data = copy.deepcopy(GOOD_DATA)
    node = data
    for part in where:
        node = node[part]
    key = sorted(node)[pick % len(node)]
    del node[key]
    _judge_file(capsys, store, tmp_path / "deleted.yaml", _dump(data).encode("utf-8"))


KEY_LINES = [i for i, line in enumerate(GOOD.decode().splitlines(keepends=True))
             if re.match(r"\s*(- )?[a-z_]+:", line)]


@hostile_settings(30)
@given(line=st.sampled_from(KEY_LINES), shift=st.integers(-2, 2))
def test_line_duplicated(capsys, store, tmp_path, line, shift):
    lines = GOOD.decode().splitlines(keepends=True)
    copied = lines[line]
    if shift > 0:
        copied = " " * shift + copied
    elif shift < 0:
        copied = copied[min(-shift, len(copied) - len(copied.lstrip(" "))):]
    lines.insert(line + 1, copied)
    _judge_file(capsys, store, tmp_path / "dup.yaml", "".join(lines).encode("utf-8"))


@hostile_settings(3)
@given(depth=st.integers(1, 5000), kind=st.sampled_from(["[", "{a: ", "- ", "? ", "!!seq ["]))
@example(depth=5000, kind="[")
@example(depth=3000, kind="- ")
def test_deep_nesting(capsys, store, tmp_path, depth, kind):
    body = kind * depth
    if kind == "[" or kind == "!!seq [":
        body += "]" * depth
    elif kind == "{a: ":
        body += "1" + "}" * depth
    elif kind == "- ":
        body = "".join(" " * (2 * i) + "-\n" for i in range(min(depth, 3000)))
    _judge_file(capsys, store, tmp_path / "deep.yaml", f"version: 1\nhmcs: {body}\n".encode())


def _laughs(levels: int, width: int) -> str:
    out = ['version: 1', 'a0: &a0 "lol"']
    for i in range(1, levels + 1):
        out.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    out.append(f"hmcs: *a{levels}")
    return "\n".join(out) + "\n"


@hostile_settings(4)
@given(levels=st.integers(1, 12), width=st.integers(1, 12))
@example(levels=9, width=10)        # the classic billion laughs
@example(levels=30, width=2)
def test_alias_bombs(capsys, store, tmp_path, levels, width):
    _judge_file(capsys, store, tmp_path / "laughs.yaml", _laughs(levels, width).encode())


def test_alias_bomb_refused_quickly(capsys, store, tmp_path):
    import time
    start = time.monotonic()
    _judge_file(capsys, store, tmp_path / "laughs.yaml", _laughs(9, 10).encode())
    assert time.monotonic() - start < 10


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/null", "/", "/nonexistent/x.yaml", "", "\x00"])
def test_special_paths(capsys, store, special):
    before = store_snapshot(store)
    for cmd in (["config", "validate", special], ["--db", store, "config", "import", special]):
        code, out, err = run_cli(capsys, cmd)
        assert_clean_answer(code, out, err, allowed={2})
    integrity_ok(store)
    assert store_snapshot(store) == before


def test_huge_file_refused(capsys, store, tmp_path):
    from flash4i_tui.config.store_io import MAX_CONFIG_BYTES
    big = tmp_path / "big.yaml"
    with open(big, "wb") as fh:
        fh.write(GOOD)
        fh.write(b"# " + b"x" * (MAX_CONFIG_BYTES + 10) + b"\n")
    code, out, err = run_cli(capsys, ["config", "validate", str(big)])
    assert_clean_answer(code, out, err, allowed={2})
    assert len(err.splitlines()) == 1 and "MiB" in err


def test_unreadable_file(capsys, store, tmp_path):
    import os
    path = tmp_path / "secret.yaml"
    path.write_bytes(GOOD)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: every file is readable")
        code, out, err = run_cli(capsys, ["config", "validate", str(path)])
        assert_clean_answer(code, out, err, allowed={2})
    finally:
        path.chmod(0o600)


def test_non_utf8_file_name(capsysbinary, store, tmp_path):
    """A file whose name is not UTF-8 (bytes from the OS arrive as surrogate escapes)."""
    import os
    name = os.fsdecode(b"conf\xff.yaml")
    path = tmp_path / name
    path.write_bytes(GOOD)
    for cmd in (["config", "validate", str(path)], ["--db", store, "config", "import", str(path)]):
        code, out, err = run_cli(capsysbinary, cmd)
        assert_clean_answer(code, out, err, allowed={0})
        assert name in out or cmd[-2] == "import"
