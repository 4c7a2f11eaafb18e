"""Errors of the release pipeline; each message says what was wrong and what to do.

ReleaseError                  base; the CLI prints its message and exits 1
├── ReleaseConfigError        the configuration (environment, ~/.pypirc) is unusable
├── ReleaseRefusedError       a safety rule refuses the release (dev version, dirty tree)
├── IndexUnreachableError     the index does not answer
├── CredentialsError          the index refused the credentials (401/403)
├── UploadError               an upload failed for another reason
└── VerificationError         installing from the index or importing failed
"""


class ReleaseError(Exception):
    """Base of every error the release pipeline reports to a person."""


class ReleaseConfigError(ReleaseError):
    """The publishing configuration is missing or inconsistent."""


class ReleaseRefusedError(ReleaseError):
    """A safety rule refuses to publish (``.dev``/``+local`` version, dirty work tree)."""


class IndexUnreachableError(ReleaseError):
    """The package index could not be reached at all."""


class CredentialsError(ReleaseError):
    """The index answered 401 or 403 to our credentials."""


class UploadError(ReleaseError):
    """An upload failed for a reason other than credentials."""


class VerificationError(ReleaseError):
    """A package could not be installed from the index, or did not import."""
