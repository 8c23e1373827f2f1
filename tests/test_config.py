"""Configuration validation: a good file, and each kind of error with file, line and field."""
from __future__ import annotations

import copy

import pytest
import yaml

from flash4i_tui.config.schema import validate, validate_environment
from flash4i_tui.config.store_io import export_config, import_config, load_config_file
from flash4i_tui.config.yamlsrc import dump_yaml, load_yaml
from flash4i_tui.errors import ConfigError

from .conftest import SAMPLE


def problems_of(text: str, file: str = "c.yaml") -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate(load_yaml(text, file))
    return [str(p) for p in info.value.problems]


def sample_data() -> dict:
    return yaml.safe_load(SAMPLE.read_text())


def mutate(fn) -> str:
    data = sample_data()
    fn(data)
    return dump_yaml(data)


def test_sample_is_valid_and_normalized():
    cfg = load_config_file(SAMPLE)
    assert [e["name"] for e in cfg["environments"]] == ["NIGHTLY", "SUNDAY21", "TESTCOPY", "RCVPNT"]
    nightly = cfg["environments"][0]
    assert nightly["brms"]["option"] == "*FLASHCOPY"          # default filled in
    assert cfg["environments"][3]["copy"] == {"mode": "space_efficient", "rate": 0}
    # relative and ~ paths become absolute so the store does not depend on the cwd
    assert cfg["hmcs"][0]["auth"]["key_file"].startswith("/")


def test_malformed_yaml_names_the_line():
    msgs = problems_of("version: 1\nhmcs:\n  - name: [unclosed\n")
    assert len(msgs) == 1 and msgs[0].startswith("c.yaml:") and "malformed YAML" in msgs[0]


def test_unknown_key_names_field_and_line():
    text = mutate(lambda d: d["environments"][1].update(colour="green"))
    msgs = problems_of(text)
    assert any("environments[1].colour: unknown key" in m for m in msgs), msgs
    line = int(msgs[0].split(":")[1])
    assert "colour" in text.splitlines()[line - 1]


def test_wrong_types():
    def bad(d):
        d["partitions"][0]["lpar_id"] = "three"
        d["environments"][0]["stop_clone_after"] = "yes"
        d["environments"][0]["quiesce"]["timeout"] = 99999
    msgs = problems_of(mutate(bad))
    assert any("partitions[0].lpar_id: expected a whole number, got text" in m for m in msgs)
    assert any("environments[0].stop_clone_after: expected true or false" in m for m in msgs)
    assert any("environments[0].quiesce.timeout: 99999 is out of range" in m for m in msgs)


def test_duplicate_names():
    msgs = problems_of(mutate(lambda d: d["environments"].append(copy.deepcopy(d["environments"][0]))))
    assert any("environments[4].name: duplicate name 'NIGHTLY'" in m for m in msgs), msgs


def test_duplicate_yaml_key():
    msgs = problems_of("version: 1\nversion: 1\n")
    assert msgs == ["c.yaml:2: version: duplicate key"]


def test_dangling_reference():
    msgs = problems_of(mutate(lambda d: d["environments"][2].update(clone="CLONE9")))
    assert any("environments[2].clone: unknown partition 'CLONE9'" in m for m in msgs), msgs


def test_invalid_system_name_message_is_exact():
    def bad(d):
        d["environments"][2]["clone_identity"]["system_name"] = "CLONE-01"
    msgs = problems_of(mutate(bad))
    assert any(m.endswith("environments[2].clone_identity.system_name: 'CLONE-01' is not a valid IBM i system "
                          "name (A-Z 0-9, at most 8 characters)") for m in msgs), msgs


@pytest.mark.parametrize("name", ["TOOLONGNAME1", "1ABC", "PROD;RM", "prod", "A B", "') DLTLIB"])
def test_invalid_ibmi_names(name):
    msgs = problems_of(mutate(lambda d: d["environments"][0].update(name=name)))
    assert any("environments[0].name:" in m and "not a valid name" in m for m in msgs), msgs


@pytest.mark.parametrize("value", ["; rm -rf /", "') DLTLIB LIB(QGPL)", "X\nDLTLIB QGPL", "vol 1"])
def test_injection_strings_are_refused(value):
    msgs = problems_of(mutate(lambda d: d["environments"][0]["volumes"][0].update(target=value)))
    assert any("environments[0].volumes[0].target:" in m for m in msgs), msgs


def test_user_command_with_newline_is_refused():
    def bad(d):
        d["environments"][2]["user"]["commands"] = ["CLRPFM FILE(A/B)\nPWRDWNSYS"]
    msgs = problems_of(mutate(bad))
    assert any("environments[2].user.commands[0]:" in m and "newline" in m for m in msgs), msgs


def test_plain_password_is_refused_with_advice():
    msgs = problems_of(mutate(lambda d: d["hmcs"][0]["auth"].update(password="secret")))
    assert any("hmcs[0].auth.password: passwords are never stored" in m for m in msgs), msgs


def test_target_that_is_a_production_volume_is_refused():
    msgs = problems_of(mutate(lambda d: d["environments"][3]["volumes"][0].update(target="PROD_002")))
    assert any("is a source volume of environment" in m for m in msgs), msgs


def test_clone_equal_source_is_refused():
    msgs = problems_of(mutate(lambda d: d["environments"][0].update(clone="PROD")))
    assert any("environments[0].clone: the clone partition cannot be the source partition" in m for m in msgs)


def test_bad_cron_is_refused():
    msgs = problems_of(mutate(lambda d: d["environments"][0].update(schedule="61 * * * *")))
    assert any("environments[0].schedule:" in m for m in msgs), msgs


def test_every_problem_is_reported_at_once():
    def bad(d):
        d["environments"][0]["name"] = "bad name"
        d["environments"][1]["consistency_group"] = "x" * 20
        d["partitions"][1]["ssh"]["host"] = "not a host!"
    assert len(problems_of(mutate(bad))) >= 3


def test_validate_environment_for_panels():
    cfg = load_config_file(SAMPLE)
    env = copy.deepcopy(cfg["environments"][0])
    env["clone_identity"]["system_name"] = "TOO-LONG-NAME"
    with pytest.raises(ConfigError) as info:
        validate_environment(env, cfg)
    assert info.value.problems[0].field == "clone_identity.system_name"


def test_import_export_round_trip(sqlite_store):
    cfg = load_config_file(SAMPLE)
    import_config(copy.deepcopy(cfg))
    exported = export_config()
    by_name = lambda items: sorted(items, key=lambda x: x["name"])  # noqa: E731
    for section in ("hmcs", "storage", "partitions", "environments"):
        assert by_name(exported[section]) == by_name(cfg[section]), section
    # exporting again after re-importing the export gives the same text
    text = dump_yaml(exported)
    import_config(validate(load_yaml(text)))
    assert dump_yaml(export_config()) == text


def test_proof_journals_and_libraries_are_ibm_i_names_and_default_empty():
    assert all(e["proof"] == {"journals": [], "libraries": []} for e in validate(load_yaml(SAMPLE.read_text()))["environments"])
    ok = validate(load_yaml(mutate(lambda d: d["environments"][0].update(
        proof={"journals": ["APPDTA/APPJRN"], "libraries": ["APPDTA"]}))))
    assert ok["environments"][0]["proof"] == {"journals": ["APPDTA/APPJRN"], "libraries": ["APPDTA"]}
    msgs = problems_of(mutate(lambda d: d["environments"][0].update(
        proof={"journals": ["APPJRN", "APPDTA/') DLTLIB"], "libraries": ["app dta"]})))
    assert any("environments[0].proof.journals[0]: 'APPJRN' is not a qualified journal name" in m for m in msgs), msgs
    assert any("environments[0].proof.journals[1]:" in m and "not a valid journal name" in m for m in msgs), msgs
    assert any("environments[0].proof.libraries[0]:" in m and "not a valid library name" in m for m in msgs), msgs


def test_proof_survives_import_and_export(sqlite_store):
    data = sample_data()
    data["environments"][0]["proof"] = {"journals": ["APPDTA/APPJRN"], "libraries": ["APPDTA"]}
    import_config(validate(load_yaml(dump_yaml(data))))
    exported = {e["name"]: e for e in export_config()["environments"]}
    assert exported[data["environments"][0]["name"]]["proof"] == data["environments"][0]["proof"]
