"""Storage drivers: one interface (base.StorageDriver), one module per family.

svc speaks its SSH CLI (an SshSession); ds8000 and powermax speak their REST APIs (a
RestSession). `driver_for` builds a driver on a transport; `connect` builds the transport of
the family from the storage's endpoint first.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

from ...errors import ValidationError
from ..ssh import Endpoint, LogSink, SshSession
from .base import GroupSpec, StorageDriver
from .rest import RestEndpoint, RestSession

SSH_FAMILIES = ("svc",)
REST_FAMILIES = ("ds8000", "powermax")
FAMILIES = SSH_FAMILIES + REST_FAMILIES
# Families whose targets change only after start(), in activate_targets (run step ACTIVATE_TARGETS).
ACTIVATING_FAMILIES = ("powermax",)

# Storage options (configuration `storage[].options`) that tune a driver; the others
# (prepare_timeout, pool, TLS) are read by the engine, the transport or other families.
_SVC_TUNING = ("command_timeout", "poll_interval", "cleanup_timeout")
_POWERMAX_TUNING = ("poll_interval", "job_timeout")
_POWERMAX_NAMES = ("symmetrix_id", "api_version", "source_sg_suffix", "target_sg_suffix")


def _floats(options: Mapping[str, Any], keys: tuple) -> dict:
    return {key: float(options[key]) for key in keys if options.get(key) is not None}


def driver_for(family: str, session: Any, name: str, options: Optional[Mapping[str, Any]] = None,
               groups: Optional[Mapping[str, GroupSpec]] = None) -> StorageDriver:
    """The driver of storage type FAMILY for device NAME over SESSION: an SshSession for svc, a
    RestSession for ds8000 and powermax. GROUPS are the consistency groups of the configuration
    on this device (the REST families need them; svc reads its groups from the array)."""
    options = options or {}
    if family == "svc":
        from .svc import SvcDriver
        return SvcDriver(session, name, **_floats(options, _SVC_TUNING))
    if family == "ds8000":
        from .ds8000 import Ds8000Driver
        return Ds8000Driver(session, name, groups)
    if family == "powermax":
        from .powermax import PowerMaxDriver
        return PowerMaxDriver(session, name, groups, **{k: options.get(k) for k in _POWERMAX_NAMES},
                              **_floats(options, _POWERMAX_TUNING))
    raise ValidationError(f"storage type {family!r} has no driver (available: {', '.join(FAMILIES)})")


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
           "connect", "driver_for"]
