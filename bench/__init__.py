"""Benchmarks and the retrieval-quality evaluation: figures, never tests (bench/README.md)."""

import json
from pathlib import Path


def save_result(path: Path, result: dict) -> None:
    """A benchmark's figures as JSON (bench/results/ by default), its folder made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2))
