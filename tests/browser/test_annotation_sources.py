"""Annotation sources where a researcher looks, in headless Chromium: an operator registers a
ClinVar-like and a gnomAD-like source, a researcher uploads a VCF, the annotate worker matches it
to both, and the job page names the sources it used; the variant browser then filters the job's
variants by a ClinVar significance and by a frequency threshold, together, and exports them.

Expected rows come from the generated files themselves (which input allele each source holds),
not from GAS. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import random
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from annotator.annotation_sources import build_source
from cli.source_commands import register_built
from gas import sources as registry
from gas.settings import Settings
from tests.browser.pages import register

pytestmark = pytest.mark.browser

HEADER = "##fileformat=VCFv4.2\n##reference=GRCh38\n"
COLS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
SIGNIFICANCES = ("Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Benign")


def _files(work: Path) -> tuple[Path, Path, Path, list[dict]]:
    """An input VCF (chr17, some multi-allelic), a ClinVar-like and a gnomAD-like source (17,
    not chr17) holding some of its alleles, and what each input allele should get."""
    rng = random.Random(24)
    alleles, inp, clinvar, gnomad = [], [], [], []
    pos = 7_668_000
    for i in range(90):
        pos += rng.randint(20, 300)
        ref = rng.choice("ACGT")
        alts = rng.sample([b for b in "ACGT" if b != ref], rng.choice((1, 1, 2)))
        inp.append(f"chr17\t{pos}\t.\t{ref}\t{','.join(alts)}\t.\t.\t.\n")
        for alt in alts:
            sig = rng.choice(SIGNIFICANCES) if rng.random() < 0.6 else None
            af = (
                round(rng.choice([0.3, 0.02, 0.004, 0.0005]) * rng.random(), 6)
                if rng.random() < 0.7
                else None
            )
            if sig:
                clinvar.append(f"17\t{pos}\tcv{i}\t{ref}\t{alt}\t.\t.\tCLNSIG={sig}\n")
            if af is not None:
                gnomad.append(f"17\t{pos}\t.\t{ref}\t{alt}\t.\t.\tAF={af}\n")
            alleles.append({"pos": str(pos), "alt": alt, "clnsig": sig, "af": af})
    paths = []
    for name, body, info in (
        ("calls.vcf", inp, ""),
        (
            "clinvar.vcf",
            clinvar,
            "##INFO=<ID=CLNSIG,Number=.,Type=String,"
            'Description="Clinical significance for this single variant">\n',
        ),
        (
            "gnomad.vcf",
            gnomad,
            '##INFO=<ID=AF,Number=A,Type=Float,Description="Alternate allele frequency">\n',
        ),
    ):
        path = work / name
        path.write_text(HEADER + info + COLS + "".join(body))
        paths.append(path)
    return paths[0], paths[1], paths[2], alleles


def _register_sources(settings: Settings, clinvar: Path, gnomad: Path) -> None:
    """What `gas sources add` does, for this session's stack."""
    for name, path, fields in (("clinvar", clinvar, ["CLNSIG"]), ("gnomad", gnomad, ["AF"])):
        index, etag = registry.read_index(settings)
        with tempfile.TemporaryDirectory() as tmp:
            build_source(
                Path(path), Path(tmp) / "b", name=name, build="GRCh38", fields=fields, version=1
            )
            register_built(settings, Path(tmp) / "b", index, etag)


def _remove_sources(settings: Settings) -> None:
    """Leave the session's registry empty for the other browser tests."""
    from cli.source_commands import _write_index

    _, etag = registry.read_index(settings)
    _write_index(settings, registry.empty_index(), etag)


def _shown(page: Page) -> list[tuple[str, str]]:
    """(pos, alt) of every row the browser shows, page after page."""
    names = page.locator("#variant-table thead th").evaluate_all(
        "cells => cells.map(c => c.textContent.trim().split(' ')[0])"
    )
    rows: list[tuple[str, str]] = []
    while True:
        cells = page.locator("#variant-table tbody tr").evaluate_all(
            "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent.trim()))"
        )
        rows += [(c[names.index("pos")], c[names.index("alt")]) for c in cells if len(c) > 2]
        if not page.locator("#page-next").count():
            return rows
        page.click("#page-next")


def test_filter_a_jobs_variants_by_clinvar_significance_and_frequency(
    page: Page, browser_settings: Settings, workers: set[str], tmp_path: Path, artifacts: Path
) -> None:
    if "annotate" not in workers:
        pytest.skip("needs `gas worker annotate`")
    upload, clinvar, gnomad, alleles = _files(tmp_path)
    _register_sources(browser_settings, clinvar, gnomad)
    try:
        register(page, "Heidi Rehm", "clinvar curation 2015")
        page.set_input_files("#file", str(upload))
        page.click("#upload-form button[type=submit]")
        page.wait_for_url(re.compile(r"/annotations/[0-9a-f-]{36}$"), timeout=30_000)
        job_id = page.url.rsplit("/", 1)[-1]
        expect(page.locator("#job-status .badge")).to_have_text("completed", timeout=120_000)
        page.goto(f"/annotations/{job_id}")

        # The job names the sources it used, with their versions and what they matched.
        used = page.locator("#sources-used tbody tr")
        expect(used).to_have_count(2)
        clinvar_hits = sum(a["clnsig"] is not None for a in alleles)
        gnomad_hits = sum(a["af"] is not None for a in alleles)
        expect(page.locator('#sources-used tr[data-source="clinvar"]')).to_contain_text("v1")
        expect(page.locator('#sources-used tr[data-source="clinvar"] td').last).to_have_text(
            str(clinvar_hits)
        )
        expect(page.locator('#sources-used tr[data-source="gnomad"] td').last).to_have_text(
            str(gnomad_hits)
        )
        expect(page.locator('#sources-used tr[data-source="clinvar"]')).to_contain_text(
            "clinvar.vcf"
        )
        expect(page.locator("#matching")).to_have_text(str(len(alleles)))
        header = [
            h.strip().split(" ")[0]
            for h in page.locator("#variant-table thead th").all_text_contents()
        ]
        assert "clinvar_clnsig" in header and "gnomad_af" in header
        page.screenshot(path=str(artifacts / "sources-1-job-page.png"), full_page=True)

        # ClinVar significance contains "Pathogenic" (any case: Likely_pathogenic too).
        page.click("#filter-sources summary")
        page.select_option("#op-clinvar_clnsig", "contains")
        page.fill("#value-clinvar_clnsig", "Pathogenic")
        page.click("#filter-apply")
        page.wait_for_url(re.compile(r"op\.clinvar_clnsig=contains"))
        pathogenic = [a for a in alleles if a["clnsig"] and "pathogenic" in a["clnsig"].lower()]
        assert 0 < len(pathogenic) < len(alleles)
        expect(page.locator("#matching")).to_have_text(str(len(pathogenic)))
        assert sorted(_shown(page)) == sorted((a["pos"], a["alt"]) for a in pathogenic)
        expect(page.locator("#sources-chosen")).to_have_text("clinvar_clnsig contains Pathogenic")
        # (and after the next step: "…, gnomad_af ≤ 0.01")
        page.screenshot(path=str(artifacts / "sources-2-pathogenic.png"), full_page=True)

        # And rare: gnomAD AF at most 0.01 (an allele gnomAD lacks has no AF: not rare here).
        page.goto(page.url)
        expect(page.locator("#filter-sources")).to_have_attribute("open", "")  # a filter is on
        expect(page.locator("#value-clinvar_clnsig")).to_have_value("Pathogenic")
        page.select_option("#op-gnomad_af", "le")
        page.fill("#value-gnomad_af", "0.01")
        page.click("#filter-apply")
        page.wait_for_url(re.compile(r"value\.gnomad_af=0\.01"))
        both = [a for a in pathogenic if a["af"] is not None and a["af"] <= 0.01]
        assert 0 < len(both) < len(pathogenic)
        expect(page.locator("#matching")).to_have_text(str(len(both)))
        expect(page.locator("#sources-chosen")).to_have_text(
            "clinvar_clnsig contains Pathogenic, gnomad_af ≤ 0.01"
        )
        assert sorted(_shown(page)) == sorted((a["pos"], a["alt"]) for a in both)
        page.screenshot(path=str(artifacts / "sources-3-pathogenic-and-rare.png"), full_page=True)

        # The export of that view carries both filters, and the source columns.
        href = page.locator("#export-tsv").get_attribute("href") or ""
        assert (
            "where=clinvar_clnsig:contains:Pathogenic" in href and "where=gnomad_af:le:0.01" in href
        )
        with page.expect_download() as info:
            page.click("#export-tsv")
        target = tmp_path / "filtered.tsv"
        info.value.save_as(target)
        with open(target, newline="") as handle:
            exported = list(csv.DictReader(handle, delimiter="\t"))
        assert sorted((r["pos"], r["alt"]) for r in exported) == sorted(
            (a["pos"], a["alt"]) for a in both
        )
        assert all(
            float(r["gnomad_af"]) <= 0.01 and "athogenic" in r["clinvar_clnsig"] for r in exported
        )
    finally:
        _remove_sources(browser_settings)
