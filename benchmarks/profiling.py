"""Where a run's time goes: a cProfile of the benchmark process, split by part.

Each function's own time (``tottime``) goes to the part its file belongs to:

* ``engine``: ``campaign_bridge`` outside ``connectors`` and ``sync/store`` (engine, identity, mapping);
* ``store``: ``campaign_bridge/sync/store``, SQLAlchemy and sqlite3;
* ``connectors``: ``campaign_bridge/connectors``;
* ``client library``: simple-salesforce, hubspot-api-client, requests, urllib3, http.client, ssl, csv;
* ``waiting for the sandbox``: blocking socket/TLS reads (the sandbox runs in its own process, so this
  is its answer time plus loopback transfer);
* ``rate-limit pacing``: ``time.sleep`` (HubSpot pacing, Bulk job polling, retry back-off).

Functions of neither kind (the standard library, builtins such as ``json.loads``) are charged to their
callers, in proportion to the time each caller spent in them, up the call graph.
"""

from __future__ import annotations

import cProfile
import pstats
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

Func = tuple[str, int, str]

PARTS = ("engine", "store", "connectors", "client library", "waiting for the sandbox", "rate-limit pacing", "other")

_LIBRARIES = (
    "simple_salesforce",
    "/hubspot/",
    "/requests/",
    "/urllib3/",
    "/http/client.py",
    "/ssl.py",
    "/csv.py",
    "/dateutil/",
    "/certifi/",
)
_STORE = ("campaign_bridge/sync/store/", "/sqlalchemy/", "/sqlite3/")
_WAITS = ("recv_into", "recv'", "'read' of '_ssl._SSLSocket'", "poll' of 'select", "select.select")


def part_of(func: Func) -> str | None:
    """The part a function belongs to, or None when it is charged to its callers."""
    filename, _, name = func
    if filename == "~":
        if "sleep" in name:
            return "rate-limit pacing"
        if any(w in name for w in _WAITS):
            return "waiting for the sandbox"
        if "sqlite3" in name:
            return "store"
        return None
    path = filename.replace("\\", "/")
    if any(s in path for s in _STORE):
        return "store"
    if "campaign_bridge/connectors/" in path:
        return "connectors"
    if "campaign_bridge/" in path or "/benchmarks/" in path:
        return "engine"
    if any(s in path for s in _LIBRARIES):
        return "client library"
    return None


def split(stats: pstats.Stats) -> dict[str, float]:
    """Seconds of own time per part (see the module docstring)."""
    raw: dict[Func, Any] = stats.stats  # type: ignore[attr-defined]
    totals = dict.fromkeys(PARTS, 0.0)

    memo: dict[Func, dict[str, float]] = {}

    def shares(func: Func, visiting: frozenset[Func]) -> dict[str, float]:
        """How the time of ``func`` divides among parts (fractions summing to 1)."""
        part = part_of(func)
        if part is not None:
            return {part: 1.0}
        if func in memo:
            return memo[func]
        callers = raw.get(func, (0, 0, 0.0, 0.0, {}))[4]
        weights = {c: v[3] for c, v in callers.items() if v[3] > 0 and c not in visiting}
        total = sum(weights.values())
        if not total:
            return {"other": 1.0}
        out: dict[str, float] = {}
        for caller, weight in weights.items():
            for name, share in shares(caller, visiting | {func}).items():
                out[name] = out.get(name, 0.0) + share * weight / total
        memo[func] = out
        return out

    for func, (_cc, _nc, tottime, _ct, _callers) in raw.items():
        if tottime > 0:
            for name, share in shares(func, frozenset()).items():
                totals[name] += tottime * share
    return totals


def profiled(fn: Callable[[], T]) -> tuple[T, dict[str, float]]:
    """Run ``fn`` under cProfile; its result and the seconds per part."""
    profile = cProfile.Profile()
    result = profile.runcall(fn)
    return result, split(pstats.Stats(profile))
