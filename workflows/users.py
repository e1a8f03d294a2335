"""Users as the dashboard and the CLI see them: find, register, edit the profile, and the
dashboard sessions each account has open.

A session is live while its entry is in the account's ``sessions`` set: logging out removes it,
"log out everywhere" and a new password remove them all, so a copied cookie stops working at once.
The cookie holds the session's secret; the set holds only its SHA-256, beside when it started.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from gas import keys, models
from gas.settings import Settings

# Live sessions kept per account; a login past this ends the account's oldest session.
MAX_SESSIONS = 20


class EmailTaken(ValueError):
    """An account with this e-mail exists already."""


def normal_email(email: str) -> str:
    """E-mails are matched without case or surrounding blanks."""
    return email.strip().lower()


def get(settings: Settings, user_id: str) -> models.User | None:
    """The user ``user_id``, or None for a missing user or a string that is no id."""
    if not keys.is_id(user_id):
        return None
    try:
        return models.User.get(user_id)
    except models.DoesNotExist:
        return None


def find_by_email(settings: Settings, email: str) -> models.User | None:
    return models.User.find_by_email(normal_email(email))


def register(
    settings: Settings, *, email: str, name: str, institution: str, password_hash: str
) -> models.User:
    """Store a new account; raises EmailTaken when the e-mail has one already."""
    email = normal_email(email)
    if find_by_email(settings, email) is not None:
        raise EmailTaken(email)
    user = models.User(
        keys.new_id(),
        email=email,
        name=name.strip(),
        institution=institution.strip(),
        password_hash=password_hash,
    )
    user.save_new()
    return user


def update_profile(settings: Settings, user: models.User, *, name: str, institution: str) -> None:
    """Change the name and institution the user shows."""
    user.update(
        actions=[
            models.User.name.set(name.strip()),
            models.User.institution.set(institution.strip()),
        ]
    )


def set_password(settings: Settings, user: models.User, password_hash: str) -> None:
    """Store a new password hash; an outstanding reset link and every session stop working."""
    user.update(
        actions=[
            models.User.password_hash.set(password_hash),
            models.User.password_changed_at.set(models.now()),
            models.User.password_reset_hash.remove(),
            models.User.password_reset_expires_at.remove(),
            models.User.sessions.remove(),
        ]
    )


def ensure_user(settings: Settings, email: str, tier: str = models.FREE) -> models.User:
    """The user with this e-mail, created (with the given tier) if there is none."""
    user = find_by_email(settings, email)
    if user is None:
        email = normal_email(email)
        user = models.User(keys.new_id(), email=email, tier=tier, name=email.split("@")[0])
        user.save()
    return user


# -- dashboard sessions ------------------------------------------------------------------------


def _entry(session_id: str) -> str | None:
    """What the set holds for a session id (``<start>.<secret>``), or None if malformed."""
    started, _, secret = (session_id or "").partition(".")
    if len(started) != 10 or not secret:
        return None
    try:
        int(started, 16)
    except ValueError:
        return None
    return f"{started}.{hashlib.sha256(secret.encode()).hexdigest()}"


def start_session(settings: Settings, user: models.User) -> str:
    """Open a session for ``user``; returns its id (the cookie keeps it). Past
    :data:`MAX_SESSIONS` the oldest sessions of the account end."""
    session_id = f"{int(time.time()):010x}.{secrets.token_urlsafe(32)}"
    entry = _entry(session_id)
    assert entry is not None
    user.update(actions=[models.User.sessions.add({entry})])  # ADD creates the set if missing
    live = sorted(user.sessions or ())
    if len(live) > MAX_SESSIONS:
        user.update(actions=[models.User.sessions.delete(set(live[:-MAX_SESSIONS]))])
    return session_id


def session_is_live(user: models.User, session_id: str | None, max_age_seconds: float) -> bool:
    """Whether the session ``session_id`` of ``user``'s is open and younger than the limit."""
    entry = _entry(session_id or "")
    if entry is None or time.time() - int(entry[:10], 16) > max_age_seconds:
        return False
    return any(hmac.compare_digest(entry, live) for live in user.sessions or ())


def end_session(settings: Settings, user: models.User, session_id: str | None) -> None:
    """End one session of ``user``'s (logging out); other sessions go on."""
    entry = _entry(session_id or "")
    if entry is None:
        return
    user.update(actions=[models.User.sessions.delete({entry})])


def end_all_sessions(settings: Settings, user: models.User) -> None:
    """End every session of ``user``'s, on every device ("log out everywhere")."""
    user.update(actions=[models.User.sessions.remove()])
