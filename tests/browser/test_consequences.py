"""Consequences where a researcher looks, in headless Chromium: the job page's chart and gene
summary count by consequence, the variant browser filters by consequence and by impact, and the
exports of the filtered view carry the filter.

The job is placed finished, its results written by ``annotator.outputs`` from annotated VCF text
that carries the consequence INFO fields (as the consequence engine writes them), so these tests
do not depend on which engine the annotate worker runs. What the page shows and what the exports
hold are checked against the job's own TSV, filtered in Python. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pysam
import pytest
from playwright.sync_api import Page, expect

from annotator import columns, terms
from gas.settings import Settings
from tests.browser.pages import register
from tests.inputs import consequence_annotated_vcf
from tests.integration import placed_jobs
from workflows import users

pytestmark = pytest.mark.browser

COLUMNS = list(columns.NAMES)
PER_PAGE = 50


def _place_job(
    settings: Settings, email: str, work: Path, consequences: bool = True
) -> tuple[str, list[dict[str, str]]]:
    """A finished job of the researcher's, from consequence-annotated VCF text (``consequences``
    false: a job from before consequences); (job id, its TSV rows)."""
    user = users.find_by_email(settings, email)
    assert user is not None
    job, rows = placed_jobs.job_with_outputs(
        settings,
        user,
        consequence_annotated_vcf(records=220, consequences=consequences),
        work,
        before_consequences=not consequences,
    )
    return job.job_id, rows


def _shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"consequences-{name}.png"), full_page=True)


def _shown_rows(page: Page) -> list[dict[str, str]]:
    """The variant table's rows as the page shows them, in the TSV's column order (the page has
    its own order, and a links column)."""
    names = page.locator("#variant-table thead th").evaluate_all(
        "cells => cells.map(c => c.textContent.trim().split(' ')[0])"
    )
    assert sorted(names) == sorted([*COLUMNS, "links"]), names
    cells = page.locator("#variant-table tbody tr").evaluate_all(
        "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent.trim()))"
    )
    shown = [dict(zip(names, row, strict=True)) for row in cells]
    return [{column: row[column] for column in COLUMNS} for row in shown]


def _every_page(page: Page) -> list[dict[str, str]]:
    shown = _shown_rows(page)
    while page.locator("#page-next").count():
        page.click("#page-next")
        shown += _shown_rows(page)
    return shown


def _download(page: Page, selector: str, target: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    info.value.save_as(target)
    return target


def test_the_job_page_charts_alleles_by_consequence_and_each_bar_opens_the_browser(
    page: Page, browser_settings: Settings, tmp_path: Path, artifacts: Path
) -> None:
    email = register(page, "Pauline Ng", "sift 2003 sorting intolerant")
    job_id, rows = _place_job(browser_settings, email, tmp_path / "job")
    page.goto(f"/annotations/{job_id}")
    chart = page.locator("#consequence-chart")
    expect(chart).to_be_visible()
    _shot(page, artifacts, "1-job-page")

    # One bar per consequence the alleles have, the most severe first, with its count.
    counts = Counter(r["consequence"] for r in rows)
    labels = chart.locator("a.chart-link").evaluate_all(
        "links => links.map(a => a.dataset.consequence)"
    )
    assert labels == [t for t in terms.TERM_NAMES if t in counts]
    values = chart.locator("text.chart-value").all_text_contents()
    assert [int(v) for v in values] == [counts[t] for t in labels]
    bars = chart.locator("rect.bar").evaluate_all("bars => bars.map(b => b.getAttribute('class'))")
    assert bars == [f"bar impact-{terms.impact(t).lower()}" for t in labels]
    by_impact = Counter(r["impact"] for r in rows)
    for impact in terms.IMPACTS:
        expect(page.locator(f'#impact-counts a[data-impact="{impact}"]')).to_have_text(
            f"{impact} {by_impact[impact]:,}"
        )

    # The gene summary counts each gene's alleles by consequence too, most severe first.
    tp53 = page.locator("table.genes tr", has=page.locator("td a", has_text=re.compile("^TP53$")))
    tp53_counts = Counter(r["consequence"] for r in rows if "TP53" in r["gene"].split("|"))
    expected = " · ".join(f"{t} {tp53_counts[t]}" for t in terms.TERM_NAMES if t in tp53_counts)
    expect(tp53.locator("td.gene-consequences")).to_have_text(expected)

    # A bar opens the browser filtered by that consequence.
    chart.locator('a.chart-link[data-consequence="missense_variant"]').click()
    page.wait_for_url(re.compile(r"consequence=missense_variant"))
    missense = [r for r in rows if r["consequence"] == "missense_variant"]
    expect(page.locator("#matching")).to_have_text(f"{len(missense):,}")
    expect(page.locator("#filter-consequence-missense_variant")).to_be_checked()
    expect(page.locator("#consequence-chosen")).to_have_text("missense_variant")
    assert _every_page(page) == missense
    _shot(page, artifacts, "2-missense")

    # A gene's consequence opens the browser filtered by both.
    page.goto(f"/annotations/{job_id}")
    tp53.locator("td.gene-consequences a", has_text="stop_gained").click()
    page.wait_for_url(re.compile(r"consequence=stop_gained"))
    both = [r for r in rows if r["consequence"] == "stop_gained" and "TP53" in r["gene"].split("|")]
    expect(page.locator("#matching")).to_have_text(f"{len(both):,}")
    expect(page.locator("#filter-gene")).to_have_value("TP53")


def test_filter_by_impact_and_consequence_then_export(
    page: Page, browser_settings: Settings, tmp_path: Path, artifacts: Path
) -> None:
    email = register(page, "Will McLaren", "variant effect predictor 2016")
    job_id, rows = _place_job(browser_settings, email, tmp_path / "job")
    page.goto(f"/annotations/{job_id}")
    expect(page.locator("#matching")).to_have_text(f"{len(rows):,}")
    header = page.locator("#variant-table thead th").all_text_contents()
    for column in ("consequence", "impact", "pick_hgvsc", "pick_hgvsp"):
        assert column in [h.strip() for h in header]

    # HIGH and MODERATE: two ticks, then apply.
    page.check("#filter-impact-HIGH")
    page.check("#filter-impact-MODERATE")
    page.click("#filter-apply")
    page.wait_for_url(re.compile(r"impact=HIGH&impact=MODERATE"))
    severe = [r for r in rows if r["impact"] in ("HIGH", "MODERATE")]
    assert len(severe) > PER_PAGE, "the filter should match more than one page"
    expect(page.locator("#matching")).to_have_text(f"{len(severe):,}")
    expect(page.locator("#filter-impact-HIGH")).to_be_checked()
    expect(page.locator("#filter-impact-LOW")).not_to_be_checked()
    shown = _every_page(page)
    assert shown == severe
    assert {r["impact"] for r in shown} == {"HIGH", "MODERATE"}
    assert all(r["pick_hgvsp"].startswith("ENSP1.1:p.") for r in shown)  # HGVS is shown
    _shot(page, artifacts, "3-high-and-moderate")

    # Narrow to two consequences (HIGH and MODERATE still ticked) and a gene.
    page.click("#filter-consequence summary")
    page.check("#filter-consequence-stop_gained")
    page.check("#filter-consequence-missense_variant")
    expect(page.locator("#consequence-chosen")).to_have_text("stop_gained, missense_variant")
    page.fill("#filter-gene", "BRCA1")
    page.click("#filter-apply")
    page.wait_for_url(re.compile(r"consequence=stop_gained&consequence=missense_variant"))
    expected = [
        r
        for r in severe
        if r["consequence"] in ("stop_gained", "missense_variant")
        and "BRCA1" in r["gene"].split("|")
    ]
    assert expected
    expect(page.locator("#matching")).to_have_text(f"{len(expected):,}")
    assert _every_page(page) == expected
    _shot(page, artifacts, "4-two-consequences-in-brca1")

    # The exports of the filtered view carry the filter: the same rows, nothing else.
    href = page.locator("#export-tsv").get_attribute("href") or ""
    assert "impact=HIGH,MODERATE" in href and "consequence=stop_gained,missense_variant" in href
    tsv = _download(page, "#export-tsv", tmp_path / "filtered.tsv")
    with open(tsv, newline="") as handle:
        assert list(csv.DictReader(handle, delimiter="\t")) == expected
    vcf = _download(page, "#export-vcf", tmp_path / "filtered.vcf.gz")
    with pysam.VariantFile(str(vcf)) as records:
        assert "consequence=stop_gained,missense_variant" in str(records.header)
        got = [
            (r.chrom, str(r.pos), r.alts[0], r.info["GAS_CONSEQUENCE"][0], r.info["GAS_IMPACT"][0])
            for r in records
        ]
    assert got == [
        (r["chrom"], r["pos"], r["alt"], r["consequence"], r["impact"]) for r in expected
    ]

    # Sorting by impact keeps the filter and orders by severity, HIGH first.
    page.click("#variant-table thead th a:text-is('impact')")
    page.wait_for_url(re.compile(r"sort=impact"))
    ranked = [r["impact"] for r in _shown_rows(page)]
    assert ranked == sorted(ranked, key=terms.IMPACTS.index)
    expect(page.locator("#matching")).to_have_text(f"{len(expected):,}")


def test_a_job_from_before_consequences_says_so_and_matches_nothing(
    page: Page, browser_settings: Settings, tmp_path: Path, artifacts: Path
) -> None:
    email = register(page, "Early Adopter", "before consequences 2025")
    job_id, rows = _place_job(browser_settings, email, tmp_path / "old", consequences=False)
    page.goto(f"/annotations/{job_id}")
    expect(page.locator("#matching")).to_have_text(f"{len(rows):,}")
    assert page.locator("#consequence-chart").count() == 0
    page.check("#filter-impact-HIGH")
    page.click("#filter-apply")
    page.wait_for_url(re.compile(r"impact=HIGH"))
    expect(page.locator("#lacking-note")).to_contain_text(
        "annotated before GAS called consequences"
    )
    expect(page.locator("#matching")).to_have_text("0")
    _shot(page, artifacts, "5-before-consequences")
