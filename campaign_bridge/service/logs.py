"""Structured logs for ``serve``: every line carries the client, rule and run id it belongs to.

The three fields live in context variables, set by the worker thread that runs a rule (``log_context``)
and read by a filter on the handler, so lines logged by the engine, the connectors or a library during a
run carry them without being passed anything. Lines outside a run say ``-``. Nothing here formats a
configuration or a connection: secrets cannot reach a log line through this module.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

_client: ContextVar[str] = ContextVar("cb_client", default="-")
_rule: ContextVar[str] = ContextVar("cb_rule", default="-")
_run_id: ContextVar[str] = ContextVar("cb_run_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s client=%(client)s rule=%(rule)s run=%(run_id)s %(name)s: %(message)s"
JSON_FIELDS = ("asctime", "levelname", "name", "client", "rule", "run_id", "message")


class ContextFilter(logging.Filter):
    """Stamp each record with the client, rule and run id of the thread that logs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.client = _client.get()
        record.rule = _rule.get()
        record.run_id = _run_id.get()
        return True


@contextmanager
def log_context(client: str, rule: str) -> Iterator[None]:
    """Lines logged in this block (in this thread) name ``client`` and ``rule``; the run id starts unset."""
    tokens = (_client.set(client), _rule.set(rule), _run_id.set("-"))
    try:
        yield
    finally:
        _run_id.reset(tokens[2])
        _rule.reset(tokens[1])
        _client.reset(tokens[0])


def set_run_id(run_id: int | str) -> None:
    """Name the run (the ``runs`` table's id) on the lines that follow, in this thread's context."""
    _run_id.set(str(run_id))


def configure(*, as_json: bool, level: int = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send the root logger's lines to ``stream`` (standard error), as text or one JSON object a line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    if as_json:
        handler.setFormatter(
            JsonFormatter(list(JSON_FIELDS), rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler narrates every job it adds; its warnings and errors are what an operator needs.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # Alembic says "Context impl …" each time a run opens the store; the service logs its own start.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return handler
