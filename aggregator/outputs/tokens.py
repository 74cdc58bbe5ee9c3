"""Private feed tokens: 256 random bits, stored only as a hash, compared in constant time.

The token is the whole credential of a rep's feeds (feed readers cannot sign in),
so it is long enough that guessing is hopeless. Because it is random and long,
a plain SHA-256 is enough to store it (no slow password hash is needed), and the
database lookup by hash leaks nothing useful about the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

#: ``secrets.token_urlsafe(32)``: 32 random bytes, 43 URL-safe base64 characters.
TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def new_token() -> str:
    """A fresh 256-bit token, safe to put in a URL path."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def well_formed(token: str) -> bool:
    """Whether ``token`` has the shape of a token we issue (checked before any lookup)."""
    return bool(_TOKEN_RE.match(token))


def hash_token(token: str) -> str:
    """The only form of a token that is ever stored: hex SHA-256."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def hashes_match(stored: str | None, presented: str) -> bool:
    """Constant-time comparison of a stored hash with the hash of a presented token."""
    if not stored:
        return False
    return hmac.compare_digest(stored.encode("ascii"), presented.encode("ascii"))
