"""The everyday controls a researcher clicks, in headless Chromium against the real local cloud.

Cancel and delete from the job page; a forgotten password, from the e-mail in LocalStack's SES
mailbox to logging in with the new one; several files uploaded at once, each with its progress.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from gas import aws, mail, models
from gas.resources import Resources
from gas.settings import Settings
from tests.browser.pages import register
from tests.inputs import small_vcf

pytestmark = pytest.mark.browser

PASSWORD = "first password 1900"
NEW_PASSWORD = "second password 2000"
JOB_URL = re.compile(r"/annotations/[0-9a-f-]{36}$")


def _log_in(page: Page, email: str, password: str) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("form.card button[type=submit]")


def _log_out(page: Page) -> None:
    page.click("header.top button:has-text('Log out')")
    expect(page).to_have_url(re.compile(r"/login$"))


def test_cancel_then_delete_from_the_job_page(
    page: Page, browser_settings: Settings, tmp_path: Path, artifacts: Path
) -> None:
    register(page, "Cancel", PASSWORD)
    upload = tmp_path / "to-cancel.vcf"
    upload.write_bytes(small_vcf())
    page.set_input_files("#file", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(JOB_URL, timeout=30_000)
    job_id = page.url.rsplit("/", 1)[-1]
    input_key = models.Job.get(job_id).input_key

    # Queued, annotating or waiting out its retention: each can be cancelled from the page.
    page.click("#cancel-job")
    expect(page.locator(".flash-success")).to_contain_text("The job was cancelled")
    expect(page.locator("#job-status .badge")).to_have_text("cancelled")
    assert page.locator("#cancel-job").count() == 0
    assert models.Job.get(job_id).status == models.CANCELLED
    page.screenshot(path=str(artifacts / "job-page-cancelled.png"), full_page=True)

    page.click("#delete-job")
    expect(page).to_have_url(re.compile(r"/annotations$"))
    expect(page.locator(".flash-success")).to_contain_text("the job, its input and its results")
    assert page.locator(f'tr[data-job-id="{job_id}"]').count() == 0
    with pytest.raises(models.DoesNotExist):
        models.Job.get(job_id)
    listed = aws.client(browser_settings, "s3").list_objects_v2(
        Bucket=Resources.of(browser_settings).inputs_bucket, Prefix=input_key
    )
    assert listed.get("KeyCount", 0) == 0
    assert page.goto(f"/annotations/{job_id}").status == 404


def _reset_link(settings: Settings, email: str) -> str:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for message in mail.local_mailbox(settings, to=email):
            if message.subject == "Set a new GAS password":
                found = re.search(r"https?://\S+/reset-password/\S+", message.body)
                assert found, message.body
                return found[0]
        time.sleep(0.3)
    raise AssertionError(f"no reset e-mail to {email} in the SES mailbox")


def test_a_forgotten_password_from_the_email_to_logging_in(
    page: Page, browser_settings: Settings, artifacts: Path
) -> None:
    email = register(page, "Forgetful", PASSWORD)
    _log_out(page)

    page.click("#forgot-password")
    expect(page).to_have_url(re.compile(r"/forgot-password$"))
    page.fill("#email", email)
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-success")).to_contain_text("we have sent it a link")

    link = _reset_link(browser_settings, email)
    assert link.startswith(browser_settings.base_url)
    page.goto(link)
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.screenshot(path=str(artifacts / "reset-password.png"), full_page=True)
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash-success")).to_contain_text("Log in with the new one")

    # The link was for one use only.
    page.goto(link)
    expect(page.locator("#reset-refused")).to_be_visible()

    _log_in(page, email, PASSWORD)
    expect(page.locator(".error")).to_contain_text("Wrong e-mail or password")
    _log_in(page, email, NEW_PASSWORD)
    expect(page).to_have_url(re.compile(r"/annotations$"))


# The page's script records every percentage it shows, so the test sees the progress, not only
# its end; uploads are throttled so that each one takes about a second.
WATCH_PROGRESS = """
window.__shown = {};
new MutationObserver(() => {
  document.querySelectorAll('tr.upload').forEach((row) => {
    const name = row.querySelector('.upload-name').textContent;
    const words = row.querySelector('.upload-state').textContent;
    (window.__shown[name] = window.__shown[name] || []).push(words);
  });
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


def test_several_files_at_once_each_with_its_progress(
    page: Page, browser_settings: Settings, tmp_path: Path, artifacts: Path
) -> None:
    register(page, "Batch", PASSWORD)
    names = ["one.vcf", "two.vcf", "three.vcf"]
    files = []
    for number, name in enumerate(names):
        path = tmp_path / name
        path.write_bytes(small_vcf(1500 + number))
        files.append(str(path))
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 5, "downloadThroughput": -1, "uploadThroughput": 40_000},
    )
    page.evaluate(WATCH_PROGRESS)

    page.set_input_files("#file", files)
    page.click("#upload-form button[type=submit]")
    expect(page.locator("#upload-progress")).to_be_visible()
    expect(page.locator("tr.upload")).to_have_count(3)
    expect(page.locator("#uploads-done")).to_be_visible(timeout=60_000)
    rows = page.locator("tr.upload").all_inner_texts()
    assert page.locator("tr.upload-submitted").count() == 3, rows
    page.screenshot(path=str(artifacts / "upload-several-files.png"), full_page=True)

    shown: dict[str, list[str]] = page.evaluate("window.__shown")
    for name in names:
        percents = {int(w[:-2]) for w in shown.get(name, []) if re.fullmatch(r"\d+ %", w)}
        assert any(0 < p < 100 for p in percents), f"{name}: no progress shown ({shown.get(name)})"
        row = page.locator("tr.upload", has_text=name)
        expect(row.locator("progress")).to_have_attribute("value", "100")
    job_ids = [
        page.locator("tr.upload", has_text=name).get_attribute("data-job-id") for name in names
    ]
    jobs = {job_id: models.Job.get(job_id) for job_id in job_ids}
    assert sorted(job.input_filename for job in jobs.values()) == sorted(names)
    assert len({job.input_key for job in jobs.values()}) == 3

    # Each row links to its job's page.
    page.locator("tr.upload", has_text="two.vcf").locator("a").click()
    expect(page).to_have_url(re.compile(rf"/annotations/{job_ids[1]}$"))
    expect(page.locator("h1")).to_contain_text("two.vcf")
