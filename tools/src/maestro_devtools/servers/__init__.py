"""Start and stop real server processes on loopback, torn down by process id.

Used by the release pipeline (the embedded index) and by the shared test fixtures.
"""

from maestro_devtools.servers._ports import free_port, wait_for_port
from maestro_devtools.servers._process import ServerProcess, ServerStartError, start_server
from maestro_devtools.servers.pypi_index import PypiIndex, start_pypi_index

__all__ = [
    "PypiIndex",
    "ServerProcess",
    "ServerStartError",
    "free_port",
    "start_pypi_index",
    "start_server",
    "wait_for_port",
]
