"""A file whose name is not ASCII, uploaded in headless Chromium with JavaScript and without it:
the job keeps the name as the researcher gave it either way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gas import models
from tests.browser.pages import register
from tests.inputs import small_vcf

pytestmark = pytest.mark.browser

PASSWORD = "names in any script 1"
JOB_URL = re.compile(r"/annotations/[0-9a-f-]{36}$")


def _upload(page: Page, path: Path) -> models.Job:
    page.goto("/annotate")
    page.set_input_files("#file", str(path))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(JOB_URL, timeout=30_000)
    return models.Job.get(page.url.rsplit("/", 1)[-1])


@pytest.mark.parametrize("javascript", [True, False], ids=["with-javascript", "without"])
def test_a_name_in_any_script_is_kept(
    browser, dashboard: str, tmp_path: Path, artifacts: Path, javascript: bool
) -> None:
    context = browser.new_context(base_url=dashboard, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        register(page, "Names", PASSWORD)
        path = tmp_path / "ünï名 données.vcf"
        path.write_bytes(small_vcf(5))
        job = _upload(page, path)
        assert job.input_filename == "ünï名 données.vcf"
        expect(page.locator("main")).to_contain_text("ünï名 données.vcf")
        mode = "with" if javascript else "without"
        page.screenshot(path=str(artifacts / f"upload-unicode-name-{mode}-js.png"), full_page=True)
    finally:
        context.close()
