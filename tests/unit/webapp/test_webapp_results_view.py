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
