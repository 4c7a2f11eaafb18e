"""Production synthetic checks against a local HTTP(S) server that answers slowly, wrongly,
never, and with redirects.

Nothing here depends on how fast the machine is: a check that must time out asks ``/hang``, which
never answers while the test runs; concurrency is proven by ``/together/N``, which answers only
once N requests are in flight at the same time (and counts the most ever in flight); the global
timeout is reached through an injected clock.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from maestro_test_adapters import (
    CheckFileError,
    ExitCode,
    InvalidOptionError,
    ProductionAdapter,
    RunOptions,
    TargetNotFoundError,
    exit_code,
    run_error,
)
from maestro_test_adapters.adapters._checks import json_path, load_checks, redact_headers, redact_url
from maestro_test_result_aggregator.formats import read_jsonl
from maestro_test_result_aggregator.model import Status, TestResult, TestRun
from tests.waiting import wait_until

SECRET = "s3cr3t-token-value"
TOGETHER_WAIT = 120.0
"""How long ``/together/N`` waits for N requests at once before answering 500 (only a bug waits)."""


class _Handler(BaseHTTPRequestHandler):
    counters: ClassVar[dict[str, int]] = {}
    seen_auth: ClassVar[list[str]] = []
    release: ClassVar[threading.Event] = threading.Event()  # set when the server stops: /hang ends
    lock: ClassVar[threading.Lock] = threading.Lock()
    barriers: ClassVar[dict[int, threading.Barrier]] = {}
    active: ClassVar[int] = 0
    most_active: ClassVar[int] = 0

    @classmethod
    def reset(cls) -> None:
        cls.counters, cls.seen_auth, cls.barriers = {}, [], {}
        cls.release = threading.Event()
        cls.active = cls.most_active = 0

    def _together(self, parties: int) -> None:
        """Answer once ``parties`` requests are in flight at the same time."""
        with self.lock:
            barrier = self.barriers.setdefault(parties, threading.Barrier(parties))
            type(self).active += 1
            type(self).most_active = max(self.most_active, self.active)
        try:
            barrier.wait(TOGETHER_WAIT)
            met = True
        except threading.BrokenBarrierError:
            met = False
        with self.lock:  # before answering: the client may start its next request at once
            type(self).active -= 1
        if met:
            self._send(200, b"together")
        else:
            self._send(500, f"fewer than {parties} requests at once".encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        self.counters[path] = self.counters.get(path, 0) + 1
        self.seen_auth.append(self.headers.get("Authorization", ""))
        ok = json.dumps({"status": "ok", "version": "1.4.2", "checks": [{"name": "db", "up": True}]}).encode()
        json_type = {"Content-Type": "application/json", "Set-Cookie": f"session={SECRET}"}
        if path == "/health":
            self._send(200, ok, json_type)
        elif path == "/slow":
            time.sleep(0.6)
            self._send(200, ok, json_type)
        elif path == "/hang":  # never answers while the test runs: only a timeout ends the request
            self.release.wait()
            self._send(200, ok, json_type)
        elif path.startswith("/together/"):
            self._together(int(path.rsplit("/", 1)[1]))
        elif path == "/wrong":
            self._send(200, json.dumps({"status": "degraded", "checks": []}).encode(), {"Content-Type": "text/plain"})
        elif path == "/error":
            self._send(500, b"Internal Server Error", {"Content-Type": "text/plain"})
        elif path == "/redirect":
            self._send(302, b"", {"Location": f"/health?token={SECRET}"})
        elif path.startswith("/flaky"):
            if self.counters[path] < 3:
                self._send(503, b"warming up")
            else:
                self._send(200, ok, json_type)
        else:
            self._send(404, b"not found")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout checks) is expected here


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.reset()
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        _Handler.release.set()
        httpd.shutdown()
        httpd.server_close()


CHECKS = """
[defaults]
base_url = "{base}"
timeout = 2
headers = {{ Authorization = "Bearer ${{MAESTRO_TEST_TOKEN}}", "X-Request-Source" = "maestro" }}

[[checks]]
name = "health"
url = "/health"
latency_budget_ms = 60000
expect_headers = {{ "content-type" = "application/json" }}
expect_json = [
  {{ path = "status", equals = "ok" }},
  {{ path = "checks[0].up", equals = true }},
  {{ path = "$.version", matches = "^1\\\\." }},
  {{ path = "missing", exists = false }},
]
tags = ["smoke"]

[[checks]]
name = "slow"
url = "/slow"
latency_budget_ms = 200

[[checks]]
name = "wrong body"
url = "/wrong"
expect_headers = {{ "content-type" = "application/json" }}
expect_json = [{{ path = "status", equals = "ok" }}, {{ path = "checks[0].name", exists = true }}]

[[checks]]
name = "server error"
url = "/error"

[[checks]]
name = "redirect not followed"
url = "/redirect"

[[checks]]
name = "redirect followed"
url = "/redirect"
follow_redirects = true
expect_body_contains = "ok"

[[checks]]
name = "flaky"
url = "/flaky"
retries = 3
retry_delay = 0.05

[[checks]]
name = "hang"
url = "/hang"
timeout = 0.5

[[checks]]
name = "refused"
url = "http://127.0.0.1:9/"
timeout = 1
"""


def _by_name(run: TestRun) -> dict[str, Any]:
    return {r.name: r for r in run.tests}


@pytest.fixture
def check_file(tmp_path: Path, server: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAESTRO_TEST_TOKEN", SECRET)
    path = tmp_path / "checks.toml"
    path.write_text(CHECKS.format(base=server))
    return path


@pytest.mark.parametrize("use_resilience", [True, False])
def test_checks_against_a_misbehaving_server(
    check_file: Path, tmp_path: Path, use_resilience: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import maestro_resilience

    policies: list[str] = []

    class RecordedRetry(maestro_resilience.Retry):
        def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
            policies.append(name)
            super().__init__(name, *args, **kwargs)

    monkeypatch.setattr(maestro_resilience, "Retry", RecordedRetry)
    jsonl = tmp_path / "r.jsonl"
    run = ProductionAdapter(use_resilience=use_resilience).run(
        check_file, options=RunOptions(jsonl=jsonl, ctrf=tmp_path / "c.json", junit=tmp_path / "j.xml")
    )
    results = _by_name(run)
    assert {n: (r.status, r.raw_status) for n, r in results.items()} == {
        "health": (Status.PASSED, "passed"),
        "slow": (Status.FAILED, "failed"),
        "wrong body": (Status.FAILED, "failed"),
        "server error": (Status.FAILED, "failed"),
        "redirect not followed": (Status.FAILED, "failed"),
        "redirect followed": (Status.PASSED, "passed"),
        "flaky": (Status.PASSED, "passed"),
        "hang": (Status.FAILED, "timedOut"),
        "refused": (Status.FAILED, "error"),
    }
    assert "over the budget of 200 ms" in results["slow"].message
    wrong = results["wrong body"].message
    assert "header content-type is 'text/plain'" in wrong
    assert 'JSON status is "degraded"' in wrong
    assert "JSON body has no checks[0].name" in wrong
    assert "status 500, expected 200" in results["server error"].message
    assert "status 302" in results["redirect not followed"].message
    assert "no response within 0.5 s" in results["hang"].message
    flaky = results["flaky"]
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.FAILED, Status.PASSED]
    assert "status 503" in (flaky.attempts[0].message or "")
    assert flaky.flaky
    # the only check with retries retried through maestro-resilience's policy (when it is used)
    assert policies == (["maestro-check:flaky"] if use_resilience else [])
    assert results["health"].tags == ("smoke",)
    assert exit_code(run) is ExitCode.TESTS_FAILED
    assert run_error(run) is None
    assert all(a == f"Bearer {SECRET}" for a in _Handler.seen_auth)  # the secret was sent...
    for report in (jsonl, tmp_path / "c.json", tmp_path / "j.xml"):
        text = report.read_text()
        assert SECRET not in text, f"secret leaked into {report.name}"  # ...and never written
        assert "health" in text
    assert "[redacted]" in results["redirect not followed"].message  # the Location's token
    assert "[redacted]" in (results["server error"].trace or "")  # the Authorization header
    assert [r.name for r in read_jsonl(jsonl).tests] == list(results)


async def test_the_async_twin(check_file: Path) -> None:
    run = await ProductionAdapter().arun(check_file)
    statuses = {r.name: r.raw_status for r in run.tests}
    assert statuses["health"] == "passed"
    assert statuses["hang"] == "timedOut"
    assert statuses["refused"] == "error"
    assert [a.status for a in _by_name(run)["flaky"].attempts] == [Status.FAILED, Status.FAILED, Status.PASSED]


class _SteppedClock:
    """A clock that moves only when told: each check's result sets the time the next one sees."""

    def __init__(self, after: dict[str, float]) -> None:
        self.now = 0.0
        self._after = after

    def __call__(self) -> float:
        return self.now

    def on_result(self, result: TestResult) -> None:
        self.now = self._after.get(result.name, self.now)


@pytest.mark.timing
def test_the_global_timeout_reports_checks_not_run(tmp_path: Path, server: str) -> None:
    path = tmp_path / "timeout.toml"
    path.write_text(
        f'[defaults]\nbase_url = "{server}"\ntimeout = 10\n'
        '[[checks]]\nname = "health"\nurl = "/health"\n'
        '[[checks]]\nname = "hang"\nurl = "/hang"\n'
        '[[checks]]\nname = "after"\nurl = "/health"\n'
    )
    # 1.2 s of the 1.5 s are used up when "health" is done: "hang" gets the 0.3 s left (and
    # /hang never answers), then the deadline has passed when "after" would start
    clock = _SteppedClock({"health": 1.2, "hang": 2.0})
    adapter = ProductionAdapter(concurrency=1, clock=clock)
    run = adapter.run(path, options=RunOptions(timeout=1.5, on_result=clock.on_result))
    results = _by_name(run)
    assert results["health"].status is Status.PASSED
    assert results["hang"].raw_status == "timedOut"
    assert "no response within 0.3 s" in results["hang"].message
    assert results["after"].status is Status.SKIPPED
    assert results["after"].raw_status == "notRun"
    assert exit_code(run) is ExitCode.ERROR
    assert "timed out after 1.5 s" in (run_error(run) or "")


def _together_checks(path: Path, server: str, count: int, parties: int) -> Path:
    """``count`` checks that pass only when ``parties`` of them are in flight at the same time."""
    path.write_text(
        f'[defaults]\nbase_url = "{server}"\ntimeout = {TOGETHER_WAIT * 2:g}\n'
        + "".join(f'[[checks]]\nname = "c{n}"\nurl = "/together/{parties}"\n' for n in range(count))
    )
    return path


def _counted_checks(path: Path, server: str, count: int) -> Path:
    path.write_text(
        f'[defaults]\nbase_url = "{server}"\n'
        + "".join(f'[[checks]]\nname = "c{n}"\nurl = "/together/1"\n' for n in range(count))
    )
    return path


@pytest.mark.timing
def test_checks_run_concurrently_and_stream_as_they_finish(tmp_path: Path, server: str) -> None:
    path = _together_checks(tmp_path / "together.toml", server, 4, parties=4)
    started: list[str] = []
    streamed_before_return: list[int] = []
    jsonl = tmp_path / "r.jsonl"

    def on_result(_: object) -> None:  # the JSONL line is on disk before the callback runs
        streamed_before_return.append(jsonl.read_text().count('"type":"result"'))

    options = RunOptions(jsonl=jsonl, on_test_start=started.append, on_result=on_result)
    run = ProductionAdapter(concurrency=4).run(path, options=options)
    assert sorted(r.name for r in run.tests) == [f"c{n}" for n in range(4)]
    assert all(r.status is Status.PASSED for r in run.tests), [r.message for r in run.tests]  # 4 at once
    assert sorted(started) == [f"c{n}" for n in range(4)]
    assert streamed_before_return == [1, 2, 3, 4]
    _Handler.most_active = 0
    sequential = ProductionAdapter(concurrency=1).run(_counted_checks(tmp_path / "one.toml", server, 4))
    assert _Handler.most_active == 1
    assert [r.name for r in sequential.tests] == [f"c{n}" for n in range(4)]  # file order


@pytest.mark.timing
async def test_the_async_twin_runs_checks_concurrently(tmp_path: Path, server: str) -> None:
    path = _together_checks(tmp_path / "four.toml", server, 4, parties=4)
    run = await ProductionAdapter(concurrency=4).arun(path, options=RunOptions(timeout=TOGETHER_WAIT * 2))
    assert sorted((r.name, r.status) for r in run.tests) == [(f"c{n}", Status.PASSED) for n in range(4)]
    _Handler.most_active = 0
    path = _together_checks(tmp_path / "pairs.toml", server, 4, parties=2)
    run = await ProductionAdapter(concurrency=2).arun(path)
    assert exit_code(run) is ExitCode.OK, [r.message for r in run.tests]  # two at once...
    assert _Handler.most_active == 2  # ...and never more


async def test_an_error_in_a_callback_is_raised_as_it_is(tmp_path: Path, server: str) -> None:
    path = tmp_path / "checks.toml"
    path.write_text("".join(f'[[checks]]\nname = "c{n}"\nurl = "{server}/health"\n' for n in range(6)))

    def boom(_: object) -> None:
        raise RuntimeError("callback failed")

    jsonl = tmp_path / "r.jsonl"
    with pytest.raises(RuntimeError, match="callback failed"):
        ProductionAdapter(concurrency=2).run(path, options=RunOptions(on_result=boom, jsonl=jsonl))
    assert read_jsonl(jsonl).stop is not None  # the stream was still closed
    with pytest.raises(RuntimeError, match="callback failed"):
        await ProductionAdapter(concurrency=2).arun(path, options=RunOptions(on_result=boom))


@pytest.mark.parametrize("concurrency", [0, 65, 1.5, True])
def test_concurrency_is_validated(concurrency: Any) -> None:
    with pytest.raises(InvalidOptionError, match="concurrency: must be an int from 1 to 64"):
        ProductionAdapter(concurrency=concurrency)


KILLED_RUN = """
import sys
from maestro_test_adapters import ProductionAdapter, RunOptions

ProductionAdapter(concurrency=1).run(sys.argv[1], options=RunOptions(jsonl=sys.argv[2]))
"""


@pytest.mark.timing
def test_a_killed_check_run_leaves_every_finished_check_in_the_jsonl(tmp_path: Path, server: str) -> None:
    path = tmp_path / "checks.toml"
    path.write_text(
        f'[defaults]\nbase_url = "{server}"\ntimeout = 600\n'
        '[[checks]]\nname = "health"\nurl = "/health"\n'
        '[[checks]]\nname = "wrong"\nurl = "/wrong"\nexpect_json = [{ path = "status", equals = "ok" }]\n'
        '[[checks]]\nname = "hang"\nurl = "/hang"\n'
        '[[checks]]\nname = "never"\nurl = "/health"\n'
    )
    jsonl = tmp_path / "r.jsonl"
    process = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path), str(jsonl)])
    try:
        wait_until(
            lambda: process.poll() is not None or (jsonl.exists() and jsonl.read_text().count('"type":"result"') >= 2),
            what="two checks streamed to the JSONL",
        )
        assert process.poll() is None, "the run ended before it could be killed"
        os.kill(process.pid, signal.SIGKILL)  # while "hang" is in flight
    finally:
        process.kill()
        process.wait()
    streamed = read_jsonl(jsonl, allow_torn_tail=True)
    assert [(r.name, r.status) for r in streamed.tests] == [("health", Status.PASSED), ("wrong", Status.FAILED)]
    assert "degraded" in (streamed.tests[1].message or "")
    assert streamed.stop is None  # no end line: the run was killed


def test_yaml_check_files(tmp_path: Path, server: str) -> None:
    path = tmp_path / "checks.yaml"
    path.write_text(
        f"checks:\n"
        f"  - name: health\n    url: {server}/health\n    expect_status: [200, 204]\n"
        f"    expect_json:\n      - {{path: status, contains: o}}\n"
        f"  - name: missing page\n    url: {server}/nope\n    expect_status: 404\n"
    )
    run = ProductionAdapter().run(path)
    assert sorted((r.name, r.status) for r in run.tests) == [("health", Status.PASSED), ("missing page", Status.PASSED)]
    assert exit_code(run) is ExitCode.OK


@pytest.fixture(scope="module")
def tls_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "10", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


def test_tls_certificate_expiry(tmp_path: Path, tls_certificate: tuple[Path, Path]) -> None:
    import ssl

    cert, key = tls_certificate
    httpd = _QuietServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"https://127.0.0.1:{httpd.server_address[1]}"
        path = tmp_path / "tls.toml"
        path.write_text(
            f'[defaults]\nca_file = "{cert}"\n'
            f'[[checks]]\nname = "fresh enough"\nurl = "{base}/health"\ntls_min_days = 5\n'
            f'[[checks]]\nname = "expires soon"\nurl = "{base}/health"\ntls_min_days = 30\n'
            f'[[checks]]\nname = "untrusted"\nurl = "{base}/health"\nca_file = "/etc/ssl/certs/ca-certificates.crt"\n'
        )
        run = ProductionAdapter().run(path)
        results = _by_name(run)
        assert results["fresh enough"].status is Status.PASSED
        assert (
            "expires in 9.9 days, less than 30" in results["expires soon"].message
            or "expires in 10.0 days" in results["expires soon"].message
        )
        assert results["untrusted"].raw_status == "error"
        assert "CERTIFICATE_VERIFY_FAILED" in results["untrusted"].message
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[checks]]\nurl = 'http://127.0.0.1/'\n", "checks[0]: name: is required"),
        ("[[checks]]\nname = 'a'\n", "check 'a': url: is required"),
        ("[[checks]]\nname = 'a'\nurl = '/x'\n", "check 'a': url: '/x' is relative and no base_url is set"),
        ("[[checks]]\nname = 'a'\nurl = 'ftp://h/'\n", "check 'a': url: must be http:// or https://"),
        ("[[checks]]\nname = 'a'\nurl = 'http://h/'\nexpect_status = 'ok'\n", "check 'a': expect_status: must be"),
        ("[[checks]]\nname = 'a'\nurl = 'http://h/'\ntimeout = -1\n", "check 'a': timeout: must be a number"),
        ("[[checks]]\nname = 'a'\nurl = 'http://h/'\nretries = 99\n", "check 'a': retries: must be an int"),
        ("[[checks]]\nname = 'a'\nurl = 'http://h/'\nlatency = 3\n", "check 'a': latency: unknown field"),
        ("[[checks]]\nname = 'a'\nurl = 'http://h/'\nmethod = 'FETCH'\n", "check 'a': method: must be one of"),
        ("[[checks]]\nname = 'a'\nurl = 'http://h/'\nexpect_json = [{path = 'x'}]\n", "expect_json[0]: needs a path"),
        (
            "[[checks]]\nname = 'a'\nurl = 'http://h/'\nheaders = {A = '${NO_SUCH_VAR_XYZ}'}\n",
            "NO_SUCH_VAR_XYZ is not set",
        ),
        (
            "[[checks]]\nname = 'a'\nurl = 'http://h/'\n[[checks]]\nname = 'a'\nurl = 'http://h/'\n",
            "name is used twice",
        ),
        ("checks = []\n", "checks: must be a non-empty list"),
        ("checks = [\n", "invalid TOML"),
        ("[defaults]\nurl = 'http://h/'\n[[checks]]\nname = 'a'\n", "defaults: url: not allowed"),
    ],
)
def test_malformed_check_files_name_file_check_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(CheckFileError) as caught:
        ProductionAdapter().run(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_other_bad_targets(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFoundError, match="check file not found"):
        ProductionAdapter().run(tmp_path / "missing.toml")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(CheckFileError, match="unknown check file type"):
        load_checks(tmp_path / "c.json")
    (tmp_path / "c.yaml").write_text("checks: [unclosed\n")
    with pytest.raises(CheckFileError, match="invalid YAML"):
        load_checks(tmp_path / "c.yaml")


def test_redaction_helpers() -> None:
    headers = redact_headers({"Authorization": "Bearer x", "Cookie": "a=b", "X-Api-Token": "t", "Accept": "*/*"})
    assert headers == {
        "Authorization": "[redacted]",
        "Cookie": "[redacted]",
        "X-Api-Token": "[redacted]",
        "Accept": "*/*",
    }
    assert redact_url("https://u:pw@h/p?token=abc&page=2") == "https://u:[redacted]@h/p?token=[redacted]&page=2"
    assert json_path({"a": [{"b": 1}]}, "$.a[0].b") == 1
    with pytest.raises(KeyError):
        json_path({"a": []}, "a[0]")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.toml", "[[checks]]\nname = 'caf\xe9'\nurl = 'http://h/'\n".encode("latin-1"), "not UTF-8 text"),
        ("ipv6.toml", b"[[checks]]\nname = 'a'\nurl = 'http://[::1/'\n", "check 'a': url: is not a valid URL"),
        ("port.toml", b"[[checks]]\nname = 'a'\nurl = 'http://h:99999/'\n", "check 'a': url: is not a valid URL"),
        ("nohost.toml", b"[[checks]]\nname = 'a'\nurl = 'http:///path'\n", "check 'a': url: must be http:// or"),
        (
            "keys.yaml",
            b"checks:\n  - name: a\n    url: http://h/\n    1: one\n    zz: two\n",
            "check 'a': 1: unknown field",
        ),
        ("top.yaml", b"checks: []\n1: one\nzz: two\n", "unknown top-level key 1"),
    ],
)
def test_odd_check_files_fail_closed_with_a_check_file_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    """Bad bytes, URLs urllib refuses and non-string YAML keys are ``CheckFileError``s, not tracebacks."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckFileError) as caught:
        load_checks(path)
    assert message in str(caught.value)
    assert str(path) in str(caught.value)


def test_only_braced_environment_references_are_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``${VAR}`` is replaced; any other ``$`` (a price, ``$HOME``) is left as it is."""
    monkeypatch.setenv("MAESTRO_TEST_TOKEN", SECRET)
    path = tmp_path / "checks.toml"
    path.write_text(
        "[[checks]]\nname = 'a'\nurl = 'http://h/'\n"
        "headers = { X-Note = 'costs $5 and $HOME for ${MAESTRO_TEST_TOKEN}', X-Plain = '$$' }\n"
    )
    [check] = load_checks(path).checks
    assert check.headers["X-Note"] == f"costs $5 and $HOME for {SECRET}"
    assert check.headers["X-Plain"] == "$$"
