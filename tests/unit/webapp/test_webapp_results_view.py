"""What the results part of a job page shows about consequences, from annotator.terms."""

from __future__ import annotations

from typing import Any

from annotator import columns, terms
from webapp import results


class _Links:
    """Stands in for webapp.results.Links (which needs a request for url_for)."""

    def page(self, **args: Any) -> str:
        return "?" + "&".join(f"{k}={v}" for k, v in sorted(args.items()))


def test_the_browser_shows_every_column_once_with_consequences_after_the_gene() -> None:
    shown = results.SHOWN_COLUMNS
    assert sorted(shown) == sorted(columns.NAMES)
    assert shown.index("gene") < shown.index("consequence") < shown.index("pick_hgvsp") < 10


def test_the_consequence_filter_offers_every_term_once_grouped_by_impact() -> None:
    groups = results.CONSEQUENCE_GROUPS
    assert [impact for impact, _ in groups] == list(terms.IMPACTS)
    offered = [term.name for _, group in groups for term in group]
    assert sorted(offered) == sorted(terms.TERM_NAMES)
    for impact, group in groups:
        assert all(term.impact == impact for term in group)
        assert [t.rank for t in group] == sorted(t.rank for t in group)


def test_the_chart_lists_consequences_most_severe_first_coloured_by_impact() -> None:
    counts = {
        "intron_variant": 40,
        "missense_variant": 7,
        "made_up_variant": 2,
        "stop_gained": 3,
        "synonymous_variant": 0,
    }
    chart = results.consequence_chart(counts, _Links())
    assert chart is not None
    rows = chart["rows"]
    assert [r["label"] for r in rows] == [
        "stop_gained",
        "missense_variant",
        "intron_variant",
        "made_up_variant",  # a term GAS does not rank comes last, without an impact
    ]
    assert [r["impact"] for r in rows] == ["HIGH", "MODERATE", "MODIFIER", ""]
    assert rows[2]["width"] == 300 and rows[0]["width"] == round(300 * 3 / 40)
    assert rows[1]["url"] == "?consequence=missense_variant"
    assert [(i["impact"], i["count"]) for i in chart["impacts"]] == [
        ("HIGH", 3),
        ("MODERATE", 7),
        ("LOW", 0),
        ("MODIFIER", 40),
    ]
    assert chart["impacts"][0]["url"] == "?impact=HIGH"


def test_no_chart_for_a_summary_from_before_consequences() -> None:
    assert results.consequence_chart(None, _Links()) is None
    assert results.consequence_chart({}, _Links()) is None


def test_a_source_filter_row_per_source_column_with_the_operators_of_its_kind() -> None:
    from workflows import results as queries

    cols = (
        columns.SourceColumn(
            "clinvar_clnsig", columns.STRING, "GAS_CLINVAR_CLNSIG", "A", "sig", "clinvar"
        ),
        columns.SourceColumn("gnomad_af", columns.FLOAT, "GAS_GNOMAD_AF", "A", "af", "gnomad"),
        columns.SourceColumn("gnomad_lcr", columns.FLAG, "GAS_GNOMAD_LCR", "0", "lcr", "gnomad"),
    )
    page = queries.Page(queries.VariantQuery(), [], 0, 0, 50, (), cols, ())
    query = queries.VariantQuery.from_args({"where": "gnomad_af:lt:0.05"})
    rows = {r["name"]: r for r in results.source_filters(page, query)}
    assert [op for op, _ in rows["clinvar_clnsig"]["ops"]][0] == "contains"
    assert (rows["gnomad_af"]["op"], rows["gnomad_af"]["value"]) == ("lt", "0.05")
    assert rows["gnomad_lcr"]["op"] == ""  # a flag: any, until asked
    for r in rows.values():  # every offered operator is one the query engine takes
        assert {op for op, _ in r["ops"]} - {""} <= set(queries.OPS)


def test_a_resubmitted_job_names_the_source_versions_that_changed() -> None:
    from gas import models
    from workflows import sources

    original = models.Job(
        "a",
        user_id="u",
        input_key="k",
        sources=[
            {"name": "clinvar", "build": "GRCh38", "version": 2},
            {"name": "lab", "build": "GRCh38", "version": 1},
        ],
    )
    again = models.Job(
        "b",
        user_id="u",
        input_key="k",
        resubmitted_from="a",
        sources=[
            {"name": "clinvar", "build": "GRCh38", "version": 3},
            {"name": "gnomad", "build": "GRCh38", "version": 1},
        ],
    )
    got = {(s["name"], s["version"], s["was"]) for s in sources.against_original(again, original)}
    assert got == {("clinvar", 3, 2), ("gnomad", 1, None), ("lab", None, 1)}
    assert sources.against_original(again, None) == []


def test_the_sources_section_names_versions_and_what_a_resubmission_changed() -> None:
    from pathlib import Path

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(results.__file__).parent / "templates"),
        autoescape=True,
    )
    env.globals["url_for"] = lambda endpoint, **kw: f"/{endpoint}/{kw.get('job_id', '')}"
    used = [
        {
            "name": "clinvar",
            "build": "GRCh38",
            "version": 3,
            "file": "clinvar_20261201.vcf.gz",
            "sha256": "ab" * 32,
            "added_at": "2026-12-01T00:00:00Z",
            "records": 2_500_000,
            "fields": ["CLNSIG", "CLNDN"],
            "matched_alleles": 1234,
        }
    ]
    resubmission = {
        "job_id": "0123456789abcdef",
        "exists": True,
        "sources": [
            {**used[0], "was": 2},
            {"name": "lab", "build": "GRCh38", "version": None, "was": 1},
        ],
    }
    html = env.get_template("results/_sources.html").render(
        sources_used=used, resubmission=resubmission
    )
    text = " ".join(html.split())
    assert (
        "annotated with the sources' current versions — clinvar (GRCh38) v3, the original used v2;"
        in text
    )
    assert "lab (GRCh38) no longer used (the original used v1)." in text
    assert "clinvar_20261201.vcf.gz" in text and "2,500,000" in text and "1,234" in text
    same = {**resubmission, "sources": [{**used[0], "was": 3}]}
    html = env.get_template("results/_sources.html").render(sources_used=used, resubmission=same)
    assert "current versions, the same as the original's." in " ".join(html.split())
