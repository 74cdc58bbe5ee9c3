"""Passwords, API tokens, signed session cookies and CSRF tokens.

- Passwords: argon2id (argon2-cffi defaults), verified in constant time.
- API tokens: 256 random bits shown once; only their SHA-256 is stored.
- Sessions: a signed, timestamped cookie (itsdangerous) holding the user id, a
  fingerprint of the password hash (changing the password ends every session),
  the user's session epoch at sign-in (signing out, a new password or a role
  change bumps it in the database, so copies of an old cookie are refused) and
  the per-session CSRF token. HttpOnly, SameSite=Lax, Secure behind https.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from aggregator.errors import FunnelfeedError

if TYPE_CHECKING:
    from aggregator.runtime import Runtime
    from aggregator.storage import UserRow

log = logging.getLogger(__name__)

ROLES = ("support", "manager", "rep")
SESSION_COOKIE = "ff_session"
SESSION_MAX_AGE = 14 * 24 * 3600
MIN_PASSWORD = 8
"""The shortest password anyone may have: `users add`/`passwd` and FUNNELFEED_ADMIN_PASSWORD alike."""
_hasher = PasswordHasher()
#: Verified against when a username does not exist, so timing does not reveal which names exist.
_DUMMY_HASH = _hasher.hash("funnelfeed-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password: str, what: str = "the password") -> None:
    """Raise FunnelfeedError naming ``what`` when ``password`` is shorter than MIN_PASSWORD."""
    if len(password) < MIN_PASSWORD:
        raise FunnelfeedError(f"{what} must have at least {MIN_PASSWORD} characters")


def verify_password(stored_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_api_token() -> str:
    return secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash: sessions die when the password changes."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def session_secret(env_name: str) -> str:
    """The cookie signing key from the environment, or a random one (sessions end at restart)."""
    value = os.environ.get(env_name, "")
    if value:
        return value
    log.warning("%s is not set: using a random session key; everyone is signed out at each restart",
                env_name)
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Session:
    """What the session cookie carries."""

    csrf: str
    user_id: int | None = None
    fingerprint: str = ""
    epoch: int = 0  # users.session_epoch at sign-in

    @classmethod
    def anonymous(cls) -> Session:
        return cls(csrf=secrets.token_urlsafe(24))

    @classmethod
    def for_user(cls, user: UserRow) -> Session:
        return cls(csrf=secrets.token_urlsafe(24), user_id=user.id,
                   fingerprint=password_fingerprint(user.password_hash), epoch=user.session_epoch)


class SessionCodec:
    """Signs and checks session cookies."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="funnelfeed.session")

    def dumps(self, session: Session) -> str:
        return self._serializer.dumps({"c": session.csrf, "u": session.user_id, "f": session.fingerprint,
                                       "e": session.epoch})

    def loads(self, value: str | None) -> Session | None:
        if not value:
            return None
        try:
            data: Any = self._serializer.loads(value, max_age=SESSION_MAX_AGE)
        except (BadSignature, ValueError, TypeError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        user_id, epoch = data.get("u"), data.get("e", 0)  # cookies from before epochs: epoch 0
        if (user_id is not None and not isinstance(user_id, int)) or not isinstance(epoch, int):
            return None
        return Session(csrf=data["c"], user_id=user_id, fingerprint=str(data.get("f") or ""), epoch=epoch)


def csrf_matches(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


def ensure_admin_from_env(runtime: Runtime) -> UserRow | None:
    """Create or update a support-role administrator from FUNNELFEED_ADMIN_USER/_PASSWORD (as Miniflux).

    Raises FunnelfeedError, before touching the database, when the password is shorter than
    MIN_PASSWORD: the same rule as `funnelfeed users add`, so `serve` refuses to start.
    """
    username = os.environ.get("FUNNELFEED_ADMIN_USER", "").strip()
    password = os.environ.get("FUNNELFEED_ADMIN_PASSWORD", "")
    if password:
        check_password(password, "FUNNELFEED_ADMIN_PASSWORD")
    if not username or not password:
        if username or password:
            log.warning("set both FUNNELFEED_ADMIN_USER and FUNNELFEED_ADMIN_PASSWORD to create an admin")
        return None
    storage = runtime.storage
    existing = storage.user(username)
    if existing is not None and existing.role == "support" and verify_password(existing.password_hash,
                                                                                password):
        return existing  # unchanged: keep existing sessions valid
    user = storage.upsert_user(username, hash_password(password), "support", None, runtime.clock())
    log.info("administrator %r (support role) created or updated from the environment", username)
    return user
