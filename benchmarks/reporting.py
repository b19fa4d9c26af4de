"""Shared output of the benchmark scripts: the figures as JSON on stdout, and optionally in a file."""

import json
from pathlib import Path


def emit(report: dict, json_path: Path | None) -> None:
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text + "\n", encoding="utf-8")
