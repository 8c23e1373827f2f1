"""The CL parser and the command semantics of the simulated IBM i (no sockets)."""
from __future__ import annotations

import threading
import time

import pytest

from flash4i_tui.lab.ibmi import cl
from flash4i_tui.lab.ibmi.files import SystemFiles
from flash4i_tui.lab.ibmi.messages import ClEscape
from flash4i_tui.lab.ibmi.runtime import JobEnded

from .ibmi_support import CLONE_VOLUMES, PROD_VOLUMES, FakeLpar, Lab, job, sql, system, wait_for


@pytest.fixture
def lab():
    lab = Lab()
    yield lab
    lab.stop()


@pytest.fixture
def prod(lab):
    return lab.prod()


def escape_of(runtime, command):
    out, err, status = system(runtime, command)
    assert status == 255, (out, err)
    return err.strip().splitlines()


# ---------------------------------------------------------------- the parser


def test_keywords_positionals_nested_parens_and_quotes():
    parsed = cl.parse("qsys/sbmjob cmd(CALL PGM(APPPGM/DAYEND) PARM('It''s' (1 2))) job(nightly) 'x'")
    assert (parsed.library, parsed.name) == ("QSYS", "SBMJOB")
    keywords = [k for k, _, _ in parsed.params]
    assert keywords == ["CMD", "JOB", None]
    cmd_raw = parsed.params[0][2]
    assert cmd_raw == "CALL PGM(APPPGM/DAYEND) PARM('It''s' (1 2))"
    assert parsed.params[1][1] == ["NIGHTLY"]                   # names are upper-cased
    assert parsed.params[2][1] == [cl.Quoted("x")]


def test_analyse_converts_values_and_applies_positional_order():
    analysed = cl.analyse("CHGASPACT *SYSBAS *SUSPEND SSPTIMO(120) SSPTIMOACN(*END)")
    assert analysed.args == {"ASPDEV": "*SYSBAS", "OPTION": "*SUSPEND", "SSPTIMO": 120, "SSPTIMOACN": "*END"}
    qual = cl.analyse("CLRPFM FILE(appdta/custemail)").args["FILE"]
    assert (qual.lib, qual.obj) == ("APPDTA", "CUSTEMAIL")
    assert cl.analyse("CLRPFM CUSTEMAIL").args["FILE"].lib == "*LIBL"
    text = cl.analyse("SNDMSG MSG('Don''t panic (really)') TOUSR(*SYSOPR)").args["MSG"]
    assert text == "Don't panic (really)"


@pytest.mark.parametrize("command, ids", [
    ("FOOBAR X(1)", ["CPD0030", "CPF0006"]),
    ("CRTLIB LIB(X) NOPE(1)", ["CPD0043", "CPF0006"]),
    ("CRTLIB TEXT('x')", ["CPD0071", "CPF0006"]),
    ("CRTLIB LIB(1BAD)", ["CPD0078", "CPF0006"]),
    ("CHGASPACT ASPDEV(*SYSBAS) OPTION(*NAP)", ["CPD0084", "CPF0006"]),
    ("CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(abc)", ["CPD0075", "CPF0006"]),
    ("CRTLIB LIB(X", ["CPD0013", "CPF0006"]),
    ("SNDMSG MSG('open TOUSR(*SYSOPR)", ["CPD0014", "CPF0006"]),
    ("CRTLIB LIB(X) LIB(Y)", ["CPD0040", "CPF0006"]),
    ("CRTLIB A *TEST C D", ["CPD0074", "CPD0074", "CPF0006"]),
    ("CRTLIB TEXT('x') MYLIB", ["CPD0072", "CPD0071", "CPF0006"]),
    ("XYZLIB/CRTLIB LIB(X)", ["CPD0030", "CPF0006"]),
])
def test_analysis_errors_carry_real_message_ids(command, ids):
    with pytest.raises(ClEscape) as caught:
        cl.analyse(command)
    assert [m.msg_id for m in caught.value.diagnostics] + [caught.value.msg_id] == ids


def test_program_only_commands_are_refused_outside_programs(prod):
    lines = escape_of(prod, "CHGVAR VAR(&X) VALUE('A')")
    assert lines[0].startswith("CPD0031") and lines[-1].startswith("CPF0006")


# ---------------------------------------------------------------- libraries, objects, output format


def test_system_output_and_exit_status(prod):
    out, err, status = system(prod, "CRTLIB LIB(TESTLIB) TEXT('test')")
    assert (out, err, status) == ("CPC2102: Library TESTLIB created.\n", "", 0)
    assert escape_of(prod, "CRTLIB LIB(TESTLIB)") == ["CPF2111: Library TESTLIB already exists."]
    assert escape_of(prod, "CHKOBJ OBJ(QSYS/QCPTOIMPF) OBJTYPE(*DTAARA)") == \
        ["CPF9801: Object QCPTOIMPF in library QSYS not found."]
    assert system(prod, "CHKOBJ OBJ(APPDTA/CUSTOMER) OBJTYPE(*FILE)")[2] == 0
    assert system(prod, "DLTLIB TESTLIB")[2] == 0
    assert escape_of(prod, "DLTLIB TESTLIB") == ["CPF2110: Library TESTLIB not found."]


def test_data_areas_and_clrpfm(prod):
    assert system(prod, "CHGDTAARA DTAARA(APPDTA/ENVIRON) VALUE('TEST')")[2] == 0
    assert prod.state.library("APPDTA").get("ENVIRON", "*DTAARA").value == "TEST"
    assert system(prod, "CLRPFM FILE(APPDTA/CUSTEMAIL)")[0].startswith("CPC3101")
    assert prod.state.library("APPDTA").get("CUSTEMAIL", "*FILE").records == 0
    assert escape_of(prod, "CLRPFM FILE(APPDTA/NOFILE)")[0].startswith("CPF3142")
    assert escape_of(prod, "CHGDTAARA DTAARA(APPDTA/NODTA) VALUE('X')")[0].startswith("CPF1015")


# ---------------------------------------------------------------- CHGASPACT


def test_suspend_resume_and_consistency_of_a_copy(prod):
    assert prod.state.snapshot()[1] == "crash"
    assert system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*FRCWRT)")[2] == 0
    assert prod.state.snapshot()[1] == "flushed"              # nothing written since
    system(prod, "CRTLIB LIB(DIRTY)")
    assert prod.state.snapshot()[1] == "crash"
    out, _, status = system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(60) SSPTIMOACN(*CONT)")
    assert status == 0 and out.startswith("CPCB717")
    copy_state, consistency = prod.state.snapshot()
    assert consistency == "quiesced" and copy_state.last_end == "quiesced" and copy_state.runtime is None
    assert escape_of(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(60)")[0].startswith("CPFB71B")
    assert system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)")[2] == 0
    assert escape_of(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)")[0].startswith("CPFB71A")


def test_database_work_waits_while_suspended(prod):
    system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(60) SSPTIMOACN(*CONT)")
    done = threading.Event()
    threading.Thread(target=lambda: (system(prod, "CLRPFM FILE(APPDTA/CUSTOMER)"), done.set()), daemon=True).start()
    time.sleep(0.3)                                             # ~6000 lab seconds
    assert not done.is_set()
    assert prod.state.library("APPDTA").get("CUSTOMER", "*FILE").records == 125000
    system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)")
    assert done.wait(5)
    assert prod.state.library("APPDTA").get("CUSTOMER", "*FILE").records == 0


def test_long_transactions_make_end_fail_and_cont_incomplete(prod):
    prod.state.workload.open_transaction_seconds = 100
    lines = escape_of(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(10) SSPTIMOACN(*END)")
    assert lines[-1].startswith("CPFB718")
    assert not prod.asp.holding
    assert any(m.msg_id == "CPFB718" for m in prod.state.qhst)
    out, _, status = system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(10) SSPTIMOACN(*CONT)")
    assert status == 0 and "CPIB719" in out
    assert prod.state.snapshot()[1] == "flushed"                # not fully consistent
    system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*RESUME)")
    assert system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(200) SSPTIMOACN(*END)")[2] == 0
    assert prod.state.snapshot()[1] == "quiesced"


def test_suspend_with_end_resumes_by_itself_after_ssptimo():
    lab = Lab(start_ticker=True)
    try:
        prod = lab.prod()
        assert prod.AUTO_RESUME_AFTER_SSPTIMO
        started = time.monotonic()
        # Reaching a boundary takes 2 lab seconds, so SSPTIMO(3) suspends, then ends by itself.
        assert system(prod, "CHGASPACT ASPDEV(*SYSBAS) OPTION(*SUSPEND) SSPTIMO(3) SSPTIMOACN(*END)")[2] == 0
        assert prod.asp.suspended
        wait_for(lambda: not prod.asp.suspended)
        assert time.monotonic() - started >= 3.0        # SSPTIMO counts real seconds, not lab seconds
        assert any(m.msg_id == "CPIB71C" for m in prod.state.qhst)
        wait_for(lambda: lab.array.volume("PROD_001").written > 0)   # background writes go on
    finally:
        lab.stop()


# ---------------------------------------------------------------- job schedule, network attributes, interfaces


def test_hold_and_release_job_schedule_entries(prod):
    assert escape_of(prod, "HLDJOBSCDE JOB(*ALL)")[0].startswith("CPF1637")
    out, _, status = system(prod, "HLDJOBSCDE JOB(*ALL) ENTRYNBR(*ALL)")
    assert status == 0 and out.count("CPC1239") == 2
    rows = sql(prod, "SELECT SCHEDULED_JOB_NAME, STATUS FROM QSYS2.SCHEDULED_JOB_INFO ORDER BY 1")
    assert rows == [{"SCHEDULED_JOB_NAME": "DAYEND", "STATUS": "HELD"}, {"SCHEDULED_JOB_NAME": "PURGE", "STATUS": "HELD"}]
    assert system(prod, "RLSJOBSCDE JOB(PURGE)")[2] == 0
    assert [e.status for e in prod.state.schedule] == ["HLD", "SCD"]
    assert escape_of(prod, "RLSJOBSCDE JOB(NOSUCH)")[0].startswith("CPF1629")
    assert system(prod, "HLDJOBSCDE JOB(*JOBSCD)")[2] == 0 and prod.state.scheduler_held


def test_system_name_change_is_pending_until_ipl(prod):
    system(prod, "CHGNETA SYSNAME(CLONE1)")
    assert sql(prod, "SELECT HOST_NAME, PENDING_HOST_NAME FROM QSYS2.NETWORK_ATTRIBUTE_INFO") == \
        [{"HOST_NAME": "PROD", "PENDING_HOST_NAME": "CLONE1"}]
    assert escape_of(prod, "CHGNETA SYSNAME(TOOLONGNAME)")[0].startswith("CPD0078")


def test_interfaces_and_address_conflicts(lab, prod):
    assert system(prod, "ADDTCPIFC INTNETADR('10.10.1.20') LIND(ETHLINE) SUBNETMASK('255.255.255.0')")[2] == 0
    assert escape_of(prod, "ADDTCPIFC INTNETADR('10.10.1.21') LIND(NOLINE) SUBNETMASK('255.255.255.0')")[0] \
        .startswith("CPF2634")
    assert system(prod, "STRTCPIFC INTNETADR('10.10.1.20')")[2] == 0
    assert lab.world.network.owner("10.10.1.20") is prod
    assert escape_of(prod, "RMVTCPIFC INTNETADR('10.10.1.20')")[0].startswith("TCP1D09")
    assert system(prod, "ENDTCPIFC INTNETADR('10.10.1.20')")[2] == 0
    assert lab.world.network.owner("10.10.1.20") is None
    assert system(prod, "CHGTCPIFC INTNETADR('10.10.1.20') AUTOSTART(*NO)")[2] == 0
    assert system(prod, "RMVTCPIFC INTNETADR('10.10.1.20')")[2] == 0
    # another system claims production's address: the interface does not start, a conflict is recorded
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    copy_state = lab.array.volume("CLN1_001").content.state
    copy_state.ipl_attributes["STRTCP"] = "*NO"
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5))
    system(clone, "STRTCP")
    assert lab.world.network.owner("10.10.1.10") is prod
    assert clone.interfaces["10.10.1.10"] == "FAILED"
    assert [c.data["conflict"] for c in lab.world.conflicts] == ["name", "address"]
    assert escape_of(clone, "STRTCPIFC INTNETADR('10.10.1.10')")[0].startswith("TCP8A1F")


# ---------------------------------------------------------------- subsystems and jobs


def test_endsbs_all_from_the_controlling_subsystem_enters_batch_restricted_state(prod):
    console = job(prod, "QSECOFR", "QCTL", "SAVE21")
    assert escape_of(prod, "SAVSYS DEV(TAP01)")[0].startswith("CPF3785")
    out, err, status = system(prod, "ENDSBS SBS(*ALL) OPTION(*IMMED)", console)
    assert status == 0, err
    assert prod.restricted and not prod.subsystems and not prod.ssh_active and not prod.tcp_active
    assert not console.ended
    assert all(j.rec.job_type in ("SYS",) or j is console for j in prod.jobs.values())
    assert system(prod, "SAVSYS DEV(TAP01)", console)[2] == 0
    assert system(prod, "SAVLIB LIB(*NONSYS) DEV(TAP01)", console)[2] == 0
    assert [s.command for s in prod.state.saves] == ["SAVSYS", "SAVLIB"]
    assert system(prod, "STRSBS SBSD(QSYS/QCTL)", console)[2] == 0
    assert not prod.restricted
    wait_for(lambda: "QBATCH" in prod.subsystems)               # the startup program ran again


def test_endsbs_all_from_an_ssh_job_ends_that_job(prod):
    ssh_job = job(prod)
    with pytest.raises(JobEnded):
        system(prod, "ENDSBS SBS(*ALL) OPTION(*IMMED)", ssh_job)
    assert prod.restricted and ssh_job.ended


def test_sbmjob_runs_in_its_subsystem_and_keeps_its_joblog(prod):
    out, _, _ = system(prod, "SBMJOB CMD(CRTLIB LIB(SUBLIB)) JOB(MAKELIB)")
    name = out.split()[2]
    assert out.startswith("CPC1221") and name.endswith("/FLASH4I/MAKELIB") and "QBATCH in library QGPL" in out
    wait_for(lambda: name in prod.state.ended_jobs)
    rows = sql(prod, "SELECT MESSAGE_ID, MESSAGE_TYPE, MESSAGE_TEXT FROM TABLE(QSYS2.JOBLOG_INFO(?)) A "
                     "ORDER BY ORDINAL_POSITION", (name,))
    assert rows[-1] == {"MESSAGE_ID": "CPC2102", "MESSAGE_TYPE": "COMPLETION", "MESSAGE_TEXT": "Library SUBLIB created."}
    info = sql(prod, "SELECT JOB_SUBSYSTEM, JOB_STATUS, COMPLETION_STATUS FROM TABLE(QSYS2.JOB_INFO("
                     "JOB_USER_FILTER => 'FLASH4I')) X WHERE JOB_NAME = ?", (name,))
    assert info == [{"JOB_SUBSYSTEM": "QBATCH", "JOB_STATUS": "OUTQ", "COMPLETION_STATUS": "NORMAL"}]
    # QBATCH ended: the job waits on the job queue until the subsystem starts
    system(prod, "ENDSBS SBS(QBATCH) OPTION(*IMMED)")
    out, _, _ = system(prod, "SBMJOB CMD(CRTLIB LIB(LATER)) JOB(WAITS)")
    waiting = out.split()[2]
    time.sleep(0.1)
    assert prod.find_job(waiting).rec.status == "JOBQ" and "LATER" not in prod.state.libraries
    system(prod, "STRSBS QBATCH")
    wait_for(lambda: "LATER" in prod.state.libraries)
    # QSYSNOMAX feeds QSYSWRK
    system(prod, "SBMJOB CMD(CRTLIB LIB(NOMAX)) JOB(NOMAX) JOBQ(QSYS/QSYSNOMAX)")
    wait_for(lambda: "NOMAX" in prod.state.libraries)


# ---------------------------------------------------------------- BRMS


def test_inzbrm_flashcopy_states_follow_the_brms_transitions(prod):
    assert escape_of(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*ENDBKU)")[0].startswith("BRM1A02")
    assert escape_of(prod, "INZBRM OPTION(*FLASHCPY) STATE(*STRPRC)")[0].startswith("CPD0084")
    assert system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*STRPRC)")[2] == 0
    assert "Q1ABRMNET" not in prod.subsystems
    assert escape_of(prod, "STRBKUBRM CTLGRP(DAILY) SBMJOB(*NO)")[0].startswith("BRM1A03")
    for state in ("*STRBKU", "*ENDBKU"):
        assert system(prod, f"INZBRM OPTION(*FLASHCOPY) STATE({state})")[2] == 0
    assert escape_of(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*STRBKU)")[0].startswith("BRM1A02")
    assert system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*ENDPRC)")[2] == 0
    assert "Q1ABRMNET" in prod.subsystems
    assert escape_of(prod, "INZBRM OPTION(*MERGE)")[0].startswith("LAB0001")


def test_strbkubrm_records_history_under_the_production_name_in_flashcopy_state(prod):
    assert escape_of(prod, "STRBKUBRM CTLGRP(NOGROUP) SBMJOB(*NO)")[0].startswith("BRM1142")
    system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*STRPRC)")
    system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*STRBKU)")
    prod.state.network.sysname = "CLONE1"          # as on a clone after its second IPL
    started = time.monotonic()
    out, err, status = system(prod, "STRBKUBRM CTLGRP(DAILY) SBMJOB(*NO)")
    assert status == 0, err
    elapsed_lab = (time.monotonic() - started) * prod.world.clock.speed
    assert elapsed_lab >= 20480 / prod.SAVE_MIB_PER_SECOND         # proportional to the size saved
    history = prod.state.brms.history
    assert [(h.item, h.system_name, h.flashcopy) for h in history] == \
        [("APPDTA", "PROD", True), ("APPPGM", "PROD", True), ("QGPL", "PROD", True)]
    system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*ENDBKU)")
    system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*ENDPRC)")
    out, _, _ = system(prod, "STRBKUBRM CTLGRP(IFSBKU) SBMJOB(*YES)")
    assert out.startswith("CPC1221")
    wait_for(lambda: len(history) == 5)
    assert [(h.item, h.system_name) for h in history[3:]] == [("/home", "CLONE1"), ("/appdata", "CLONE1")]


def test_save_qusrbrm_to_a_save_file_and_restore_it_on_production(lab, prod):
    lab.flash(PROD_VOLUMES, CLONE_VOLUMES)
    clone = lab.boot(CLONE_VOLUMES, FakeLpar("P10-PROD", "CLONE1", 5))
    system(clone, "INZBRM OPTION(*FLASHCOPY) STATE(*STRPRC)")
    system(clone, "INZBRM OPTION(*FLASHCOPY) STATE(*STRBKU)")
    assert system(clone, "STRBKUBRM CTLGRP(DAILY) SBMJOB(*NO)")[2] == 0
    system(clone, "INZBRM OPTION(*FLASHCOPY) STATE(*ENDBKU)")
    assert system(clone, "CRTSAVF FILE(QGPL/BRMSAVF)")[2] == 0
    out, err, status = system(clone, "SAVLIB LIB(QUSRBRM) DEV(*SAVF) SAVF(QGPL/BRMSAVF) "
                                     "OMITOBJ((*ALL *JRN) (*ALL *JRNRCV))")
    assert status == 0 and out.startswith("CPC3722"), err
    # a second save into the same, non-empty save file is refused (CPA4067, default reply)
    lines = escape_of(clone, "SAVLIB LIB(QUSRBRM) DEV(*SAVF) SAVF(QGPL/BRMSAVF)")
    assert lines[0].startswith("CPA4067") and lines[-1].startswith("CPF3797")
    data = SystemFiles(clone.state).read("/QSYS.LIB/QGPL.LIB/BRMSAVF.FILE")
    # transferred to production (as SFTP does) and restored there
    system(prod, "CRTSAVF FILE(QGPL/BRMSAVF)")
    SystemFiles(prod.state).write("/QSYS.LIB/QGPL.LIB/BRMSAVF.FILE", data)
    assert prod.state.brms.history == []
    out, err, status = system(prod, "RSTLIB SAVLIB(QUSRBRM) DEV(*SAVF) SAVF(QGPL/BRMSAVF) ALWOBJDIF(*ALL) MBROPT(*ALL)")
    assert status == 0 and out.startswith("CPC3703"), err
    assert [h.item for h in prod.state.brms.history] == ["APPDTA", "APPPGM", "QGPL"]
    assert prod.state.brms.flashcopy_state == "*ENDBKU"
    assert system(prod, "INZBRM OPTION(*FLASHCOPY) STATE(*ENDPRC)")[2] == 0
    assert system(prod, "CLRSAVF FILE(QGPL/BRMSAVF)")[2] == 0
    assert escape_of(prod, "RSTLIB SAVLIB(QUSRBRM) DEV(*SAVF) SAVF(QGPL/BRMSAVF)")[0].startswith("CPF3743")


# ---------------------------------------------------------------- CL programs


def test_cl_program_with_variables_monmsg_and_return_values(prod):
    source = """
    PGM PARM(&WHO)
      DCL VAR(&WHO) TYPE(*CHAR) LEN(10)
      DCL VAR(&ENV) TYPE(*CHAR) LEN(10)
      DCL VAR(&LIB) TYPE(*CHAR) LEN(10) VALUE('APPDTA')
      DCL VAR(&N) TYPE(*DEC) LEN(5 0) VALUE(0)
      RTVDTAARA DTAARA(&LIB/ENVIRON) RTNVAR(&ENV)
      IF COND(&ENV *EQ 'PROD') THEN(DO)
         CHGVAR VAR(&N) VALUE(&N + 1)
         CRTLIB LIB(ISPROD)
      ENDDO
      ELSE CMD(CRTLIB LIB(NOTPROD))
      CRTLIB LIB(ISPROD)                      /* exists: monitored */
      MONMSG MSGID(CPF2111) EXEC(DO)
         CHGVAR &N (&N + 10)
      ENDDO
      LOOP: IF (&N *LT 13) THEN(DO)
         CHGVAR &N (&N + 1)
         GOTO LOOP
      ENDDO
      SNDMSG MSG('hello ' *CAT %TRIM(&WHO) *BCAT 'n=' *CAT %CHAR(&N)) +
             TOUSR(*SYSOPR)
      CHKOBJ OBJ(QSYS/NOTHERE) OBJTYPE(*PGM)
      MONMSG CPF9800
    ENDPGM
    """
    prod.state.ifs.make_dirs("/src")
    prod.state.ifs.write("/src/test.clle", source.encode())
    out, err, status = system(prod, "CRTBNDCL PGM(QGPL/TESTPGM) SRCSTMF('/src/test.clle')")
    assert status == 0 and out.startswith("CPC5D07"), err
    out, err, status = system(prod, "CALL PGM(QGPL/TESTPGM) PARM('world')")
    assert status == 0, err
    assert "ISPROD" in prod.state.libraries and "NOTPROD" not in prod.state.libraries
    assert prod.state.message_queues["QSYSOPR"][-1].text == "hello world n=13"


def test_unmonitored_escape_in_a_program_is_a_function_check(prod):
    prod.state.ifs.write("/tmp/bad.clle", b"PGM\n  CRTLIB LIB(QGPL)\nENDPGM\n")
    assert system(prod, "CRTBNDCL PGM(QGPL/BAD) SRCSTMF('/tmp/bad.clle')")[2] == 0
    lines = escape_of(prod, "CALL QGPL/BAD")
    assert lines[-1].startswith("CPF9999") and "CPF2111" in lines[-1]
    prod.state.ifs.write("/tmp/broken.clle", b"PGM\n  NOSUCHCMD X(1)\nENDPGM\n")
    assert escape_of(prod, "CRTBNDCL PGM(QGPL/BROKEN) SRCSTMF('/tmp/broken.clle')")[-1].startswith("CPF0C33")
    assert escape_of(prod, "CALL PGM(QGPL/NOPGM)") == ["CPD0170: Program NOPGM in library QGPL not found.",
                                                        "CPF0001: Error found on CALL command."]
    # SNDPGMMSG *ESCAPE ends the program and reaches its caller (its own MONMSG does not see it)
    prod.state.ifs.write("/tmp/esc.clle", b"""PGM
  DCL &PGM *CHAR 10 'TESTPGM'
  SNDPGMMSG MSG('starting') MSGTYPE(*INFO)
  SNDPGMMSG MSGID(CPF9898) MSGF(QCPFMSG) MSGDTA('stopped by' *BCAT &PGM *TCAT '') MSGTYPE(*ESCAPE)
  MONMSG CPF0000
  CRTLIB LIB(NEVER)
ENDPGM
""")
    assert system(prod, "CRTBNDCL PGM(QGPL/ESC) SRCSTMF('/tmp/esc.clle')")[2] == 0
    calling = job(prod)
    assert escape_of(prod, "CALL QGPL/ESC") == ["CPF9898: stopped by TESTPGM."]
    system(prod, "CALL QGPL/ESC", calling)
    assert "NEVER" not in prod.state.libraries
    assert "starting" in [m.text for m in calling.rec.joblog if m.msg_type == "INFORMATIONAL"]


def test_qsh_runs_a_python_file_from_the_ifs(prod):
    prod.state.ifs.write("/tmp/tool.py", b"def main(argv, host):\n    print('args', argv)\n    return len(argv)\n")
    out, err, status = system(prod, "QSH CMD('/QOpenSys/pkgs/bin/python3.9 /tmp/tool.py a b')")
    assert status == 0 and "args ['a', 'b']" in out and "QSH0005: Command ended normally with exit status 2." in out
    out, _, _ = system(prod, "QSH CMD('/QOpenSys/pkgs/bin/python3.9 /tmp/missing.py')")
    assert "can't open file '/tmp/missing.py'" in out and "exit status 2" in out
    qsh_job = job(prod)
    system(prod, "ADDENVVAR ENVVAR(QIBM_QSH_CMD_ESCAPE_MSG) VALUE(Y)", qsh_job)
    _, err, status = system(prod, "QSH CMD('/QOpenSys/pkgs/bin/python3.9 /tmp/missing.py')", qsh_job)
    assert status == 255 and err.startswith("QSH0005")


def test_pwrdwnsys_ends_the_system_cleanly(lab, prod):
    with pytest.raises(JobEnded):
        system(prod, "PWRDWNSYS OPTION(*IMMED) RESTART(*YES) CONFIRM(*NO)")
    assert prod.phase == "down" and prod.state.last_end == "clean" and prod.state.runtime is None
    assert prod.key not in lab.world.running and lab.world.network.owner("10.10.1.10") is None
    assert prod.lpar.powered_off.wait(5)
    assert prod.lpar.power_offs == [(True, True)]


def test_advanced_job_scheduler_monitor(lab, prod):
    assert prod.ajs_monitor() is not None and prod.ajs_monitor().subsystem == "QSYSWRK"
    out, _, status = system(prod, "QIJS/ENDJS OPTION(*MONITOR) DTALIB(*ALL)")
    assert status == 0 and out.startswith("IJS0001")
    assert prod.ajs_monitor() is None and not prod.state.ajs.monitor_enabled
    copy_state = prod.state.snapshot()[0]
    assert not copy_state.ajs.monitor_enabled                  # stays off on a copy until STRJS
    assert system(prod, "STRJS")[2] == 0 and prod.ajs_monitor() is not None
    prod.state.ajs.installed = False                           # without the product the command does not exist
    assert escape_of(prod, "ENDJS")[0].startswith("CPD0030")


def test_saves_of_documents_and_directories(prod):
    out, err, status = system(prod, "SAV DEV('/QSYS.LIB/TAP01.DEVD') OBJ(('/*') ('/QSYS.LIB' *OMIT) ('/QDLS' *OMIT)) "
                                    "UPDHST(*YES)")
    assert status == 0 and out.startswith("CPC3701"), err
    assert system(prod, "SAVDLO DLO(*ALL) FLR(*ANY) DEV(TAP01)")[2] == 0
    assert escape_of(prod, "SAVDLO DLO(*ALL) DEV(TAP99)")[0].startswith("CPF9814")
    saves = prod.state.saves
    assert [s.command for s in saves] == ["SAV", "SAVDLO"] and saves[0].size_bytes >= 2 * 256 * 1024 * 1024
    out, _, _ = system(prod, "SBMJOB CMD(DLYJOB DLY(1)) JOB(NOMAXJOB) JOBQ(QSYSNOMAX)")
    assert "job queue QSYSNOMAX in library QSYS." in out


def test_strbkubrm_in_the_controlling_subsystem_runs_in_batch_restricted_state(prod):
    prod.state.brms.control_groups["FULL"] = ["*SAVSYS", "APPDTA"]
    assert escape_of(prod, "STRBKUBRM CTLGRP(FULL) SBMJOB(*NO)")[0].startswith("BRM15A5")
    out, err, status = system(prod, "STRBKUBRM CTLGRP(FULL) SBMJOB(*CTLSBS)")
    assert status == 0 and "job queue QCTL in library QSYS" in out, err
    name = out.split()[2]
    wait_for(lambda: name in prod.state.ended_jobs)
    assert prod.state.ended_jobs[name].completion == "NORMAL"
    assert [(s.items, s.restricted) for s in prod.state.saves] == [(("*SAVSYS",), True), (("APPDTA",), True)]
    assert any(m.msg_id == "CPF0968" for m in prod.state.qhst)
    wait_for(lambda: "QBATCH" in prod.subsystems)            # QCTL restarted: the startup program ran again
    prod.state.brms.allow_backups_in_batch = False
    assert escape_of(prod, "STRBKUBRM CTLGRP(FULL) SBMJOB(*CTLSBS)")[0].startswith("BRM15A4")
