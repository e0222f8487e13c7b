"""A new state database for a test, copied from one migrated once per test process.

Migrating a new SQLite file runs every Alembic revision, about 70 ms; an engine test needs only an empty store
at the newest schema, and a copy of one gives it in well under a millisecond. Hundreds of engine tests each
open a store, and a mutation run repeats them for every mutant (docs/testing.md). The migrations themselves
are tested on databases they build revision by revision (tests/sync/test_migrations.py).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from campaign_bridge.sync.store.store import Store

_template: Path | None = None


def fresh_sqlite_url(path: Path) -> str:
    """Copy an empty, migrated state database to ``path``; return its URL."""
    global _template
    if _template is None or not _template.exists():
        folder = Path(tempfile.mkdtemp(prefix="campaign-bridge-template-"))
        template = folder / "state.db"
        Store(f"sqlite:///{template}").close()
        atexit.register(_remove, folder, os.getpid())
        _template = template
    shutil.copyfile(_template, path)
    return f"sqlite:///{path}"


def _remove(folder: Path, owner: int) -> None:
    # a forked child (a mutation run's) inherits this hook; only the process that made the template removes it
    if os.getpid() == owner:
        shutil.rmtree(folder, ignore_errors=True)
