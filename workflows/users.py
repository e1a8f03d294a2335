"""Users as the dashboard and the CLI see them: find, register, edit the profile."""

from __future__ import annotations

from gas import keys, models
from gas.settings import Settings


class EmailTaken(ValueError):
    """An account with this e-mail exists already."""


def normal_email(email: str) -> str:
    """E-mails are matched without case or surrounding blanks."""
    return email.strip().lower()


def get(settings: Settings, user_id: str) -> models.User | None:
    """The user ``user_id``, or None for a missing user or a string that is no id."""
    if not keys.is_id(user_id):
        return None
    models.bind(settings)
    try:
        return models.User.get(user_id)
    except models.DoesNotExist:
        return None


def find_by_email(settings: Settings, email: str) -> models.User | None:
    models.bind(settings)
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
    models.bind(settings)
    user.update(
        actions=[
            models.User.name.set(name.strip()),
            models.User.institution.set(institution.strip()),
        ]
    )


def set_password(settings: Settings, user: models.User, password_hash: str) -> None:
    """Store a new password hash; an outstanding reset link and other sessions stop working."""
    models.bind(settings)
    user.update(
        actions=[
            models.User.password_hash.set(password_hash),
            models.User.password_changed_at.set(models.now()),
            models.User.password_reset_hash.remove(),
            models.User.password_reset_expires_at.remove(),
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
