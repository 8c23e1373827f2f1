"""Configuration <-> store: import (all or nothing) and export (the normalized form)."""
from __future__ import annotations

from pathlib import Path

from ..errors import ConfigError, ConfigProblem
from ..store import models as m
from ..store.db import utcnow, write_transaction
from .schema import validate
from .yamlsrc import dump_yaml, load_yaml

MAX_CONFIG_BYTES = 16 * 2 ** 20


def load_config_file(path: str | Path) -> dict:
    """Read and validate a configuration file; raises ConfigError listing every problem."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)      # /dev/zero is no configuration either
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:     # a NUL in the path never reaches the OS
        raise ConfigError(f"cannot read {str(path)!r}: {exc}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"cannot read {path}: larger than {MAX_CONFIG_BYTES // 2 ** 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([ConfigProblem(str(path), line, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                                                              f"offset {exc.start})")]) from None
    cfg = validate(load_yaml(text, str(path)))
    return resolve_paths(cfg, path.parent)


def resolve_paths(cfg: dict, base: Path) -> dict:
    """Make key_file and known_hosts absolute, relative to the configuration file's folder."""
    def fix(value: str | None) -> str | None:
        if not value:
            return value
        try:
            p = Path(value).expanduser()
            return str(p if p.is_absolute() else (base / p).resolve())
        except (RuntimeError, ValueError, OSError) as exc:    # ~nosuchuser, a symlink loop
            raise ConfigError(f"cannot use the path {value!r}: {exc}") from None

    endpoints = list(cfg["hmcs"]) + list(cfg["storage"]) + [p["ssh"] for p in cfg["partitions"]]
    for ep in endpoints:
        ep["known_hosts"] = fix(ep["known_hosts"])
        ep["auth"]["key_file"] = fix(ep["auth"]["key_file"])
    for storage in cfg["storage"]:
        if storage["options"].get("ca_file"):
            storage["options"]["ca_file"] = fix(storage["options"]["ca_file"])
    return cfg


def _endpoint(rec: dict) -> dict:
    return dict(host=rec["host"], port=rec["port"], user=rec["user"], auth=rec["auth"],
                known_hosts=rec["known_hosts"])


def environment_fields(env: dict) -> dict:
    """Store columns of an Environment from its configuration record (references by name)."""
    ident = env["clone_identity"]
    return dict(
        description=env["description"], function=env["function"],
        consistency_group=env["consistency_group"],
        copy_mode=env["copy"]["mode"], copy_rate=env["copy"]["rate"], attach=env["attach"],
        quiesce_timeout=env["quiesce"]["timeout"], quiesce_action=env["quiesce"]["action"],
        clone_system_name=ident["system_name"], clone_interfaces=ident["interfaces"],
        hold_job_schedules=ident["hold_job_schedules"], end_job_scheduler=ident["end_job_scheduler"],
        brms=env["brms"], save21=env["save21"], user_commands=env["user"],
        schedule=env["schedule"], stop_clone_after=env["stop_clone_after"], ipl_timeout=env["ipl_timeout"],
        log_retention_days=env["log_retention_days"],
        options=_generation_options(env, {"default_route": ident["default_route"]}),
    )


def _generation_options(env: dict, options: dict) -> dict:
    """Generations live in the environment's options (no column of their own): the count, and each
    pair's targets, one per generation. Only when the environment keeps more than one. And
    quiesce.abnormal_ipl_expected, when set."""
    if env["quiesce"].get("abnormal_ipl_expected"):
        options["abnormal_ipl_expected"] = True
    proof = env.get("proof") or {}
    if proof.get("journals") or proof.get("libraries"):
        options["proof"] = {"journals": list(proof.get("journals") or []),
                            "libraries": list(proof.get("libraries") or [])}
    if env.get("generations", 1) > 1:
        options["generations"] = env["generations"]
        options["generation_targets"] = [list(p.get("targets") or []) for p in env["volumes"]]
    return options


def environment_record(env: m.Environment) -> dict:
    """The normalized configuration record of a stored environment (inverse of environment_fields)."""
    return {
        "name": env.name,
        "description": env.description,
        "function": env.function,
        "source": env.source.name,
        "clone": env.clone.name,
        "storage": env.storage.name,
        "consistency_group": env.consistency_group,
        "copy": {"mode": env.copy_mode, "rate": env.copy_rate},
        "volumes": [{"source": p.source, "target": p.target, "targets": _targets_of(env, i)}
                    for i, p in enumerate(env.volume_pairs.order_by(m.VolumePair.seq))],
        "attach": env.attach,
        "quiesce": {"timeout": env.quiesce_timeout, "action": env.quiesce_action,
                    "abnormal_ipl_expected": bool((env.options or {}).get("abnormal_ipl_expected"))},
        "clone_identity": {
            "system_name": env.clone_system_name,
            "interfaces": env.clone_interfaces,
            "default_route": (env.options or {}).get("default_route"),
            "hold_job_schedules": env.hold_job_schedules,
            "end_job_scheduler": env.end_job_scheduler,
        },
        "brms": env.brms,
        "save21": env.save21,
        "user": env.user_commands,
        "schedule": env.schedule,
        "stop_clone_after": env.stop_clone_after,
        "ipl_timeout": env.ipl_timeout,
        "log_retention_days": env.log_retention_days,
        "generations": int((env.options or {}).get("generations") or 1),
        "proof": dict({"journals": [], "libraries": []}, **((env.options or {}).get("proof") or {})),
    }


def _targets_of(env: m.Environment, index: int) -> list:
    lists = (env.options or {}).get("generation_targets") or []
    return list(lists[index]) if index < len(lists) else []


def save_environment(env: dict) -> m.Environment:
    """Create or replace one validated environment record (caller holds a write transaction)."""
    refs = dict(source=m.Partition.get(m.Partition.name == env["source"]),
                clone=m.Partition.get(m.Partition.name == env["clone"]),
                storage=m.StorageSystem.get(m.StorageSystem.name == env["storage"]))
    row = _upsert(m.Environment, env["name"], dict(environment_fields(env), **refs, updated_at=utcnow()))
    m.VolumePair.delete().where(m.VolumePair.environment == row).execute()
    m.VolumePair.insert_many([dict(environment=row, seq=i, source=p["source"], target=p["target"])
                              for i, p in enumerate(env["volumes"])]).execute()
    return m.Environment.get_by_id(row.id)


def _upsert(model, name: str, fields: dict):
    """Create the row named NAME, or update it in place (its id, and what refers to it, stay)."""
    row = model.get_or_none(model.name == name)
    if row is None:
        return model.create(name=name, **fields)
    model.update(**fields).where(model.id == row.id).execute()
    return row


def import_config(cfg: dict) -> dict:
    """Write a validated configuration into the store in one transaction (upsert by name)."""
    counts = {"hmcs": 0, "storage": 0, "partitions": 0, "environments": 0}
    with write_transaction():
        for rec in cfg["hmcs"]:
            hmc = _upsert(m.Hmc, rec["name"], dict(_endpoint(rec), description=rec["description"]))
            for sysname in rec["managed_systems"]:
                m.ManagedSystem.get_or_create(hmc=hmc, name=sysname)
            (m.ManagedSystem.delete()
             .where((m.ManagedSystem.hmc == hmc) & (m.ManagedSystem.name.not_in(rec["managed_systems"])))
             .where(~m.ManagedSystem.id.in_(m.Partition.select(m.Partition.managed_system)))
             .execute())
            counts["hmcs"] += 1
        for rec in cfg["storage"]:
            _upsert(m.StorageSystem, rec["name"], dict(_endpoint(rec), type=rec["type"], options=rec["options"],
                                                       description=rec["description"]))
            counts["storage"] += 1
        for rec in cfg["partitions"]:
            msys = (m.ManagedSystem.select().join(m.Hmc)
                    .where((m.Hmc.name == rec["hmc"]) & (m.ManagedSystem.name == rec["managed_system"])).get())
            ssh = rec["ssh"]
            fields = dict(managed_system=msys, lpar_name=rec["lpar_name"], lpar_id=rec["lpar_id"],
                          profile=rec["profile"], ssh_host=ssh["host"], ssh_port=ssh["port"],
                          ssh_user=ssh["user"], ssh_auth=ssh["auth"], known_hosts=ssh["known_hosts"],
                          address=rec["address"], storage_hosts=rec["storage_hosts"],
                          description=rec["description"])
            _upsert(m.Partition, rec["name"], fields)
            counts["partitions"] += 1
        for rec in cfg["environments"]:
            save_environment(rec)
            counts["environments"] += 1
    return counts


def export_config() -> dict:
    """The whole store's definitions as a normalized configuration."""
    hmcs = []
    for hmc in m.Hmc.select().order_by(m.Hmc.name):
        rec = {"name": hmc.name, "host": hmc.host, "port": hmc.port, "user": hmc.user, "auth": hmc.auth,
               "known_hosts": hmc.known_hosts,
               "managed_systems": [s.name for s in hmc.managed_systems.order_by(m.ManagedSystem.name)],
               "description": hmc.description}
        hmcs.append(rec)
    storage = [{"name": s.name, "type": s.type, "host": s.host, "port": s.port, "user": s.user, "auth": s.auth,
                "known_hosts": s.known_hosts, "options": s.options, "description": s.description}
               for s in m.StorageSystem.select().order_by(m.StorageSystem.name)]
    partitions = []
    for p in m.Partition.select().order_by(m.Partition.name):
        msys = p.managed_system
        partitions.append({
            "name": p.name, "hmc": msys.hmc.name, "managed_system": msys.name, "lpar_name": p.lpar_name,
            "lpar_id": p.lpar_id, "profile": p.profile,
            "ssh": {"host": p.ssh_host, "port": p.ssh_port, "user": p.ssh_user, "auth": p.ssh_auth,
                    "known_hosts": p.known_hosts},
            "address": p.address, "storage_hosts": p.storage_hosts, "description": p.description})
    envs = [environment_record(e) for e in m.Environment.select().order_by(m.Environment.name)]
    return {"version": 1, "hmcs": hmcs, "storage": storage, "partitions": partitions, "environments": envs}


def export_yaml() -> str:
    return dump_yaml(export_config())
