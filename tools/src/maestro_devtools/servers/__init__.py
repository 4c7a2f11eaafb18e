"""Start and stop real server processes on loopback, torn down by process id.

Used by the release pipeline (the embedded index) and by the shared test fixtures.
"""

from maestro_devtools.servers._ports import free_port, wait_for_port
from maestro_devtools.servers._process import ServerProcess, ServerStartError, start_server
from maestro_devtools.servers._reaper import (
    become_subreaper,
    end_process_group,
    group_members,
    pid_running,
    reap_zombie_children,
)
from maestro_devtools.servers._users import account_exists, give_to, run_as
from maestro_devtools.servers.pypi_index import PypiIndex, start_pypi_index

__all__ = [
    "PypiIndex",
    "ServerProcess",
    "ServerStartError",
    "account_exists",
    "become_subreaper",
    "end_process_group",
    "free_port",
    "give_to",
    "group_members",
    "pid_running",
    "reap_zombie_children",
    "run_as",
    "start_pypi_index",
    "start_server",
    "wait_for_port",
]
