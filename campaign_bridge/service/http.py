"""``/healthz`` and Prometheus ``/metrics`` for ``serve``, on a loopback port by default.

``/healthz`` answers 200 with a JSON summary (each job's next fire time and last outcome) while the
scheduler runs, 503 while it stops or cannot read a state store. ``/metrics`` is prometheus-client's
exposition of the service's own registry. Requests are logged at debug level only (probes are frequent).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from campaign_bridge.service.service import Service

log = logging.getLogger("campaign_bridge.service.http")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464

StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def health_app(service: Service) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI app: ``/healthz``, ``/metrics``, 404 for anything else."""
    metrics = make_wsgi_app(service.metrics.registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            result: Iterable[bytes] = metrics(environ, start_response)
            return result
        if path == "/healthz":
            healthy, details = service.health()
            body = json.dumps(details, indent=1, sort_keys=True).encode()
            status = "200 OK" if healthy else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        body = b"not found: try /healthz or /metrics\n"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]

    return app


class HealthServer:
    """Serve ``health_app`` on ``host:port`` in a background thread (port 0: any free port)."""

    def __init__(self, service: Service, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self._host = host
        self._server = make_server(host, port, health_app(service), server_class=_Server, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="campaign-bridge-http", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
