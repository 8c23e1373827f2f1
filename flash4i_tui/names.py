"""Validation of every value that can end up on a device command line.

Each check returns the value unchanged or raises ValidationError with a message an
operator understands. Nothing is ever "cleaned up" silently: a bad name is refused.
IBM i command lines are built from such values by flash4i_tui/cl.py.
"""
from __future__ import annotations

import ipaddress
import re

from .errors import ValidationError

_IBMI_NAME = re.compile(r"[A-Z$#@][A-Z0-9$#@_]{0,9}")
_SYSTEM_NAME = re.compile(r"[A-Z][A-Z0-9]{0,7}")
# Storage Virtualize names: letters, digits, '.', '-', '_'; first a letter or '_'.
# Spaces are legal on the array but refused here so no quoting subtlety can arise.
_SVC_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,62}")
# HMC object names (managed systems, partitions, profiles).
_HMC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,46}")
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)*")
_SCOPE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_VIOS_DEV = re.compile(r"[a-z][a-z0-9_]{0,14}")
_IFS_PATH = re.compile(r"/[A-Za-z0-9_.\-/]{0,250}")
# DS8000 volume ids: 4 hex digits, LSS (2) then volume number (2), as DSCLI and REST print them.
_DS8000_VOLUME = re.compile(r"[0-9A-F]{4}")
# PowerMax device ids: 5 hex digits as Unisphere prints them (00205).
_POWERMAX_DEVICE = re.compile(r"[0-9A-F]{5}")


def _show(value: object) -> str:
    return repr(value) if isinstance(value, str) else repr(str(value))


def ibmi_name(value: str, what: str = "IBM i name") -> str:
    """An IBM i object name: A-Z 0-9 $ # @ _, at most 10 characters, first not a digit."""
    if not isinstance(value, str) or not _IBMI_NAME.fullmatch(value):
        raise ValidationError(
            f"{_show(value)} is not a valid {what} (A-Z 0-9 $ # @ _, at most 10 characters, first not a digit)")
    return value


def system_name(value: str) -> str:
    """An IBM i system name (CHGNETA SYSNAME): A-Z 0-9, at most 8 characters."""
    if not isinstance(value, str) or not _SYSTEM_NAME.fullmatch(value):
        raise ValidationError(f"{_show(value)} is not a valid IBM i system name (A-Z 0-9, at most 8 characters)")
    return value


def ip_address(value: str, what: str = "IP address") -> str:
    text = str(value)
    # An IPv6 scope (fe80::1%eth0) is an interface name; ipaddress takes any text after the %.
    if "%" in text and not _SCOPE.fullmatch(text.partition("%")[2]):
        raise ValidationError(f"{_show(value)} is not a valid {what} (the zone after % is an interface name)")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValidationError(f"{_show(value)} is not a valid {what}") from None


def subnet_mask(value: str) -> str:
    try:
        ipaddress.IPv4Network(f"0.0.0.0/{value}")
    except ValueError:
        raise ValidationError(f"{_show(value)} is not a valid subnet mask") from None
    if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", str(value)):
        raise ValidationError(f"{_show(value)} is not a valid subnet mask (dotted form, e.g. 255.255.255.0)")
    return value


def host(value: str) -> str:
    """A host to connect to: an IP address or a DNS name."""
    try:
        return ip_address(value)
    except ValidationError:
        if isinstance(value, str) and _HOSTNAME.fullmatch(value):
            return value
    raise ValidationError(f"{_show(value)} is not a valid host name or address")


def port(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValidationError(f"{_show(value)} is not a valid TCP port (1-65535)")
    return value


def svc_name(value: str, what: str = "storage object name", max_len: int = 63) -> str:
    if not isinstance(value, str) or not _SVC_NAME.fullmatch(value) or len(value) > max_len:
        raise ValidationError(
            f"{_show(value)} is not a valid {what} (letters, digits, . - _, first a letter or _, "
            f"at most {max_len} characters)")
    return value


def ds8000_volume_id(value: str, what: str = "DS8000 volume id") -> str:
    if not isinstance(value, str) or not _DS8000_VOLUME.fullmatch(value):
        raise ValidationError(f"{_show(value)} is not a valid {what} (4 hexadecimal digits in capitals, e.g. 1000)")
    return value


def powermax_device_id(value: str, what: str = "PowerMax device id") -> str:
    if not isinstance(value, str) or not _POWERMAX_DEVICE.fullmatch(value):
        raise ValidationError(f"{_show(value)} is not a valid {what} (5 hexadecimal digits in capitals, e.g. 00205)")
    return value


_VOLUME_CHECKS = {"svc": svc_name, "ds8000": ds8000_volume_id, "powermax": powermax_device_id}


def storage_volume(family: str, value: str, what: str = "volume name") -> str:
    """A volume as the storage family names it: SVC names, DS8000 volume ids, PowerMax device ids."""
    check = _VOLUME_CHECKS.get(family)
    if check is None:
        raise ValidationError(f"{_show(family)} is not a storage type ({', '.join(_VOLUME_CHECKS)})")
    return check(value, what)


def any_storage_volume(value: str, what: str = "volume name") -> str:
    """A volume name valid for at least one storage family (the family check comes with the storage)."""
    for check in _VOLUME_CHECKS.values():
        try:
            return check(value, what)
        except ValidationError:
            pass
    raise ValidationError(f"{_show(value)} is not a valid {what} (an SVC volume name, a DS8000 volume id such as "
                          "1000, or a PowerMax device id such as 00205)")


def hmc_name(value: str, what: str = "HMC object name") -> str:
    if not isinstance(value, str) or not _HMC_NAME.fullmatch(value):
        raise ValidationError(
            f"{_show(value)} is not a valid {what} (letters, digits, . - _, at most 47 characters)")
    return value


def vios_device(value: str, what: str = "VIOS device name") -> str:
    if not isinstance(value, str) or not _VIOS_DEV.fullmatch(value):
        raise ValidationError(f"{_show(value)} is not a valid {what} (e.g. vhost0, hdisk4)")
    return value


def env_var(value: str) -> str:
    if not isinstance(value, str) or not _ENV_VAR.fullmatch(value):
        raise ValidationError(f"{_show(value)} is not a valid environment variable name")
    return value


def ifs_path(value: str) -> str:
    if not isinstance(value, str) or not _IFS_PATH.fullmatch(value) or "/../" in value + "/":
        raise ValidationError(f"{_show(value)} is not a valid IFS path (absolute, letters, digits, . - _ /)")
    return value


CRON_MAX = 255          # the store's column


def cron_expression(value: str) -> str:
    """A five-field cron expression (minute hour day month weekday), as cronsim reads it; unchanged."""
    from datetime import datetime

    from cronsim import CronSim, CronSimError      # only when a schedule is checked
    if isinstance(value, str) and len(value) > CRON_MAX:
        raise ValidationError(f"a schedule is limited to {CRON_MAX} characters")
    if not isinstance(value, str) or len(value.split()) != 5:
        raise ValidationError(f"{_show(value)} is not a cron expression (five fields: minute hour day month weekday)")
    try:
        CronSim(value, datetime(2000, 1, 1))
    except CronSimError as exc:
        raise ValidationError(f"{_show(value)} is not a valid cron expression: {exc}") from None
    return value
