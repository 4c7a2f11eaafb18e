"""The release pipeline: check, read the index, build, verify the built files, upload what is
missing, verify again from the index.

Nothing is uploaded until every package that has files to upload installed from its just-built
wheel and sdist and passed its smoke check: a broken release never reaches the index."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion

from maestro_devtools.release.build import BuiltPackage, build_package, is_platform_wheel
from maestro_devtools.release.checks import (
    refuse_dirty_tree,
    refuse_superseded_version,
    refuse_unreleasable_version,
    refuse_version_without_changelog,
    unbumped_problems,
)
from maestro_devtools.release.errors import ReleaseError, ReleaseRefusedError, VerificationError
from maestro_devtools.release.index import IndexFile, open_index
from maestro_devtools.release.packages import Package, discover_packages
from maestro_devtools.release.pythons import Interpreter, release_interpreters
from maestro_devtools.release.tags import tag_release
from maestro_devtools.release.target import Target
from maestro_devtools.release.upload import make_uploader
from maestro_devtools.release.verify import verify_files, verify_install

Log = Callable[[str], None]
_Plan = tuple[BuiltPackage, list[Path], list[Path]]  # built files, the ones to upload, the ones held back


@dataclass(frozen=True)
class ReleaseOptions:
    """What to release and how carefully."""

    root: Path
    packages: list[str] = field(default_factory=list)
    dist_root: Path | None = None
    dry_run: bool = False
    allow_dirty: bool = False
    verify: bool = True
    verbose: bool = False
    strict: bool = False
    allow_unbumped: bool = False


@dataclass
class ReleaseRow:
    """One line of the final table."""

    package: str
    version: str
    upload: str
    verified: str = "-"
    uploaded_files: list[str] = field(default_factory=list)
    held_back: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    error: str | None = None


def _compare(built: BuiltPackage, listing: dict[str, IndexFile], log: Log) -> tuple[list[Path], list[Path]]:
    """(the built files to upload, the missing files held back); warn about same-named files
    with other content.

    When a file of this version is on the index with other content, the missing files are held
    back: they were built from other sources than the published ones (a new wheel tag, say),
    and one version must not mix the two."""
    missing = []
    changed = []
    for path in built.files:
        held = listing.get(path.name)
        if held is None:
            missing.append(path)
        elif held.same_content(path) is False:
            changed.append(path.name)
            log(
                f"warning: {path.name} is already on the index with different content; "
                f"the index keeps its copy (bump {built.package.key}'s version to publish a change)"
            )
    if changed and missing:
        log(
            f"warning: not uploading {', '.join(p.name for p in missing)}: version {built.package.version} "
            f"of {built.package.dist_name} is published from other sources ({', '.join(changed)} differs)"
        )
        return [], missing
    return missing, []


def _refuse_unbumped(
    options: ReleaseOptions, packages: list[Package], listings: dict[str, dict[str, IndexFile]], log: Log
) -> set[str]:
    """Refuse to publish a version the index does not hold yet from a tree that is not that version
    (changes logged under [Unreleased], or source changed after the version was set); with
    ``allow_unbumped``, warn and return the projects published as a rehearsal (never tagged)."""
    problems, rehearsed = [], set()
    for package in packages:
        if any(_version_of_file(name) == package.version for name in listings[package.project]):
            continue  # published: the content comparison decides
        found = unbumped_problems(options.root, package)
        problems += [f"{package.dist_name} {package.version}: {p}" for p in found]
        if found:
            rehearsed.add(package.project)
    if not problems:
        return rehearsed
    advice = "bump the version first (make bump-<pkg> PART=...), which turns [Unreleased] into its section"
    if options.allow_unbumped:
        for problem in problems:
            log(f"warning: {problem}")
        log(f"warning: ALLOW_UNBUMPED=1: publishing anyway (a rehearsal, not tagged); for a real release, {advice}")
        return rehearsed
    raise ReleaseRefusedError(
        "this tree is not the version it claims:\n  " + "\n  ".join(problems) + f"\n{advice}, "
        "or rehearse with ALLOW_UNBUMPED=1"
    )


def _version_of_file(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def _refuse_unchecked(listings: dict[str, dict[str, IndexFile]], options: ReleaseOptions, log: Log) -> None:
    """Files the index lists without a hash we can compute: their content cannot be compared."""
    unchecked = sorted(f.filename for files in listings.values() for f in files.values() if not f.hashes)
    if not unchecked:
        return
    message = (
        f"the index advertises no hash for {', '.join(unchecked[:5])}"
        + (f" and {len(unchecked) - 5} more" if len(unchecked) > 5 else "")
        + ": whether it holds what this tree builds cannot be checked"
    )
    if options.strict:
        raise ReleaseRefusedError(message + " (refused under --strict / STRICT=1)")
    log(f"warning: {message}")


def _differs(built: BuiltPackage, listing: dict[str, IndexFile]) -> list[str]:
    """Built files the index holds under the same name with other content."""
    return [
        path.name
        for path in built.files
        if (held := listing.get(path.name)) is not None and held.same_content(path) is False
    ]


def _upload_status(missing: list[Path], total: int, dry_run: bool, held: list[Path], differs: list[str]) -> str:
    if held:
        return f"held back {len(held)} of {total}"
    if differs and not missing:
        return f"index differs ({len(differs)} of {total})"
    if not missing:
        return "already there"
    verb = "would upload" if dry_run else "uploaded"
    return f"{verb} {len(missing)} of {total}"


def run_release(options: ReleaseOptions, target: Target, log: Log) -> list[ReleaseRow]:
    """Run the pipeline against ``target`` and return the table rows.

    Raises a ``ReleaseError`` subclass for refusals and failures before verification; a
    package that fails verification has ``verified == "FAILED"`` and its ``error`` set.
    """
    packages = discover_packages(options.root, options.packages or None)
    for package in packages:
        refuse_unreleasable_version(package)
        refuse_version_without_changelog(package)
    if not options.allow_dirty:
        refuse_dirty_tree(options.root)

    reader = open_index(target.upload_url, target.check_url, target.credentials)
    try:
        listings = {p.project: reader.files(p.project) for p in packages}
    finally:
        reader.close()
    target = dataclasses.replace(target, check_url=reader.simple_url)
    log(f"read what the index holds from {reader.simple_url}")
    _refuse_unchecked(listings, options, log)
    for package in packages:
        refuse_superseded_version(package, listings[package.project].keys())
    rehearsed = _refuse_unbumped(options, packages, listings, log)

    # Build everything before uploading anything: a package that fails to build must not
    # leave the index with half a release.
    dist_root = options.dist_root or options.root / "dist"
    interpreters = release_interpreters()
    builds = []
    for package in packages:
        log(f"building {package.dist_name} {package.version}")
        built = build_package(package, dist_root, interpreters=interpreters)
        for note in built.notes:
            log(f"warning: {note}")
        builds.append(built)
    by_tag = {i.tag: i.path for i in interpreters}

    plans = [(built, *_compare(built, listings[built.package.project], log)) for built in builds]
    rows = []
    for built, missing, held in plans:
        differs = _differs(built, listings[built.package.project])
        status = _upload_status(missing, len(built.files), options.dry_run, held, differs)
        row = ReleaseRow(built.package.dist_name, built.package.version, status, held_back=[p.name for p in held])
        row.differs = differs
        rows.append(row)
    if options.verify and not options.dry_run and any(missing for _, missing, _ in plans):
        _verify_before_upload(plans, rows, target, log, by_tag)
        if any(row.error for row in rows):
            _stop_before_upload(rows)
            return rows
    _upload(plans, rows, target, options, log)
    if options.dry_run or not options.verify:
        for row in rows:
            row.verified = "skipped (dry run)" if options.dry_run else "skipped"
        return rows
    platform_packages = {
        b.package.project for b in builds if any(is_platform_wheel(f) for f in b.files if f.suffix == ".whl")
    }
    _verify_all(packages, rows, target, log, dict.fromkeys(platform_packages, interpreters))
    if not options.allow_dirty:  # a dirty tree is not what the tag's commit holds
        _tag(options.root, [p for p in packages if p.project not in rehearsed], rows, log)
    return rows


def _tag(root: Path, packages: list[Package], rows: list[ReleaseRow], log: Log) -> None:
    """Tag each version the index now holds completely and that verified."""
    by_name = {row.package: row for row in rows}
    for package in packages:
        row = by_name[package.dist_name]
        if not (row.error or row.held_back or row.differs):
            log(tag_release(root, package))


def _stop_before_upload(rows: list[ReleaseRow]) -> None:
    for row in rows:
        row.upload = "not uploaded (install check failed)" if row.error else "not uploaded (release stopped)"
        row.verified = "FAILED before upload" if row.error else "-"


def _upload(plans: list[_Plan], rows: list[ReleaseRow], target: Target, options: ReleaseOptions, log: Log) -> None:
    uploader = make_uploader(target, log, verbose=options.verbose)
    for (_, missing, _), row in zip(plans, rows, strict=True):
        if missing and not options.dry_run:
            log(f"uploading {', '.join(p.name for p in missing)}")
            uploader.upload(missing)
        row.uploaded_files = [p.name for p in missing]


def _verify_before_upload(
    plans: list[_Plan],
    rows: list[ReleaseRow],
    target: Target,
    log: Log,
    interpreters: dict[str, Path],
) -> None:
    """Install each package's just-built wheels and sdist (every extra) and smoke-check them."""
    log(f"checking the built files install and work, before uploading (dependencies from {target.verify_url})")
    find_links = sorted({path.parent for built, _, _ in plans for path in built.files})

    def check(built: BuiltPackage) -> list[str] | VerificationError:
        try:
            return verify_files(
                built.package,
                built.files,
                target.verify_url,
                target.credentials,
                find_links=find_links,
                interpreters=interpreters,
            )
        except VerificationError as exc:
            return exc

    todo = [(built, row) for (built, missing, _), row in zip(plans, rows, strict=True) if missing]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(check, [built for built, _ in todo]))
    for (_, row), result in zip(todo, results, strict=True):
        if isinstance(result, VerificationError):
            row.error = str(result)
        else:
            for line in result:
                log(f"  {line}")


def _verify_all(
    packages: list[Package],
    rows: list[ReleaseRow],
    target: Target,
    log: Log,
    per_python: dict[str, list[Interpreter]],
) -> None:
    """Install each package from the index and smoke-check it; a package with binary wheels with
    every release interpreter (each must get its wheel, accelerator included)."""
    log(f"verifying installs from {target.verify_url} in fresh virtual environments")

    def verify(package: Package) -> str | None:
        others = [i for i in per_python.get(package.project, []) if i.path != Path(sys.executable)]
        try:
            output = verify_install(package, target.verify_url, target.credentials)
            for interpreter in others:
                extra = verify_install(package, target.verify_url, target.credentials, interpreter=interpreter.path)
                output += f"; Python {interpreter.version}: {extra}"
        except ReleaseError as exc:
            return str(exc)
        if output:
            log(f"  installed {package.dist_name} {package.version} from the index: {output}")
        return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(verify, packages))
    for row, error in zip(rows, results, strict=True):
        row.verified = "yes" if error is None else "FAILED"
        row.error = error


def format_table(rows: list[ReleaseRow]) -> str:
    """Render rows as an aligned plain-text table."""
    header = ("package", "version", "upload", "verified")
    cells = [header, *((r.package, r.version, r.upload, r.verified) for r in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def summary(rows: list[ReleaseRow], dry_run: bool) -> str:
    """One closing sentence: what was uploaded, held back or refused, or that nothing was needed."""
    count = sum(len(r.uploaded_files) for r in rows)
    held = sum(len(r.held_back) for r in rows)
    failed = [r.package for r in rows if r.error]
    if failed and not count:
        return f"Nothing was uploaded: {', '.join(failed)} failed the install check."
    parts = []
    if dry_run and count:
        parts.append(f"Dry run: would upload {count} file(s); nothing was uploaded.")
    elif count:
        parts.append(f"Uploaded {count} file(s).")
    if held:
        parts.append(f"{held} file(s) held back: the index does NOT hold this release completely.")
    differs = sum(len(r.differs) for r in rows)
    if differs:
        parts.append(f"{differs} file(s) on the index differ from this build: bump the version to publish it.")
    if failed:
        parts.append(f"{', '.join(failed)} failed verification.")
    if not parts:
        return "Nothing to upload: every file is already on the index."
    return " ".join(parts)
