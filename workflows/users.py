"""Users as the workflows see them: find or create by e-mail."""

from __future__ import annotations

from gas import keys, models
from gas.settings import Settings


def ensure_user(settings: Settings, email: str, tier: str = models.FREE) -> models.User:
    """The user with this e-mail, created (with the given tier) if there is none."""
    models.bind(settings)
    email = email.strip().lower()
    user = models.User.find_by_email(email)
    if user is None:
        user = models.User(keys.new_id(), email=email, tier=tier, name=email.split("@")[0])
        user.save()
    return user
