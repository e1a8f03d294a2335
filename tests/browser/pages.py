"""Steps on the dashboard's pages that several browser tests take the way a researcher does."""

from __future__ import annotations

import re
import secrets

from playwright.sync_api import Page, expect


def register(page: Page, name: str, password: str, institution: str = "") -> str:
    """Register through the form, as a researcher does; returns the (unique) e-mail used."""
    email = f"{name.split()[0].lower()}.{secrets.token_hex(4)}@example.org"
    page.goto("/register")
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#institution", institution)
    page.fill("#password", password)
    page.fill("#confirm", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/annotate$"))
    return email
