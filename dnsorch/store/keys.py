"""API keys: who may do what. Keys are shown once, stored only as SHA-256 hashes.

A key reads `dnsorch_<id>_<secret>`: the id finds the row, the hash of the whole key proves it.
The secret is 256 random bits, so a fast hash is enough (nothing to brute-force, unlike a password).
Roles are ordered: a submitter creates and reads its own account's requests, an operator reads
every account's and steers them, an admin also manages keys.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, select

from dnsorch.store.models import ApiKey

PREFIX = "dnsorch"
_KEY_RE = re.compile(rf"^{PREFIX}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")


class Role(enum.IntEnum):
    SUBMITTER = 1
    OPERATOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}: submitter, operator or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Principal:
    """Who is calling: what a valid key stands for."""

    key_id: str
    name: str
    account_id: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role >= role

    def sees_account(self, account_id: str) -> bool:
        """Operators and admins see every account; a submitter only its own."""
        return self.may(Role.OPERATOR) or account_id == self.account_id

    @property
    def actor(self) -> str:
        """How the request timeline names this caller."""
        return f"{self.name} ({self.role.label})"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(engine: Engine, account_id: str, role: str, name: str) -> tuple[ApiKey, str]:
    """A new key for `account_id` with `role`; returns the row and the key, which is never stored."""
    parsed = Role.parse(role)
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    row = ApiKey(id=key_id, name=name, account_id=account_id, role=parsed.label, key_hash=hash_key(key))
    with Session(engine, expire_on_commit=False) as session:
        session.add(row)
        session.commit()
    return row, key


def list_keys(engine: Engine, include_revoked: bool = False) -> list[ApiKey]:
    with Session(engine) as session:
        query = select(ApiKey).order_by(ApiKey.created_at)  # type: ignore[arg-type]
        if not include_revoked:
            query = query.where(ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
        return list(session.exec(query))


def key_id_of(text: str) -> str:
    """The id of a key given either as its id or as the whole key (so a leaked key can be pasted)."""
    match = _KEY_RE.match(text.strip())
    return match.group(1) if match else text.strip()


def revoke_key(engine: Engine, key_id: str) -> bool:
    """Revoke: the API refuses the key once its cache of valid keys lets go of it, within
    API_KEY_CACHE_SECONDS (5 s by default); False if no such active key."""
    with Session(engine) as session:
        row = session.get(ApiKey, key_id)
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.commit()
        return True


def authenticate(engine: Engine, key: str) -> Principal | None:
    """The principal of an active key, or None for anything else (malformed, unknown, revoked)."""
    match = _KEY_RE.match(key)
    if match is None:
        return None
    with Session(engine) as session:
        row = session.get(ApiKey, match.group(1))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, hash_key(key)):
        return None
    return Principal(row.id, row.name, row.account_id, Role.parse(row.role))
