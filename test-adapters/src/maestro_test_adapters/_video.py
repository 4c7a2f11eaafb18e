"""Playwright video recording for the browser fixtures: finding an ffmpeg Playwright can use, and
keeping a test's videos (only when it failed, or always).

Playwright encodes videos with an ffmpeg of its own (``playwright install ffmpeg``, a download).
When it is not there, the system's ffmpeg (``apt-get install ffmpeg``) is handed to Playwright
through a private registry folder (``$PLAYWRIGHT_BROWSERS_PATH`` for the driver only) holding a
link to it where Playwright looks for its own; the browser is launched from its path anyway.
"""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from maestro_test_adapters.errors import AdapterUnavailableError

if TYPE_CHECKING:
    from playwright.sync_api import Video

__all__ = ["VIDEO_MODES", "driver_environment", "ffmpeg_for_playwright", "keep_videos", "video_path"]

VIDEO_MODES: Final = ("off", "retain-on-failure", "on")
"""``--maestro-video``: no video, a video kept when the test fails, a video kept for every test."""

_REGISTRY_ENV: Final = "PLAYWRIGHT_BROWSERS_PATH"


def _ffmpeg_revision() -> str:
    import playwright

    manifest = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        browsers = json.loads(manifest.read_text(encoding="utf-8"))["browsers"]
        return str(next(entry["revision"] for entry in browsers if entry["name"] == "ffmpeg"))
    except (OSError, ValueError, KeyError, StopIteration, TypeError) as error:
        reason = f"cannot read ffmpeg's revision from {manifest}: {error}"
        raise AdapterUnavailableError("playwright", reason) from error


def _executable_name() -> str:
    return "ffmpeg-mac" if sys.platform == "darwin" else "ffmpeg-win64.exe" if os.name == "nt" else "ffmpeg-linux"


def _default_registry() -> Path:
    configured = os.environ.get(_REGISTRY_ENV)
    if configured and configured != "0":
        return Path(configured)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ms-playwright"


@contextlib.contextmanager
def ffmpeg_for_playwright() -> Iterator[dict[str, str]]:
    """The environment a Playwright driver must start with to find an ffmpeg: nothing when its own
    is installed, else a private registry folder linking the system's (removed on exit: keep the
    context entered while the driver runs).

    Raises:
        AdapterUnavailableError: neither is installed (naming both ways to install one).
    """
    revision = _ffmpeg_revision()
    own = _default_registry() / f"ffmpeg-{revision}" / _executable_name()
    if own.is_file():
        yield {}
        return
    system = shutil.which("ffmpeg")
    if system is None:
        raise AdapterUnavailableError(
            "playwright",
            f"video recording needs ffmpeg: none at {own} nor on PATH "
            "(apt-get install ffmpeg, or playwright install ffmpeg)",
        )
    registry = Path(tempfile.mkdtemp(prefix="maestro-playwright-"))
    try:
        folder = registry / f"ffmpeg-{revision}"
        folder.mkdir()
        (folder / _executable_name()).symlink_to(system)
        yield {_REGISTRY_ENV: str(registry)}
    finally:
        shutil.rmtree(registry, ignore_errors=True)


@contextlib.contextmanager
def driver_environment(overrides: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``overrides`` while a Playwright driver starts (it copies the environment
    then), as it was afterwards."""
    previous = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def video_path(base: Path, number: int) -> Path:
    """Where the ``number``-th video (from 1) of a test whose evidence is ``base``... is kept."""
    return base.with_name(f"{base.name}-video{'' if number == 1 else f'-{number}'}.webm")


def keep_videos(videos: Sequence[Video], base: Path | None) -> list[Path]:
    """After the context closed: save its pages' videos as ``<base>-video.webm`` (``-video-2``...)
    when ``base`` is given, and delete Playwright's own copies either way."""
    kept = []
    for number, video in enumerate(videos, start=1):
        if base is not None:
            target = video_path(base, number)
            video.save_as(target)
            kept.append(target)
        video.delete()
    return kept
