"""Build, publish and verify the Maestro packages on a PyPI-compatible index.

The pipeline (``run_release``): refuse unsafe releases (dev/local versions, dirty tree),
read the index's simple pages, build sdist + wheel and ``twine check --strict`` them,
upload only the files the index lacks (twine, or Nexus's Components API), then prove the
index works by installing each package with all its extras into a fresh virtual
environment from that index alone. Credentials never reach the output.
"""

from maestro_devtools.release.errors import (
    CredentialsError,
    IndexUnreachableError,
    ReleaseConfigError,
    ReleaseError,
    ReleaseRefusedError,
    UploadError,
    VerificationError,
)
from maestro_devtools.release.packages import Package, discover_packages
from maestro_devtools.release.pipeline import ReleaseOptions, ReleaseRow, run_release

__all__ = [
    "CredentialsError",
    "IndexUnreachableError",
    "Package",
    "ReleaseConfigError",
    "ReleaseError",
    "ReleaseOptions",
    "ReleaseRefusedError",
    "ReleaseRow",
    "UploadError",
    "VerificationError",
    "discover_packages",
    "run_release",
]
