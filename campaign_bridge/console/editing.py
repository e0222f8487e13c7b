"""Editing a client file in the browser: check it as ``campaign-bridge validate --offline`` does, show each
problem at its line, and save it (keeping the text it replaces) only when it is valid.

The file's text is what the browser shows and sends: secrets in it are ``${ENV}`` references (the loader
refuses a literal secret, so a file holding one cannot be saved), and their values are never shown.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from campaign_bridge.config.loader import load_config_text
from campaign_bridge.config.models import ClientConfig
from campaign_bridge.errors import ConfigError, Problem

#: The largest file the editor takes (the loader's own limit is larger; a form this big is a mistake).
MAX_EDIT_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    text: str
    problems: tuple[str, ...]


def check(text: str, path: str) -> tuple[ClientConfig | None, list[Problem]]:
    """The configuration in ``text`` (None when invalid) and every problem found, located."""
    if len(text.encode()) > MAX_EDIT_BYTES:
        return None, [Problem(path, None, f"the file is larger than {MAX_EDIT_BYTES // 1024} KiB")]
    try:
        return load_config_text(text, path), []
    except ConfigError as exc:
        return None, list(exc.problems)


def annotate(text: str, problems: list[Problem]) -> tuple[list[Line], list[str]]:
    """The lines of ``text`` with the problems at each, and the problems that name no line."""
    at: dict[int, list[str]] = {}
    loose: list[str] = []
    lines = text.splitlines() or [""]
    for p in problems:
        if p.line is not None and 1 <= p.line <= len(lines):
            at.setdefault(p.line, []).append(p.message)
        else:
            loose.append(p.message if p.line is None else f"line {p.line}: {p.message}")
    return [Line(i, line, tuple(at.get(i, ()))) for i, line in enumerate(lines, 1)], loose


def diff(old: str, new: str, path: str) -> list[str]:
    return list(
        difflib.unified_diff(old.splitlines(), new.splitlines(), f"{path} (before)", f"{path} (saved)", lineterm="")
    )


def write_atomically(path: str, text: str) -> None:
    """Replace the file in one step: a reader (``serve``'s reload) sees the old file or the new one."""
    target = Path(path)
    fd, scratch = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(scratch, target.stat().st_mode & 0o777)
        os.replace(scratch, target)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise
