"""``python -m benchmarks.console``: how fast the console's big pages answer, served by uvicorn.

A state store (SQLite) holds ROWS conflicts in the decision log (five rules, four kinds, spread over 30
days), a held plan of ROWS removals, and a plan preview of ROWS changes is in the console's memory. The
console is served on loopback and each page is asked REPEAT times over one keep-alive connection; the
table gives the median time to first byte (status line and headers read) and to the last byte, and the
first ask's time to first byte (a held plan's summary is parsed on its first showing, then kept).
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import click
from rich.console import Console as RichConsole
from rich.table import Table

from campaign_bridge.console.app import console_app
from campaign_bridge.console.auth import AuthSettings, hash_password
from campaign_bridge.console.state import Activity, Console
from campaign_bridge.service.http import HttpServer
from campaign_bridge.sync.store.rows import DecisionRow
from campaign_bridge.sync.store.store import Store

RULES = ("webinar", "pricing", "bounces", "quiet", "clickers")
KINDS = ("unmatched_person", "exclusive_target", "status_collision", "rejected_record")
PASSWORD = "benchmark password"

CLIENT_FILE = """\
client: bench
state: sqlite:///{state}
connections:
  crm: {{type: memory-crm, store: bench-crm}}
  ma: {{type: memory-ma, store: bench-ma}}
rules:
{rules}
"""
RULE = """  - name: {name}
    from: {{connection: crm, campaign: C-{name}}}
    to: {{connection: ma, list: L-{name}}}
    mode: mirror
"""


def _fill(store: Store, rows: int) -> None:
    """``rows`` conflicts, a held plan of ``rows`` removals for the first rule."""
    start = datetime(2026, 11, 1, tzinfo=UTC)
    batch: list[DecisionRow] = []
    for i in range(rows):
        email = f"person{i}@example.com"
        at = start + timedelta(seconds=i * 30 * 86400 // max(rows, 1))
        batch.append(DecisionRow(None, RULES[i % 5], KINDS[i % 4], f"{i:032x}", email, "", f"why {i}", True, at))
        if len(batch) == 10_000:
            store.log(batch)
            batch = []
    store.log(batch)
    run = store.start_run("bench", RULES[0], "sync", start + timedelta(days=31))
    keys = [f"{i:032x}" for i in range(rows)]
    removals = [
        {"action": "remove", "email": f"person{i}@example.com", "status": None, "target": f"ma:{i}"}
        for i in range(rows)
    ]
    summary = {"message": "removals held", "changes": {"removals": removals}, "held_removals": keys}
    store.finish_run(run, status="held", finished_at=start + timedelta(days=31))
    store.save_plan(run, RULES[0], True, summary)


def _ask(conn: http.client.HTTPConnection, path: str, cookie: str) -> tuple[float, float, int, int]:
    """(seconds to first byte, seconds to last byte, status, bytes)."""
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    answer = conn.getresponse()
    first = time.perf_counter() - t0
    body = answer.read()
    return first, time.perf_counter() - t0, answer.status, len(body)


def _login(url: str) -> str:
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=120)
    body = urlencode({"name": "bench", "password": PASSWORD})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    answer.read()
    cookie = answer.getheader("set-cookie", "").split(";")[0]
    conn.close()
    return cookie


def measure(rows: int, repeat: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="cb-console-bench-"))
    path = folder / "bench.yaml"
    path.write_text(CLIENT_FILE.format(state=folder / "state.db", rules="".join(RULE.format(name=n) for n in RULES)))
    console = Console([str(path)])
    t0 = time.perf_counter()
    _fill(console.store, rows)
    fill_seconds = time.perf_counter() - t0
    console.store.put_user("bench", hash_password(PASSWORD), "admin", datetime.now(UTC))
    preview = Activity(
        "plan", "bench", RULES[1], "bench", datetime.now(UTC), finished=datetime.now(UTC), status="planned"
    )
    preview.items = [
        {"change": "add", "email": f"person{i}@example.com", "status": None, "why": "in the source"}
        for i in range(rows)
    ]
    console.activities[("bench", RULES[1])] = preview
    server = HttpServer(console_app(console, AuthSettings()), "127.0.0.1", 0)
    server.start()
    cookie = _login(server.url)
    middle = rows // 2
    last_page = max(1, -(-rows // 50))
    pages = [
        ("conflicts, first page", "/conflicts"),
        ("conflicts, one rule and kind", f"/conflicts?rule={RULES[2]}&kind={KINDS[2]}"),
        ("conflicts, a page in the middle", f"/conflicts?before={middle}"),
        ("conflicts, one day", "/conflicts?since=2026-11-15&until=2026-11-15"),
        ("conflicts CSV (all rows)", "/conflicts.csv"),
        ("held plan, first page", f"/c/bench/r/{RULES[0]}"),
        ("held plan, last page", f"/c/bench/r/{RULES[0]}?held_page={last_page}"),
        ("plan preview, first page", f"/c/bench/r/{RULES[1]}"),
        ("plan preview, last page", f"/c/bench/r/{RULES[1]}?page={last_page}"),
        ("overview", "/"),
    ]
    parsed = urlparse(server.url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
    results = []
    try:
        for label, page in pages:
            times = []
            n = 3 if "CSV" in label else repeat
            for _ in range(n):
                first, last, status, size = _ask(conn, page, cookie)
                assert status == 200, (label, status)
                times.append((first, last, size))
            results.append(
                {
                    "page": label,
                    "path": page,
                    "ttfb_ms": round(statistics.median(t[0] for t in times) * 1000, 1),
                    "total_ms": round(statistics.median(t[1] for t in times) * 1000, 1),
                    "first_ask_ttfb_ms": round(times[0][0] * 1000, 1),
                    "bytes": times[-1][2],
                    "asked": n,
                }
            )
    finally:
        conn.close()
        server.stop()
        console.close()
    return {
        "rows": rows,
        "fill_seconds": round(fill_seconds, 1),
        "pages": results,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
    }


@click.command()
@click.option("--rows", default=100_000, show_default=True, help="Conflicts, held removals and previewed changes.")
@click.option("--repeat", default=20, show_default=True, help="Times each page is asked (the CSV: 3).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON instead of the table.")
def main(rows: int, repeat: int, as_json: bool) -> None:
    """Time to first byte of the console's conflicts, held-plan and plan-preview pages at ROWS rows."""
    result = measure(rows, repeat)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"console pages at {rows:,} rows (median of {repeat}; CSV of 3)")
    for col in ("page", "time to first byte", "to last byte", "first ask: to first byte", "bytes"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for r in result["pages"]:
        table.add_row(
            r["page"], f"{r['ttfb_ms']} ms", f"{r['total_ms']} ms", f"{r['first_ask_ttfb_ms']} ms", f"{r['bytes']:,}"
        )
    out = RichConsole(width=120)
    out.print(table)
    out.print(
        f"store filled in {result['fill_seconds']} s; {result['machine']['cores']} cores, Python {result['machine']['python']}"
    )


if __name__ == "__main__":
    main()
