"""Accounts: register, log in, log out, profile, a forgotten password, confirming the address and
deleting the account. Passwords are hashed with scrypt (Werkzeug)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import UserMixin, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import EmailField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp

from gas import models
from gas.models import User
from webapp import job_layer
from webapp.extensions import limiter, login_manager
from webapp.security import safe_next, settings
from workflows import accounts, tokens, usage, users

bp = Blueprint("auth", __name__)

# The shape of an address only; that is all the dashboard needs, without email-validator.
EMAIL = Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message="Enter an e-mail address.")

PASSWORD_METHOD = "scrypt"  # noqa: S105 (a hash method name)
# Checked when the e-mail is unknown, so a wrong e-mail takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password", method=PASSWORD_METHOD)


class Account(UserMixin):
    """The logged-in user as Flask-Login sees it; attribute reads go to the stored User."""

    def __init__(self, record: User) -> None:
        self.record = record

    def get_id(self) -> str:
        return self.record.user_id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.record, name)

    @property
    def operator(self) -> bool:
        return bool(self.record.is_operator)


@login_manager.user_loader
def load_user(user_id: str) -> Account | None:
    user = users.get(settings(), user_id)
    if user is None:
        return None
    # The session must still be open on the server: logging out, "log out everywhere" and a new
    # password end it there, so a copy of the cookie is worth nothing afterwards.
    max_age = current_app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    if not users.session_is_live(user, session.get("sid"), max_age):
        return None
    return Account(user)


class RegisterForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    email = EmailField("E-mail", validators=[DataRequired(), EMAIL, Length(max=254)])
    institution = StringField("Institution", validators=[Length(max=200)])
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=10, max=200, message="At least 10 characters.")],
    )
    confirm = PasswordField(
        "Repeat password", validators=[EqualTo("password", message="The passwords differ.")]
    )


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), EMAIL])
    password = PasswordField("Password", validators=[DataRequired()])


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    institution = StringField("Institution", validators=[Length(max=200)])


class TokenForm(FlaskForm):
    token_name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
    scope = SelectField(
        "Scope",
        choices=[SelectChoice(models.READ_ONLY, "read-only"), SelectChoice(models.READ_WRITE)],
        default=models.READ_ONLY,
    )
    expires_in_days = IntegerField(
        "Expires after (days; empty: never)",
        validators=[Optional(), NumberRange(min=1, max=3650)],
    )


class RevokeForm(FlaskForm):
    """Just the CSRF token: revoking is one button per token."""


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), EMAIL, Length(max=254)])


class NewPasswordForm(FlaskForm):
    """A new password, typed twice: the reset form, and the part of the change form after the
    current password."""

    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=10, max=200, message="At least 10 characters.")],
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[EqualTo("new_password", message="The passwords differ.")],
    )


class DeleteAccountForm(FlaskForm):
    delete_password = PasswordField("Your password", validators=[DataRequired()])


class EndSessionsForm(FlaskForm):
    """Just the CSRF token: one button logs out everywhere."""


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])


def _start_session(user: User) -> None:
    # A fresh session on login, so nothing planted before it survives (session fixation).
    session.clear()
    session["sid"] = users.start_session(settings(), user)
    login_user(Account(user))


def _end_session() -> None:
    """Log out here: the session ends on the server, then the cookie is emptied."""
    if current_user.is_authenticated:
        users.end_session(settings(), current_user.record, session.get("sid"))
    logout_user()
    session.clear()


def needs_confirmation() -> bool:
    """Whether the logged-in user must confirm their address before uploading."""
    return job_layer.unconfirmed(settings(), current_user.record) is not None


def _send_confirmation(user: User) -> bool:
    try:
        accounts.send_confirmation(settings(), current_app.config["SECRET_KEY"], user)
    except Exception:  # SES refusing (an unverified sandbox address) must not lose the account
        current_app.logger.exception("confirmation e-mail to user %s not sent", user.user_id)
        return False
    return True


# What registering says when the address must be confirmed: the same for a new address and one
# that has an account (whose owner is e-mailed instead), so the form tells nobody who has one.
CHECK_YOUR_MAIL = (
    "Thank you. We have sent a message to {email}: open the link in it to confirm the address, "
    "then log in. No message after a few minutes? Log in and ask for the link again on the "
    "upload page."
)


@bp.route("/register", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("annotations.list_jobs"))
    form = RegisterForm()
    if form.validate_on_submit():
        confirming = settings().require_email_confirmation
        try:
            user = users.register(
                settings(),
                email=form.email.data,
                name=form.name.data,
                institution=form.institution.data or "",
                password_hash=generate_password_hash(form.password.data, method=PASSWORD_METHOD),
            )
        except users.EmailTaken:
            if not confirming:
                form.email.errors.append("An account with this e-mail exists; log in instead.")
                return render_template("auth/register.html", form=form)
            # The same answer as for a new address: the form does not tell who has an account.
            try:
                accounts.notify_registration_attempt(settings(), form.email.data)
            except Exception:
                current_app.logger.exception("registration-attempt e-mail not sent")
            return _check_your_mail(form.email.data)
        if confirming:
            # No session until the address is confirmed and the owner logs in: an address that
            # has an account gets this same answer.
            _send_confirmation(user)
            return _check_your_mail(user.email)
        _start_session(user)
        flash("Welcome to GAS. Upload a VCF file to annotate it.", "success")
        return redirect(url_for("annotations.annotate"))
    return render_template("auth/register.html", form=form)


def _check_your_mail(email: str) -> Response:
    flash(CHECK_YOUR_MAIL.format(email=email.strip()), "success")
    return redirect(url_for("auth.login"))


def _account_and_address(kind: str, account: str) -> str:
    return f"{kind}:{account[:254]}:{request.remote_addr}"


def _login_account_key() -> str:
    return _account_and_address("login", users.normal_email(request.form.get("email", "")))


def _login_address_key() -> str:
    return f"login-address:{request.remote_addr}"


def _failed(response: Response) -> bool:
    """A login that did not succeed (a success redirects): only these count against a limit."""
    return response.status_code != 302


# Failed logins are limited per (account, address), so guessing one account's password from one
# address holds back that pair only: not the others behind the same NAT, nor the owner elsewhere.
# A looser limit per address stops one address from trying password after password on many
# accounts.
@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    methods=["POST"],
    key_func=_login_account_key,
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"],
    methods=["POST"],
    key_func=_login_address_key,
    deduct_when=_failed,
)
def login() -> str | Response:
    target = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(target or url_for("annotations.list_jobs"))
    form = LoginForm()
    if form.validate_on_submit():
        user = users.find_by_email(settings(), form.email.data)
        stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
        if check_password_hash(stored, form.password.data) and user is not None:
            _start_session(user)
            return redirect(target or url_for("annotations.list_jobs"))
        form.password.errors.append("Wrong e-mail or password.")
    return render_template("auth/login.html", form=form)


def _forgot_key() -> str:
    return _account_and_address("forgot", users.normal_email(request.form.get("email", "")))


def _reset_key() -> str:
    user_id = request.view_args.get("user_id", "") if request.view_args else ""
    return _account_and_address("reset", str(user_id))


def _reset_address_key() -> str:
    return f"reset-address:{request.remote_addr}"


RESET_SENT = (
    "If an account uses {email}, we have sent it a link to set a new password. "
    "The link works once, within {minutes} minutes."
)


# Like logging in: per (account, address), and looser per address.
@bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=_forgot_key
)
@limiter.limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"],
    methods=["POST"],
    key_func=_reset_address_key,
)
def forgot_password() -> str | Response:
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.request_password_reset(settings(), form.email.data)
        except Exception:  # the same answer whatever happened, so nobody learns who has an account
            current_app.logger.exception("password reset e-mail not sent")
        minutes = settings().password_reset_seconds // 60
        flash(RESET_SENT.format(email=form.email.data.strip(), minutes=minutes), "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


@bp.route("/reset-password/<user_id>/<secret>", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"], key_func=_reset_key
)
@limiter.limit(
    lambda: current_app.config["LOGIN_ADDRESS_RATE_LIMIT"],
    methods=["POST"],
    key_func=_reset_address_key,
)
def reset_password(user_id: str, secret: str) -> str | Response | tuple[str, int]:
    if not accounts.reset_is_open(settings(), user_id, secret):
        return render_template("auth/reset_password.html", form=None), 410
    form = NewPasswordForm()
    if form.validate_on_submit():
        new_hash = generate_password_hash(form.new_password.data, method=PASSWORD_METHOD)
        try:
            accounts.reset_password(settings(), user_id, secret, new_hash)
        except accounts.ResetRefused:
            return render_template("auth/reset_password.html", form=None), 410
        logout_user()
        session.clear()
        flash("Your password was changed. Log in with the new one.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/reset_password.html", form=form)


@bp.route("/confirm-email/<token>")
def confirm_email(token: str) -> Response:
    try:
        accounts.confirm(settings(), current_app.config["SECRET_KEY"], token)
    except accounts.ConfirmationRefused:
        flash(
            "That confirmation link is not valid or has expired. Log in and ask for a new one "
            "on the upload page.",
            "error",
        )
        return redirect(url_for("auth.login"))
    flash("Thank you: your e-mail address is confirmed. You can upload VCF files now.", "success")
    if current_user.is_authenticated:
        return redirect(url_for("annotations.annotate"))
    return redirect(url_for("auth.login"))


def _user_key() -> str:
    return f"confirm:{current_user.get_id() if current_user.is_authenticated else ''}"


@bp.post("/confirm-email/send")
@login_required
@limiter.limit(lambda: current_app.config["CONFIRM_RATE_LIMIT"], key_func=_user_key)
def resend_confirmation() -> Response:
    if job_layer.ResendConfirmationForm().validate_on_submit() and needs_confirmation():
        user: User = current_user.record
        if _send_confirmation(user):
            flash(f"We sent a new confirmation link to {user.email}.", "success")
        else:
            flash("The e-mail could not be sent just now; please try again later.", "error")
    return redirect(url_for("annotations.annotate"))


# A POST (CSRFProtect checks its token), so no other site can log a user out.
@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    _end_session()
    return redirect(url_for("auth.login"))


@bp.post("/profile/sessions/end")
@login_required
def end_all_sessions() -> Response:
    """Log out everywhere: every session of the account ends, this one included."""
    if not EndSessionsForm().validate_on_submit():
        return redirect(url_for("auth.profile"))
    users.end_all_sessions(settings(), current_user.record)
    logout_user()
    session.clear()
    flash("You were logged out everywhere: every session of your account has ended.", "success")
    return redirect(url_for("auth.login"))


def _profile_page(user: User, **forms: Any) -> str:
    """The profile with its forms; ``new_secret`` is a token shown this once, never stored."""
    try:
        used = usage.of(settings(), user)
    except Exception:  # a slow listing must not take the profile down
        current_app.logger.exception("profile: usage unavailable")
        used = None
    context: dict[str, Any] = {
        "form": ProfileForm(obj=user, formdata=None),
        "token_form": TokenForm(formdata=None),
        "revoke_form": RevokeForm(formdata=None),
        "password_form": ChangePasswordForm(formdata=None),
        "delete_form": DeleteAccountForm(formdata=None),
        "end_sessions_form": EndSessionsForm(formdata=None),
        "open_sessions": len(user.sessions or ()),
        "needs_confirmation": accounts.needs_confirmation(settings(), user),
        "new_secret": None,
    }
    context.update(forms)
    return render_template(
        "auth/profile.html",
        user=user,
        usage=used,
        tokens=tokens.for_user(settings(), user),
        now=models.now(),
        **context,
    )


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> str | Response:
    user: User = current_user.record
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        users.update_profile(
            settings(), user, name=form.name.data, institution=form.institution.data or ""
        )
        flash("Profile saved.", "success")
        return redirect(url_for("auth.profile"))
    return _profile_page(user, form=form)


@bp.post("/profile/tokens")
@login_required
def create_token() -> str | Response:
    user: User = current_user.record
    form = TokenForm()
    if not form.validate_on_submit():
        return _profile_page(user, token_form=form)
    try:
        secret, _ = tokens.create(
            settings(),
            user,
            name=form.token_name.data,
            scope=form.scope.data,
            expires_in_days=form.expires_in_days.data,
        )
    except tokens.TokenLimitReached as refused:
        flash(str(refused), "error")
        return redirect(url_for("auth.profile"))
    # Shown in this response only: a redirect would have to carry it in the (readable) session.
    return _profile_page(user, new_secret=secret)


@bp.post("/profile/tokens/<token_id>/revoke")
@login_required
def revoke_token(token_id: str) -> Response:
    if RevokeForm().validate_on_submit():
        if tokens.revoke(settings(), current_user.record, token_id):
            flash("The token was revoked.", "success")
        else:
            flash("No such token.", "error")
    return redirect(url_for("auth.profile"))


@bp.post("/profile/password")
@login_required
def change_password() -> str | Response:
    user: User = current_user.record
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not (
            user.password_hash
            and check_password_hash(user.password_hash, form.current_password.data)
        ):
            form.current_password.errors.append("That is not your current password.")
        else:
            users.set_password(
                settings(),
                user,
                generate_password_hash(form.new_password.data, method=PASSWORD_METHOD),
            )
            _start_session(user)  # a fresh session: one planted before the change is worthless
            flash("Password changed.", "success")
            return redirect(url_for("auth.profile"))
    return _profile_page(user, password_form=form)


@bp.post("/profile/delete")
@login_required
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"], key_func=lambda: f"delete:{_user_key()}"
)
def delete_account() -> str | Response:
    """Delete the account and everything stored for it, after the password is given again."""
    user: User = current_user.record
    form = DeleteAccountForm()
    if not form.validate_on_submit():
        return _profile_page(user, delete_form=form)
    given = form.delete_password.data
    if not (user.password_hash and check_password_hash(user.password_hash, given)):
        form.delete_password.errors.append("That is not your password; nothing was deleted.")
        return _profile_page(user, delete_form=form)
    try:
        deleted = accounts.delete_account(settings(), user)
    except accounts.AccountBusy as busy:
        flash(str(busy), "error")
        return redirect(url_for("auth.profile"))
    logout_user()
    session.clear()
    cancelled = (
        f" ({deleted.cancelled} running or queued first cancelled)" if deleted.cancelled else ""
    )
    flash(
        f"Your account was deleted, with its {deleted.jobs} jobs{cancelled}, their files and "
        "your access tokens.",
        "success",
    )
    return redirect(url_for("auth.login"))
