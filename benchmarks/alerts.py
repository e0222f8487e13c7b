"""``python -m benchmarks.alerts``: what alerts cost a scheduled run, and what a delivery takes.

A rule on the memory connectors whose source fails every run with a new error (so every run raises a new
alert) is run by ``serve``'s job runner, in process, a fire time at a time: without an ``alerts:``
section, with a local webhook answering at once, and with one answering after ``--slow`` seconds (a
struggling receiver). For each, the table shows the longest hand-over of a finished run to the alerts
(what the job runner spends on them), how long the fire times took to run (what the scheduler waits
for), and how long the alerts' own thread took to judge, record and deliver afterwards.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from campaign_bridge.connectors.memory import MemoryCRM
from campaign_bridge.connectors.memory.data import MemoryData, drop_memory_store
from campaign_bridge.errors import TransientError
from campaign_bridge.mapping.model import ContainerKind
from campaign_bridge.service import Service

from .runs import machine

CLIENT = """\
client: bench
state: "sqlite:///{state}"
connections:
  crm: {{type: memory-crm, store: bench-alerts-crm, path: "{crm}"}}
  ma: {{type: memory-ma, store: bench-alerts-ma, path: "{ma}"}}
rules:
  - name: webinar
    from: {{connection: crm, campaign: Webinar}}
    to: {{connection: ma, list: Nurture}}
    schedule: {{every: 1m}}
"""
ALERTS = """\
alerts:
  targets: ["json://127.0.0.1:{port}/alerts"]
  failed_runs: 1
"""


@contextmanager
def _webhook(delay: float) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _measure(runs: int, alerts: str) -> dict[str, float]:
    """Run ``runs`` fire times of the failing rule; per fire time, the job runner's and the alerts' seconds."""
    count = [0]
    real = MemoryCRM.read_members

    def failing(self: MemoryCRM, *args: Any, **kwargs: Any) -> Any:
        count[0] += 1
        raise TransientError(f"the CRM answered 503 ({'x' * count[0]})")  # a new error: a new alert each run

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        crm, ma = MemoryData(root / "crm.json"), MemoryData(root / "ma.json")
        campaign = crm.add_container("Webinar", ContainerKind.CAMPAIGN, [("Sent", False)])
        crm.add_member(campaign, crm.add_person("a@example.com", "Contact"))
        ma.add_container("Nurture", ContainerKind.STATIC_LIST)
        path = root / "bench.yaml"
        path.write_text(CLIENT.format(state=root / "state.db", crm=root / "crm.json", ma=root / "ma.json") + alerts)
        now = datetime(2030, 1, 1, tzinfo=UTC)
        service = Service([str(path)], clock=lambda: now, reconcile_cron=None)
        service.start(paused=True)
        MemoryCRM.read_members = failing  # type: ignore[method-assign]
        job, delivery, handover = [], [], [0.0]
        hand_over = service._alert

        def timed(*args: Any) -> None:
            t = time.perf_counter()
            hand_over(*args)
            handover.append(time.perf_counter() - t)

        service._alert = timed  # type: ignore[method-assign]
        try:
            for _ in range(runs):
                now += timedelta(minutes=1)
                t0 = time.perf_counter()
                service.scheduler.process_due(now)
                service.executor.drain()
                t1 = time.perf_counter()
                service.alerts.drain()
                job.append(t1 - t0)
                delivery.append(time.perf_counter() - t1)
        finally:
            MemoryCRM.read_members = real  # type: ignore[method-assign]
            service.stop()
            drop_memory_store("bench-alerts-crm")
            drop_memory_store("bench-alerts-ma")
    return {
        "handover_max_ms": max(handover) * 1000,
        "job_median_ms": statistics.median(job) * 1000,
        "job_max_ms": max(job) * 1000,
        "alerts_median_ms": statistics.median(delivery) * 1000,
        "alerts_max_ms": max(delivery) * 1000,
    }


@click.command()
@click.option("--runs", default=20, show_default=True, help="Fire times per case.")
@click.option("--slow", default=2.0, show_default=True, help="Seconds the slow webhook takes to answer.")
def main(runs: int, slow: float) -> None:
    """Print what alerts cost a scheduled run, and what a delivery takes."""
    logging.getLogger("campaign_bridge").setLevel(logging.ERROR)  # the failing runs' warnings, every one
    cases: dict[str, dict[str, float]] = {"no alerts: section": _measure(runs, "")}
    with _webhook(0.0) as port:
        cases["webhook answering at once"] = _measure(runs, ALERTS.format(port=port))
    with _webhook(slow) as port:
        cases[f"webhook answering after {slow:g} s"] = _measure(runs, ALERTS.format(port=port))
    table = Table(title=f"alerts: {runs} failing fire times per case, each raising a new alert")
    columns = ("case", "hand-over, max ms", "fire time, median ms", "max ms", "alerts' thread, median ms", "max ms")
    for column in columns:
        table.add_column(column, justify="left" if column == "case" else "right")
    keys = ("handover_max_ms", "job_median_ms", "job_max_ms", "alerts_median_ms", "alerts_max_ms")
    for name, r in cases.items():
        table.add_row(name, *(f"{r[k]:.2f}" if k == "handover_max_ms" else f"{r[k]:.1f}" for k in keys))
    console = Console(width=140)
    console.print(table)
    m = machine()
    console.print(f"machine: {m['cores']} cores, {m['memory_gib']} GiB, Python {m['python']}", style="dim")


if __name__ == "__main__":
    main()
