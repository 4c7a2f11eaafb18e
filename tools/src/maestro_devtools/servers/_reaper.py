"""Process groups and zombies: what is left of a server after its main process exits.

Multi-process servers (Chromium) leave helper processes behind for a moment when the main
process exits; they are re-parented to PID 1. On these machines PID 1 reaps orphans only
every second or two, so zombies linger after each browser and "is the pid gone?" checks
race them. A test session can make itself a *child subreaper* (Linux ``prctl``) so that
orphans of its servers come back to it, and reap them at once. Everything here reads
``/proc`` and is a no-op where there is none.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class ProcStat:
    """The fields of ``/proc/PID/stat`` used here."""

    pid: int
    state: str
    ppid: int
    pgid: int

    @property
    def zombie(self) -> bool:
        """Exited but not yet reaped by its parent."""
        return self.state in ("Z", "X")


def proc_stat(pid: int) -> ProcStat | None:
    """The state of ``pid``, or None when there is no such process."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, NotADirectoryError):
        return None
    # The command name is in parentheses and may hold spaces: split after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    return ProcStat(pid, fields[0], int(fields[1]), int(fields[2]))


def all_processes() -> list[ProcStat]:
    """Every process visible in ``/proc`` (empty where there is no ``/proc``)."""
    if not _PROC.is_dir():
        return []
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                found.append(stat)
    return found


def pid_running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie counts as gone: it runs nothing)."""
    stat = proc_stat(pid)
    if stat is not None:
        return not stat.zombie
    if _PROC.is_dir():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """The live processes in process group ``pgid``."""
    return [p.pid for p in all_processes() if p.pgid == pgid and not p.zombie]


def become_subreaper() -> bool:
    """Make this process adopt the orphans of its descendants (Linux); True on success."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def reap_zombie_children(pgid: int | None = None) -> list[int]:
    """Reap this process's zombie children (only those in group ``pgid`` if given).

    Only call this for children no ``subprocess.Popen`` waits for, or when those are done.
    """
    me = os.getpid()
    reaped = []
    for proc in all_processes():
        if proc.ppid != me or not proc.zombie or (pgid is not None and proc.pgid != pgid):
            continue
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(proc.pid, os.WNOHANG)[0] == proc.pid:
                reaped.append(proc.pid)
    return reaped


def end_process_group(pgid: int, timeout: float = 5.0) -> None:
    """SIGKILL what is left of group ``pgid`` (its leader already gone) and reap our share."""
    deadline = time.monotonic() + timeout
    while group_members(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.02)
    reap_zombie_children(pgid)
