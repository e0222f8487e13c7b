"""Save a sandbox's state as JSON and load it back, so a demo folder keeps its systems between runs.

Each sandbox says what it keeps (``SandboxSpec.dump``/``load``, e.g. ``salesforce/saved.py``): what a
vendor keeps (records, credentials), not what a restart loses anyway (sessions, the day's API usage,
open cursors and jobs, request logs and faults). This module holds what they share: the file format
version and writing and reading the files, one ``<name>.json`` per sandbox in the state folder.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

FORMAT = 1


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a crash leaves the old file or the new one, never half),
    readable by its owner only: it holds the sandbox's credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(path.name + ".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(data, indent=1, sort_keys=True, default=_json_value))
    os.replace(scratch, path)


def read_json(path: Path) -> dict[str, Any]:
    """The saved state in ``path``. Raises ``ValueError`` for a file written by an incompatible version."""
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a sandbox state file of format {FORMAT}; delete it to start afresh")
    return data


def _json_value(value: Any) -> Any:
    if isinstance(value, date):  # datetimes are dates too
        return value.isoformat()
    raise TypeError(f"cannot save a {type(value).__name__} in a sandbox state file")
