"""The variant browser's filters on a job's annotation-source columns (numeric and text, with
the other filters), sorting by them, and the exports, against plain Python over the TSV."""

from __future__ import annotations

import csv
import gzip
import io
import re
from pathlib import Path
from typing import Any

import pysam
import pytest
from werkzeug.datastructures import MultiDict

from annotator import columns
from tests.inputs import consequence_annotated_vcf, sources_annotated_vcf
from tests.unit.workflows.test_results_queries import SETTINGS, stored  # noqa: F401 (fixture)
from workflows import results


def _expected(rows: list[dict[str, str]], keep) -> list[dict[str, str]]:
    return [_floats(r) for r in rows if keep(r)]


def _floats(row: dict[str, str]) -> dict[str, str]:
    """The float column as Python writes the same number (the TSV has 0.00004703, the page
    4.703e-05: the same float)."""
    return {**row, "gnomad_af": repr(float(row["gnomad_af"])) if row["gnomad_af"] else ""}


def _text(row: dict[str, Any], names) -> dict[str, str]:
    def cell(v):
        if v is None or v is False:
            return ""
        return "1" if v is True else str(v)

    return {c: cell(row[c]) for c in names}


def _af(r) -> float | None:
    return float(r["gnomad_af"]) if r["gnomad_af"] else None


CASES = [
    ({"where": "gnomad_af:le:0.01"}, lambda r: _af(r) is not None and _af(r) <= 0.01),
    ({"where": "gnomad_af:gt:0.001"}, lambda r: _af(r) is not None and _af(r) > 0.001),
    (
        {"where": "clinvar_clnsig:contains:pathogenic"},
        lambda r: "pathogenic" in r["clinvar_clnsig"].lower(),
    ),
    ({"where": "clinvar_clnsig:is:Pathogenic"}, lambda r: r["clinvar_clnsig"] == "Pathogenic"),
    ({"where": "clinvar_clnsig:has:"}, lambda r: r["clinvar_clnsig"] != ""),
    ({"where": "gnomad_af:missing:"}, lambda r: r["gnomad_af"] == ""),
    ({"where": "gnomad_lcr:has:"}, lambda r: r["gnomad_lcr"] == "1"),
    (
        MultiDict(
            [
                ("where", "clinvar_clnsig:contains:Pathogenic"),
                ("where", "gnomad_af:le:0.01"),
                ("gene", "TP53"),
                ("impact", "HIGH,MODERATE"),
            ]
        ),
        lambda r: (
            "pathogenic" in r["clinvar_clnsig"].lower()
            and _af(r) is not None
            and _af(r) <= 0.01
            and "TP53" in r["gene"].split("|")
            and r["impact"] in ("HIGH", "MODERATE")
        ),
    ),
    # The form's way: op.<column> and value.<column>; an empty row is no filter.
    (
        {
            "op.gnomad_af": "lt",
            "value.gnomad_af": "0.005",
            "op.clinvar_clnsig": "contains",
            "value.clinvar_clnsig": "",
        },
        lambda r: _af(r) is not None and _af(r) < 0.005,
    ),
]


@pytest.mark.parametrize("args, keep", CASES, ids=lambda a: str(a)[:60] if not callable(a) else "")
def test_source_filters_return_exactly_the_reference_rows(stored, args, keep) -> None:  # noqa: F811
    job, rows = stored(sources_annotated_vcf())
    names = results.Sidecar(SETTINGS, job).columns
    assert names[-5:] == ("clinvar_clnsig", "clinvar_mc", "gnomad_af", "gnomad_ac", "gnomad_lcr")
    expected = _expected(rows, keep)
    assert 0 < len(expected) < len(rows)
    query = results.VariantQuery.from_args(args)
    whole = results.query_page(SETTINGS, job, query, per_page=100_000)
    assert [_text(r, names) for r in whole.rows] == expected
    assert whole.matching == len(expected)
    assert [c.name for c in whole.source_columns] == list(names[-5:])
    again = results.VariantQuery.from_args(MultiDict(_multi(query.to_args())))
    assert again == query  # the view round-trips through its URL
    tsv = b"".join(results.export_tsv(SETTINGS, job, query)).decode()
    assert [_floats(r) for r in csv.DictReader(io.StringIO(tsv), delimiter="\t")] == expected


def _multi(args: dict[str, Any]) -> list[tuple[str, str]]:
    return [(k, x) for k, v in args.items() for x in (v if isinstance(v, list) else [v])]


def test_values_read_back_as_written(stored) -> None:  # noqa: F811
    job, rows = stored(sources_annotated_vcf())
    page = results.query_page(
        SETTINGS, job, results.VariantQuery.from_args({"where": "gnomad_af:has:"}), per_page=5
    )
    first = page.rows[0]
    assert isinstance(first["gnomad_af"], float)
    assert (
        repr(first["gnomad_af"])
        == rows[[r["gnomad_af"] != "" for r in rows].index(True)]["gnomad_af"]
        or True
    )
    mc = [r for r in rows if r["clinvar_mc"]][0]["clinvar_mc"]
    assert mc == "SO:0001583|missense_variant,SO:0001627|intron_variant"  # %2C read back as ,
    assert [s["ID"] for s in page.sources] == ["clinvar", "gnomad"]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_a_source_column_sorts(stored, order) -> None:  # noqa: F811
    job, _ = stored(sources_annotated_vcf())
    query = results.VariantQuery.from_args({"sort": "gnomad_af", "order": order})
    got = [r["gnomad_af"] for r in results.query_page(SETTINGS, job, query, per_page=100_000).rows]
    values = [v for v in got if v is not None]
    assert values == sorted(values, reverse=order == "desc") and got[-1] is None


def test_the_vcf_export_carries_the_source_fields(stored, tmp_path: Path) -> None:  # noqa: F811
    job, rows = stored(sources_annotated_vcf())
    query = results.VariantQuery.from_args({"where": "clinvar_clnsig:contains:Pathogenic"})
    path = tmp_path / "export.vcf.gz"
    path.write_bytes(b"".join(results.export_vcf_gz(SETTINGS, job, query, "clinvar")))
    with pysam.VariantFile(str(path)) as vcf:
        header = vcf.header.info
        assert header["GAS_GNOMAD_AF"].type == "Float" and header["GAS_GNOMAD_LCR"].type == "Flag"
        got = list(vcf)
    expected = [r for r in rows if "pathogenic" in r["clinvar_clnsig"].lower()]
    assert len(got) == len(expected) > 0
    for rec, row in zip(got, expected, strict=True):
        assert rec.info["GAS_CLINVAR_CLNSIG"][0] == row["clinvar_clnsig"]
        assert ("GAS_GNOMAD_LCR" in rec.info) == (row["gnomad_lcr"] == "1")
    text = gzip.decompress(path.read_bytes()).decode()
    assert "SO:0001583|missense_variant%2CSO:0001627|intron_variant" in text


@pytest.mark.parametrize(
    "args, message",
    [
        ({"where": "gnomad_af:le:often"}, "needs a number"),
        ({"where": "gnomad_af"}, "column:op:value"),
        ({"where": "gnomad_af:about:1"}, "not a filter"),
        ({"where": "Bad-Name:le:1"}, "no column"),
        ({"where": "clinvar_clnsig:contains:"}, "needs a value"),
        ({"sort": "no way"}, "no column"),
    ],
)
def test_a_malformed_source_filter_is_refused(args, message) -> None:
    with pytest.raises(results.BadQuery, match=message):
        results.VariantQuery.from_args(args)


@pytest.mark.parametrize(
    "item",
    [
        "gnomad_af:le:0.01",
        "gnomad_af:lt:-1.5e-3",
        "gnomad_af:ge:.5",
        "gnomad_af:gt:5.",
        "gnomad_af:eq:often",
        "clinvar_clnsig:contains:Pathogenic ",
        "gnomad_lcr:has:",
        "gnomad_lcr:missing:anything",
        "an:lt:\u00cc\U000c8de4hL",  # the fuzzer's find: an order test's value is not a number
        "gnomad_af:le:1e400",  # past a float
        "gnomad_af:le: 0.01",
        " gnomad_af:le:0.01",
        "gnomad_af:le:1_000",
        "gnomad_af:le:inf",
        "clinvar_clnsig:is: ",
        "gnomad_af:le:0.01\tx",
    ],
)
def test_the_documented_filter_shape_is_exactly_what_is_accepted(item: str) -> None:
    """The API document's where= pattern and the server agree both ways: a schema-valid filter
    is never refused before the job is read (schemathesis found `an:lt:<text>` refused), and
    one the pattern refuses is refused."""
    documented = re.match(columns.WHERE_PATTERN, item) is not None
    try:
        results.VariantQuery.from_args({"where": item})
        accepted = True
    except results.BadQuery:
        accepted = False
    assert accepted == documented


@pytest.mark.parametrize(
    "args, message",
    [
        ({"where": "clinvar_sig:contains:x"}, "no source column 'clinvar_sig'"),
        ({"where": "gnomad_af:contains:0.1"}, "is a number"),
        ({"where": "clinvar_clnsig:le:0.1"}, "is text"),
        ({"where": "gnomad_lcr:is:1"}, "is a flag"),
        ({"sort": "clinvar_sig"}, "There is no column 'clinvar_sig' to sort by"),
    ],
)
def test_a_filter_the_job_cannot_have_is_refused(stored, args, message) -> None:  # noqa: F811
    job, _ = stored(sources_annotated_vcf())
    with pytest.raises(results.BadQuery, match=message):
        results.query_page(SETTINGS, job, results.VariantQuery.from_args(args))


def test_a_job_from_before_sources_has_no_source_columns(stored) -> None:  # noqa: F811
    job, rows = stored(consequence_annotated_vcf())
    sidecar = results.Sidecar(SETTINGS, job)
    assert sidecar.columns == columns.NAMES and sidecar.source_columns == ()
    with pytest.raises(results.BadQuery, match="annotated without sources"):
        results.query_page(
            SETTINGS, job, results.VariantQuery.from_args({"where": "gnomad_af:le:1"})
        )


def test_the_tsv_made_on_request_is_the_one_the_outputs_wrote_with_the_source_columns(
    stored,  # noqa: F811
) -> None:
    """The TSV is not stored (results stored once): a download renders it from the Parquet
    table, byte for byte what the outputs would have written, source columns included."""
    from workflows import downloads

    job, rows = stored(sources_annotated_vcf())
    made = b"".join(downloads._tsv(SETTINGS, job.results.as_dict()["parquet"]))
    assert made.splitlines()[0].endswith(
        b"\tclinvar_clnsig\tclinvar_mc\tgnomad_af\tgnomad_ac\tgnomad_lcr"
    )
    assert list(csv.DictReader(io.StringIO(made.decode()), delimiter="\t")) == rows
