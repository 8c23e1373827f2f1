"""Errors of the simulated HMC, with the real message ids.

Only HSCL05DF and HSCL350B have verified texts (reference §4.6); the other ids are verified
as usage (what the code means) but their texts are reconstructions [U]. They live in one
table so a capture from a real HMC can correct them in one place.

Message form: `HSCLxxxx text` (a V7R7.9 capture: "HSCLA4C0 <text>", ziutus/hmc_vios_aix
data/20180603_1656/hmc/192.168.200.34/9131-52A-6535CCG_virtual_fc.txt). A V10R3 capture also shows an
outer id with a colon before the detailed one, "HSCL127D: HSCL1288 <text>" (randomparity/hmc-mcp
power9-v10r3m1060-live-sriov.json); the lab prints the first form, the driver reads both.
"""
from __future__ import annotations

from typing import Dict

# message id -> text template [U unless noted]
MESSAGES: Dict[str, str] = {
    # [V] pypowervm job_response_completed_failed.txt
    "HSCL05DF": "The partition is not in a state under which this operation can be performed. "
                "Check the state of the partition.",
    "HSCL3681": "The partition {name} is already powered on.",
    "HSCL1558": "The partition {name} is already powered off.",
    "HSCL0DB4": "The operating system shutdown of partition {name} cannot be performed because there is "
                "no active RMC connection to the partition.",
    "HSCL8012": "The {kind} named {name} was not found.",
    # [V] ansible-power-hmc hmc_user.py
    "HSCL350B": "The user does not have the appropriate authority.",
}


class HsclError(Exception):
    """An HMC command refused: printed as `HSCLxxxx text` with a non-zero exit status."""

    def __init__(self, msg_id: str, exit_status: int = 1, **values: object):
        self.msg_id = msg_id
        self.text = MESSAGES[msg_id].format(**values)
        self.exit_status = exit_status
        super().__init__(f"{msg_id} {self.text}")


class UsageError(Exception):
    """Bad command syntax: the HMC prints a usage text [U wording] and exits non-zero."""

    exit_status = 1

    def __init__(self, text: str):
        self.text = text
        super().__init__(text)


class IoscliError(Exception):
    """A VIOS (ioscli) command failed; its text comes back through viosvrcmd [U wording]."""

    def __init__(self, text: str, exit_status: int = 1):
        self.text = text
        self.exit_status = exit_status
        super().__init__(text)


def not_found(kind: str, name: object) -> HsclError:
    return HsclError("HSCL8012", kind=kind, name=name)


def wrong_state() -> HsclError:
    return HsclError("HSCL05DF")


def already_on(name: str) -> HsclError:
    return HsclError("HSCL3681", name=name)


def already_off(name: str) -> HsclError:
    return HsclError("HSCL1558", name=name)


def no_rmc(name: str) -> HsclError:
    return HsclError("HSCL0DB4", name=name)


# ioscli / AIX ODM messages [U: from general AIX practice, not captured]
def device_busy(device: str) -> IoscliError:
    return IoscliError("Some error messages may contain invalid information\n"
                       "for the Virtual I/O Server environment.\n\n"
                       "Method error (/usr/lib/methods/ucfgdevice):\n"
                       "        0514-062 Cannot perform the requested function because the\n"
                       f"                 specified device ({device}) is busy.")


def no_such_device(device: str) -> IoscliError:
    return IoscliError("0514-519 The following device was not found in the customized\n"
                       f"         device configuration database:\n         {device}")


def already_backing(hdisk: str, vtd: str) -> IoscliError:
    return IoscliError(f'"{hdisk}" is already being used as a backing device by "{vtd}".\n'
                       "Specify the -f flag to force this device to be used anyway.")
