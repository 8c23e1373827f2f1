"""The storage family registry (flash4i_tui/families.py) is what everything else reads: each
family's driver exists and says it is that family, the configuration knows its volume names, the
lab ships its datacenter, and the derived lists agree with the registry."""
from __future__ import annotations

import importlib

import pytest

from flash4i_tui import families, names
from flash4i_tui.config import schema
from flash4i_tui.devices import storage
from flash4i_tui.lab import TOPOLOGIES
from flash4i_tui.lab.server import load_topology


@pytest.mark.parametrize("family", families.NAMES)
def test_each_family_is_whole(family):
    entry = families.FAMILIES[family]
    module, cls = entry.driver.split(":")
    driver = getattr(importlib.import_module(f"flash4i_tui.devices.storage.{module}"), cls)
    assert issubclass(driver, storage.StorageDriver) and driver.family == family
    assert family in names._VOLUME_CHECKS and schema.STORAGE_PORTS[family] == entry.port
    topology = load_topology(storage=family)
    assert {s.get("type", "svc") for s in topology["storage"]} == {family}


def test_derived_lists_follow_the_registry():
    assert schema.STORAGE_TYPES == storage.FAMILIES == tuple(TOPOLOGIES) == families.NAMES
    assert set(storage.SSH_FAMILIES) | set(storage.REST_FAMILIES) == set(families.NAMES)
    assert set(schema.REST_STORAGE_TYPES) == set(storage.REST_FAMILIES)
    assert storage.ACTIVATING_FAMILIES == ("powermax",)
    assert schema.GENERATION_FAMILIES_WITH_TARGETS == ("svc", "ds8000")


def test_an_unknown_family_has_no_driver():
    from flash4i_tui.errors import ValidationError
    with pytest.raises(ValidationError, match="no driver"):
        storage.driver_for("xiv", None, "X")
