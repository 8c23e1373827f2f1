"""DS8000 REST errors: the `server` envelope with its code (reference §2.3).

Verified codes: BE7A001A / BE7A001B (token invalid / expired), BE7A0027-BE7A002D (authentication
failures). Every other code and every text below is a lab choice marked [U]: the reference
gives no code for them. They live in one table so they can be corrected in one place.
"""
from __future__ import annotations

from typing import Dict, Tuple

# name -> (code, HTTP status, text). Status 200 for a failed operation follows the reference
# ("the HTTP status may be 200 even when status is failed"); which failures do so is [U].
ERRORS: Dict[str, Tuple[str, int, str]] = {
    "token_invalid": ("BE7A001A", 401, "The token is not valid. Request a new token."),                  # [U] text
    "token_expired": ("BE7A001B", 401, "The token has expired. Request a new token."),                   # [U] text
    # [U] which of BE7A0027-BE7A002D
    "auth_failed": ("BE7A002D", 401, "Authentication failed: the user name or the password is not correct."),
    "not_found": ("BE7A0001", 404, "The specified {what} {id} does not exist."),                           # [U]
    "bad_parameter": ("BE7A0002", 400, "The parameter {what} is not valid: {why}"),                        # [U]
    "bad_request": ("BE7A0003", 404, "The resource {path} is not supported for {method}."),                # [U]
    "flash_failed": ("BE7A0060", 200, "FlashCopy {pair} was not created: {why}"),                         # [U]
    "flash_state": ("BE7A0061", 200, "FlashCopy {pair}: {why}"),                                          # [U]
    # the limit itself is IBM's ("up to twelve" relationships per source volume); code and text [U]
    "too_many_relationships": ("BE7A0062", 200, "FlashCopy {pair} was not created: source volume {source} "
                                                "already has the maximum number of FlashCopy relationships "
                                                "({limit})."),                                            # [U]
    "mapping_exists": ("BE7A0070", 200, "Volume {volume} is already mapped to host {host}."),             # [U]
    "lun_in_use": ("BE7A0071", 200, "LUN {lun} of host {host} is already in use."),                       # [U]
}
SUCCESS = "Operation done successfully."
CODE_PATTERN = r"BE7A[0-9A-F]{4}|CMU[CN]\d{5}[EWI]"


class Ds8kError(Exception):
    """A request the DS8000 refuses: the code, HTTP status and text of its `server` envelope."""

    def __init__(self, name: str, **values: object):
        code, status, text = ERRORS[name]
        self.name, self.code, self.status = name, code, status
        self.text = text.format(**values)
        super().__init__(f"{code} {self.text}")

    def envelope(self) -> dict:
        return {"server": {"status": "failed", "code": self.code, "message": self.text}}
