"""Where a run happened, read from the CI system's own variables: the commit, branch, build URL
and shard on GitHub Actions, GitLab CI, Jenkins, Buildkite and CircleCI.

JUnit XML, pytest's and Playwright's reports do not say which commit they tested; without it
the same-commit flaky signal and a history by commit only work for CTRF. The CLI stamps what the
job's variables (or ``--commit``/``--branch``/``--build-url``/``--shard``) say onto every run it
reads, filling only what the report leaves out.

Examples:
    >>> from maestro_test_result_aggregator.ci import ci_environment
    >>> ci_environment({
    ...     "GITLAB_CI": "true",
    ...     "CI_COMMIT_SHA": "9f1c2e4",
    ...     "CI_COMMIT_REF_NAME": "main",
    ...     "CI_JOB_URL": "https://gitlab.example/shop/-/jobs/812",
    ...     "CI_NODE_INDEX": "2",
    ...     "CI_NODE_TOTAL": "4",
    ... })
    Environment(commit='9f1c2e4', branch='main', build_url='https://gitlab.example/shop/-/jobs/812', \
shard='2/4', extra={'ci': 'gitlab'})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Final

from maestro_test_result_aggregator.model import EMPTY, Environment, TestRun

__all__ = ["CI_SYSTEMS", "ci_environment", "with_environment"]


def _shard(index: str | None, total: str | None, *, zero_based: bool) -> str | None:
    """``"i/n"`` counted from 1, or None unless both are numbers and the job is split."""
    if not (index and total and index.isdecimal() and total.isdecimal()) or int(total) < 2:
        return None
    return f"{int(index) + (1 if zero_based else 0)}/{int(total)}"


def _github(env: Mapping[str, str]) -> Environment:
    server, repository, run = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    url = f"{server}/{repository}/actions/runs/{run}" if server and repository and run else None
    if url and env.get("GITHUB_RUN_ATTEMPT", "1") not in ("", "1"):
        url += f"/attempts/{env['GITHUB_RUN_ATTEMPT']}"
    # On a pull request GITHUB_REF_NAME is "123/merge"; the branch is GITHUB_HEAD_REF.
    branch = env.get("GITHUB_HEAD_REF") or env.get("GITHUB_REF_NAME")
    return Environment(env.get("GITHUB_SHA"), branch, url, None, {"ci": "github-actions"})


def _gitlab(env: Mapping[str, str]) -> Environment:
    branch = env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME") or env.get("CI_COMMIT_REF_NAME")
    shard = _shard(env.get("CI_NODE_INDEX"), env.get("CI_NODE_TOTAL"), zero_based=False)
    return Environment(env.get("CI_COMMIT_SHA"), branch, env.get("CI_JOB_URL"), shard, {"ci": "gitlab"})


def _jenkins(env: Mapping[str, str]) -> Environment:
    # Multibranch pipelines set BRANCH_NAME (CHANGE_BRANCH on a pull request); the git plugin's
    # GIT_BRANCH names the remote too ("origin/main").
    branch = env.get("CHANGE_BRANCH") or env.get("BRANCH_NAME") or env.get("GIT_BRANCH")
    if branch and not env.get("BRANCH_NAME") and not env.get("CHANGE_BRANCH"):
        branch = branch.removeprefix("origin/")
    return Environment(env.get("GIT_COMMIT"), branch, env.get("BUILD_URL"), None, {"ci": "jenkins"})


def _buildkite(env: Mapping[str, str]) -> Environment:
    url = env.get("BUILDKITE_BUILD_URL")
    if url and env.get("BUILDKITE_JOB_ID"):
        url += f"#{env['BUILDKITE_JOB_ID']}"
    shard = _shard(env.get("BUILDKITE_PARALLEL_JOB"), env.get("BUILDKITE_PARALLEL_JOB_COUNT"), zero_based=True)
    return Environment(env.get("BUILDKITE_COMMIT"), env.get("BUILDKITE_BRANCH"), url, shard, {"ci": "buildkite"})


def _circleci(env: Mapping[str, str]) -> Environment:
    shard = _shard(env.get("CIRCLE_NODE_INDEX"), env.get("CIRCLE_NODE_TOTAL"), zero_based=True)
    return Environment(
        env.get("CIRCLE_SHA1"), env.get("CIRCLE_BRANCH"), env.get("CIRCLE_BUILD_URL"), shard, {"ci": "circleci"}
    )


CI_SYSTEMS: Final[tuple[tuple[str, str, Callable[[Mapping[str, str]], Environment]], ...]] = (
    ("github-actions", "GITHUB_ACTIONS", _github),
    ("gitlab", "GITLAB_CI", _gitlab),
    ("buildkite", "BUILDKITE", _buildkite),
    ("circleci", "CIRCLECI", _circleci),
    ("jenkins", "JENKINS_URL", _jenkins),
)
"""The CI systems recognised: name, the variable that says the job runs there, and its reader."""


def ci_environment(env: Mapping[str, str] | None = None) -> Environment | None:
    """The commit, branch, build URL and shard the CI system running this job publishes in its
    variables (``env``, by default ``os.environ``); ``None`` outside a recognised CI system.
    Empty variables count as unset. ``extra["ci"]`` names the system.

    Examples:
        >>> from maestro_test_result_aggregator.ci import ci_environment
        >>> ci_environment(
        ...     {
        ...         "GITHUB_ACTIONS": "true",
        ...         "GITHUB_SHA": "9f1c2e4",
        ...         "GITHUB_REF_NAME": "42/merge",
        ...         "GITHUB_HEAD_REF": "fix-cart",
        ...         "GITHUB_SERVER_URL": "https://github.com",
        ...         "GITHUB_REPOSITORY": "shop/web",
        ...         "GITHUB_RUN_ID": "6120",
        ...         "GITHUB_RUN_ATTEMPT": "2",
        ...     }
        ... ).build_url
        'https://github.com/shop/web/actions/runs/6120/attempts/2'
        >>> ci_environment({"GITHUB_ACTIONS": "true", "GITHUB_SHA": "9f1c2e4", "GITHUB_HEAD_REF": "fix-cart"})
        Environment(commit='9f1c2e4', branch='fix-cart', build_url=None, shard=None, extra={'ci': 'github-actions'})
        >>> ci_environment({"HOME": "/root"}) is None
        True
    """
    variables = {key: value for key, value in (os.environ if env is None else env).items() if value}
    for _name, marker, read in CI_SYSTEMS:
        if marker in variables:
            return read(variables)
    return None


def with_environment(run: TestRun, given: Environment) -> TestRun:
    """``run`` with each environment field it lacks taken from ``given`` (what the report itself
    says wins); ``run`` itself when nothing is missing. ``extra`` keys are merged the same way.

    Examples:
        A JUnit report names no commit; the job's variables do:

        >>> from maestro_test_result_aggregator import Environment
        >>> from maestro_test_result_aggregator.ci import with_environment
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> junit = make_run(3, commit=None)
        >>> stamped = with_environment(junit, Environment(commit="9f1c2e4", branch="main", shard="1/2"))
        >>> stamped.environment.commit, stamped.environment.shard
        ('9f1c2e4', '1/2')

        A report that names its commit keeps it:

        >>> with_environment(make_run(3, commit="0123abc"), Environment(commit="9f1c2e4")).environment.commit
        '0123abc'
    """
    own = run.environment
    merged = Environment(
        own.commit or given.commit,
        own.branch or given.branch,
        own.build_url or given.build_url,
        own.shard or given.shard,
        {**given.extra, **own.extra} if given.extra else own.extra,
    )
    if merged == own:
        return run
    return TestRun(run.tool, run.tests, merged, run.start, run.stop, run.run_id, run.extra or EMPTY)
