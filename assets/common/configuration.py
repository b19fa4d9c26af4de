"""Reading a deployment's YAML configuration with errors a data engineer can act on.

Every stage declares its settings in YAML; a mistake must say ``file:line: key: problem`` so the
YAML can be fixed without reading Python. This module is the one place that knows how: the stage
packages and the orchestration layer (``pipelines/``) both use it, so it depends on neither."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

KEY_PATH = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def locate(path: Path, where: str) -> int | None:
    """The 1-based line of the key path ``where`` ("feeds.shop.files[0].format") in the YAML file
    ``path``: the deepest node of the path that exists, so a missing key points at its parent."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    line = None
    for key, index in KEY_PATH.findall(where):
        if isinstance(node, yaml.MappingNode) and key:
            match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line


class ConfigError(ValueError):
    """A configuration file is missing or wrong; the message says where (file:line and key path)
    and how to fix it."""

    def __init__(self, path: Path, where: str, problem: str, line: int | None = None) -> None:
        self.path, self.where, self.problem = path, where, problem
        self.line = line or (locate(path, where) if path.is_file() else None)
        super().__init__(f"{path}{f':{self.line}' if self.line else ''}: {where}: {problem}")


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file's top-level mapping; a missing file or invalid YAML is a :class:`ConfigError`."""
    if not path.exists():
        raise ConfigError(path, "file", "not found; copy it from the repository's config/ folder")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise ConfigError(path, where, f"invalid YAML ({getattr(exc, 'problem', exc)})",
                          line=mark.line + 1 if mark else None) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, "top level", "expected a mapping")
    return data


def choice(path: Path, where: str, value: Any, allowed: set[str]) -> str:
    if value not in allowed:
        raise ConfigError(path, where, f"must be one of {sorted(allowed)}, got {value!r}")
    return value


def whole_number(path: Path, where: str, value: Any, minimum: int = 0) -> int:
    """An integer setting; booleans and floats are refused rather than silently truncated."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(path, where, f"must be a whole number >= {minimum}, got {value!r}")
    return value


def text_list(path: Path, where: str, value: Any) -> tuple[str, ...]:
    """One string or a list of strings (YAML scalars are read as text: `Y`, `1`, `是`)."""
    values = value if isinstance(value, list) else [value]
    if not values or any(v is None or isinstance(v, (dict, list)) for v in values):
        raise ConfigError(path, where, f"expected a value or a list of values, got {value!r}")
    return tuple(_scalar_text(v) for v in values)


def _scalar_text(value: Any) -> str:
    """YAML reads `Y` / `yes` / `true` as booleans; a partner's spelling is what we want back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
