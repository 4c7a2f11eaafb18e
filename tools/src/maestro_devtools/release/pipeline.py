"""The release pipeline: check, read the index, build, upload what is missing, verify."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from maestro_devtools.release.build import BuiltPackage, build_package
from maestro_devtools.release.checks import refuse_dirty_tree, refuse_unreleasable_version
from maestro_devtools.release.errors import ReleaseError
from maestro_devtools.release.index import IndexFile, IndexReader
from maestro_devtools.release.packages import Package, discover_packages
from maestro_devtools.release.target import Target
from maestro_devtools.release.upload import make_uploader
from maestro_devtools.release.verify import verify_install

Log = Callable[[str], None]


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


@dataclass
class ReleaseRow:
    """One line of the final table."""

    package: str
    version: str
    upload: str
    verified: str = "-"
    uploaded_files: list[str] = field(default_factory=list)
    error: str | None = None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


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
        elif held.sha256 and held.sha256 != _sha256(path):
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


def _upload_status(missing: list[Path], total: int, dry_run: bool, held: list[Path]) -> str:
    if held:
        return f"held back {len(held)} of {total}"
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
    if not options.allow_dirty:
        refuse_dirty_tree(options.root)

    reader = IndexReader(target.simple_url, target.credentials)
    try:
        listings = {p.project: reader.files(p.project) for p in packages}
    finally:
        reader.close()

    # Build everything before uploading anything: a package that fails to build must not
    # leave the index with half a release.
    dist_root = options.dist_root or options.root / "dist"
    builds = []
    for package in packages:
        log(f"building {package.dist_name} {package.version}")
        builds.append(build_package(package, dist_root))

    rows: list[ReleaseRow] = []
    uploader = make_uploader(target, log, verbose=options.verbose)
    for built in builds:
        package = built.package
        missing, held = _compare(built, listings[package.project], log)
        row = ReleaseRow(
            package.dist_name, package.version, _upload_status(missing, len(built.files), options.dry_run, held)
        )
        if missing and not options.dry_run:
            log(f"uploading {', '.join(p.name for p in missing)}")
            uploader.upload(missing)
        row.uploaded_files = [p.name for p in missing]
        rows.append(row)

    if options.dry_run:
        for row in rows:
            row.verified = "skipped (dry run)"
        return rows
    if not options.verify:
        for row in rows:
            row.verified = "skipped"
        return rows
    _verify_all(packages, rows, target, log)
    return rows


def _verify_all(packages: list[Package], rows: list[ReleaseRow], target: Target, log: Log) -> None:
    log(f"verifying installs from {target.verify_url} in fresh virtual environments")

    def verify(package: Package) -> str | None:
        try:
            verify_install(package, target.verify_url, target.credentials)
        except ReleaseError as exc:
            return str(exc)
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
    """One closing sentence: what was uploaded, or that nothing was."""
    count = sum(len(r.uploaded_files) for r in rows)
    if count == 0:
        return "Nothing to upload: every file is already on the index."
    if dry_run:
        return f"Dry run: would upload {count} file(s); nothing was uploaded."
    return f"Uploaded {count} file(s)."
