"""Recovery points: an environment that keeps N generations (`generations: N`, issue 13).

A run of such an environment takes one generation, the oldest (or one never used), and leaves
the others untouched. The choice is made when the run is queued and written into the run's
snapshot of the environment, so every step (and a worker that picks the run up again) flashes
into that generation and nothing else:

- svc / ds8000: `volumes[].target` of the snapshot becomes generation k's target of each pair,
  and `consistency_group` becomes `<consistency_group>_G<k>`; the clone's own disks (the
  configured `target`) are kept in `clone_volumes`.
- powermax: the SnapVX snapshots are targetless; generation k is the snapshot named after
  `<consistency_group>_G<k>` on the environment's source storage group `<consistency_group>_SRC`
  (the run's group names its base: GroupSpec.base), never linked by a run, linked to the clone's
  target storage group only when booted.

The `recovery_point` table records, per generation, the run that took it, when, what the
storage shows of it, the space it uses and whether it was proven.
"""
from __future__ import annotations

from typing import List, Optional

from ..config.schema import generation_group
from ..store import models as m
from ..store.db import utcnow


def generations_of(env: m.Environment) -> int:
    return int((env.options or {}).get("generations") or 1)


def generation_targets(env: m.Environment) -> List[List[str]]:
    """Per pair (in order), its targets, one per generation (empty for targetless families)."""
    return [list(t) for t in (env.options or {}).get("generation_targets") or []]


def all_generation_targets(env: m.Environment) -> List[str]:
    return [t for targets in generation_targets(env) for t in targets]


def points(env: m.Environment) -> dict:
    """generation -> its RecoveryPoint row (generations never used have none)."""
    return {p.generation: p for p in m.RecoveryPoint.select().where(m.RecoveryPoint.environment == env)}


def choose(env: m.Environment) -> int:
    """The generation the next run takes: one never used (or whose last take failed), lowest
    first; otherwise the oldest."""
    rows = points(env)
    count = generations_of(env)
    for k in range(1, count + 1):
        row = rows.get(k)
        if row is None or row.taken_at is None:
            return k
    return min(range(1, count + 1), key=lambda k: (rows[k].taken_at, k))


def run_snapshot(env: m.Environment, record: dict) -> dict:
    """The run's snapshot of ENV (its configuration RECORD) for the generation it takes."""
    if generations_of(env) <= 1:
        return record
    k = choose(env)
    record = dict(record)
    record["generation"] = k
    record["base_consistency_group"] = record["consistency_group"]
    record["consistency_group"] = generation_group(record["consistency_group"], k)
    record["clone_volumes"] = [{"source": v["source"], "target": v["target"]} for v in record["volumes"]]
    if env.storage.type != "powermax":
        record["volumes"] = [{"source": v["source"], "target": v["targets"][k - 1], "targets": []}
                             for v in record["volumes"]]
    return record


def record_point(environment_id: int, generation: int, **fields) -> None:
    """Create or update generation GENERATION's row (caller: inside a write, or ctx.write)."""
    fields["updated_at"] = utcnow()
    row = m.RecoveryPoint.get_or_none((m.RecoveryPoint.environment == environment_id) &
                                      (m.RecoveryPoint.generation == generation))
    if row is None:
        m.RecoveryPoint.create(environment=environment_id, generation=generation, **fields)
    else:
        m.RecoveryPoint.update(**fields).where(m.RecoveryPoint.id == row.id).execute()


def listing(env: m.Environment) -> List[dict]:
    """Each generation of ENV, for `flash4i rcvpnt list` and the WRKFLRCVP panel."""
    rows = points(env)
    base = env.consistency_group
    out = []
    for k in range(1, generations_of(env) + 1):
        row = rows.get(k)
        run = row.run if row is not None and row.run_id is not None else None
        proven = row.proven if row is not None and row.proven is not None else (run.proven if run else None)
        out.append({
            "generation": k,
            "consistency_group": generation_group(base, k),
            "taken_at": row.taken_at if row else None,
            "run": row.run_id if row else None,
            "run_state": run.state if run else None,
            "state": (row.state if row else "") or "never used",
            "space_used_bytes": row.space_used_bytes if row else None,
            "proven": proven,
            "targets": [t[k - 1] for t in generation_targets(env) if len(t) >= k],
        })
    return out


def newest_generation(env: m.Environment) -> Optional[int]:
    taken = [(p.taken_at, k) for k, p in points(env).items() if p.taken_at is not None and k <= generations_of(env)]
    return max(taken)[1] if taken else None
