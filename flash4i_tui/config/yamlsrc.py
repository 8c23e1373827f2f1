"""YAML reading that remembers where each value came from (line numbers for errors)."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import yaml

from ..errors import ConfigError, ConfigProblem

Path_ = Tuple[Any, ...]


class Located:
    """Parsed YAML plus a map from value path to line number (1-based)."""

    def __init__(self, data: Any, lines: Dict[Path_, int], file: str | None):
        self.data, self.lines, self.file = data, lines, file

    def line_of(self, path: Path_) -> int | None:
        """The line of the value at PATH, or of its nearest parent that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


# Values built from one file at most: aliases are expanded per path, so a few nested aliases
# could otherwise ask for billions of values ("billion laughs").
MAX_VALUES = 200_000


def load_yaml(text: str, file: str | None = None) -> Located:
    """Parse YAML text; malformed YAML and duplicate keys are ConfigErrors with a line."""
    loader = None
    try:
        loader = yaml.SafeLoader(text)      # reads the first characters already (ReaderError)
        node = loader.get_single_node()
        lines: Dict[Path_, int] = {}
        data = _build(loader, node, (), lines, file) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        if isinstance(exc, yaml.reader.ReaderError):
            line = text.count("\n", 0, exc.position) + 1
            problem = f"character #x{exc.character:04x} is not allowed" if isinstance(exc.character, int) \
                else exc.reason
        raise ConfigError([ConfigProblem(file, line, "", f"malformed YAML: {problem}")]) from None
    except RecursionError:
        raise ConfigError([ConfigProblem(file, None, "", "malformed YAML: nested too deeply, or an alias "
                                                         "refers to itself")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    return Located(data, lines, file)


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, lines: Dict[Path_, int], file: str | None) -> Any:
    if len(lines) >= MAX_VALUES:
        raise ConfigError([ConfigProblem(file, node.start_mark.line + 1, _dotted(path),
                                         f"more than {MAX_VALUES} values (aliases expanded): not a configuration")])
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node, path, file)
            if not isinstance(key, str):
                raise ConfigError([ConfigProblem(file, key_node.start_mark.line + 1, _dotted(path),
                                                 f"key {_clip(repr(key))} is not a string")])
            if key in result:
                raise ConfigError([ConfigProblem(file, key_node.start_mark.line + 1, _dotted(path + (key,)),
                                                 "duplicate key")])
            result[key] = _build(loader, value_node, path + (key,), lines, file)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), lines, file) for i, item in enumerate(node.value)]
    return _construct(loader, node, path, file)


def _construct(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, file: str | None) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    # !!int x, a 5000-digit number, month 13; PyYAML's own constructors also fail with IndexError
    # (!!int ''), KeyError (!!bool maybe) and AttributeError (!!timestamp x)
    except (ValueError, OverflowError, TypeError, IndexError, KeyError, AttributeError) as exc:
        what = node.tag.rsplit(":", 1)[-1]
        shown = f" {_clip(node.value)!r}" if isinstance(node, yaml.ScalarNode) else ""
        raise ConfigError([ConfigProblem(file, node.start_mark.line + 1, _dotted(path),
                                         f"malformed YAML: {what} value{shown} cannot be read "
                                         f"({_clip(str(exc))})")]) from None


def _clip(text: Any, limit: int = 60) -> Any:
    return text[:limit] + "..." if isinstance(text, str) and len(text) > limit else text


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


dotted = _dotted


def dump_yaml(data: Any) -> str:
    """Deterministic YAML: keys in the order given, block style, no aliases."""

    class _Dumper(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100)
