"""The variant browser on a researcher's finished job, in headless Chromium.

A premium researcher uploads a GRCh38 VCF with sites across BRCA2, TP53 and BRCA1; on the job page
they pick a gene from the completion, narrow to a region class, page through the matches, and
export the filtered view as TSV and as bgzipped VCF. What the page shows and what the exports hold
are checked against the job's own full TSV (downloaded from the same page), filtered in Python.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pysam
import pytest
from playwright.sync_api import Page, expect

from annotator import columns
from tests.browser.pages import register
from tests.inputs import genes_vcf

pytestmark = pytest.mark.browser

NEEDED = {"annotate", "notify", "record-failure"}
COLUMNS = list(columns.NAMES)
PREFIX = "brc"  # typed into the gene filter; the completion offers BRCA1 and BRCA2
REGION = "intron"  # BRCA1's introns hold more sites than one page shows, so paging is exercised
PER_PAGE = 50


def _shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"results-browser-{name}.png"), full_page=True)


def _download(page: Page, selector: str, target: Path) -> Path:
    with page.expect_download() as info:
        page.click(selector)
    info.value.save_as(target)
    return target


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


def _vcf_rows(path: Path) -> list[dict[str, str]]:
    """The exported VCF's records as TSV-like rows (one ALT allele per record)."""
    info_of = {c.name: c.info for c in columns.TABLE if c.info}
    rows = []
    with pysam.VariantFile(str(path)) as vcf:
        for rec in vcf:
            assert len(rec.alts) == 1, "the export writes one record per ALT allele"
            row = {
                "chrom": rec.chrom,
                "pos": str(rec.pos),
                "id": rec.id or "",
                "ref": rec.ref,
                "alt": rec.alts[0],
            }
            for column, field in info_of.items():
                value = rec.info.get(field)
                value = value[0] if isinstance(value, tuple) else value
                row[column] = "" if value is None else str(value)
            rows.append(row)
    return rows


def test_filter_by_gene_and_region_then_export(
    page: Page, workers: set[str], tmp_path: Path, artifacts: Path
) -> None:
    missing = NEEDED - workers
    if missing:
        pytest.skip(f"`gas worker {'/'.join(sorted(missing))}` has not landed yet")

    # A premium researcher, so the results stay online while they browse them.
    register(page, "Mary-Claire King", "breast cancer 1990", "University of Washington")
    page.goto("/subscribe")
    page.click("#upgrade")
    expect(page.locator("#plan")).to_contain_text("Premium")

    upload = tmp_path / "brca_tp53.vcf"
    upload.write_bytes(genes_vcf())
    page.goto("/annotate")
    page.set_input_files("#file", str(upload))
    page.click("#upload-form button[type=submit]")
    page.wait_for_url(re.compile(r"/annotations/[0-9a-f-]{36}$"), timeout=30_000)
    job_url = page.url
    expect(page.locator("#job-status .badge")).to_have_text("completed", timeout=120_000)
    page.goto(job_url)  # the browser is drawn by the server once the job is done
    expect(page.locator("#variants")).to_be_visible()
    _shot(page, artifacts, "1-completed")

    # The reference: the job's whole TSV, from the file list of the same page.
    full_tsv = _download(page, 'a.result-file[data-kind="tsv"]', tmp_path / "all.tsv")
    with open(full_tsv, newline="") as handle:
        every = list(csv.DictReader(handle, delimiter="\t"))
    assert every, "the job's TSV has no rows"
    expect(page.locator("#matching")).to_have_text(f"{len(every):,}")

    # Gene: type a prefix; the completion asks the server and offers this job's genes only.
    offered = sorted(
        {g for row in every for g in row["gene"].split("|") if g.upper().startswith("BRC")}
    )
    assert len(offered) >= 2, f"the sample should touch several BRC* genes, has {offered}"
    with page.expect_response(lambda r: "/genes?q=" + PREFIX in r.url) as answer:
        page.locator("#filter-gene").press_sequentially(PREFIX, delay=20)
    completed = answer.value.json()["genes"]
    assert sorted(completed) == offered
    options = page.locator("#gene-names option")
    expect(options).to_have_count(len(offered))
    gene = options.first.get_attribute("value")
    assert gene == completed[0] == "BRCA1"  # most variants first
    page.fill("#filter-gene", gene)

    # Region class, then apply.
    page.select_option("#filter-region", REGION)
    page.click("#filter-apply")
    page.wait_for_url(re.compile(rf"gene={gene}.*region={REGION}|region={REGION}.*gene={gene}"))
    expected = [r for r in every if gene in r["gene"].split("|") and r["region"] == REGION]
    assert len(expected) > PER_PAGE, "the filter should match more than one page"
    expect(page.locator("#matching")).to_have_text(f"{len(expected):,}")
    _shot(page, artifacts, "2-filtered")

    # Every page of the filtered view, in order, is exactly the expected rows.
    shown = _shown_rows(page)
    assert len(shown) == PER_PAGE
    page.click("#page-next")
    expect(page.locator("#matching")).to_have_text(f"{len(expected):,}")
    shown += _shown_rows(page)
    expect(page.locator("#page-next")).to_have_count(0)
    _shot(page, artifacts, "3-filtered-page-2")
    assert shown == expected

    # Exports of the filtered view hold what the page showed, no more.
    tsv = _download(page, "#export-tsv", tmp_path / "filtered.tsv")
    assert tsv.name.endswith(".tsv")
    with open(tsv, newline="") as handle:
        exported = list(csv.DictReader(handle, delimiter="\t"))
    assert exported == shown

    vcf = _download(page, "#export-vcf", tmp_path / "filtered.vcf.gz")
    assert vcf.read_bytes()[:2] == b"\x1f\x8b"
    assert _vcf_rows(vcf) == shown
