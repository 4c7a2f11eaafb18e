"""A server process we started, stopped by its process id, with its log kept for errors."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from maestro_devtools.servers._ports import LOOPBACK, free_port, port_accepts, wait_for_port
from maestro_devtools.servers._reaper import end_process_group
from maestro_devtools.servers._users import user_switch


class ServerStartError(RuntimeError):
    """A server did not come up; the message carries the command's log tail."""


@dataclass
class ServerProcess:
    """A running server we started: where it listens, its process and its log file.

    ``start_server`` makes it lead its own process group, so stopping it also ends the
    helpers it leaves behind (Chromium's renderers, for instance).
    """

    name: str
    host: str
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] = field(repr=False)

    @property
    def pid(self) -> int:
        """The server's own process id (it is our direct child)."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.popen.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
        """Signal the process by pid, wait for it, kill it if it lingers, then end and
        reap whatever is left of its process group."""
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        else:
            self.popen.wait()
        end_process_group(self.pid)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the server wrote, for error messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start_server(
    name: str,
    argv_for_port: Callable[[int], Sequence[str]],
    *,
    log_path: Path,
    host: str = LOOPBACK,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    attempts: int = 3,
    user: str | None = None,
    cwd: Path | None = None,
) -> ServerProcess:
    """Start ``argv_for_port(port)`` in the foreground and wait until the port accepts.

    With no ``port`` a free one is chosen, and a start that loses the port to another
    process is retried on a new port. Raises ``ServerStartError`` with the log tail.
    ``user`` runs the server as that system user (needs root unless it is ourselves);
    the server is still our direct child, so its pid is the server's own.
    """
    switch = user_switch(user)
    if port is not None and port_accepts(host, port):
        # the wait below would take the other process's answer for ours
        raise ServerStartError(f"{name} cannot start on {host}:{port}: another process already listens there")
    last_error = ""
    for _ in range(attempts):
        chosen = port if port is not None else free_port(host)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            popen = subprocess.Popen(
                list(argv_for_port(chosen)),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
                user=switch.user,
                group=switch.group,
                extra_groups=switch.extra_groups,
            )
        server = ServerProcess(name, host, chosen, log_path, popen)
        if wait_for_port(host, chosen, timeout=timeout, alive=server.alive) and server.alive():
            return server
        server.stop(signal.SIGKILL)
        last_error = server.log_tail()
        if port is not None:
            break
    raise ServerStartError(f"{name} did not start on {host}; its log ends:\n{last_error}")
