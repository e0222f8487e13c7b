"""A fork server for the soak: real ``campaign-bridge sync`` processes, cheap enough to start thousands.

Starting ``python -m campaign_bridge.cli`` costs about a second of imports, so the soak starts this
module once (``python -m tests.reliability.worker``): it imports the CLI, then forks one child per
request. Each child is a fresh process that runs ``campaign-bridge ARGS`` exactly as the console entry
point does (``cli.main``), with its output in a file (standard error beside it, ``.err``), and exits with the CLI's exit code. The parent
(the soak) can SIGKILL the child at any moment: the child's pid is reported before it runs.

Protocol, one JSON object a line: the soak writes ``{"argv": [...], "env": {...}, "out": PATH,
"kill_at": N | null}``; the server answers ``{"pid": PID}`` at once, then ``{"pid": PID, "code": C}``
when the child ended (``C`` negative: killed by signal ``-C``).

``kill_at``: the child SIGKILLs itself at its N-th *event*, counted from 1. Events are the points where
a crash leaves a different state behind: every call a memory connector makes (before it runs), every
save of a memory system after a write (the vendor applied it, the run has not seen the answer), and
every write of the tool's own ledger (after it committed). ``kill_at`` beyond the run's last event
means the run ends normally. (The HTTP sandboxes count their requests themselves and kill from the
soak's process: see ``soak.Killer``.)

Time in the child is virtual: ``time.sleep`` advances an offset that ``time.monotonic`` adds, so
retries, back-offs and Bulk polling cost nothing and pacers still see time pass (wall-clock time, which
leases and watermarks use, is left alone).
It is patched before anything is imported, so defaults that captured ``time.sleep`` capture this one.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_real_monotonic = time.monotonic
_offset = [0.0]


def _sleep(seconds: float) -> None:
    _offset[0] += max(0.0, seconds)


def _monotonic() -> float:
    return _real_monotonic() + _offset[0]


def _save_batches_once() -> None:
    """A memory system saves its whole file after each person it creates and each member it adds; a
    batch (``create_people``, ``apply_changes``) is saved once instead, as a vendor commits a batch, or
    thousands of changes cost thousands of full rewrites of the file."""
    from campaign_bridge.connectors.memory import _MemoryConnector

    def saved_once(real: Callable[..., T]) -> Callable[..., T]:
        def batch(self: _MemoryConnector, *args: Any) -> T:
            path, self.data.path = self.data.path, None
            try:
                return real(self, *args)
            finally:
                self.data.path = path
                self.data.save()

        return batch

    _MemoryConnector.create_people = saved_once(_MemoryConnector.create_people)  # type: ignore[method-assign]
    _MemoryConnector.apply_changes = saved_once(_MemoryConnector.apply_changes)  # type: ignore[method-assign]


def _install_kill_points(kill_at: int | None) -> None:
    """Count events (see the module docstring) and SIGKILL this process at the ``kill_at``-th."""
    if kill_at is None:
        return
    from campaign_bridge.connectors.memory import _MemoryConnector
    from campaign_bridge.connectors.memory.data import MemoryData
    from campaign_bridge.sync.store.store import Store

    seen = [0]

    def event() -> None:
        seen[0] += 1
        if seen[0] >= kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    real_call = _MemoryConnector._call

    def call(self: _MemoryConnector, pages: int = 1) -> None:
        event()  # before the vendor does anything
        real_call(self, pages)

    real_save = MemoryData.save

    def save(self: MemoryData) -> None:
        real_save(self)
        if self.path is not None:
            event()  # the vendor applied and saved the write; the run never hears the answer

    real_write = Store.write_ledger

    def write_ledger(self: Store, *args: object, **kwargs: object) -> None:
        real_write(self, *args, **kwargs)  # type: ignore[arg-type]
        event()  # the tool recorded an intent or an outcome

    _MemoryConnector._call = call  # type: ignore[method-assign]
    MemoryData.save = save  # type: ignore[method-assign]
    Store.write_ledger = write_ledger  # type: ignore[method-assign]


def _child(request: dict[str, object]) -> None:
    for fd, path in ((1, str(request["out"])), (2, f"{request['out']}.err")):
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out, fd)
        os.close(out)
    sys.stdin.close()
    env = request.get("env") or {}
    assert isinstance(env, dict)
    os.environ.update({str(k): str(v) for k, v in env.items()})
    _save_batches_once()
    kill_at = request.get("kill_at")
    _install_kill_points(int(kill_at) if isinstance(kill_at, int) else None)
    from campaign_bridge.cli import main

    argv = request["argv"]
    assert isinstance(argv, list)
    code = 0
    try:
        main(args=[str(a) for a in argv], prog_name="campaign-bridge")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # a crash is an outcome the soak reports, with its traceback in the output
        import traceback

        traceback.print_exc()
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def serve() -> None:
    time.sleep, time.monotonic = _sleep, _monotonic
    import campaign_bridge.cli  # what makes a fork cheap: imported once, here
    import campaign_bridge.connectors.hubspot
    import campaign_bridge.connectors.memory
    import campaign_bridge.connectors.salesforce
    import campaign_bridge.sync.engine  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(request)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"pid": pid, "code": code}), flush=True)


if __name__ == "__main__":
    serve()
