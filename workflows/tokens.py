"""Personal access tokens for the API: made on the profile page, shown once, stored as SHA-256.

A token is ``gas_pat_`` followed by 43 URL-safe characters (256 random bits), so a leaked one is
recognisable in a log or a repository scan. Only its digest is stored; the digest is the table's
key, so checking a token is one GetItem. ``last_used_at`` is written at most once a minute per
token, so a busy script costs reads, not a write per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from gas import keys, models
from gas.settings import Settings

PREFIX = "gas_pat_"
HINT_CHARS = len(PREFIX) + 4
LAST_USED_GRANULARITY = timedelta(minutes=1)
MAX_TOKENS_PER_USER = 20


class TokenRefused(PermissionError):
    """The secret names no token, an expired one, or one whose account is gone."""


class TokenLimitReached(ValueError):
    """The user has as many tokens as one account may hold."""


@dataclass(frozen=True)
class Authenticated:
    """Who a valid token speaks for, and the token itself (its scope)."""

    user: models.User
    token: models.AccessToken


def digest(secret: str) -> str:
    """The stored form of a token: hex SHA-256 (the secret has 256 bits, so no salt or KDF)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_token(secret: str) -> bool:
    return secret.startswith(PREFIX) and 40 <= len(secret) <= 100


def create(
    settings: Settings,
    user: models.User,
    *,
    name: str,
    scope: str,
    expires_in_days: int | None = None,
) -> tuple[str, models.AccessToken]:
    """A new token for ``user``: the secret (to show once) and the stored record."""
    if scope not in models.TOKEN_SCOPES:
        raise ValueError(f"unknown scope {scope!r}")
    if len(for_user(settings, user)) >= MAX_TOKENS_PER_USER:
        raise TokenLimitReached(f"An account may hold {MAX_TOKENS_PER_USER} tokens; revoke one.")
    secret = PREFIX + secrets.token_urlsafe(32)
    expires = models.now() + timedelta(days=expires_in_days) if expires_in_days else None
    token = models.AccessToken(
        digest(secret),
        token_id=keys.new_id(),
        user_id=user.user_id,
        name=name.strip()[:100],
        scope=scope,
        hint=secret[:HINT_CHARS],
        expires_at=expires,
    )
    token.save_new()
    return secret, token


def authenticate(settings: Settings, secret: str, at: datetime | None = None) -> Authenticated:
    """The user and token a secret stands for; raises TokenRefused otherwise."""
    if not looks_like_token(secret):
        raise TokenRefused("not a GAS access token")
    try:
        token = models.AccessToken.get(digest(secret))
    except models.DoesNotExist:
        raise TokenRefused("unknown or revoked token") from None
    moment = at or models.now()
    if token.expires_at is not None and token.expires_at <= moment:
        raise TokenRefused("the token has expired")
    try:
        user = models.User.get(token.user_id)
    except models.DoesNotExist:
        raise TokenRefused("the token's account is gone") from None
    if token.last_used_at is None or moment - token.last_used_at >= LAST_USED_GRANULARITY:
        token.update(actions=[models.AccessToken.last_used_at.set(moment)])
    return Authenticated(user=user, token=token)


def for_user(settings: Settings, user: models.User) -> list[models.AccessToken]:
    """The user's tokens, newest first."""
    return list(models.AccessToken.by_user.query(user.user_id, scan_index_forward=False))


def revoke(settings: Settings, user: models.User, token_id: str) -> bool:
    """Delete the user's token ``token_id``; False when the user has no such token."""
    for token in for_user(settings, user):
        if token.token_id == token_id:
            token.delete()
            return True
    return False


def revoke_all(settings: Settings, user: models.User) -> int:
    """Delete every token of the user's (the account is going); how many there were."""
    found = for_user(settings, user)
    for token in found:
        token.delete()
    return len(found)
