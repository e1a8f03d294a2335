"""A researcher's whole path through the dashboard, in headless Chromium.

register → upload a VCF → watch it reach completed without reloading → download the result
→ (short retention) see it archived → upgrade → see it restored → download it again.
Screenshots of the job page at each stage go to test-artifacts/.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.pages import register
from tests.inputs import SMALL_VCF_VARIANTS

pytestmark = pytest.mark.browser

NEEDED_FOR_RESULTS = {"annotate", "notify", "archive", "record-failure"}
NEEDED_FOR_RESTORE = {"restore", "restore-requests", "restore-events"}


def _shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"job-page-{name}.png"), full_page=True)


def _download_annotated(page: Page, tmp_path: Path, name: str) -> str:
    with page.expect_download() as info:
        page.click("#download-annotated")
    target = tmp_path / name
    info.value.save_as(target)
    return target.read_text()


def test_register_upload_complete_download_archive_upgrade_restore(
    page: Page,
    workers: set[str],
    vcf: bytes,
    tmp_path: Path,
    artifacts: Path,
    retention_seconds: int,
) -> None:
    missing = NEEDED_FOR_RESULTS - workers
    if missing:
        pytest.skip(f"`gas worker {'/'.join(sorted(missing))}` has not landed yet")

    # Register.
    register(page, "Barbara McClintock", "jumping genes 1948", "Cold Spring Harbor")

    # Upload a VCF: the browser posts it to S3, which sends it back to submit the job.
    upload = tmp_path / "calls.vcf"
    upload.write_bytes(vcf)
    page.set_input_files("#file", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/annotations/[0-9a-f-]{36}$"), timeout=30_000)
    job_id = page.url.rsplit("/", 1)[-1]
    _shot(page, artifacts, "1-submitted")

    # The list shows it reach completed without a reload.
    page.goto("/annotations")
    page.evaluate("window.__sameDocument = true")
    badge = page.locator(f'tr[data-job-id="{job_id}"] .badge')
    expect(badge).to_have_text("completed", timeout=120_000)
    assert page.evaluate("window.__sameDocument") is True, "the list page was reloaded"

    # The job page: graph, results, download.
    page.goto(f"/annotations/{job_id}")
    expect(page.locator('[data-state="Annotate"]')).to_have_attribute(
        "data-state-status", "succeeded"
    )
    expect(page.locator("#countdown-note")).to_be_visible()
    _shot(page, artifacts, "2-completed")
    annotated = _download_annotated(page, tmp_path, "first.vcf")
    assert annotated.startswith("##fileformat=VCF")
    assert "GAS_" in annotated
    page.click("#log-link")
    expect(page.locator("#log")).to_contain_text(
        f"Total number of variants (records): {SMALL_VCF_VARIANTS}"
    )
    page.go_back()

    # After the (short) retention the job page sees it archived, still without a reload.
    page.evaluate("window.__sameDocument = true")
    expect(page.locator("#job-status .badge")).to_have_text(
        "archived", timeout=(retention_seconds + 90) * 1000
    )
    assert page.evaluate("window.__sameDocument") is True, "the job page was reloaded"
    page.goto(f"/annotations/{job_id}")
    expect(page.locator("#archived-note")).to_be_visible()
    assert page.locator("#download-annotated").count() == 0
    _shot(page, artifacts, "3-archived")

    # Upgrade, and watch the results come back.
    if importlib.util.find_spec("workflows.thaw") is None:
        pytest.skip("upgrade → restore: workflows.thaw (upgrade and the thaw) has not landed yet")
    missing = NEEDED_FOR_RESTORE - workers
    if missing:
        pytest.skip(f"upgrade → restore: `gas worker {'/'.join(sorted(missing))}` not landed yet")
    page.click("#upgrade-link")
    expect(page).to_have_url(re.compile(r"/subscribe$"))
    page.click("#upgrade")
    expect(page.locator("#plan")).to_contain_text("Premium")
    page.goto(f"/annotations/{job_id}")
    expect(page.locator("#job-status .badge")).to_have_text("completed", timeout=240_000)
    page.goto(f"/annotations/{job_id}")
    _shot(page, artifacts, "4-restored")
    restored = _download_annotated(page, tmp_path, "restored.vcf")
    assert restored == annotated
