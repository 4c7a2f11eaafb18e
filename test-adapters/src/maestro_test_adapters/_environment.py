"""Where a run happens: commit, branch, build URL and shard from the CI's environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

from maestro_test_result_aggregator.model import Environment

__all__ = ["detect_environment"]

_COMMIT = ("MAESTRO_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "BUILDKITE_COMMIT", "GIT_COMMIT", "CIRCLE_SHA1")
_BRANCH = (
    "MAESTRO_BRANCH",
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_REF_NAME",
    "BUILDKITE_BRANCH",
    "GIT_BRANCH",
    "CIRCLE_BRANCH",
)
_BUILD_URL = ("MAESTRO_BUILD_URL", "CI_JOB_URL", "BUILDKITE_BUILD_URL", "BUILD_URL", "CIRCLE_BUILD_URL")


def _first(environ: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    for name in names:
        value = environ.get(name)
        if value:
            return value
    return None


def detect_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """The run's ``Environment`` from CI variables (GitHub Actions, GitLab CI, Buildkite, Jenkins,
    CircleCI; ``MAESTRO_COMMIT``/``MAESTRO_BRANCH``/``MAESTRO_BUILD_URL``/``MAESTRO_SHARD`` win).

    Examples:
        >>> detect_environment({"GITHUB_SHA": "abc123", "GITHUB_REF_NAME": "main"}).commit
        'abc123'
    """
    env = os.environ if environ is None else environ
    build_url = _first(env, _BUILD_URL)
    if build_url is None and env.get("GITHUB_RUN_ID") and env.get("GITHUB_REPOSITORY"):
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        build_url = f"{server}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    shard = env.get("MAESTRO_SHARD")
    if shard is None and env.get("CI_NODE_INDEX") and env.get("CI_NODE_TOTAL"):
        shard = f"{env['CI_NODE_INDEX']}/{env['CI_NODE_TOTAL']}"
    if shard is None and env.get("BUILDKITE_PARALLEL_JOB") and env.get("BUILDKITE_PARALLEL_JOB_COUNT"):
        shard = f"{int(env['BUILDKITE_PARALLEL_JOB']) + 1}/{env['BUILDKITE_PARALLEL_JOB_COUNT']}"
    return Environment(commit=_first(env, _COMMIT), branch=_first(env, _BRANCH), build_url=build_url, shard=shard)
