"""Storage drivers: one interface (base.StorageDriver), one module per family.

svc speaks its SSH CLI (an SshSession); ds8000 and powermax speak their REST APIs (a
RestSession). `driver_for` builds a driver on a transport; `connect` builds the transport of
the family from the storage's endpoint first.
"""
from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping, Optional

from ... import families
from ...errors import ValidationError
from ..ssh import Endpoint, LogSink, SshSession
from .base import GroupSpec, StorageDriver
from .rest import RestEndpoint, RestSession

SSH_FAMILIES = families.named(transport="ssh")
REST_FAMILIES = families.named(transport="rest")
FAMILIES = families.NAMES
# Families whose targets change only after start(), in activate_targets (run step ACTIVATE_TARGETS).
ACTIVATING_FAMILIES = families.named(activating=True)


def driver_class(family: str) -> type:
    """The driver class of storage type FAMILY (from the family registry)."""
    known = families.FAMILIES.get(family)
    if known is None:
        raise ValidationError(f"storage type {family!r} has no driver (available: {', '.join(FAMILIES)})")
    module, cls = known.driver.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def driver_for(family: str, session: Any, name: str, options: Optional[Mapping[str, Any]] = None,
               groups: Optional[Mapping[str, GroupSpec]] = None) -> StorageDriver:
    """The driver of storage type FAMILY for device NAME over SESSION: an SshSession for svc, a
    RestSession for ds8000 and powermax. GROUPS are the consistency groups of the configuration
    on this device (the REST families need them; svc reads its groups from the array)."""
    return driver_class(family).configured(session, name, options or {}, groups)


def connect(family: str, endpoint: Endpoint, options: Optional[Mapping[str, Any]],
            ssh: Callable[[Endpoint], SshSession], log: Optional[LogSink] = None,
            limit: Optional[Callable[[], float]] = None, groups: Optional[Mapping[str, GroupSpec]] = None,
            timeout: Optional[float] = None) -> StorageDriver:
    """The driver of a configured storage system: over SSH(endpoint) for svc, over HTTPS to
    https://host:port for the REST families (TLS and the request bound from OPTIONS, the
    password from the endpoint's password_env). TIMEOUT bounds each command or request."""
    options = dict(options or {})
    if family in SSH_FAMILIES:
        if timeout is not None:
            options["command_timeout"] = timeout
        return driver_for(family, ssh(endpoint), endpoint.name, options, groups)
    if family not in REST_FAMILIES:
        raise ValidationError(f"storage type {family!r} has no driver (available: {', '.join(FAMILIES)})")
    rest = RestEndpoint.from_row(endpoint.name, endpoint.host, endpoint.port, endpoint.user, endpoint.auth, options,
                                 timeout=timeout)
    return driver_for(family, RestSession(rest, log=log, limit=limit), endpoint.name, options, groups)


__all__ = ["ACTIVATING_FAMILIES", "FAMILIES", "GroupSpec", "REST_FAMILIES", "SSH_FAMILIES", "StorageDriver",
           "connect", "driver_class", "driver_for"]
