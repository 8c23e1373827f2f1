"""Storage Virtualize CLI errors with their real message ids (reference §1.5).

The texts marked [V] in the reference are used word for word. A few situations the
reference does not cover borrow the closest verified code; those are marked [U] below.
"""
from __future__ import annotations

MESSAGES = {
    "CMMVC5701E": "No object ID was specified.",
    "CMMVC5707E": "Required parameters are missing.",
    "CMMVC5709E": "[-{value}] is not a supported parameter.",
    "CMMVC5713E": "Some parameters are mutually exclusive.",
    "CMMVC5753E": "The specified object does not exist or is not a suitable candidate.",
    "CMMVC5754E": "The specified object does not exist, or the name supplied does not meet the naming rules.",
    "CMMVC5804E": "The action failed because an object that was specified in the command does not exist.",
    "CMMVC5903E": "The FlashCopy mapping was not changed because the mapping or consistency group is another state.",
    "CMMVC5924E": "The FlashCopy mapping was not created because the source and target virtual disks (VDisks) "
                  "are different sizes.",
    "CMMVC6035E": "The action failed as the object already exists.",
    "CMMVC6045E": "The action failed, as the -force flag was not entered.",
    "CMMVC6303E": "The create failed because the source and target VDisks are the same.",
    "CMMVC6527E": "The name that you have entered is not valid. The name can contain letters, numbers, spaces, "
                  "periods, dashes, and underscores. The name must begin with a letter or an underscore. "
                  "The name must not begin or end with a space.",
    # [U] the reference has only the start of this text; used for any invalid parameter value
    # (a copy rate out of range, a -delim longer than one character, a bad -filtervalue).
    "CMMVC5767E": "One or more of the parameters specified are invalid.",
    # [U] limits (issue 13): IBM's configuration limits give 256 FlashCopy mappings per source volume
    # and 512 per consistency group [U]; the message ids and texts of the refusals are not verified.
    "CMMVC6425E": "The FlashCopy mapping was not created because the source volume already has the maximum "
                  "number of FlashCopy mappings.",
    "CMMVC6426E": "The FlashCopy mapping was not created because the consistency group already has the maximum "
                  "number of FlashCopy mappings.",
    # Host-mapping texts, as the cinder simulator prints them (not in reference §1.5).
    "CMMVC6071E": "The VDisk-to-host mapping was not created because the VDisk is already mapped to a host.",
    "CMMVC5879E": "The VDisk-to-host mapping was not created because a VDisk is already mapped to this host "
                  "with this SCSI LUN.",
}


class SvcError(Exception):
    """A command failed on the array: the CLI prints `CMMVCnnnnE text` on stderr, exit status 1."""

    def __init__(self, msg_id: str, **values: str):
        self.msg_id = msg_id
        self.text = MESSAGES[msg_id].format(**values)
        super().__init__(f"{msg_id} {self.text}")


def not_found_for_action() -> SvcError:
    """An action command (start, stop, rm ...) names an object that does not exist."""
    return SvcError("CMMVC5753E")


def not_found_for_listing() -> SvcError:
    """A detailed listing or a create names an object that does not exist (or an invalid name)."""
    return SvcError("CMMVC5754E")


def wrong_state() -> SvcError:
    """Any transition the FlashCopy state machine does not allow (reference §1.4)."""
    return SvcError("CMMVC5903E")
