"""Root conftest of the shared suite: registers the real-server fixtures in ``tests.fixtures``.

Selenium Manager must never run (it would try to download a driver): the fixtures hand
Selenium a running ChromeDriver, and these variables keep it offline should anything
construct a bare ``Service()`` anyway.
"""

from __future__ import annotations

import os

from tests.fixtures import PLUGINS

os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

pytest_plugins = [*PLUGINS, "pytester"]
