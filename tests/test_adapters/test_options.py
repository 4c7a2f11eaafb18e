"""``RunOptions``: every field validated at construction, errors naming the parameter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from maestro_test_adapters import InvalidOptionError, RunOptions, TestAdapterError


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"runner_args": "-x"}, "runner_args"),
        ({"runner_args": ["-x", 3]}, "runner_args"),
        ({"env": {"A=B": "c"}}, "env"),
        ({"env": {"A": 1}}, "env"),
        ({"output_limit": -5}, "output_limit"),
        ({"ctrf": ""}, "ctrf"),
        ({"on_result": 3}, "on_result"),
        ({"stop_grace": -1}, "stop_grace"),
        ({"stop_grace": float("inf")}, "stop_grace"),
        ({"stop_grace": True}, "stop_grace"),
    ],
)
def test_bad_options_name_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidOptionError, match=parameter) as caught:
        RunOptions(**kwargs)
    assert caught.value.parameter == parameter
    assert isinstance(caught.value, TestAdapterError)
    assert isinstance(caught.value, ValueError)


def test_options_normalise_their_values() -> None:
    options = RunOptions(timeout=5, ctrf="out/c.json", runner_args=["-x"], env={"A": "1"})
    assert options.timeout == 5.0
    assert isinstance(options.timeout, float)
    assert options.ctrf == Path("out/c.json")
    assert options.runner_args == ("-x",)
    assert options.env == {"A": "1"}
    assert RunOptions().jsonl is None
    assert RunOptions(stop_grace=0).stop_grace == 0.0
