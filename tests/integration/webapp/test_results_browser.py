"""The variant browser, exports, gene summary and share links against the real local cloud.

A real annotation (GRCh38 bundle) gives the outputs; they go to LocalStack's S3 at the job's keys.
Every filter is checked against a reference computation in plain Python over the TSV the
annotation wrote.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pysam
import pytest
from flask import Flask
from flask.testing import FlaskClient

from annotator import annotate_file
from annotator.outputs import write_outputs
from annotator.terms import IMPACTS, TERM_NAMES
from gas import aws, keys, models
from gas.models import Job, User
from gas.resources import Resources
from gas.settings import Settings
from tests.integration.webapp.conftest import login
from workflows import results, shares

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
ROW_GROUP_ROWS = 40  # many small row groups, so pruning and page assembly are exercised


def _records() -> list[str]:
    """Sites across TP53, BRCA1, intergenic stretches and chr1; some multi-allelic, some known."""
    rows = []
    for chrom, start, stop, step in (
        ("chr1", 60_000, 1_200_000, 9_000),
        ("chr17", 7_650_000, 7_700_000, 700),
        ("chr17", 43_030_000, 43_130_000, 900),
        ("chr17", 50_000_000, 50_400_000, 20_000),
    ):
        for i, pos in enumerate(range(start, stop, step)):
            alt = "G,T" if i % 7 == 3 else "G"
            vid = f"rs{pos}" if i % 5 == 0 else "."
            rows.append(f"{chrom}\t{pos}\t{vid}\tA\t{alt}\t.\tPASS\t.")
    return rows


@pytest.fixture(scope="module")
def outputs_dir(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("outputs")
    source = work / "sample.vcf"
    source.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        + "\n".join(_records())
        + "\n"
    )
    annotated = work / "annotated.vcf"
    annotate_file(
        source,
        annotated,
        work / "annotation.log",
        work / "summary.json",
        build="GRCh38",
        reference_dir=REPO / ".gas" / "reference",
    )
    names = {kind: keys.RESULT_FILES[kind] for kind in keys.STANDARD_OUTPUTS}
    made = write_outputs(annotated, work / "std", names, row_group_rows=ROW_GROUP_ROWS)
    return {
        "annotated": annotated,
        "log": work / "annotation.log",
        "summary": work / "summary.json",
        **made.files,
    }


@pytest.fixture(scope="module")
def owner_and_job(settings: Settings, outputs_dir: dict[str, Path]) -> tuple[User, Job]:
    user_id = keys.new_id()
    from tests.integration.webapp.conftest import _FIXTURE_HASH

    user = User(user_id, email=f"{user_id[:8]}@example.org", password_hash=_FIXTURE_HASH)
    user.save()
    key = keys.upload_key(user_id, keys.new_id())
    job_id = keys.job_id_for_upload(key)
    s3 = aws.client(settings, "s3")
    bucket = Resources.of(settings).results_bucket
    stored, sizes = {}, {}
    for kind, path in outputs_dir.items():
        stored[kind] = keys.result_key(user_id, job_id, kind)
        s3.upload_file(str(path), bucket, stored[kind])
        sizes[kind] = path.stat().st_size
    job = Job(
        job_id,
        user_id=user_id,
        status=models.COMPLETED,
        input_key=key,
        input_filename="sample.vcf",
        build="GRCh38",
        results=stored,
        result_sizes=sizes,
        completed_at=models.now(),
    )
    job.save()
    return user, job


@pytest.fixture(scope="module")
def reference(outputs_dir: dict[str, Path]) -> list[dict[str, str]]:
    with open(outputs_dir["tsv"], newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def _expected(rows: list[dict[str, str]], **f: Any) -> list[dict[str, str]]:
    """The reference computation: plain Python over the TSV."""
    out = []
    for row in rows:
        if f.get("gene") and f["gene"].upper() not in (
            row["gene"].upper().split("|") + row["gene_id"].upper().split("|")
        ):
            continue
        if f.get("region") and row["region"] != f["region"]:
            continue
        if f.get("chrom") and row["chrom"] not in (f["chrom"], f"chr{f['chrom']}"):
            continue
        if f.get("start") and int(row["pos"]) < int(f["start"]):
            continue
        if f.get("end") and int(row["pos"]) > int(f["end"]):
            continue
        known = bool(row["id"] or row["known_id"])
        if f.get("known") == "known" and not known or f.get("known") == "novel" and known:
            continue
        out.append(row)
    return out


def _as_text(row: dict[str, Any]) -> dict[str, str]:
    return {c: "" if row[c] is None else str(row[c]) for c in results.COLUMNS}


FILTERS = [
    {},
    {"gene": "TP53"},
    {"gene": "brca1"},
    {"region": "CDS"},
    {"region": "intron", "gene": "BRCA1"},
    {"chrom": "17", "start": "7660000", "end": "7690000"},
    {"chrom": "chr17", "start": "43050000"},
    {"chrom": "1", "end": "500000"},
    {"known": "known"},
    {"known": "novel", "region": "intergenic"},
    {"gene": "TP53", "region": "CDS", "known": "novel", "chrom": "17"},
    {"gene": "NOSUCHGENE"},
    {"chrom": "22"},
]


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: "&".join(f"{k}={v}" for k, v in f.items()) or "all"
)
def test_filters_return_exactly_the_reference_rows(
    settings: Settings, owner_and_job, reference, filters: dict[str, str]
) -> None:
    _, job = owner_and_job
    expected = [dict(r) for r in _expected(reference, **filters)]
    query = results.VariantQuery.from_args(filters)
    whole = results.query_page(settings, job, query, per_page=100_000)
    assert whole.matching == len(expected)
    assert [_as_text(r) for r in whole.rows] == expected  # genomic order, as the TSV
    # Pages of 17 put together are the same rows.
    paged, page = [], 1
    while True:
        got = results.query_page(
            settings,
            job,
            results.VariantQuery.from_args({**filters, "page": str(page)}),
            per_page=17,
        )
        paged += [_as_text(r) for r in got.rows]
        if page >= got.pages:
            break
        page += 1
    assert paged == expected
    # The export has exactly these rows too.
    tsv = b"".join(results.export_tsv(settings, job, query)).decode()
    assert list(csv.DictReader(io.StringIO(tsv), delimiter="\t")) == expected


@pytest.mark.parametrize("column", results.COLUMNS)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_column_sorts(
    settings: Settings, owner_and_job, reference, column: str, order: str
) -> None:
    _, job = owner_and_job
    filters = {"chrom": "17"}
    query = results.VariantQuery.from_args({**filters, "sort": column, "order": order})
    got = [_as_text(r) for r in results.query_page(settings, job, query, per_page=100_000).rows]
    expected = _expected(reference, **filters)
    assert sorted(map(tuple, (r.values() for r in got))) == sorted(
        map(tuple, (r.values() for r in expected))
    )
    numeric = column in ("pos", "distance")
    # Consequences and impacts sort by severity (annotator.terms' order), the rest by value.
    severity = {
        "consequence": TERM_NAMES,
        "pick_consequence": TERM_NAMES,
        "impact": IMPACTS,
        "pick_impact": IMPACTS,
    }.get(column)

    def key(value: str) -> Any:
        if severity is not None:
            first = value.split("&")[0]
            return severity.index(first) if first in severity else len(severity)
        return int(value) if numeric else value

    values = [r[column] for r in got if r[column] != ""]
    if column != "chrom":
        assert values == sorted(values, key=key, reverse=order == "desc")
        # Missing values come last.
        present = [r[column] != "" for r in got]
        assert present == sorted(present, reverse=True)


def test_the_first_page_works_without_javascript(
    app: Flask, client: FlaskClient, owner_and_job, reference
) -> None:
    owner, job = owner_and_job
    login(client, owner)
    page = client.get(f"/annotations/{job.job_id}?gene=BRCA1&region=intron")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    expected = _expected(reference, gene="BRCA1", region="intron")
    assert f'<strong id="matching">{len(expected):,}</strong>' in html
    assert html.count("<tr><td>chr17</td>") == min(len(expected), results.PER_PAGE)
    # The filter is in the links: sort, next page and export keep it.
    assert "gene=BRCA1" in html and "region=intron" in html
    assert f"/annotations/{job.job_id}/export/tsv?gene=BRCA1&amp;region=intron" in html
    # Every file is listed with its size; the gene summary links out.
    for kind in ("annotated_gz", "annotated_tbi", "tsv", "parquet", "annotated"):
        assert f'data-kind="{kind}"' in html
    assert "KB)" in html or "bytes)" in html
    assert "https://www.ensembl.org/Homo_sapiens/Gene/Summary?g=ENSG" in html
    assert "https://gnomad.broadinstitute.org/gene/" in html
    assert "clinvar/?term=TP53%5Bgene%5D" in html or "clinvar/?term=BRCA1%5Bgene%5D" in html
    bad = client.get(f"/annotations/{job.job_id}?start=abc&chrom=1")
    assert bad.status_code == 200 and "Positions are whole numbers up to" in bad.get_data(
        as_text=True
    )


def test_the_exports_are_the_filtered_rows(client: FlaskClient, owner_and_job, reference) -> None:
    owner, job = owner_and_job
    login(client, owner)
    expected = _expected(reference, gene="TP53", region="CDS")
    assert expected
    tsv = client.get(f"/annotations/{job.job_id}/export/tsv?gene=TP53&region=CDS")
    assert tsv.status_code == 200
    assert "attachment" in tsv.headers["Content-Disposition"]
    assert list(csv.DictReader(io.StringIO(tsv.get_data(as_text=True)), delimiter="\t")) == expected
    vcf = client.get(f"/annotations/{job.job_id}/export/vcf.gz?gene=TP53&region=CDS")
    assert vcf.status_code == 200
    data = vcf.get_data()
    assert data[:4] == b"\x1f\x8b\x08\x04"  # BGZF
    assert gzip.decompress(data).decode().count("\n") > len(expected)
    path = Path(pytest.importorskip("tempfile").mkdtemp()) / "export.vcf.gz"
    path.write_bytes(data)
    with pysam.VariantFile(str(path)) as got:
        records = [(r.chrom, r.pos, r.ref, r.alts[0], r.info["GAS_REGION"][0]) for r in got]
    assert records == [(r["chrom"], int(r["pos"]), r["ref"], r["alt"], "CDS") for r in expected]
    pysam.tabix_index(str(path), preset="vcf", force=True)  # sorted: an index can be made


def test_gene_completion(client: FlaskClient, owner_and_job) -> None:
    owner, job = owner_and_job
    login(client, owner)
    got = client.get(f"/annotations/{job.job_id}/genes?q=brc").get_json()
    assert "BRCA1" in got["genes"]
    assert all(name.upper().startswith("BRC") for name in got["genes"])


def test_a_job_from_before_the_new_outputs_still_shows(
    client: FlaskClient, make_user: Callable[..., User], make_job: Callable[..., Job]
) -> None:
    user = make_user()
    old = make_job(
        user,
        results={
            k: keys.result_key(user.user_id, keys.new_id(), k)
            for k in ("annotated", "log", "summary")
        },
    )
    login(client, user)
    page = client.get(f"/annotations/{old.job_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-kind="annotated"' in html and 'data-kind="tsv"' not in html
    assert 'id="variants"' not in html
    assert client.get(f"/annotations/{old.job_id}/export/tsv").status_code == 404


# -- share links ----------------------------------------------------------------------------------


def _share(client: FlaskClient, owner: User, job: Job) -> str:
    login(client, owner)
    made = client.post(f"/annotations/{job.job_id}/shares", data={"days": "3"})
    assert made.status_code == 302
    job.refresh()
    (share,) = [s for s in shares.shares_of(job) if s.live][:1]
    client.post("/logout")
    return shares.token_for(client.application.config["SECRET_KEY"], job.job_id, share.share_id)


def test_a_share_link_shows_one_job_and_nothing_else(
    app: Flask, owner_and_job, make_user: Callable[..., User], make_job: Callable[..., Job]
) -> None:
    owner, job = owner_and_job
    token = _share(app.test_client(), owner, job)
    holder = app.test_client()
    page = holder.get(f"/shared/{token}?gene=TP53")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "TP53" in html and 'id="variant-table"' in html
    assert owner.email not in html and "@" not in html.replace("@example", "")
    assert holder.get(f"/shared/{token}/download/annotated_gz").status_code == 302
    assert holder.get(f"/shared/{token}/export/tsv?gene=TP53").status_code == 200
    assert "TP53" in holder.get(f"/shared/{token}/genes?q=TP").get_json()["genes"]
    # Nothing else: not the input, not the workflow, not the log page, not the owner's routes.
    for path in (
        f"/shared/{token}/download/input",
        f"/shared/{token}/workflow",
        f"/shared/{token}/log",
        f"/shared/{token}/status",
        f"/shared/{token}x",
        f"/shared/{token[:-2]}",
    ):
        assert holder.get(path).status_code == 404, path
    for path in (
        f"/annotations/{job.job_id}",
        f"/annotations/{job.job_id}/export/tsv",
        "/annotations",
    ):
        answer = holder.get(path)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    # A token for another job cannot be made without the key; one signed elsewhere is refused.
    other_owner = make_user()
    other = make_job(other_owner)
    forged = shares.token_for("not-the-key", other.job_id, "x")
    assert holder.get(f"/shared/{forged}").status_code == 404
    # The share of one job names only that job: its share id does not open another job.
    share_id = next(s.share_id for s in shares.shares_of(Job.get(job.job_id)) if s.live)
    crossed = shares.token_for(app.config["SECRET_KEY"], other.job_id, share_id)
    assert holder.get(f"/shared/{crossed}").status_code == 404
    # Someone logged in as another user sees the shared page, still without the owner's e-mail.
    logged = app.test_client()
    login(logged, other_owner)
    assert owner.email not in logged.get(f"/shared/{token}").get_data(as_text=True)


def test_a_share_link_stops_when_revoked_or_expired(app: Flask, owner_and_job) -> None:
    owner, job = owner_and_job
    owner_client = app.test_client()
    token = _share(owner_client, owner, job)
    holder = app.test_client()
    assert holder.get(f"/shared/{token}").status_code == 200
    login(owner_client, owner)
    listed = owner_client.get(f"/annotations/{job.job_id}").get_data(as_text=True)
    assert f"/shared/{token}" in listed  # the owner sees the link on the job page
    share_id = shares.shared_job(app.config["GAS_SETTINGS"], app.config["SECRET_KEY"], token)[
        1
    ].share_id
    assert (
        owner_client.post(f"/annotations/{job.job_id}/shares/{share_id}/revoke").status_code == 302
    )
    assert holder.get(f"/shared/{token}").status_code == 404
    assert holder.get(f"/shared/{token}/download/tsv").status_code == 404
    assert "revoked" in owner_client.get(f"/annotations/{job.job_id}").get_data(as_text=True)

    token = _share(owner_client, owner, job)
    assert holder.get(f"/shared/{token}").status_code == 200
    job.refresh()
    stored = job.shares.as_dict()
    share_id = shares.shared_job(app.config["GAS_SETTINGS"], app.config["SECRET_KEY"], token)[
        1
    ].share_id
    stored[share_id]["expires_at"] = (models.now() - timedelta(seconds=1)).isoformat()
    job.update(actions=[Job.shares.set(stored)])
    assert holder.get(f"/shared/{token}").status_code == 404
    assert holder.get(f"/shared/{token}/export/tsv").status_code == 404


def test_only_the_owner_can_share_or_revoke(
    app: Flask, owner_and_job, make_user: Callable[..., User]
) -> None:
    owner, job = owner_and_job
    stranger = app.test_client()
    login(stranger, make_user())
    assert stranger.post(f"/annotations/{job.job_id}/shares").status_code == 404
    token = _share(app.test_client(), owner, job)
    share_id = shares.shared_job(app.config["GAS_SETTINGS"], app.config["SECRET_KEY"], token)[
        1
    ].share_id
    assert stranger.post(f"/annotations/{job.job_id}/shares/{share_id}/revoke").status_code == 404
    assert app.test_client().get(f"/shared/{token}").status_code == 200


SORT_FILTERS = [{}, {"region": "CDS"}, {"gene": "BRCA1"}, {"chrom": "17"}, {"known": "novel"}]


@pytest.mark.parametrize("filters", SORT_FILTERS, ids=lambda f: "&".join(f) or "all")
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_the_kept_sort_order_gives_the_same_rows_as_sorting_each_time(
    settings: Settings, owner_and_job, filters: dict[str, str], order: str
) -> None:
    # Both ways of finding a sorted page: same rows, same order (ties in file order included).
    _, job = owner_and_job
    sidecar = results.Sidecar(settings, job)
    for column in results.COLUMNS:
        query = results.VariantQuery.from_args({**filters, "sort": column, "order": order})
        chrom_index = sidecar.chrom_index(query.chrom) if query.chrom else None
        groups = sidecar.candidate_groups(query, chrom_index)
        kept = results._matching_by_order(sidecar, query, groups, chrom_index)
        read = results._matching_by_reading(sidecar, query, groups, chrom_index)
        assert kept.tolist() == read.tolist(), column


def test_a_gene_filter_reads_only_the_row_groups_holding_the_gene(
    settings: Settings, owner_and_job, reference
) -> None:
    _, job = owner_and_job
    sidecar = results.Sidecar(settings, job)
    every = sidecar.meta.num_row_groups
    for gene in ("BRCA1", "tp53", "NOSUCHGENE"):
        groups = sidecar.candidate_groups(results.VariantQuery(gene=gene), None)
        assert len(groups) < every
        rows = {i for i, _ in enumerate(reference) if _expected([reference[i]], gene=gene)}
        holding = {
            g
            for g in range(every)
            if any(sidecar.starts[g] <= i < sidecar.starts[g + 1] for i in rows)
        }
        assert holding <= set(groups)
