"""flash4i config validate|import|export, flash4i env list|show: the definitions."""
from __future__ import annotations

import argparse
import sys

from .common import open_store, print_json, print_table


def cmd_config_validate(args: argparse.Namespace) -> int:
    from ..config.store_io import load_config_file
    cfg = load_config_file(args.file)
    print(f"{args.file}: valid ({len(cfg['environments'])} environments, {len(cfg['partitions'])} partitions, "
          f"{len(cfg['hmcs'])} HMCs, {len(cfg['storage'])} storage systems)")
    return 0


def cmd_config_import(args: argparse.Namespace) -> int:
    from ..config.store_io import import_config, load_config_file
    cfg = load_config_file(args.file)      # every problem is found before the store is touched
    open_store(args)
    counts = import_config(cfg)
    print("imported " + ", ".join(f"{n} {k}" for k, n in counts.items()))
    return 0


def cmd_config_export(args: argparse.Namespace) -> int:
    from ..config.store_io import export_yaml
    from ..paths import write_private
    open_store(args)
    text = export_yaml()
    if args.output and args.output != "-":
        write_private(__import__("pathlib").Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_env_list(args: argparse.Namespace) -> int:
    from ..store import queries
    open_store(args)
    envs = queries.environments()
    last = queries.last_runs()
    rows = []
    for e in envs:
        run = last.get(e.id)
        rows.append({"name": e.name, "function": e.function, "source": e.source.name, "clone": e.clone.name,
                     "storage": e.storage.name, "schedule": e.schedule, "description": e.description,
                     "last_run": run.id if run else None, "last_state": run.state if run else None})
    if args.json:
        print_json(rows)
    else:
        print_table(["Name", "Function", "Source", "Clone", "Storage", "Schedule", "Last run"],
                    [[r["name"], r["function"], r["source"], r["clone"], r["storage"], r["schedule"] or "",
                      f"{r['last_run']} {r['last_state']}" if r["last_run"] else ""] for r in rows])
    return 0


def cmd_env_show(args: argparse.Namespace) -> int:
    from ..config.store_io import environment_record
    from ..config.yamlsrc import dump_yaml
    from ..store import queries
    open_store(args)
    record = environment_record(queries.environment(args.name))
    if args.json:
        print_json(record)
    else:
        sys.stdout.write(dump_yaml(record))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="validate, import or export a configuration file")
    csub = p.add_subparsers(dest="config_command", required=True, metavar="{validate,import,export}")
    v = csub.add_parser("validate", help="check a configuration file; list every problem")
    v.add_argument("file")
    v.set_defaults(handler=cmd_config_validate)
    i = csub.add_parser("import", help="validate a configuration file and write it into the store")
    i.add_argument("file")
    i.set_defaults(handler=cmd_config_import)
    e = csub.add_parser("export", help="write the store's definitions as YAML")
    e.add_argument("-o", "--output", help="file to write (mode 0600); default standard output")
    e.set_defaults(handler=cmd_config_export)

    p = sub.add_parser("env", help="list or show environments")
    esub = p.add_subparsers(dest="env_command", required=True, metavar="{list,show}")
    lst = esub.add_parser("list", help="list the environments")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_env_list)
    show = esub.add_parser("show", help="show one environment")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_env_show)
