"""The CL builder: one table of cases, run against the product's builder (flash4i_tui/cl.py) and
the agent's own copy (it imports nothing of flash4i); and the lab's CL parser reads back
everything the builder makes."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flash4i_tui import cl as product
from flash4i_tui.agent import flash4i_agent as agent
from flash4i_tui.errors import ValidationError
from flash4i_tui.lab.ibmi import cl as lab_cl
from flash4i_tui.lab.ibmi.messages import ClEscape

BUILDERS = {"product": (product, ValidationError), "agent": (agent, agent.ClRefused)}


class Q(str):
    """Text in the table: each builder gets it as its own ClStr."""


class Cmd(tuple):
    """A nested command in the table: (name, params), built by the builder under test."""


def build(module, command, params):
    def value(v):
        if isinstance(v, Q):
            return module.ClStr(v)
        if isinstance(v, Cmd):
            return module.cl_command(v[0], **{k: value(x) for k, x in v[1].items()})
        if isinstance(v, list):
            return [value(x) for x in v]
        if isinstance(v, tuple):
            return tuple(value(x) for x in v)
        return v
    return module.cl_command(command, **{k: value(v) for k, v in params.items()})


# (command, parameters, the command text, or None when refused, and what the refusal says)
VALID = [
    ("CHGASPACT", dict(ASPDEV="*SYSBAS", OPTION="*SUSPEND", SSPTIMO=30, SSPTIMOACN="*CONT"),
     "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(30) SSPTIMOACN(*CONT)"),
    ("CHGASPACT", dict(ASPDEV="IASP01", OPTION="*FRCWRT"), "CHGASPACT ASPDEV(IASP01) OPTION(*FRCWRT)"),
    ("STRTCP", {}, "STRTCP"),
    ("CRTLIB", dict(LIB="FLASH4I", TEXT=Q("flash4i clone agent")), "CRTLIB LIB(FLASH4I) TEXT('flash4i clone agent')"),
    ("SNDMSG", dict(MSG=Q("It's done; ) STRTCP"), TOUSR="*SYSOPR"),
     "SNDMSG MSG('It''s done; ) STRTCP') TOUSR(*SYSOPR)"),
    ("SNDMSG", dict(MSG=Q("''"), TOMSGQ="QSYS/QHST"), "SNDMSG MSG('''''') TOMSGQ(QSYS/QHST)"),
    ("CHGSYSVAL", dict(SYSVAL="QSTRUPPGM", VALUE=Q("FLSTRUP   FLASH4I   ")),
     "CHGSYSVAL SYSVAL(QSTRUPPGM) VALUE('FLSTRUP   FLASH4I   ')"),
    ("CHGDTAARA", dict(DTAARA="FLASH4I/FLSTRACT", VALUE=Q("*CHAIN")),
     "CHGDTAARA DTAARA(FLASH4I/FLSTRACT) VALUE('*CHAIN')"),
    ("CRTSAVF", dict(FILE="FLASH4I/QUSRBRM"), "CRTSAVF FILE(FLASH4I/QUSRBRM)"),
    ("CALL", dict(PGM="*LIBL/$NIGHT#1"), "CALL PGM(*LIBL/$NIGHT#1)"),
    ("SAVLIB", dict(LIB="QUSRBRM", DEV="*SAVF", SAVF="FLASH4I/QUSRBRM", OMITOBJ=[("*ALL", "*JRN"), ("*ALL", "*JRNRCV")]),
     "SAVLIB LIB(QUSRBRM) DEV(*SAVF) SAVF(FLASH4I/QUSRBRM) OMITOBJ((*ALL *JRN) (*ALL *JRNRCV))"),
    ("ADDTCPIFC", dict(INTNETADR=Q("10.0.0.9"), LIND="ETHLINE", SUBNETMASK=Q("255.255.255.0"), AUTOSTART="*YES"),
     "ADDTCPIFC INTNETADR('10.0.0.9') LIND(ETHLINE) SUBNETMASK('255.255.255.0') AUTOSTART(*YES)"),
    ("SBMJOB", dict(CMD=Cmd(("QSH", dict(CMD=Q("/QOpenSys/pkgs/bin/python3.9 /QOpenSys/flash4i/a.py function 7")))),
                    JOB="FLASH4IFN", JOBQ="QSYS/QSYSNOMAX"),
     "SBMJOB CMD(QSH CMD('/QOpenSys/pkgs/bin/python3.9 /QOpenSys/flash4i/a.py function 7')) "
     "JOB(FLASH4IFN) JOBQ(QSYS/QSYSNOMAX)"),
    ("CRTDTAARA", dict(DTAARA="FLASH4I/FLSTRORG", TYPE="*CHAR", LEN=20, VALUE=Q("*NONE"), TEXT=None),
     "CRTDTAARA DTAARA(FLASH4I/FLSTRORG) TYPE(*CHAR) LEN(20) VALUE('*NONE')"),
    ("QSYS/CHGIPLA", dict(STRTCP=False), "QSYS/CHGIPLA STRTCP(*NO)"),
    ("CHGNETA", dict(SYSNAME="CLONE1"), "CHGNETA SYSNAME(CLONE1)"),
    ("SNDMSG", dict(MSG=Q("é ü ß 日本"), TOUSR="*SYSOPR"), "SNDMSG MSG('é ü ß 日本') TOUSR(*SYSOPR)"),
]

HOSTILE = [
    ("CHGNETA", dict(SYSNAME="X) DLTLIB LIB(QGPL"), "CHGNETA SYSNAME: 'X) DLTLIB LIB(QGPL' is not an IBM i name"),
    ("CHGNETA", dict(SYSNAME="clone1"), "'clone1' is not an IBM i name"),
    ("CHGNETA", dict(SYSNAME="1CLONE"), "'1CLONE' is not"),
    ("CHGNETA", dict(SYSNAME="ABCDEFGHIJK"), "'ABCDEFGHIJK' is not"),
    ("CHGNETA", dict(SYSNAME=""), "'' is not"),
    ("STRSBS", dict(SBSD="QSYSWRK QBATCH"), "'QSYSWRK QBATCH' is not"),
    ("CALL", dict(PGM="A/B/C"), "'A/B/C' is not"),
    ("CALL", dict(PGM="LIB/"), "'LIB/' is not"),
    ("CALL", dict(PGM="MY.PGM"), "'MY.PGM' is not"),
    ("CHGASPACT", dict(OPTION="*RESUME)"), "'*RESUME)' is not"),
    ("CHGASPACT", dict(OPTION="*"), "'*' is not"),
    ("CRTLIB", dict(LIB="QGPL'"), "\"QGPL'\" is not"),
    ("CRTLIB", dict(LIB="Q\nGPL"), "is not an IBM i name"),
    ("SNDMSG", dict(MSG=Q("line one\nSTRTCP")), "contains control characters"),
    ("SNDMSG", dict(MSG=Q("bell\x07")), "contains control characters"),
    ("SNDMSG", dict(MSG=Q("del\x7f")), "contains control characters"),
    ("SAVLIB", dict(OMITOBJ=[]), "SAVLIB OMITOBJ: an empty list cannot be sent"),
    ("SAVLIB", dict(OMITOBJ=[("*ALL", "X Y")]), "'X Y' is not"),
    ("SSPTIMO", dict(SSPTIMO=1.5), "1.5 (float) is not a CL value"),
    ("CHGASPACT", {"OPTION) DLTLIB(": "*RESUME"}, "is not a CL keyword"),
    ("CHGASPACT; STRTCP", {}, "is not a CL command name"),
    ("chgaspact", {}, "'chgaspact' is not a CL command name"),
    ("", {}, "'' is not a CL command name"),
]


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("command, params, text", VALID, ids=[c[2][:40] for c in VALID])
def test_the_builders_make_the_same_text(builder, command, params, text):
    module, _ = BUILDERS[builder]
    assert build(module, command, params) == text


@pytest.mark.parametrize("builder", BUILDERS)
@pytest.mark.parametrize("command, params, says", HOSTILE, ids=[c[2][:40] for c in HOSTILE])
def test_the_builders_refuse_the_same_values(builder, command, params, says):
    module, error = BUILDERS[builder]
    with pytest.raises(error) as refused:
        build(module, command, params)
    assert says in str(refused.value)


@pytest.mark.parametrize("command, params, text", HOSTILE)
def test_both_refusals_say_the_same(command, params, text):
    messages = []
    for module, error in BUILDERS.values():
        with pytest.raises(error) as refused:
            build(module, command, params)
        messages.append(str(refused.value))
    assert messages[0] == messages[1]


def test_an_agent_refusal_is_handled_as_a_failed_command():
    # the agent's handlers (re-identification, start, submit) catch ClFailed: a refusal holds the clone
    assert issubclass(agent.ClRefused, agent.ClFailed)


# ---------------------------------------------------------------- the lab reads it back


def lab_value(node):
    """The parsed nodes as the table writes them (words, quoted text, nested groups)."""
    if isinstance(node, lab_cl.Group):
        return tuple(lab_value(n) for n in node.items)
    return Q(node) if isinstance(node, lab_cl.Quoted) else str(node)


def expected_value(value):
    if isinstance(value, bool):
        return ("*YES" if value else "*NO",)
    if isinstance(value, int):
        return (str(value),)
    if isinstance(value, list):
        return tuple(tuple(v) if isinstance(v, tuple) else v for v in value)
    return (value,)


@pytest.mark.parametrize("command, params, text", VALID, ids=[c[2][:40] for c in VALID])
def test_the_lab_parser_reads_back_what_the_builder_makes(command, params, text):
    parsed = lab_cl.parse(build(product, command, params))
    library, _, name = command.rpartition("/")
    assert (parsed.library, parsed.name) == (library or None, name)
    given = {k: v for k, v in params.items() if v is not None}
    assert [kw for kw, _, _ in parsed.params] == list(given)
    for (keyword, items, raw), value in zip(parsed.params, given.values()):
        if isinstance(value, Cmd):      # a nested command stays text, read again when it runs
            assert raw == build(product, *value)
            assert lab_cl.parse(raw).name == value[0]
            continue
        got = tuple(lab_value(n) for n in items)
        assert got == expected_value(value), keyword
        assert all(type(g) is type(e) for g, e in zip(got, expected_value(value))), keyword


@pytest.mark.parametrize("command, params, text", VALID, ids=[c[2][:40] for c in VALID])
def test_the_lab_command_analyser_accepts_the_commands_it_knows(command, params, text):
    name = command.rpartition("/")[2]
    if name not in lab_cl.COMMANDS:
        pytest.skip(f"the lab has no {name}")
    try:
        lab_cl.analyse(build(product, command, params))
    except ClEscape as escape:
        pytest.fail(f"the lab refuses {text}: {escape}")


def test_the_commands_the_product_sends_are_accepted_by_the_lab():
    from flash4i_tui.devices import ibmi
    from flash4i_tui.engine.functions import brms_restore_commands
    sent = ibmi.quiesce_commands(30, "*CONT") + ibmi.quiesce_commands(30, "*END", ("IASP01", "*SYSBAS")) + \
        list(brms_restore_commands({"option": "*FLASHCOPY", "state_end_process": "*ENDPRC"}, "FLASH4I/QUSRBRM"))
    for text in sent:
        lab_cl.analyse(text)


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=200)


@settings(max_examples=300, deadline=None)
@given(printable)
def test_any_printable_text_comes_back_unchanged(text):
    for module, _ in BUILDERS.values():
        command = module.cl_command("SNDMSG", MSG=module.ClStr(text), TOUSR="*SYSOPR")
        parsed = lab_cl.parse(command)
        assert [(kw, [str(n) for n in items]) for kw, items, _ in parsed.params] == [("MSG", [text]), ("TOUSR", ["*SYSOPR"])]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=14))
def test_a_word_is_sent_only_as_itself_or_refused(word):
    outcomes = []
    for module, error in BUILDERS.values():
        try:
            command = module.cl_command("STRSBS", SBSD=word)
        except error as refused:
            outcomes.append(("refused", str(refused)))
            continue
        parsed = lab_cl.parse(command)
        assert [(kw, [str(n) for n in items]) for kw, items, _ in parsed.params] == [("SBSD", [word])]
        outcomes.append(("sent", command))
    assert outcomes[0] == outcomes[1]
