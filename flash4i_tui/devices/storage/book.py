"""What a REST storage driver knows of its consistency groups beyond what the array records.

A DS8000 has no consistency group object: a group is the configuration's pairs, flashed
together with freeze/unfreeze. A PowerMax has storage groups and snapshots but no place for a
link's copy mode before the link exists. The engine hands each driver the groups of the
configuration (GroupSpec); ensure_group adds or changes one. The book also remembers what
this driver did that the array cannot show (a group prepared or stopped, with no copy on the
array in either case).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Mapping, Optional, Sequence

from ...errors import ValidationError
from ...names import svc_name
from .base import GroupSpec, VolumePair

GROUP_NAME_MAX = 15          # as the configuration allows (the SVC limit, the strictest family)
PREPARED, STOPPED, NONE = "prepared", "stopped", ""


def check_group_name(group: str) -> str:
    return svc_name(group, "consistency group name", GROUP_NAME_MAX)


def check_rate(copy_rate: int) -> int:
    if isinstance(copy_rate, bool) or not isinstance(copy_rate, int) or not 0 <= copy_rate <= 150:
        raise ValidationError(f"{copy_rate!r} is not a valid copy rate (0-150)")
    return copy_rate


def check_pairs(group: str, pairs: Sequence[VolumePair], copy_rate: int,
                volume: Callable[[str, str], str]) -> Dict[str, VolumePair]:
    """Validate every value before anything is sent; return the pairs by target."""
    check_group_name(group)
    check_rate(copy_rate)
    if not pairs:
        raise ValidationError(f"consistency group {group}: no volume pairs")
    wanted: Dict[str, VolumePair] = {}
    for pair in pairs:
        volume(pair.source, "source volume")
        volume(pair.target, "target volume")
        if pair.target in wanted:
            raise ValidationError(f"volume {pair.target} is the target of two pairs")
        wanted[pair.target] = pair
    sources = [p.source for p in pairs]
    if len(set(sources)) != len(sources):
        raise ValidationError(f"consistency group {group}: a source volume is listed twice")
    both = sorted(set(sources) & set(wanted))
    if both:
        raise ValidationError(f"volume {both[0]} is both a source and a target")
    return wanted


class GroupBook:
    def __init__(self, groups: Optional[Mapping[str, GroupSpec]] = None):
        self._specs: Dict[str, GroupSpec] = dict(groups or {})
        self._flags: Dict[str, str] = {}

    def get(self, group: str) -> Optional[GroupSpec]:
        return self._specs.get(group)

    def define(self, group: str, spec: GroupSpec) -> List[str]:
        """GROUP now holds SPEC. A target belongs to one group: other groups holding one of its
        targets are forgotten (their old copies were removed on the array). Returns their names."""
        targets = {p.target for p in spec.pairs}
        gone = [name for name, other in self._specs.items()
                if name != group and targets & {p.target for p in other.pairs}]
        for name in gone:
            self._specs.pop(name)
            self._flags.pop(name, None)
        self._specs[group] = spec
        return gone

    def flag(self, group: str) -> str:
        return self._flags.get(group, NONE)

    def set_flag(self, group: str, flag: str) -> None:
        self._flags[group] = flag
