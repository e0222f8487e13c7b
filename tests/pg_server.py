"""A throw-away PostgreSQL server for the test session.

:func:`find_bindir` locates the server binaries (``initdb`` on ``PATH``, else the newest
``/usr/lib/postgresql/<version>/bin``); :class:`PostgresServer` creates a cluster in a fresh temporary directory,
serves it on 127.0.0.1 (and a Unix socket in that directory) with durability switched off, and deletes it on
:meth:`PostgresServer.stop`. PostgreSQL refuses to run as root, so under root the binaries run as the
``postgres`` user (``nobody`` when there is none) and the directory is handed to that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

#: The cluster's superuser; authentication is ``trust``, so no password.
SUPERUSER = "postgres"


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None`` when PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path is not None:
        # Debian links the binaries into PATH; pg_ctl finds ``postgres`` beside its real location.
        return Path(on_path).resolve().parent
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")

    def version(path: str) -> tuple[int, ...]:
        name = Path(path).parent.parent.name
        return tuple(int(part) for part in name.split(".") if part.isdigit())

    return Path(max(found, key=version)).parent if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """One cluster, started by :meth:`start` and removed, data and all, by :meth:`stop`."""

    def __init__(self, bindir: Path) -> None:
        self._bindir = bindir
        self._dir = Path(tempfile.mkdtemp(prefix="cb-pg-"))
        self._data = self._dir / "data"
        self._log = self._dir / "server.log"
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            user = _unprivileged_user()
            os.chown(self._dir, user.pw_uid, user.pw_gid)
            self._as_user = ["runuser", "-u", user.pw_name, "--"]
        self.port = 0

    def start(self) -> str:
        """Create and start the cluster; return the SQLAlchemy URL of its ``postgres`` database.

        Raises ``RuntimeError`` with the server's own output when it cannot be created or started.
        """
        self._run("initdb", "-D", str(self._data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "-N")
        # fsync, full-page writes and synchronous commit off: a crash loses nothing a test would miss.
        self.port = _free_port()
        options = f"-F -p {self.port} -h 127.0.0.1 -k {shlex.quote(str(self._dir))}"
        options += " -c full_page_writes=off -c synchronous_commit=off"
        self._run("pg_ctl", "-D", str(self._data), "-l", str(self._log), "-w", "-t", "60", "-o", options, "start")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        """Stop the server (without waiting for clients) and delete its directory."""
        try:
            if (self._data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [*self._as_user, str(self._bindir / program), *args]
        done = subprocess.run(command, cwd=self._dir, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self._log.read_text(errors="replace") if self._log.exists() else ""
            raise RuntimeError(
                f"{shlex.join(command)} failed ({done.returncode}):\n{done.stdout}{done.stderr}\n{log}".rstrip()
            )


def _unprivileged_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return pwd.getpwnam("nobody")
