"""Keep credentials out of every line the release pipeline prints."""

from __future__ import annotations

import re
import urllib.parse

MASK = "********"
_SHORT = 12  # a secret shorter than this is masked only where it stands alone, not inside words
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")


class Redactor:
    """Replaces registered secrets (and their URL-encoded forms) and URL userinfo with a mask."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        """Register a secret; empty values are ignored."""
        if secret:
            self._secrets.add(secret)
            self._secrets.add(urllib.parse.quote(secret, safe=""))
            self._secrets.add(urllib.parse.quote_plus(secret))

    def __call__(self, text: str) -> str:
        """Return ``text`` with every registered secret masked.

        A long secret is masked wherever it appears; a short one (a weak test password such as
        ``pass``) only where no letter or digit touches it, so "passed" stays readable.
        """
        for secret in sorted(self._secrets, key=len, reverse=True):
            if len(secret) >= _SHORT:
                text = text.replace(secret, MASK)
            else:
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", MASK, text)
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
