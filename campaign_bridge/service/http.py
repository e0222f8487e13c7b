"""The HTTP side of ``serve``: ``/healthz``, Prometheus ``/metrics`` and the admin console, one ASGI app
served by uvicorn, on a loopback port by default.

``/healthz`` answers 200 with a JSON summary (each job's next fire time and last outcome) while the
scheduler runs, 503 while it stops or cannot read a state store. ``/metrics`` is prometheus-client's
exposition of the service's own registry. Neither needs a login (probes and scrapers); every console
page does (``campaign_bridge/console/``). Requests are not logged (probes are frequent).

``HttpServer`` runs uvicorn in a background thread on a socket it binds first, so a port in use fails at
once, in the caller's thread, and ``--port 0`` knows its port before serving.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from datetime import datetime
from typing import Any

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from campaign_bridge.service.jobs import SYNC, job_id
from campaign_bridge.service.service import Service

log = logging.getLogger("campaign_bridge.service.http")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
#: How long ``start`` waits for uvicorn to accept connections.
START_SECONDS = 30


def health_routes(service: Service) -> list[BaseRoute]:
    """``/healthz`` and ``/metrics`` of ``service``."""

    async def healthz(_request: Request) -> Response:
        healthy, details = await run_in_threadpool(service.health)
        return JSONResponse(details, status_code=200 if healthy else 503, media_type="application/json")

    async def metrics(_request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, service.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/healthz", healthz), Route("/metrics", metrics)]


class ServiceScheduling:
    """What the console asks of ``serve``: a rule's next fire time, and a reload after a file is saved."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def next_fire(self, client: str, rule: str) -> datetime | None:
        try:
            job = self.service.scheduler.get_job(job_id(SYNC, rule), jobstore=client)
        except Exception:  # a store that cannot be read just shows no next time; /healthz says why
            return None
        return job.next_run_time if job is not None else None

    def reload(self) -> bool:
        return self.service.reload()


def service_app(service: Service, console: Any | None = None, auth: Any | None = None) -> Starlette:
    """``/healthz`` and ``/metrics``, and the console over ``console`` (a ``Console``) when given, with
    ``auth`` (``AuthSettings``; default: the token from the environment, no proxy header)."""
    if console is None:

        async def not_found(_request: Request) -> Response:
            return PlainTextResponse("not found: try /healthz or /metrics\n", status_code=404)

        return Starlette(routes=[*health_routes(service), Route("/{path:path}", not_found)])
    from campaign_bridge.console.app import console_app
    from campaign_bridge.console.auth import AuthSettings

    return console_app(console, auth or AuthSettings.from_environment(), extra=health_routes(service))


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free one). Raises ``OSError`` (port in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # answers go out as soon as written (accepted sockets inherit it): no Nagle wait between a response's
    # headers and its body
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def uvicorn_server(app: Any) -> uvicorn.Server:
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", server_header=False)
    return uvicorn.Server(config)


class HttpServer:
    """Serve an ASGI app with uvicorn on ``host:port`` in a background thread."""

    def __init__(self, app: Any, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
        self._host = host
        self._socket = bind(host, port)
        self._server = uvicorn_server(app)
        self._thread = threading.Thread(target=self._run, name="campaign-bridge-http", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


class HealthServer(HttpServer):
    """``serve``'s server: ``/healthz``, ``/metrics`` and, when given, the console."""

    def __init__(
        self,
        service: Service,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        console: Any | None = None,
        auth: Any | None = None,
    ) -> None:
        super().__init__(service_app(service, console, auth), host, port)
