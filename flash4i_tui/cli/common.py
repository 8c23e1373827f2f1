"""What every command handler shares: the store from the arguments, JSON and table output, and
argument types checked by argparse (a bad value is a usage error, exit 2, before anything opens)."""
from __future__ import annotations

import argparse
import json
import math
from typing import Callable, Sequence


def open_store(args: argparse.Namespace):
    from ..store import open_store as _open
    return _open(args.db)


def print_json(data: object) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


MAX_ID = 2 ** 63 - 1      # a store key (SQLite INTEGER, PostgreSQL bigint)


def run_number(text: str) -> int:
    """A run id: a whole number a store key can hold (a 30-digit id would crash the driver)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run number") from None
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"{text!r} is not a run number (1-{MAX_ID})")
    return value


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """A count between LOW and HIGH (a page size, how many next times): never 'everything'."""
    def check(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is out of range ({low}-{high})")
        return value
    check.__name__ = "whole number"
    return check


def seconds(text: str) -> float:
    """A bound in seconds: above 0 and finite (nan or inf would make a wait endless)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value
