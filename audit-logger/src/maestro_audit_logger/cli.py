"""``maestro-audit``: tail, search, show, stats, verify and export audit logs.

Sources are a JSONL file (its sealed segments are included), a directory, a SQLite database
(``sqlite://PATH`` or a ``.db``/``.sqlite`` file) or a ``postgresql://`` DSN.
Exit status: 0 success (verify: intact), 1 verify found tampering, 2 bad input.
"""

# ruff: noqa: PLC0415, PLR0917  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import functools
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from maestro_audit_logger._errors import AuditConfigError, AuditError, AuditReadError
from maestro_audit_logger._reader import AuditReader
from maestro_audit_logger._sources import where

F = TypeVar("F", bound=Callable[..., Any])


def _friendly(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:
            # The reader went away (`| head -1`): stop quietly, as a tool killed by SIGPIPE
            # does. Stdout is pointed at /dev/null so the interpreter's last flush is quiet too.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(128 + signal.SIGPIPE)
        except KeyboardInterrupt:
            sys.exit(128 + signal.SIGINT)  # Ctrl-C (tail -f): quiet, the shell's 130
        except (AuditError, ValueError, OSError) as exc:
            click.echo(f"maestro-audit: error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


#: Width of tables written to a pipe or file: wide enough never to wrap a line.
PIPE_WIDTH = 10_000


def _console(err: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    # On a terminal, its width; elsewhere (a pipe, a file) no 80-column wrapping.
    width = None if stream.isatty() else PIPE_WIDTH
    return Console(stderr=err, highlight=False, soft_wrap=False, width=width)


def _table(records: Iterable[dict[str, Any]]) -> Any:
    from rich.table import Table

    table = Table(show_lines=False)
    for col in ("time", "action", "outcome", "actor", "targets", "event_id"):
        table.add_column(col, overflow="fold")
    for r in records:
        targets = ", ".join(f"{t.get('type')}:{t.get('id')}" for t in r.get("targets") or [])
        outcome = r.get("outcome", "")
        style = {"failure": "red", "success": "green"}.get(outcome, "yellow")
        table.add_row(
            r.get("time", ""),
            r.get("action", ""),
            f"[{style}]{outcome}[/]",
            (r.get("actor") or {}).get("id", ""),
            targets,
            r.get("event_id", ""),
        )
    return table


def _emit(records: Iterable[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        out = sys.stdout.buffer
        for r in records:
            out.write(orjson.dumps(r) + b"\n")
        out.flush()
    else:
        _console().print(_table(records))


def _note_skipped(reader: AuditReader) -> None:
    """Say on stderr which lines were skipped because they are not audit records."""
    if reader.skipped:
        first = "; ".join(reader.skipped_lines[:3])
        click.echo(
            f"maestro-audit: warning: skipped {reader.skipped} line(s) that are not audit records "
            f"({first}); run verify",
            err=True,
        )


def _filters(fn: F) -> F:
    options = [
        click.option("--actor", help="Actor id."),
        click.option("--action", help="Action, or a prefix ending in * (invoice.*)."),
        click.option("--target", help="Target as TYPE:ID or just ID."),
        click.option("--outcome", type=click.Choice(["success", "failure", "unknown"])),
        click.option("--tenant", help="Tenant."),
        click.option("--since", help="Earliest time (ISO 8601, inclusive)."),
        click.option("--until", help="Latest time (ISO 8601, exclusive)."),
        click.option("--text", help="Case-insensitive text anywhere in the record."),
        click.option("--limit", type=click.IntRange(min=1), help="At most this many events."),
        click.option(
            "--indexed",
            is_flag=True,
            help="Databases: filter on the indexed columns (fast; trusts them: run verify first) "
            "instead of the hashed records.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="maestro-audit-logger")
def main() -> None:
    """View, search, verify and export Maestro audit logs.

    Every command takes a SOURCE: a JSONL log file (its sealed segments and logrotate's .gz
    files are read too), a directory of logs, a SQLite database (sqlite://PATH, or a
    .db/.sqlite file) or a postgresql:// DSN. Exit status: 0 success (verify: intact), 1 verify
    found a problem, 2 bad input, 130 interrupted (Ctrl-C).

    \b
    Examples:
      maestro-audit tail -f /var/log/billing/audit.jsonl
      maestro-audit search audit.jsonl --actor u-42 --action 'invoice.*' --since 2026-11-01
      maestro-audit verify /var/log/billing --hmac-key k1=/etc/audit/k1.key
      maestro-audit export audit.db --format ocsf --outcome failure -o failures.jsonl
    """


@main.command()
@click.argument("source")
@click.option(
    "-n", "--lines", "count", default=20, show_default=True, type=click.IntRange(min=0), help="Events to show."
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events (files and databases).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option("--interval", default=0.5, show_default=True, help="Polling interval with --follow (seconds).")
@_friendly
def tail(source: str, count: int, follow: bool, as_json: bool, interval: float) -> None:
    """Show the last events of SOURCE (and follow new ones with -f).

    SOURCE is a JSONL log file (its sealed segments and logrotate's .gz files are read too), a
    directory of logs, a SQLite database (sqlite://PATH, or a .db/.sqlite file) or a
    postgresql:// DSN.

    The last events are read from the end of the log, whatever its size. With -f, new events
    are printed as JSON lines until Ctrl-C (exit 130).

    \b
    Examples:
      maestro-audit tail audit.jsonl -n 3
      maestro-audit tail -f audit.jsonl | jq .action
    """
    reader = AuditReader(source)
    _emit(reader.last(count), as_json or follow)  # read from the end, whatever the log's size
    _note_skipped(reader)
    if follow:
        # Files are followed by offset (rotation included), databases by row id.
        noted = reader.skipped
        for record in reader.follow(poll_interval=interval):
            _emit([record], True)
            if reader.skipped != noted:
                noted = reader.skipped
                _note_skipped(reader)


@main.command()
@click.argument("source")
@_filters
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@_friendly
def search(source: str, as_json: bool, **filters: Any) -> None:
    """Find events in SOURCE matching every given filter.

    SOURCE is a JSONL log file (its sealed segments and logrotate's .gz files are read too), a
    directory of logs, a SQLite database (sqlite://PATH, or a .db/.sqlite file) or a
    postgresql:// DSN.

    A line that is not an audit record is skipped with a warning on stderr.

    \b
    Examples:
      maestro-audit search audit.jsonl --actor u-42 --outcome failure
      maestro-audit search sqlite://audit.db --action 'invoice.*' --since 2026-11-01T00:00:00Z --json
    """
    reader = AuditReader(source)
    _emit(reader.query(**filters), as_json)
    _note_skipped(reader)


@main.command()
@click.argument("source")
@click.argument("event_id")
@_friendly
def show(source: str, event_id: str) -> None:
    """Print one event (pretty JSON) by its id.

    SOURCE is a JSONL log file (its sealed segments and logrotate's .gz files are read too), a
    directory of logs, a SQLite database (sqlite://PATH, or a .db/.sqlite file) or a
    postgresql:// DSN.

    \b
    Example:
      maestro-audit show audit.jsonl 01930f6e-8c1a-7b2e-9d3f-5a6b7c8d9e0f
    """
    for r in AuditReader(source).query(event_id=event_id, limit=1):
        click.echo(orjson.dumps(r, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
        return
    raise AuditReadError(f"no event {event_id} in {source}")


@main.command()
@click.argument("source")
@_filters
@click.option("--top", default=10, show_default=True, type=click.IntRange(min=1), help="Rows per breakdown.")
@_friendly
def stats(source: str, top: int, **filters: Any) -> None:
    """Counts by action, outcome, actor and writer, and the time span.

    SOURCE is a JSONL log file (its sealed segments and logrotate's .gz files are read too), a
    directory of logs, a SQLite database (sqlite://PATH, or a .db/.sqlite file) or a
    postgresql:// DSN.

    \b
    Example:
      maestro-audit stats audit.jsonl --since 2026-11-01 --top 5
    """
    from rich.table import Table

    by: dict[str, Counter[str]] = {k: Counter() for k in ("action", "outcome", "actor", "writer")}
    first = last = None
    total = 0
    reader = AuditReader(source)
    for r in reader.query(**filters):
        total += 1
        by["action"][r.get("action", "")] += 1
        by["outcome"][r.get("outcome", "")] += 1
        by["actor"][(r.get("actor") or {}).get("id", "")] += 1
        by["writer"][r.get("writer", "")] += 1
        t = r.get("time")
        first = t if first is None or (t and t < first) else first
        last = t if last is None or (t and t > last) else last
    console = _console()
    console.print(f"[bold]{total}[/] events from {first or '-'} to {last or '-'}")
    for name, counter in by.items():
        table = Table(title=f"by {name}")
        table.add_column(name)
        table.add_column("events", justify="right")
        for key, n in counter.most_common(top):
            table.add_row(key, str(n))
        console.print(table)
    _note_skipped(reader)


def read_key_file(path: str | Path, encoding: str = "raw") -> bytes:
    r"""A key file's bytes, read unambiguously.

    ``raw`` (the default): the file's bytes exactly as written, nothing stripped (a key from
    ``secrets.token_bytes(32)`` may start or end with whitespace bytes, and may consist of hex
    digits). ``hex`` / ``base64``: the file holds the key as text in that encoding; surrounding
    whitespace (a trailing newline) is ignored.

    Raises:
        AuditConfigError: the file cannot be read, or is not valid text in the encoding.

    Examples:
        >>> import base64, secrets, tempfile
        >>> from pathlib import Path
        >>> key = b" " + secrets.token_bytes(30) + b"\n"  # whitespace bytes are part of a raw key
        >>> path = Path(tempfile.mkdtemp()) / "k1.key"
        >>> _ = path.write_bytes(key)
        >>> read_key_file(path) == key
        True
        >>> _ = path.write_text(base64.b64encode(key).decode() + "\n")
        >>> read_key_file(path, "base64") == key
        True
    """
    import base64
    import binascii

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise AuditConfigError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if encoding == "raw":
        if not data:
            raise AuditConfigError(f"key file {path} is empty")
        return data
    text = data.strip()
    try:
        if encoding == "hex":
            return bytes.fromhex(text.decode("ascii"))
        if encoding == "base64":
            return base64.b64decode(text, validate=True)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise AuditConfigError(f"key file {path} is not valid {encoding} text") from None
    raise AuditConfigError(f"key encoding must be raw, hex or base64, got {encoding!r}")


def _keyring(hmac_keys: tuple[str, ...], ed_keys: tuple[str, ...], encoding: str = "raw") -> Any:
    from maestro_audit_logger._signing import Keyring

    ring = Keyring()
    for spec, add, what in ((hmac_keys, ring.add_hmac, "HMAC"), (ed_keys, ring.add_ed25519, "Ed25519")):
        for item in spec:
            key_id, sep, path = item.partition("=")
            if not sep or not key_id or not path:
                raise AuditConfigError(f"a {what} key is given as KEY_ID=FILE, got {item!r}")
            add(key_id, read_key_file(path, encoding))
    return ring


@main.command()
@click.argument("source")
@click.option(
    "--repair",
    is_flag=True,
    help=(
        "Repair what a crash left: truncate a torn last line (recording a repair event) and "
        "seal segments left unsealed mid-rotation."
    ),
)
@click.option(
    "--hmac-key",
    "hmac_keys",
    multiple=True,
    metavar="KEY_ID=FILE",
    help="HMAC secret file (raw bytes as written, see --key-encoding) to check signatures.",
)
@click.option(
    "--ed25519-key",
    "ed_keys",
    multiple=True,
    metavar="KEY_ID=FILE",
    help="Ed25519 public key file (32 raw bytes, see --key-encoding).",
)
@click.option(
    "--key-encoding",
    type=click.Choice(["raw", "hex", "base64"]),
    default="raw",
    show_default=True,
    help="How key files hold their key: raw bytes exactly as written, or hex / base64 text.",
)
@click.option("--require-signatures", is_flag=True, help="Treat unsigned digests and heads as tampering.")
@click.option(
    "--allow-unsigned",
    is_flag=True,
    help="Accept unsigned digests and heads even with keys (or a signed log without keys): chains only.",
)
@click.option("--require-checkpoint", is_flag=True, help="Treat a JSONL log without its signed head file as tampering.")
@click.option(
    "--since",
    help="With --until: report missing periods from this time (ISO 8601): stretches no seal covers "
    "in a log sealed on time (a JSONL sink's rotate_interval_s, a database sink's seal_interval_s).",
)
@click.option("--until", help="End of the --since window (ISO 8601, exclusive; default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@_friendly
def verify(
    source: str,
    repair: bool,
    hmac_keys: tuple[str, ...],
    ed_keys: tuple[str, ...],
    key_encoding: str,
    require_signatures: bool,
    allow_unsigned: bool,
    require_checkpoint: bool,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Check hash chains, digests and signatures; pinpoint the first bad record.

    Given keys (or when the log says its writer signed), every digest and head must carry a
    valid signature from a known key; --allow-unsigned opts out. Exit 0 when intact, 1 when
    tampered, torn or unsigned, 2 for bad input.

    SOURCE is a JSONL log file (its sealed segments and logrotate's .gz files are read too), a
    directory of logs, a SQLite database (sqlite://PATH, or a .db/.sqlite file) or a
    postgresql:// DSN.

    \b
    Examples:
      maestro-audit verify audit.jsonl --hmac-key k1=/etc/audit/k1.key
      maestro-audit verify /var/log/billing --ed25519-key k2=k2.pub --json
      maestro-audit verify audit.jsonl --repair
      maestro-audit verify audit.jsonl --since 2026-11-01T00:00:00Z --until 2026-12-01T00:00:00Z
    """
    import functools

    from maestro_audit_logger._verify import repair as do_repair
    from maestro_audit_logger._verify import verify

    do_verify = functools.partial(
        verify, require_checkpoint=require_checkpoint, allow_unsigned=allow_unsigned, since=since, until=until
    )
    keys = _keyring(hmac_keys, ed_keys, key_encoding)
    repaired = None
    if repair:
        report = do_verify(source, keys=keys, require_signatures=require_signatures)
        if report.torn is not None:
            torn = Path(report.torn.file)
            target = torn if torn.is_absolute() else _torn_path(source, report.torn.file)
            repaired = do_repair(target, signer=_repair_signer(keys))
        for problem in report.problems:
            if problem.kind == "digest_missing":
                # A crash between a rotation's rename and its seal: seal as the sink would.
                active = _torn_path(source, _SEGMENT.sub("", Path(problem.file).name))
                repaired = do_repair(active, signer=_repair_signer(keys)) or repaired
    report = _verify_with_progress(do_verify, source, keys, require_signatures)
    if as_json:
        payload = {
            "source": report.source,
            "ok": report.ok,
            "records": report.records,
            "segments": report.segments,
            "pruned": report.pruned,
            "writers": report.writers,
            "problems": [_problem(p) for p in report.problems],
            "torn": None if report.torn is None else _problem(report.torn),
            "repaired": None if repaired is None else _problem(repaired),
            "warnings": report.warnings,
            "signatures_required": report.signatures_required,
        }
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
    else:
        console = _console()
        if repaired is not None:
            console.print(f"[yellow]repaired[/] {repaired}")
        for w in report.warnings:
            console.print(f"[yellow]warning:[/] {w}")
        summary = (
            f"{report.records} records, {report.segments} sealed segments, "
            f"{report.pruned} pruned, {report.writers} writers"
        )
        if report.ok:
            console.print(f"[green]OK[/] {summary}")
        else:
            first = report.first
            console.print(f"[red]TAMPERED[/] {summary}")
            console.print(f"first bad record: {first}")
            for p in report.problems[1:10]:
                console.print(f"  also: {p}")
            if report.torn is not None and report.torn is not first:
                console.print(f"  also: {report.torn}")
    sys.exit(report.exit_code)


def _repair_signer(keys: Any) -> Any:
    """An HMAC signer for the repair event when exactly one HMAC key was given (an Ed25519
    verifier holds only public keys: its repair event stays unsigned)."""
    if len(keys.hmac_keys) != 1:
        return None
    from maestro_audit_logger._signing import HmacSigner

    ((key_id, key),) = keys.hmac_keys.items()
    try:
        return HmacSigner(key, key_id)
    except AuditConfigError:
        return None


def _problem(p: Any) -> dict[str, Any]:
    return {"kind": p.kind, "file": p.file, "line": p.line, "seq": p.seq, "writer": p.writer, "message": p.message}


_SEGMENT = re.compile(r"\.\d{20}$")


def _torn_path(source: str, name: str) -> Path:
    base = Path(source)
    return (base if base.is_dir() else base.parent) / name


def _source_bytes(source: str) -> int | None:
    """The bytes a verify of ``source`` reads on disk (its log files, as `verify`'s progress
    counts them), or None for a database."""
    if where(source).is_database:
        return None
    from maestro_audit_logger._sources import families, family_files, is_audit_family

    path = Path(source)
    actives = [f for f in families(path) if is_audit_family(f)] if path.is_dir() else [path]
    total = 0
    for active in actives:
        for f in family_files(active):
            try:
                total += f.stat().st_size
            except OSError:
                continue
    return total


def _verify_with_progress(do_verify: Any, source: str, keys: Any, require_signatures: bool) -> Any:
    if not sys.stderr.isatty():
        return do_verify(source, keys=keys, require_signatures=require_signatures)
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    total = _source_bytes(source)
    if total is None:  # a database: rows read so far
        columns: tuple[Any, ...] = (TextColumn("verifying"), TextColumn("{task.completed:,} rows"), TimeElapsedColumn())
    else:  # files: bytes, percent and time left
        columns = (
            TextColumn("verifying"),
            BarColumn(),
            TaskProgressColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
    with Progress(*columns, transient=True, console=_console(err=True)) as progress:
        task = progress.add_task("verifying", total=total)
        return do_verify(
            source,
            keys=keys,
            require_signatures=require_signatures,
            # A live log grows while it is read: the total grows with it, never below 100%.
            progress=lambda n: progress.update(task, completed=n, total=max(n, total or 0)),
        )


@main.command()
@click.argument("source")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "ocsf", "ecs"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@_filters
@_friendly
def export(source: str, fmt: str, output: str | None, **filters: Any) -> None:
    """Export matching events as JSONL, CSV, OCSF 1.3.0 or ECS 8.11.

    SOURCE is a JSONL log file (its sealed segments and logrotate's .gz files are read too), a
    directory of logs, a SQLite database (sqlite://PATH, or a .db/.sqlite file) or a
    postgresql:// DSN.

    \b
    Examples:
      maestro-audit export audit.jsonl --format csv -o audit.csv
      maestro-audit export postgresql://audit@db/audit --format ocsf --outcome failure | head -1
    """
    from maestro_audit_logger._export import export_lines

    reader = AuditReader(source)
    lines = export_lines(reader.query(**filters), fmt)
    if output is None:
        out = sys.stdout
        for line in lines:
            out.write(line)
        out.flush()
    else:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            for line in lines:
                fh.write(line)
    _note_skipped(reader)


if __name__ == "__main__":  # pragma: no cover
    main()
