"""One adapter interface to run pytest, browser (Playwright, Selenium), frontend and production
smoke suites with streaming, truthful results.

Every adapter returns the same ``maestro_test_result_aggregator.model.TestRun``; results stream
to JSONL while the run goes on, and the run can be written as CTRF and JUnit::

    from maestro_test_adapters import RunOptions, exit_code, get_adapter

    run = get_adapter("pytest").run("tests", options=RunOptions(ctrf="ctrf.json", timeout=900))
    raise SystemExit(exit_code(run))

``ENTRY_POINT_GROUP`` (the entry-point group name) and ``RUN_ERROR_KEY`` (the ``TestRun.extra``
key of an infrastructure error) are also available here. Names are imported lazily:
``import maestro_test_adapters`` loads neither pytest nor a browser library.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from maestro_test_adapters.__about__ import __version__

if TYPE_CHECKING:
    from maestro_test_adapters._adapter import Availability, Target, TestAdapter
    from maestro_test_adapters._chromium import allowed_hosts, chromium_args
    from maestro_test_adapters._environment import detect_environment
    from maestro_test_adapters._exit import RUN_ERROR_KEY as RUN_ERROR_KEY
    from maestro_test_adapters._exit import ExitCode, exit_code, run_error
    from maestro_test_adapters._options import RunOptions
    from maestro_test_adapters._outputs import ResultStream
    from maestro_test_adapters._registry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
    from maestro_test_adapters._registry import adapter_names, get_adapter
    from maestro_test_adapters.adapters._browsers import PlaywrightAdapter, SeleniumAdapter
    from maestro_test_adapters.adapters._checks import load_checks, redact_headers, redact_url
    from maestro_test_adapters.adapters._frontend import FrontendAdapter
    from maestro_test_adapters.adapters._production import ProductionAdapter
    from maestro_test_adapters.adapters._pytest_adapter import PytestAdapter
    from maestro_test_adapters.errors import (
        AdapterNotFoundError,
        AdapterUnavailableError,
        CheckFileError,
        InvalidOptionError,
        ReportWriteError,
        TargetNotFoundError,
        TestAdapterError,
    )

__all__ = [
    "AdapterNotFoundError",
    "AdapterUnavailableError",
    "Availability",
    "CheckFileError",
    "ExitCode",
    "FrontendAdapter",
    "InvalidOptionError",
    "PlaywrightAdapter",
    "ProductionAdapter",
    "PytestAdapter",
    "ReportWriteError",
    "ResultStream",
    "RunOptions",
    "SeleniumAdapter",
    "Target",
    "TargetNotFoundError",
    "TestAdapter",
    "TestAdapterError",
    "__version__",
    "adapter_names",
    "allowed_hosts",
    "chromium_args",
    "detect_environment",
    "exit_code",
    "get_adapter",
    "load_checks",
    "redact_headers",
    "redact_url",
    "run_error",
]

_LAZY: dict[str, str] = {
    "allowed_hosts": "_chromium",
    "chromium_args": "_chromium",
    "ENTRY_POINT_GROUP": "_registry",
    "RUN_ERROR_KEY": "_exit",
    "AdapterNotFoundError": "errors",
    "AdapterUnavailableError": "errors",
    "Availability": "_adapter",
    "CheckFileError": "errors",
    "ExitCode": "_exit",
    "FrontendAdapter": "adapters._frontend",
    "InvalidOptionError": "errors",
    "PlaywrightAdapter": "adapters._browsers",
    "ProductionAdapter": "adapters._production",
    "PytestAdapter": "adapters._pytest_adapter",
    "ReportWriteError": "errors",
    "ResultStream": "_outputs",
    "RunOptions": "_options",
    "SeleniumAdapter": "adapters._browsers",
    "Target": "_adapter",
    "TargetNotFoundError": "errors",
    "TestAdapter": "_adapter",
    "TestAdapterError": "errors",
    "adapter_names": "_registry",
    "exit_code": "_exit",
    "detect_environment": "_environment",
    "get_adapter": "_registry",
    "load_checks": "adapters._checks",
    "redact_headers": "adapters._checks",
    "redact_url": "adapters._checks",
    "run_error": "_exit",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
