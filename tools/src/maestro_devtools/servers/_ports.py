"""Free loopback ports and waiting for a server to accept connections."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port on ``host`` that nothing listens on right now.

    The kernel picks it; a server started soon after almost always gets it. Callers that
    race other processes retry on a bind failure (see ``start_server``).
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_accepts(host: str, port: int) -> bool:
    """Whether a TCP connection to ``host:port`` succeeds now."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout: float = 20.0,
    alive: Callable[[], bool] = lambda: True,
) -> bool:
    """Wait until ``host:port`` accepts connections; False on timeout or when ``alive()`` fails."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(host, port):
            return True
        if not alive():
            return False
        time.sleep(0.02)
    return False
