"""Field paths into nested JSON (``buyer.mobile``, ``items[0].sku``): how a feed declares which
nested value feeds a flat column, since partners' APIs wrap the fields we need in objects."""

from __future__ import annotations

import re
from typing import Any

STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def steps(path: str) -> list[str | int]:
    """``a.b[0].c`` → ``['a', 'b', 0, 'c']``."""
    return [int(index) if index else key for key, index in STEP.findall(path)]


def pluck(value: Any, path: str) -> Any:
    """The value at ``path``, or None where any step is missing (a missing field is an empty
    value, not an error: required columns are checked by the loader)."""
    for step in steps(path):
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and -len(value) <= step < len(value) else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
        if value is None:
            return None
    return value


def records_at(document: Any, path: str | None) -> list[Any] | None:
    """The array of records of a JSON document: the document itself, or the array at ``path``."""
    found = pluck(document, path) if path else document
    return found if isinstance(found, list) else None
