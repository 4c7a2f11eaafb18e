"""The embedded default index: pypiserver over ``.index/`` for the length of one command."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from maestro_devtools.release.target import Credentials, Target
from maestro_devtools.servers import start_pypi_index


@contextmanager
def embedded_target(index_dir: Path, *, port: int | None = None) -> Iterator[Target]:
    """Start pypiserver on 127.0.0.1 with generated upload credentials; stop it afterwards.

    Names the index does not hold are redirected to the public index, as a Nexus group
    proxies it, so extras' third-party dependencies install through the same URL.
    """
    with (
        tempfile.TemporaryDirectory(prefix="maestro-index-") as state,
        start_pypi_index(index_dir, state_dir=Path(state), port=port) as index,
    ):
        yield Target(index.url, Credentials(index.username, index.password), embedded=True)
