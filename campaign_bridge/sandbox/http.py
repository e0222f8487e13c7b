"""What every sandbox emulator shares: a threaded loopback HTTP(S) server, a router, a request log,
switchable fault injection and a control API.

An emulator is a ``Router`` of handlers ``(Request) -> Response``; ``SandboxServer`` serves it on a free
loopback port. Tests in the same process use ``server.log`` and ``server.faults`` directly; a client in
another process uses the control API under ``/__sandbox/`` (``GET log``, ``POST faults``,
``POST reset-log``), which is never logged and never faulted.
"""

from __future__ import annotations

import json
import random
import re
import ssl
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

CONTROL_PREFIX = "/__sandbox/"


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    params: dict[str, str] = field(default_factory=dict)  # filled from the route pattern

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass(slots=True)
class Response:
    status: int = 200
    body: Any = None  # bytes/str sent as is; anything else JSON-encoded
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


Handler = Callable[[Request], Response]


class Router:
    """Method + regex path routing; named groups become ``request.params``."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method.upper(), re.compile(f"^{pattern}$"), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(method, pattern, handler)
            return handler

        return register

    def dispatch(self, request: Request) -> Response:
        allowed = False
        for method, pattern, handler in self._routes:
            m = pattern.match(request.path)
            if m is None:
                continue
            allowed = True
            if method == request.method:
                request.params = m.groupdict()
                return handler(request)
        return Response(405 if allowed else 404, {"error": "no such route", "path": request.path})


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    at: float


class Faults:
    """Switchable faults, seeded so a failing scenario can be replayed.

    Rates are probabilities per request; ``queue`` makes the next requests fail in a fixed way. Kinds:
    ``error`` (an HTTP ``error_status`` with a vendor-neutral body), ``slow`` (answer after
    ``slow_seconds``), ``drop`` (close the connection without answering), ``garbage`` (a 200 with an HTML
    page instead of JSON). Vendor-specific faults (an expired session) live in each emulator's state.
    """

    KINDS = ("error", "slow", "drop", "garbage")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.configure()

    def configure(
        self,
        *,
        seed: int = 0,
        error_rate: float = 0.0,
        error_status: int = 503,
        slow_rate: float = 0.0,
        slow_seconds: float = 0.0,
        drop_rate: float = 0.0,
        garbage_rate: float = 0.0,
        path_pattern: str = "",
    ) -> None:
        with self._lock:
            self._random = random.Random(seed)
            self.error_rate, self.error_status = error_rate, error_status
            self.slow_rate, self.slow_seconds = slow_rate, slow_seconds
            self.drop_rate, self.garbage_rate = drop_rate, garbage_rate
            self.path_pattern = re.compile(path_pattern) if path_pattern else None
            self._queued: list[str] = []
            self.injected: dict[str, int] = dict.fromkeys(self.KINDS, 0)

    def queue(self, kind: str, count: int = 1) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {self.KINDS}")
        with self._lock:
            self._queued.extend([kind] * count)

    def draw(self, path: str) -> str | None:
        """The fault to inject into this request, if any."""
        with self._lock:
            if self.path_pattern is not None and not self.path_pattern.search(path):
                return None
            if self._queued:
                kind = self._queued.pop(0)
            else:
                kind = None
                for name, rate in (
                    ("drop", self.drop_rate),
                    ("error", self.error_rate),
                    ("garbage", self.garbage_rate),
                    ("slow", self.slow_rate),
                ):
                    if rate and self._random.random() < rate:
                        kind = name
                        break
            if kind:
                self.injected[kind] += 1
            return kind


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle + delayed ACK stall each
    # keep-alive request by ~40 ms and the sandbox, not campaign-bridge, becomes what we measure.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's per-request stderr line; the request log records every call."""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        sandbox = self.server.sandbox
        if parts.path.startswith(CONTROL_PREFIX):
            self._send(sandbox.control(request))
            return
        fault = sandbox.faults.draw(parts.path)
        if fault == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if fault == "slow":
            time.sleep(sandbox.faults.slow_seconds)
        if fault == "error":
            response = Response(sandbox.faults.error_status, {"message": "injected fault"})
        elif fault == "garbage":
            response = Response(200, "<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        else:
            try:
                response = sandbox.app(request)
            except Exception as exc:  # an emulator bug must show up as a 500, not a hung client
                response = Response(500, {"message": f"sandbox error: {type(exc).__name__}: {exc}"})
        sandbox.record(LoggedRequest(self.command, parts.path, parts.query, response.status, time.time()))
        self._send(response)

    def _send(self, response: Response) -> None:
        payload = response.encoded()
        self.send_response(response.status)
        if payload or response.status not in (204, 304):
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a sixth connection opened at once waits for the kernel to retry it
    # (a second later), so a burst of clients never reaches the handler together, as it would at the vendor's
    request_queue_size = 128
    sandbox: SandboxServer


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A generated test CA and a loopback certificate it signed; ``ca_bundle`` is what clients trust."""

    ca_bundle: Path
    cert_chain: Path
    private_key: Path


def make_tls(directory: Path | None = None) -> TlsFiles:
    """Generate a throw-away CA and a certificate for 127.0.0.1/localhost (trustme)."""
    import trustme

    folder = directory or Path(tempfile.mkdtemp(prefix="campaign-bridge-tls-"))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(folder / "ca.pem", folder / "server-chain.pem", folder / "server-key.pem")
    ca.cert_pem.write_to_path(str(files.ca_bundle))
    cert.private_key_pem.write_to_path(str(files.private_key))
    with files.cert_chain.open("wb") as out:
        for blob in cert.cert_chain_pems:
            out.write(blob.bytes())
    return files


class SandboxServer:
    """Serve one emulator on ``127.0.0.1:<free port>`` over HTTP, or HTTPS when ``tls`` is given."""

    def __init__(self, app: Handler, *, tls: TlsFiles | None = None, port: int = 0) -> None:
        self.app = app
        self.tls = tls
        self.faults = Faults()
        self.log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.sandbox = self
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls.cert_chain), str(tls.private_key))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, entry: LoggedRequest) -> None:
        with self._log_lock:
            self.log.append(entry)

    def calls(self, path_pattern: str = "", method: str | None = None) -> int:
        """How many logged requests match ``path_pattern`` (regex search) and ``method``."""
        rx = re.compile(path_pattern)
        with self._log_lock:
            return sum(1 for r in self.log if rx.search(r.path) and (method is None or r.method == method))

    def reset_log(self) -> None:
        with self._log_lock:
            self.log.clear()

    def control(self, request: Request) -> Response:
        action = request.path[len(CONTROL_PREFIX) :]
        if action == "log" and request.method == "GET":
            with self._log_lock:
                rows = [[r.method, r.path, r.query, r.status, r.at] for r in self.log]
            return Response(200, {"requests": rows, "faults": self.faults.injected})
        if action == "reset-log" and request.method == "POST":
            self.reset_log()
            return Response(204)
        if action == "faults" and request.method == "POST":
            try:
                self.faults.configure(**(request.json() or {}))
            except (TypeError, ValueError, re.error) as exc:
                return Response(400, {"message": str(exc)})
            return Response(204)
        return Response(404, {"message": f"unknown control action {action!r}"})
