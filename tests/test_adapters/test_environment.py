"""``detect_environment``: commit, branch, build URL and shard from CI variables."""

from __future__ import annotations


def test_environment_detection_from_ci_variables() -> None:
    from maestro_test_adapters import detect_environment

    github = detect_environment(
        {
            "GITHUB_SHA": "abc",
            "GITHUB_REF_NAME": "main",
            "GITHUB_REPOSITORY": "org/repo",
            "GITHUB_RUN_ID": "42",
            "CI_NODE_INDEX": "2",
            "CI_NODE_TOTAL": "4",
        }
    )
    assert (github.commit, github.branch, github.shard) == ("abc", "main", "2/4")
    assert github.build_url == "https://github.com/org/repo/actions/runs/42"
    gitlab = detect_environment({"CI_COMMIT_SHA": "def", "CI_COMMIT_REF_NAME": "dev", "CI_JOB_URL": "https://ci/j/1"})
    assert (gitlab.commit, gitlab.branch, gitlab.build_url) == ("def", "dev", "https://ci/j/1")
    override = detect_environment({"MAESTRO_COMMIT": "mine", "GITHUB_SHA": "abc"})
    assert override.commit == "mine"
    assert detect_environment({}).commit is None
