"""Upgrade to Premium: take payment (a seam, no provider yet), set the tier, start the thaw."""

from __future__ import annotations

from typing import Protocol

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from gas.models import User
from webapp.security import settings
from workflows import thaw

bp = Blueprint("subscribe", __name__)


class PaymentDeclined(Exception):
    """The payment provider refused; the message is shown to the user."""


class PaymentProvider(Protocol):
    def charge_premium(self, user: User) -> str:
        """Take the Premium payment for ``user``; return a receipt id or raise PaymentDeclined."""


class NoPayment:
    """The provider until a real one plugs in: every upgrade is approved, nothing charged."""

    def charge_premium(self, user: User) -> str:
        return f"free-upgrade:{user.user_id}"


def payments() -> PaymentProvider:
    # Set app.config["PAYMENT_PROVIDER"] to an object with charge_premium() to use a real one.
    return current_app.config.get("PAYMENT_PROVIDER") or NoPayment()


class UpgradeForm(FlaskForm):
    """Just the CSRF token: the upgrade is one button."""


@bp.route("/subscribe", methods=["GET", "POST"])
@login_required
def subscribe() -> str | Response:
    user: User = current_user.record
    form = UpgradeForm()
    if user.is_premium:
        if form.is_submitted():
            flash("You are already on Premium.", "info")
            return redirect(url_for("auth.profile"))
        return render_template("subscribe/subscribe.html", form=form, user=user)
    if form.validate_on_submit():
        try:
            payments().charge_premium(user)
        except PaymentDeclined as declined:
            flash(f"The payment was declined: {declined}", "error")
            return redirect(url_for("subscribe.subscribe"))
        arn = thaw.upgrade(settings(), user)
        if arn:
            flash(
                "Welcome to Premium. Your archived results are being restored; "
                "each job page shows its progress.",
                "success",
            )
        else:
            flash("Welcome to Premium. Your results will stay online.", "success")
        return redirect(url_for("auth.profile"))
    return render_template("subscribe/subscribe.html", form=form, user=user)
