"""``to_pandas``: one row per result with typed columns (needs the ``pandas`` extra:
``pip install 'maestro-test-result-aggregator[pandas]'``).

Columns: ``test_id``, ``name``, ``suite`` (joined with " \u203a "), ``file``, ``classname``
(``string``); ``line`` (``Int64``, nullable); ``status`` (``category`` of the five statuses);
``raw_status``, ``message`` (``string``); ``duration`` (``float64`` seconds); ``start``
(``datetime64`` in UTC, NaT when unknown); ``flaky`` (``bool``); ``retries`` (``int64``);
``parameters`` (``string``, JSON).

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> frame = to_pandas(make_run(10, fail_every=5))
    >>> int(frame["status"].value_counts()["failed"]), str(frame["duration"].dtype)
    (2, 'float64')
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from maestro_test_result_aggregator.model import Status, TestRun

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

__all__ = ["to_pandas"]


def _pandas() -> Any:
    try:
        import pandas  # noqa: PLC0415 - optional dependency, imported on use
    except ImportError as error:
        raise ImportError("to_pandas needs pandas: pip install 'maestro-test-result-aggregator[pandas]'") from error
    return pandas


def to_pandas(run: TestRun) -> pd.DataFrame:
    """The results of ``run`` as a ``pandas.DataFrame``, one row per result.

    Raises:
        ImportError: pandas is not installed (the message names the extra).

    Examples:
        Where did the time go, and what failed?

        >>> from maestro_test_result_aggregator import to_pandas
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> frame = to_pandas(make_run(100, fail_every=10, flaky_every=7))
        >>> per_file = frame.groupby("file")["duration"].sum().sort_values(ascending=False)
        >>> per_file.head(3).round(3).to_dict()
        {'tests/test_module_6.py': 0.52, 'tests/test_module_5.py': 0.51, 'tests/test_module_4.py': 0.5}
        >>> frame.loc[frame["status"] == "failed", "name"].head(3).tolist()
        ['test_9', 'test_19', 'test_29']
        >>> int(frame["flaky"].sum()), int(frame["retries"].max())
        (13, 1)
    """
    pd = _pandas()
    tests = run.tests
    columns: dict[str, Any] = {
        "test_id": pd.array([t.test_id for t in tests], dtype="string"),
        "name": pd.array([t.name for t in tests], dtype="string"),
        "suite": pd.array([" \u203a ".join(t.suite) for t in tests], dtype="string"),
        "file": pd.array([t.file for t in tests], dtype="string"),
        "classname": pd.array([t.classname for t in tests], dtype="string"),
        "line": pd.array([t.line for t in tests], dtype="Int64"),
        "status": pd.Categorical([t.status.value for t in tests], categories=[s.value for s in Status]),
        "raw_status": pd.array([t.raw_status for t in tests], dtype="string"),
        "duration": pd.array([t.duration for t in tests], dtype="float64"),
        "start": pd.to_datetime(pd.Series([t.start for t in tests], dtype="float64"), unit="s", utc=True),
        "flaky": pd.array([bool(t.attempts) and t.flaky for t in tests], dtype="bool"),
        "retries": pd.array([t.retries for t in tests], dtype="int64"),
        "message": pd.array([t.message for t in tests], dtype="string"),
        "parameters": pd.array(
            [json.dumps(dict(t.parameters), sort_keys=True) if t.parameters else None for t in tests], dtype="string"
        ),
    }
    return pd.DataFrame(columns)
