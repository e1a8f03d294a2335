"""Accounts: register, log in, log out, profile. Passwords are hashed with scrypt (Werkzeug)."""

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
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from gas.models import User
from webapp import limiter, login_manager
from webapp.security import safe_next, settings
from workflows import users

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
    return Account(user) if user is not None else None


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


def _start_session(user: User) -> None:
    # A fresh session on login, so nothing planted before it survives (session fixation).
    session.clear()
    login_user(Account(user))


@bp.route("/register", methods=["GET", "POST"])
def register() -> str | Response:
    if current_user.is_authenticated:
        return redirect(url_for("annotations.list_jobs"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = users.register(
                settings(),
                email=form.email.data,
                name=form.name.data,
                institution=form.institution.data or "",
                password_hash=generate_password_hash(form.password.data, method=PASSWORD_METHOD),
            )
        except users.EmailTaken:
            form.email.errors.append("An account with this e-mail exists; log in instead.")
        else:
            _start_session(user)
            flash("Welcome to GAS. Upload a VCF file to annotate it.", "success")
            return redirect(url_for("annotations.annotate"))
    return render_template("auth/register.html", form=form)


def _login_key() -> str:
    return f"login:{request.remote_addr}"


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    methods=["POST"],
    key_func=_login_key,
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


# A POST (CSRFProtect checks its token), so no other site can log a user out.
@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


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
    return render_template("auth/profile.html", form=form, user=user)
