"""The variant browser's query engine over a Parquet variant table, filters by consequence and
impact included, against plain Python over the TSV the same outputs wrote.

The table is written by ``annotator.outputs`` from annotated VCF text carrying the consequence
INFO fields, and read from a local folder standing in for the results bucket (the engine's own
ranged reads, through pyarrow's filesystem interface).
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pysam
import pytest
from werkzeug.datastructures import MultiDict

from annotator import columns, terms
from annotator.outputs import write_outputs
from gas import keys, models
from gas.resources import Resources
from gas.settings import Settings
from tests.inputs import consequence_annotated_vcf
from workflows import results

SETTINGS = Settings()
NAMES = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
ROW_GROUP_ROWS = 16  # many row groups: pruning, page assembly and the kept sort order all run


@pytest.fixture
def stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple]:
    """``stored(text)``: the standard outputs of annotated VCF text, as a COMPLETED job's results
    in a local folder that stands in for the results bucket; returns (job, TSV rows)."""
    bucket = tmp_path / "s3"
    local = pafs.SubTreeFileSystem(str(bucket), pafs.LocalFileSystem())
    monkeypatch.setattr(results, "_filesystem", lambda settings: local)

    def store(text: str) -> tuple[models.Job, list[dict[str, str]]]:
        work = tmp_path / keys.new_id()
        work.mkdir()
        (work / "annotated.vcf").write_text(text)
        made = write_outputs(
            work / "annotated.vcf", work / "std", NAMES, row_group_rows=ROW_GROUP_ROWS
        )
        job_id, user_id = keys.new_id(), keys.new_id()
        key = keys.result_key(user_id, job_id, "parquet")
        target = bucket / Resources.of(SETTINGS).results_bucket / key
        target.parent.mkdir(parents=True)
        target.write_bytes(made.files["parquet"].read_bytes())
        job = models.Job(job_id, user_id=user_id, status=models.COMPLETED, results={"parquet": key})
        with open(made.files["tsv"], newline="") as handle:
            return job, list(csv.DictReader(handle, delimiter="\t"))

    return store


def _expected(rows: list[dict[str, str]], **f: Any) -> list[dict[str, str]]:
    """The reference: plain Python over the TSV."""
    chosen = {k: set(v.split(",")) for k, v in f.items() if k in ("consequence", "impact")}
    out = []
    for row in rows:
        if f.get("gene") and f["gene"].upper() not in row["gene"].upper().split("|"):
            continue
        if f.get("chrom") and row["chrom"] not in (f["chrom"], f"chr{f['chrom']}"):
            continue
        if f.get("start") and int(row["pos"]) < int(f["start"]):
            continue
        known = bool(row["id"] or row["known_id"])
        if f.get("known") == "known" and not known or f.get("known") == "novel" and known:
            continue
        if any(row[name] not in values for name, values in chosen.items()):
            continue
        out.append(row)
    return out


def _as_text(row: dict[str, Any]) -> dict[str, str]:
    return {c: "" if row[c] is None else str(row[c]) for c in results.COLUMNS}


FILTERS = [
    {"consequence": "missense_variant"},
    {"consequence": "stop_gained,frameshift_variant"},
    {"impact": "HIGH,MODERATE"},
    {"impact": "MODIFIER"},
    {"impact": "HIGH", "consequence": "stop_gained,missense_variant"},  # both: stop_gained only
    {"impact": "LOW", "consequence": "stop_gained"},  # nothing is both
    {"consequence": "intergenic_variant", "known": "novel"},
    {"impact": "HIGH,MODERATE", "gene": "tp53", "chrom": "17", "start": "1400"},
    {"consequence": "transcript_ablation"},  # a term the file does not hold
]


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: "&".join(f"{k}={v}" for k, v in f.items())
)
def test_consequence_and_impact_filters_return_exactly_the_reference_rows(
    stored, filters: dict[str, str]
) -> None:
    job, rows = stored(consequence_annotated_vcf())
    expected = _expected(rows, **filters)
    query = results.VariantQuery.from_args(filters)
    whole = results.query_page(SETTINGS, job, query, per_page=100_000)
    assert whole.matching == len(expected) and whole.lacking == ()
    assert [_as_text(r) for r in whole.rows] == expected
    paged, page = [], 1
    while True:
        got = results.query_page(SETTINGS, job, replace_page(query, page), per_page=7)
        paged += [_as_text(r) for r in got.rows]
        if page >= got.pages:
            break
        page += 1
    assert paged == expected
    tsv = b"".join(results.export_tsv(SETTINGS, job, query)).decode()
    assert list(csv.DictReader(io.StringIO(tsv), delimiter="\t")) == expected


def replace_page(query: results.VariantQuery, page: int) -> results.VariantQuery:
    return results.VariantQuery.from_args({**query.to_args(), "page": str(page)})


def test_the_generated_table_holds_every_impact_and_several_terms(stored) -> None:
    _, rows = stored(consequence_annotated_vcf())
    assert {r["impact"] for r in rows} == set(terms.IMPACTS)
    assert len({r["consequence"] for r in rows}) >= 6


def test_choices_come_repeated_or_comma_separated_and_round_trip() -> None:
    form = MultiDict([("impact", "MODERATE"), ("impact", "HIGH"), ("consequence", "")])
    query = results.VariantQuery.from_args(form)
    assert query.impact == ("HIGH", "MODERATE")  # the vocabulary's order, whatever was sent
    assert query.consequence == () and query.filtered
    args = query.to_args()
    assert args == {"impact": "HIGH,MODERATE"}
    assert results.VariantQuery.from_args(args) == query
    many = results.VariantQuery.from_args(
        {"consequence": "synonymous_variant, stop_gained,stop_gained"}
    )
    assert many.consequence == ("stop_gained", "synonymous_variant")
    assert results.VariantQuery.from_args({"consequence": ["missense_variant"]}).consequence == (
        "missense_variant",
    )


@pytest.mark.parametrize(
    "args, message",
    [
        ({"consequence": "missense"}, "There is no consequence term 'missense'."),
        ({"impact": "HIGH,SEVERE"}, "There is no impact 'SEVERE'."),
        ({"impact": "high"}, "There is no impact 'high'."),
    ],
)
def test_a_choice_outside_the_vocabulary_is_refused(args: dict[str, str], message: str) -> None:
    with pytest.raises(results.BadQuery, match=message):
        results.VariantQuery.from_args(args)


def test_the_filters_offer_the_vocabulary_of_annotator_terms() -> None:
    assert results.CONSEQUENCE_NAMES == terms.TERM_NAMES
    assert results.IMPACTS == terms.IMPACTS


@pytest.mark.parametrize("column", ["consequence", "impact", "pick_consequence", "pick_impact"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_consequences_and_impacts_sort_by_severity(stored, column: str, order: str) -> None:
    job, rows = stored(consequence_annotated_vcf())
    vocabulary = terms.TERM_NAMES if column.endswith("consequence") else terms.IMPACTS
    query = results.VariantQuery.from_args({"sort": column, "order": order})
    got = [_as_text(r) for r in results.query_page(SETTINGS, job, query, per_page=100_000).rows]
    assert sorted(map(tuple, (r.values() for r in got))) == sorted(
        map(tuple, (r.values() for r in rows))
    )
    ranks = [vocabulary.index(r[column].split("&")[0]) for r in got if r[column]]
    assert ranks == sorted(ranks, reverse=order == "desc")
    present = [r[column] != "" for r in got]
    assert present == sorted(present, reverse=True)  # none last, either way
    # Ties keep the file's order; both ways of finding a sorted page agree.
    sidecar = results.Sidecar(SETTINGS, job)
    for filters in ({}, {"impact": "HIGH,MODERATE"}, {"chrom": "2"}):
        q = results.VariantQuery.from_args({**filters, "sort": column, "order": order})
        chrom_index = sidecar.chrom_index(q.chrom) if q.chrom else None
        groups = sidecar.candidate_groups(q, chrom_index)
        kept = results._matching_by_order(sidecar, q, groups, chrom_index)
        read = results._matching_by_reading(sidecar, q, groups, chrom_index)
        assert kept.tolist() == read.tolist()


def test_the_vcf_export_carries_the_consequence_fields(stored, tmp_path: Path) -> None:
    job, rows = stored(consequence_annotated_vcf())
    query = results.VariantQuery.from_args({"impact": "HIGH"})
    expected = _expected(rows, impact="HIGH")
    assert expected
    path = tmp_path / "export.vcf.gz"
    path.write_bytes(b"".join(results.export_vcf_gz(SETTINGS, job, query, "impact=HIGH")))
    with pysam.VariantFile(str(path)) as vcf:
        assert vcf.header.info["GAS_PICK_HGVSP"].number == "A"
        got = [
            (
                r.pos,
                r.alts[0],
                r.info["GAS_CONSEQUENCE"][0],
                r.info["GAS_IMPACT"][0],
                r.info.get("GAS_PICK_HGVSC", (None,))[0],
            )
            for r in vcf
        ]
    assert got == [
        (int(r["pos"]), r["alt"], r["consequence"], "HIGH", r["pick_hgvsc"] or None)
        for r in expected
    ]
    assert "impact=HIGH" in gzip.decompress(path.read_bytes()).decode().split("\n#CHROM")[0]


def test_a_table_from_before_consequences_still_browses_and_its_filters_match_nothing(
    stored,
) -> None:
    job, rows = stored(consequence_annotated_vcf(consequences=True))
    old, old_rows = stored(consequence_annotated_vcf(consequences=False))
    # Written by today's outputs, an old VCF has the columns, empty; a table written before
    # them has none: strip them to get one.
    sidecar = results.Sidecar(SETTINGS, old)
    assert sidecar.lacking(("consequence",)) == ()
    _drop_consequence_columns(old)
    results._metadata.cache_clear()
    sidecar = results.Sidecar(SETTINGS, old)
    assert sidecar.lacking(columns.CONSEQUENCE_COLUMNS) == (columns.CONSEQUENCE_COLUMNS)
    first = results.query_page(SETTINGS, old, results.VariantQuery(), per_page=10)
    assert first.matching == len(old_rows) and first.lacking == ()
    assert all(r["consequence"] is None and r["pick_hgvsp"] is None for r in first.rows)
    for args in ({"consequence": "missense_variant"}, {"impact": "HIGH", "gene": "TP53"}):
        page = results.query_page(SETTINGS, old, results.VariantQuery.from_args(args))
        assert page.matching == 0 and page.rows == []
        assert page.lacking == tuple(k for k in ("consequence", "impact") if k in args)
        tsv = b"".join(results.export_tsv(SETTINGS, old, results.VariantQuery.from_args(args)))
        assert tsv.decode().count("\n") == 1  # the header only
    by_impact = results.query_page(
        SETTINGS, old, results.VariantQuery.from_args({"sort": "impact"}), per_page=100_000
    )
    assert [r["pos"] for r in by_impact.rows] == [int(r["pos"]) for r in old_rows]
    assert by_impact.lacking == ("impact",)
    tsv = b"".join(results.export_tsv(SETTINGS, old, results.VariantQuery(gene="TP53")))
    exported = list(csv.DictReader(io.StringIO(tsv.decode()), delimiter="\t"))
    assert exported == _expected(old_rows, gene="TP53")
    assert all(r["consequence"] == "" for r in exported)
    assert results.query_page(SETTINGS, job, results.VariantQuery()).matching == len(rows)


def _drop_consequence_columns(job: models.Job) -> None:
    """Rewrite the job's Parquet as it was before consequences (same row groups)."""
    import pyarrow.parquet as pq

    path = results._filesystem(SETTINGS)
    name = f"{Resources.of(SETTINGS).results_bucket}/{job.results.as_dict()['parquet']}"
    with path.open_input_file(name) as handle:
        table = pq.read_table(handle)
    table = table.drop_columns(list(columns.CONSEQUENCE_COLUMNS))
    with path.open_output_stream(name) as out:
        pq.write_table(table, out, row_group_size=ROW_GROUP_ROWS)
