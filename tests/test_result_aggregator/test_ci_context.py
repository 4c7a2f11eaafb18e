"""Real CI context: the commit, branch, build URL and shard from the CLI's options and from the
variables GitHub Actions, GitLab CI, Jenkins, Buildkite and CircleCI set; history in run time order."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator import Environment, Status, TestResult, TestRun, Tool, write_ctrf, write_junit
from maestro_test_result_aggregator.analysis import Classification, classify_history
from maestro_test_result_aggregator.ci import ci_environment, with_environment
from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.history import HistoryStore
from maestro_test_result_aggregator.testing import make_run

# What each system sets in a job (names and shapes from each system's documentation).
SYSTEMS = {
    "github-actions": (
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SHA": "a1b2c3d",
            "GITHUB_REF_NAME": "main",
            "GITHUB_HEAD_REF": "",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "shop/web",
            "GITHUB_RUN_ID": "6120",
            "GITHUB_RUN_ATTEMPT": "1",
        },
        Environment("a1b2c3d", "main", "https://github.com/shop/web/actions/runs/6120", None, {"ci": "github-actions"}),
    ),
    "gitlab": (
        {
            "GITLAB_CI": "true",
            "CI_COMMIT_SHA": "a1b2c3d",
            "CI_COMMIT_REF_NAME": "main",
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "fix-cart",
            "CI_JOB_URL": "https://gitlab.example/shop/-/jobs/812",
            "CI_NODE_INDEX": "3",
            "CI_NODE_TOTAL": "4",
        },
        Environment("a1b2c3d", "fix-cart", "https://gitlab.example/shop/-/jobs/812", "3/4", {"ci": "gitlab"}),
    ),
    "jenkins": (
        {
            "JENKINS_URL": "https://jenkins.example/",
            "GIT_COMMIT": "a1b2c3d",
            "GIT_BRANCH": "origin/release-2",
            "BUILD_URL": "https://jenkins.example/job/web/77/",
        },
        Environment("a1b2c3d", "release-2", "https://jenkins.example/job/web/77/", None, {"ci": "jenkins"}),
    ),
    "buildkite": (
        {
            "BUILDKITE": "true",
            "BUILDKITE_COMMIT": "a1b2c3d",
            "BUILDKITE_BRANCH": "main",
            "BUILDKITE_BUILD_URL": "https://buildkite.com/shop/web/builds/90",
            "BUILDKITE_JOB_ID": "0190-ab",
            "BUILDKITE_PARALLEL_JOB": "0",
            "BUILDKITE_PARALLEL_JOB_COUNT": "2",
        },
        Environment("a1b2c3d", "main", "https://buildkite.com/shop/web/builds/90#0190-ab", "1/2", {"ci": "buildkite"}),
    ),
    "circleci": (
        {
            "CIRCLECI": "true",
            "CIRCLE_SHA1": "a1b2c3d",
            "CIRCLE_BRANCH": "main",
            "CIRCLE_BUILD_URL": "https://circleci.com/gh/shop/web/55",
            "CIRCLE_NODE_INDEX": "1",
            "CIRCLE_NODE_TOTAL": "3",
        },
        Environment("a1b2c3d", "main", "https://circleci.com/gh/shop/web/55", "2/3", {"ci": "circleci"}),
    ),
}


@pytest.mark.parametrize("system", sorted(SYSTEMS))
def test_each_ci_system_names_commit_branch_build_and_shard(system: str) -> None:
    variables, expected = SYSTEMS[system]
    assert ci_environment(variables) == expected


def test_jenkins_multibranch_branch_name_wins_over_the_git_plugins() -> None:
    variables = {**SYSTEMS["jenkins"][0], "BRANCH_NAME": "PR-12", "CHANGE_BRANCH": "fix-cart"}
    found = ci_environment(variables)
    assert found is not None
    assert found.branch == "fix-cart"


def test_no_ci_system_and_an_unsplit_job_say_nothing() -> None:
    assert ci_environment({"PATH": "/usr/bin"}) is None
    found = ci_environment({"GITLAB_CI": "true", "CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "1"})
    assert found is not None
    assert found.shard is None


def test_what_a_report_says_wins_over_the_job() -> None:
    run = make_run(2, commit="0123abc")
    stamped = with_environment(run, Environment("a1b2c3d", "main", shard="1/2"))
    assert (stamped.environment.commit, stamped.environment.branch, stamped.environment.shard) == (
        "0123abc",
        "main",
        "1/2",
    )
    assert with_environment(stamped, Environment("zzz")) is stamped


def _ingest(db: Path, report: Path, *options: str, env: dict[str, str] | None = None) -> Environment:
    outcome = CliRunner(env=env).invoke(main, ["ingest", str(report), "--db", str(db), *options])
    assert outcome.exit_code == 0, outcome.output
    with HistoryStore.open(db) as store:
        latest = store.latest_run_id()
        assert latest is not None
        return store.load_run(latest).environment


def test_cli_stamps_a_junit_report_with_the_ci_variables(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    write_junit(make_run(3, commit=None), report)
    found = _ingest(tmp_path / "h.db", report, env=SYSTEMS["gitlab"][0])
    assert (found.commit, found.branch, found.build_url, found.shard) == (
        "a1b2c3d",
        "fix-cart",
        "https://gitlab.example/shop/-/jobs/812",
        "3/4",
    )


def test_cli_options_win_over_the_ci_variables(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    write_junit(make_run(3, commit=None), report)
    options = ("--commit", "feedbee", "--branch", "nightly", "--build-url", "https://ci/1", "--shard", "2/2")
    found = _ingest(tmp_path / "h.db", report, *options, env=SYSTEMS["circleci"][0])
    assert (found.commit, found.branch, found.build_url, found.shard) == ("feedbee", "nightly", "https://ci/1", "2/2")


def test_no_ci_env_ignores_the_variables(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    write_junit(make_run(3, commit=None), report)
    found = _ingest(tmp_path / "h.db", report, "--no-ci-env", env=SYSTEMS["github-actions"][0])
    assert found.commit is None


def test_a_ctrf_reports_own_commit_is_kept(tmp_path: Path) -> None:
    report = tmp_path / "ctrf.json"
    write_ctrf(make_run(3, commit="0123abc"), report)
    assert _ingest(tmp_path / "h.db", report, env=SYSTEMS["buildkite"][0]).commit == "0123abc"


def test_same_commit_flaky_signal_works_for_junit_reports(tmp_path: Path) -> None:
    # Two JUnit reports of one commit (a job and its retry): only the CI variables say the commit.
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    write_junit(make_run(4, commit=None), first / "junit.xml")
    write_junit(make_run(4, commit=None, fail_every=2, start=1_700_000_900.0), second / "junit.xml")
    runner = CliRunner(env=SYSTEMS["github-actions"][0])
    outcome = runner.invoke(main, ["flaky", str(first), str(second)])
    assert outcome.exit_code == 0, outcome.output
    assert "[same-commit]" in outcome.output
    assert "on commit a1b2c3d" in outcome.output
    outcome = runner.invoke(main, ["flaky", "--no-ci-env", str(first), str(second)])
    assert "[same-commit]" not in outcome.output


def _one_test_run(status: Status, start: float) -> TestRun:
    return TestRun(Tool("pytest"), [TestResult("test_checkout", status, 1.0, file="t.py")], start=start)


def test_history_orders_runs_by_time_not_by_ingest_order(tmp_path: Path) -> None:
    # Regression: the store ordered runs by id (ingest order). In time the test passed twice then
    # failed three times (broken); ingested out of order it read fail, pass, fail, pass, fail: flaky.
    times = {1: Status.PASSED, 2: Status.PASSED, 3: Status.FAILED, 4: Status.FAILED, 5: Status.FAILED}
    with HistoryStore.open(tmp_path / "h.db") as store:
        for hour in (3, 1, 4, 2, 5):
            store.add_run(_one_test_run(times[hour], 1_700_000_000.0 + 3600 * hour))
        (statuses,) = store.statuses(last=20).values()
        assert statuses == [times[hour] for hour in sorted(times)]
        assert classify_history(statuses)[0] is Classification.BROKEN
        assert store.flaky(last=20) == []
        assert len(store.broken(last=20)) == 1
        assert [point.started for point in store.pass_rate_trend()] == sorted(
            point.started for point in store.pass_rate_trend() if point.started is not None
        )
        latest = store.latest_run_id()
        assert latest is not None
        assert store.load_run(latest).start == 1_700_000_000.0 + 3600 * 5


def test_history_window_takes_the_newest_runs_by_time(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as store:
        for hour, status in ((5, Status.FAILED), (1, Status.PASSED), (4, Status.FAILED), (2, Status.PASSED)):
            store.add_run(_one_test_run(status, 1_700_000_000.0 + 3600 * hour))
        (statuses,) = store.statuses(last=2).values()
        assert statuses == [Status.FAILED, Status.FAILED]
