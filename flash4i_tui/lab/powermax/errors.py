"""Unisphere REST errors: an HTTP status with a JSON body {"message": "..."} (reference §3.1).

Unisphere has no message numbers; the texts below are lab choices marked [U], kept in one table
so they can be corrected in one place.
"""
from __future__ import annotations

from typing import Dict, Tuple

ERRORS: Dict[str, Tuple[int, str]] = {
    "unauthorized": (401, "Unauthorized"),                                                          # [U]
    "no_resource": (404, "The requested resource {path} was not found"),                            # [U]
    "no_version": (404, "Unisphere REST API version {version} is not supported"),                   # [U]
    "no_array": (404, "Symmetrix {sid} not found"),                                                 # [U]
    "no_volume": (404, "Cannot find Volume {device}"),                                              # [U]
    "no_sg": (404, "Cannot find Storage Group {sg}"),                                               # [U]
    "no_view": (404, "Cannot find Masking View {view}"),                                            # [U]
    "no_snapshot": (404, "Cannot find snapshot {name} of Storage Group {sg}"),                      # [U]
    "no_snapid": (404, "Cannot find snapid {snapid} of snapshot {name}"),                           # [U]
    "no_generation": (404, "Cannot find generation {gen} of snapshot {name}"),                     # [U]
    "no_job": (404, "Cannot find Job {job}"),                                                       # [U]
    "bad_request": (400, "{why}"),                                                                  # [U]
    "sg_exists": (409, "Storage Group {sg} already exists"),                                        # [U]
    "in_sg": (400, "Volume {device} is already in Storage Group {sg}"),                             # [U]
    "not_in_sg": (400, "Volume {device} is not in Storage Group {sg}"),                             # [U]
    "snap_failed": (400, "SnapVX {action} of {name} failed: {why}"),                                # [U]
    "snap_limit": (400, "SnapVX establish of {name} failed: device {device} already has the maximum "
                        "number of snapshots ({limit})"),                                             # [U]
}


class PmaxError(Exception):
    def __init__(self, key: str, /, **values: object):      # positional: values may carry name=
        status, text = ERRORS[key]
        self.name, self.status, self.text = key, status, text.format(**values)
        super().__init__(self.text)

    def body(self) -> dict:
        return {"message": self.text}
