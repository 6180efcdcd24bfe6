"""Users, roles and API tokens, kept by the registry's store.

Roles are ordered: ``viewer`` (read) < ``field`` (add violations, advance statuses) <
``editor`` (edit every layer) < ``admin`` (import, manage users). A token is shown once
when a user is added; the registry keeps only a random salt and a PBKDF2-SHA256 hash
of it, so a copied GeoPackage gives no one a way in.

A token reads ``<name in base64url>.<secret>``: the name lets the server find the one
row to check instead of hashing against every user.

>>> import tempfile, pathlib
>>> from geo.registry import Registry
>>> reg = Registry.create(pathlib.Path(tempfile.mkdtemp()) / "r.gpkg")
>>> token = add_user(reg, "wang", "editor")
>>> authenticate(reg, token).role
'editor'
>>> authenticate(reg, token + "x") is None
True
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from geo.errors import HehuError, NotFoundError

if TYPE_CHECKING:
    from geo.registry import Registry

ROLES = ("viewer", "field", "editor", "admin")
#: Permission changes go to the security log (server/security.py, ``SECURITY_LOG``).
security_log = logging.getLogger("hehu.security")
#: PBKDF2 work factor. Tokens carry 256 random bits, so the hash guards a stolen file,
#: not a guessable password; the verified-token cache keeps requests cheap.
PBKDF2_ITERATIONS = 120_000
_NAME_RE = re.compile(r"^[\w.\-@\u4e00-\u9fff]{1,64}$")


class UserError(HehuError):
    """A bad user name or role, or a name already taken."""

    code = "bad-user"


@dataclass(frozen=True)
class User:
    """A signed-in person: name, role and whether the account is enabled."""

    name: str
    role: str
    active: bool = True
    created_at: str = ""
    #: A short fingerprint of the stored hash: a re-issued token ends old sessions.
    fingerprint: str = ""

    def can(self, role: str) -> bool:
        """Whether this user's role is ``role`` or above."""
        return self.active and ROLES.index(self.role) >= ROLES.index(role)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "role": self.role, "active": self.active, "created_at": self.created_at}


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}", field="role", value=role)
    return role


def _hash(secret: str, salt_hex: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), bytes.fromhex(salt_hex), iterations)
    return digest.hex()


def _salt_field(salt_hex: str, iterations: int) -> str:
    return f"pbkdf2_sha256${iterations}${salt_hex}"


def _parse_salt(field: str) -> tuple[str, int]:
    _, iterations, salt = field.split("$")
    return salt, int(iterations)


def _encode_name(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_name(part: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_user(record: dict[str, Any]) -> User:
    return User(record["name"], record["role"], bool(record["active"]), record["created_at"], record["token_hash"][:12])


def _issue(name: str, iterations: int) -> tuple[str, str, str]:
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    token = f"{_encode_name(name)}.{secret}"
    return token, _salt_field(salt, iterations), _hash(secret, salt, iterations)


def add_user(registry: Registry, name: str, role: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Create a user and return their token (the only time it exists in clear)."""
    check_role(role)
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UserError(
            "user names are 1-64 letters, digits, Chinese characters or . - _ @",
            field="name",
            value=name,
        )
    token, salt, digest = _issue(name, iterations)
    if registry.store.get_user(name) is not None:
        raise UserError(f"user {name!r} already exists", field="name", value=name)
    try:
        registry.store.add_user(
            {"name": name, "role": role, "token_salt": salt, "token_hash": digest, "created_at": _now(), "active": True}
        )
    except HehuError as exc:  # taken between the look and the write
        raise UserError(f"user {name!r} already exists", field="name", value=name) from exc
    security_log.info("user %s added with role %s", name, role)
    return token


def reset_token(registry: Registry, name: str, *, iterations: int = PBKDF2_ITERATIONS) -> str:
    """Issue a new token for ``name`` (the old one and its sessions stop working)."""
    token, salt, digest = _issue(name, iterations)
    if not registry.store.update_user(name, token_salt=salt, token_hash=digest):
        raise NotFoundError(f"no user {name!r}", field="name", value=name)
    security_log.info("token of user %s re-issued (the old one and its sessions end)", name)
    return token


def set_active(registry: Registry, name: str, active: bool) -> None:
    """Disable (or re-enable) a user: a disabled user's token and sessions stop working."""
    if not registry.store.update_user(name, active=bool(active)):
        raise NotFoundError(f"no user {name!r}", field="name", value=name)
    security_log.info("user %s %s", name, "enabled" if active else "disabled")


def list_users(registry: Registry) -> list[User]:
    return [_record_user(r) for r in registry.store.list_users()]


def get_user(registry: Registry, name: str) -> User | None:
    """The user called ``name`` (enabled or not), or None."""
    record = registry.store.get_user(name)
    return None if record is None else _record_user(record)


def token_name(token: str | None) -> str | None:
    """The user name a token claims (its first part), without checking the token."""
    if not token or not isinstance(token, str) or len(token) > 512 or "." not in token:
        return None
    name = _decode_name(token.split(".", 1)[0])
    return name if name and _NAME_RE.match(name) else None


#: Hashed when a token names no user (or a disabled one), so a wrong token costs the same
#: time whether or not its name exists: names cannot be probed by timing.
_DUMMY_SALT = secrets.token_hex(16)


def authenticate(registry: Registry, token: str | None, cache: dict | None = None) -> User | None:
    """The enabled user holding ``token``, or None (unknown, wrong, or disabled).

    ``cache`` (a dict the caller keeps, e.g. per app) remembers tokens already verified
    by a SHA-256 of the token and the stored hash, so a re-issued token or changed hash
    is checked afresh; nothing in it reveals the token.
    """
    if not token or not isinstance(token, str) or len(token) > 512 or "." not in token:
        return None
    name_part, secret = token.split(".", 1)
    name = _decode_name(name_part)
    if not name:
        return None
    record = registry.store.get_user(name)
    if record is None or not record["active"]:
        _hash(secret, _DUMMY_SALT)  # the same work as a wrong token for a real user
        return None
    stored = record["token_hash"]
    key = hashlib.sha256((token + "\x00" + stored).encode("utf-8")).hexdigest()
    if cache is not None and cache.get(key):
        return _record_user(record)
    try:
        salt, iterations = _parse_salt(record["token_salt"])
        ok = hmac.compare_digest(_hash(secret, salt, iterations), stored)
    except (ValueError, TypeError):
        ok = False
    if not ok:
        return None
    if cache is not None:
        if len(cache) > 1000:
            cache.clear()
        cache[key] = True
    return _record_user(record)


# -- signed-out sessions -----------------------------------------------------------------------


def _sid_hash(sid: str) -> str:
    """What the store keeps of a session id: a SHA-256, so a copied file names no session."""
    return hashlib.sha256(("hehu-session\x00" + sid).encode("utf-8")).hexdigest()


def revoke_session(registry, sid: str, user: str, lifetime_s: float) -> None:
    """Sign a session out in the registry: every app server on it (and each after a
    restart) then refuses the session's cookie, until the cookie would have expired
    anyway (``lifetime_s`` from now), when the row is dropped."""
    from datetime import timedelta

    expires = datetime.now(timezone.utc) + timedelta(seconds=float(lifetime_s))
    registry.store.revoke_session(_sid_hash(sid), user, expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def session_revoked(registry, sid: str) -> bool:
    """Whether the session ``sid`` was signed out (on any app server)."""
    return registry.store.session_revoked(_sid_hash(sid))
