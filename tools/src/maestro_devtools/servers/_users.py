"""Running a command as another system user, without a ``runuser``/``su`` in between.

Some servers (PostgreSQL) refuse to run as root. ``runuser -u USER -- CMD`` stays the
parent of CMD, swallows SIGINT and turns SIGTERM into "SIGTERM, wait 2 s, SIGKILL", so a
server started through it cannot be shut down by signal the way it expects. Switching the
user in the forked child before ``exec`` (``subprocess``'s ``user=``/``group=``) makes the
server our direct child instead, with our signals reaching it unchanged.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Account:
    """A system account: the ids a child process switches to."""

    name: str
    uid: int
    gid: int

    @property
    def is_current(self) -> bool:
        """Whether this process already runs as this account (no switch needed)."""
        return self.uid == os.geteuid()


def account(name: str) -> Account:
    """Look up ``name`` in the password database; ``LookupError`` if it does not exist."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise LookupError(f"no system user named {name!r}") from None
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid)


def account_exists(name: str) -> bool:
    """Whether the system user ``name`` exists."""
    try:
        account(name)
    except LookupError:
        return False
    return True


@dataclass(frozen=True)
class UserSwitch:
    """The ``subprocess`` arguments that run a child as an account (all None: no switch)."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None


def user_switch(name: str | None) -> UserSwitch:
    """Arguments to run a child as ``name``: uid, primary gid and no supplementary groups.

    ``None``, or the account we already run as, means no switch (switching needs root).
    """
    if name is None:
        return UserSwitch()
    target = account(name)
    if target.is_current:
        return UserSwitch()
    return UserSwitch(user=target.uid, group=target.gid, extra_groups=[])


def run_as(
    argv: Sequence[str],
    *,
    user: str | None,
    timeout: float = 120.0,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a one-shot command as ``user`` (None: as ourselves), capturing its output.

    Raises ``subprocess.CalledProcessError`` (with the output) when it fails.
    """
    switch = user_switch(user)
    return subprocess.run(
        list(argv),
        check=True,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        cwd=cwd,
        user=switch.user,
        group=switch.group,
        extra_groups=switch.extra_groups,
    )


def give_to(path: Path, user: str | None) -> None:
    """Make ``user`` own ``path`` (a no-op for None or for ourselves)."""
    switch = user_switch(user)
    if switch.user is not None and switch.group is not None:
        os.chown(path, switch.user, switch.group)
