"""pytest node ids, taken apart once for every part of the package that needs their pieces."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["NodeId", "split_nodeid"]


class NodeId(NamedTuple):
    """``tests/test_a.py::TestCart::test_add[2-x]`` as its file, its classes and its name."""

    path: str
    classes: tuple[str, ...]
    name: str

    @property
    def suite(self) -> tuple[str, ...]:
        """The result's ``suite``: the file, then the classes."""
        return (self.path, *self.classes)

    @property
    def classname(self) -> str | None:
        """The classes joined with ``::`` (``None`` for a module-level test)."""
        return "::".join(self.classes) or None


def split_nodeid(nodeid: str) -> NodeId:
    """The parts of a pytest node id; ``::`` inside the parameters (``[a::b]``) is not a separator.

    Examples:
        >>> split_nodeid("tests/test_a.py::TestCart::test_add[x::y]")
        NodeId(path='tests/test_a.py', classes=('TestCart',), name='test_add[x::y]')
        >>> split_nodeid("test_b.py::test_one").suite, split_nodeid("test_b.py").name
        (('test_b.py',), 'test_b.py')
    """
    head, bracket, params = nodeid.partition("[")
    parts = head.split("::")
    return NodeId(parts[0], tuple(parts[1:-1]), parts[-1] + bracket + params)
