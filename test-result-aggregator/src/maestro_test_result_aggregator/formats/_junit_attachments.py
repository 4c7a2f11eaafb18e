"""Evidence in JUnit XML: ``[[ATTACHMENT|path]]`` lines in ``<system-out>``, the convention
Playwright's JUnit reporter writes (screenshots, traces, ``error-context.md``) and GitLab's test
report reads (it shows a failed test's first one).

Examples:
    >>> stdout, found = split_attachments("placing order\\n[[ATTACHMENT|test-results/cart/test-failed-1.png]]\\n")
    >>> stdout, [(a.name, a.content_type, a.path) for a in found]
    ('placing order\\n', [('test-failed-1.png', 'image/png', 'test-results/cart/test-failed-1.png')])
    >>> attachment_lines(found)
    '[[ATTACHMENT|test-results/cart/test-failed-1.png]]\\n'
"""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Sequence
from typing import Final

from maestro_test_result_aggregator.model import Attachment

__all__ = ["attachment_lines", "split_attachments"]

_MARK: Final = "[[ATTACHMENT|"
# GitLab's own pattern (non-greedy path up to the first "]]"), with the rest of its line if blank.
_ATTACHMENT: Final = re.compile(r"\[\[ATTACHMENT\|([^\]\n]+?)\]\][ \t]*\r?\n?")


@functools.cache
def _types() -> mimetypes.MimeTypes:
    """Python's own table, the same on every machine (built on first use: it costs 15 ms)."""
    return mimetypes.MimeTypes(filenames=())


def _attachment(path: str) -> Attachment:
    name = path.replace("\\", "/").rsplit("/", 1)[-1] or path
    content_type = _types().guess_type(name, strict=False)[0] or "application/octet-stream"
    return Attachment(name, content_type, path)


def split_attachments(stdout: str | None) -> tuple[str | None, tuple[Attachment, ...]]:
    """``stdout`` without its ``[[ATTACHMENT|path]]`` marks (``None`` when nothing else is
    left), and one ``Attachment`` per mark: named after the file, its type guessed from it."""
    if stdout is None or _MARK not in stdout:
        return stdout, ()
    found = tuple(_attachment(match.group(1).strip()) for match in _ATTACHMENT.finditer(stdout))
    rest = _ATTACHMENT.sub("", stdout)
    return (rest if rest.strip() else None), found


def attachment_lines(attachments: Sequence[Attachment]) -> str:
    """One ``[[ATTACHMENT|path]]`` line per attachment (paths holding ``]]`` or a line break,
    which the convention cannot carry, are left out)."""
    return "".join(f"{_MARK}{a.path}]]\n" for a in attachments if a.path and "]]" not in a.path and "\n" not in a.path)
