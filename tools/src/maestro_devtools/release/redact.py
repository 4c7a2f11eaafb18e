"""Keep credentials out of every line the release pipeline prints."""

from __future__ import annotations

import re
import urllib.parse

MASK = "********"
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
        """Return ``text`` with every registered secret masked."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
