"""`gas upgrade EMAIL`: make a user premium and thaw their archived results."""

from __future__ import annotations

import click

from gas.settings import Settings
from workflows import thaw, users


@click.command("upgrade")
@click.argument("email")
@click.pass_obj
def upgrade(settings: Settings, email: str) -> None:
    """Upgrade a user to premium; prints the thaw execution's ARN when one starts."""
    user = users.find_by_email(settings, email)
    if user is None:
        raise click.ClickException(f"no user {email}")
    arn = thaw.upgrade(settings, user)
    if arn:
        click.echo(arn)
    else:
        click.echo(f"{user.email} is premium; no thaw to start", err=True)


def register(group: click.Group) -> None:
    group.add_command(upgrade)
