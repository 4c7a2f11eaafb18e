"""A suite whose process dies in its second test (as an out-of-memory kill ends it); run by the
differential tests, copied in as a ``test_*.py`` module."""

import os


def test_before_the_crash() -> None:
    pass


def test_crashes() -> None:
    os._exit(137)


def test_never_reached() -> None:
    pass
