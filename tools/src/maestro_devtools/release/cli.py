"""Command line of the release pipeline (the Makefile's ``release``, ``publish-*``, ``build*``,
``index`` and ``bump-*`` targets call it).

Flags default from the environment the Makefile passes through: ``DRY_RUN=1``,
``ALLOW_DIRTY=1``, ``V=1``; the target from ``MAESTRO_NEXUS_*`` (see ``target.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from maestro_devtools.release.build import build_package
from maestro_devtools.release.bump import PARTS, bump
from maestro_devtools.release.embedded import embedded_target
from maestro_devtools.release.errors import ReleaseError
from maestro_devtools.release.packages import discover_packages
from maestro_devtools.release.pipeline import ReleaseOptions, format_table, run_release, summary
from maestro_devtools.release.redact import Redactor
from maestro_devtools.release.tags import tag_name, untagged_versions
from maestro_devtools.release.target import Target, environment_flag, ignored_variables, resolve_target
from maestro_devtools.servers import ServerStartError, start_pypi_index


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="maestro-release", description=__doc__)
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="build, publish missing files, verify installs")
    release.add_argument("packages", nargs="*", help="package folders (default: all)")
    release.add_argument("--dry-run", action="store_true", default=None, help="upload nothing (DRY_RUN=1)")
    release.add_argument("--allow-dirty", action="store_true", default=None, help="ALLOW_DIRTY=1")
    release.add_argument("--no-verify", action="store_true", help="skip the install check")
    release.add_argument("-v", "--verbose", action="store_true", default=None, help="V=1")
    release.add_argument(
        "--allow-unbumped",
        action="store_true",
        default=None,
        help="publish a tree that is not yet its version (a rehearsal; ALLOW_UNBUMPED=1)",
    )
    release.add_argument(
        "--strict", action="store_true", default=None, help="refuse when the index advertises no hash (STRICT=1)"
    )

    build = commands.add_parser("build", help="build sdist + wheel into dist/<pkg>/ and twine check them")
    build.add_argument("packages", nargs="*")

    index = commands.add_parser("index", help="serve the embedded index in the foreground")
    index.add_argument("--port", type=int, default=int(os.environ.get("INDEX_PORT", "8089")))

    commands.add_parser(
        "check-tags", help="every changelog section of a published version has its <pkg>-v<version> tag"
    )

    bump_cmd = commands.add_parser("bump", help="bump a package's version and open a CHANGELOG section")
    bump_cmd.add_argument("package")
    bump_cmd.add_argument("part", help=f"{', '.join(PARTS)}, or an explicit version such as 2.0.0")
    return parser


def _release(args: argparse.Namespace, out: Redactor) -> int:
    env = os.environ
    options = ReleaseOptions(
        root=args.root.resolve(),
        packages=args.packages,
        dry_run=args.dry_run if args.dry_run is not None else environment_flag(env, "DRY_RUN"),
        allow_dirty=args.allow_dirty if args.allow_dirty is not None else environment_flag(env, "ALLOW_DIRTY"),
        verify=not args.no_verify,
        verbose=args.verbose if args.verbose is not None else environment_flag(env, "V"),
        strict=args.strict if args.strict is not None else environment_flag(env, "STRICT"),
        allow_unbumped=args.allow_unbumped
        if args.allow_unbumped is not None
        else environment_flag(env, "ALLOW_UNBUMPED"),
    )
    for name in ignored_variables(env):
        _say(
            out,
            f"note: {name} is set but ignored: the release reads MAESTRO_{name} (so a generic {name}, "
            "often set for Maven or other tools, cannot redirect a release)",
        )
    configured = resolve_target(env)
    context: AbstractContextManager[Target] = (
        embedded_target(options.root / ".index") if configured is None else nullcontext(configured)
    )
    with context as target:
        if target.credentials is not None:
            out.add(target.credentials.password)
        where = "the embedded index" if target.embedded else "the configured index"
        _say(out, f"publishing to {where} at {target.upload_url}" + (" (dry run)" if options.dry_run else ""))
        if not target.embedded and target.install_url is None and options.verify and not options.dry_run:
            _say(
                out,
                "note: verifying installs from the hosted repository itself; set MAESTRO_NEXUS_INDEX_URL to "
                "the pypi-group simple URL so third-party dependencies resolve",
            )
        rows = run_release(options, target, lambda line: _say(out, line))
    _say(out, "")
    _say(out, format_table(rows))
    _say(out, summary(rows, options.dry_run))
    failed = [row for row in rows if row.error]
    for row in failed:
        _say(out, f"error: {row.package} failed verification: {row.error}", err=True)
    held = [row for row in rows if row.held_back]
    for row in held:
        _say(
            out,
            f"error: {row.package} {row.version}: {', '.join(row.held_back)} held back; "
            "the index does not hold this version completely: bump the version to publish these sources",
            err=True,
        )
    differs = [row for row in rows if row.differs and not row.held_back]
    for row in differs:
        _say(
            out,
            f"error: {row.package} {row.version}: the index holds other content under {', '.join(row.differs)}; "
            "this tree is not what that version published: bump the version to publish it",
            err=True,
        )
    return 1 if failed or held or differs else 0


def _build(args: argparse.Namespace, out: Redactor) -> int:
    root = args.root.resolve()
    for package in discover_packages(root, args.packages or None):
        built = build_package(package, root / "dist")
        _say(
            out, f"{package.dist_name} {package.version}: {', '.join(f.name for f in built.files)} (twine check passed)"
        )
    return 0


def _index(args: argparse.Namespace, out: Redactor) -> int:
    root = args.root.resolve()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with (
        tempfile.TemporaryDirectory(prefix="maestro-index-") as state,
        start_pypi_index(root / ".index", state_dir=Path(state), port=args.port) as index,
    ):
        out.add(index.password)
        _say(out, f"serving {index.directory} at {index.simple_url} (Ctrl-C stops)")
        _say(out, f"  pip install --index-url {index.simple_url} maestro-resilience")
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def _bump(args: argparse.Namespace, out: Redactor) -> int:
    root = args.root.resolve()
    (package,) = discover_packages(root, [args.package])
    changelog = package.folder / "CHANGELOG.md"
    had_section = changelog.is_file() and f"## [{package.version}]" in changelog.read_text()
    bumped = bump(package.folder, args.part)
    _say(
        out,
        f"{bumped.dist_name}: {package.version} -> {bumped.version}; "
        f"{bumped.key}/CHANGELOG.md has a [{bumped.version}] section",
    )
    if had_section and f"## [{package.version}]" not in changelog.read_text():  # folded: see bump()
        _say(
            out,
            f"{package.version} was never published (no tag {tag_name(package)}): its section is now part of "
            f"[{bumped.version}]'s; if it was published, fetch its tag (git fetch --tags) and bump again",
        )
    return 0


def _check_tags(args: argparse.Namespace, out: Redactor) -> int:
    root = args.root.resolve()
    problems = [line for package in discover_packages(root) for line in untagged_versions(root, package)]
    for line in problems:
        _say(out, f"error: {line}", err=True)
    if not problems:
        _say(out, "every changelog section of a published version has its tag")
    return 1 if problems else 0


def _say(out: Redactor, line: str, *, err: bool = False) -> None:
    print(out(line), file=sys.stderr if err else sys.stdout, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; errors print as one explained message and exit 1."""
    args = _parser().parse_args(argv)
    out = Redactor()
    for name in ("MAESTRO_NEXUS_PASSWORD", "NEXUS_PASSWORD", "TWINE_PASSWORD"):
        out.add(os.environ.get(name))
    handlers = {"release": _release, "build": _build, "index": _index, "bump": _bump, "check-tags": _check_tags}
    try:
        return handlers[args.command](args, out)
    except (ReleaseError, ServerStartError) as exc:
        _say(out, f"error: {exc}", err=True)
        return 1
