"""/api/v1's variants and genes of a finished job, consequence filters included, against the real
local cloud; every response is checked against the served OpenAPI document (ApiClient)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from annotator import columns, terms
from gas import keys, models
from gas.models import Job, User
from gas.settings import Settings
from tests.inputs import consequence_annotated_vcf
from tests.integration import placed_jobs
from workflows import users

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def owner(settings: Settings) -> User:
    return users.ensure_user(settings, f"{keys.new_id()}@example.org")


@pytest.fixture(scope="module")
def placed(
    settings: Settings, owner: User, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Job, list[dict[str, str]]]:
    work = tmp_path_factory.mktemp("api-variants")
    return placed_jobs.job_with_outputs(
        settings, owner, consequence_annotated_vcf(records=160), work, row_group_rows=20
    )


def _text(row: dict[str, Any]) -> dict[str, str]:
    return {c: "" if row[c] is None else str(row[c]) for c in columns.NAMES}


def _all_pages(client: Any, url: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    first = None
    while url:
        answer = client.get(url)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        first = first or body
        rows += body["variants"]
        url = body["next_page"]
    assert first is not None
    return rows, first


@pytest.mark.parametrize(
    "query, keep",
    [
        ("impact=HIGH&impact=MODERATE", lambda r: r["impact"] in ("HIGH", "MODERATE")),
        ("impact=HIGH,MODERATE", lambda r: r["impact"] in ("HIGH", "MODERATE")),
        (
            "consequence=stop_gained&consequence=synonymous_variant&gene=BRCA1",
            lambda r: r["consequence"] in ("stop_gained", "synonymous_variant")
            and "BRCA1" in r["gene"].split("|"),
        ),
        ("consequence=intergenic_variant&chrom=2", lambda r: r["chrom"] == "chr2"
         and r["consequence"] == "intergenic_variant"),
        ("", lambda r: True),
    ],
)  # fmt: skip
def test_variants_filter_by_consequence_and_impact_page_by_page(
    api, make_token, owner: User, placed, query: str, keep: Callable[[dict], bool]
) -> None:
    job, rows = placed
    client = api(make_token(owner, scope=models.READ_ONLY))
    expected = [r for r in rows if keep(r)]
    got, first = _all_pages(client, f"/api/v1/jobs/{job.job_id}/variants?{query}&per_page=13")
    assert [_text(r) for r in got] == expected
    assert first["matching"] == len(expected) and first["total"] == len(rows)
    assert first["per_page"] == 13 and first["lacking"] == []
    assert isinstance(got[0]["pos"], int)


def test_variants_sort_by_impact_most_severe_first(api, make_token, owner: User, placed) -> None:
    job, rows = placed
    client = api(make_token(owner, scope=models.READ_ONLY))
    got, _ = _all_pages(client, f"/api/v1/jobs/{job.job_id}/variants?sort=impact&per_page=500")
    impacts = [r["impact"] for r in got]
    assert impacts == sorted(impacts, key=terms.IMPACTS.index)
    got, _ = _all_pages(
        client, f"/api/v1/jobs/{job.job_id}/variants?sort=consequence&order=desc&per_page=500"
    )
    ranks = [terms.rank(r["consequence"]) for r in got]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.parametrize(
    "query, detail",
    [
        ("consequence=missense", "There is no consequence term 'missense'."),
        ("impact=SEVERE", "There is no impact 'SEVERE'."),
        ("sort=hgvs", "There is no column 'hgvs' to sort by."),
        ("per_page=501", "per_page must be a whole number from 1 to 500."),
    ],
)
def test_a_filter_that_cannot_be_is_a_400_saying_why(
    api, make_token, owner: User, placed, query: str, detail: str
) -> None:
    job, _ = placed
    answer = api(make_token(owner, scope=models.READ_ONLY)).get(
        f"/api/v1/jobs/{job.job_id}/variants?{query}"
    )
    assert answer.status_code == 400 and answer.get_json()["detail"] == detail


def test_genes_count_by_consequence(api, make_token, owner: User, placed) -> None:
    job, rows = placed
    answer = api(make_token(owner, scope=models.READ_ONLY)).get(f"/api/v1/jobs/{job.job_id}/genes")
    assert answer.status_code == 200
    genes = {g["gene"]: g for g in answer.get_json()["genes"]}
    assert set(genes) == {"TP53", "BRCA1"}
    for name, gene in genes.items():
        counts = Counter(r["consequence"] for r in rows if name in r["gene"].split("|"))
        assert gene["by_consequence"] == dict(counts)
        assert gene["alleles"] == sum(counts.values())


def test_a_job_from_before_consequences_answers_with_what_it_lacks(
    api, make_token, settings: Settings, owner: User, tmp_path: Path
) -> None:
    old, rows = placed_jobs.job_with_outputs(
        settings,
        owner,
        consequence_annotated_vcf(records=40, consequences=False),
        tmp_path,
        before_consequences=True,
    )
    client = api(make_token(owner, scope=models.READ_ONLY))
    every = client.get(f"/api/v1/jobs/{old.job_id}/variants").get_json()
    assert every["matching"] == len(rows) and every["variants"][0]["consequence"] is None
    none = client.get(f"/api/v1/jobs/{old.job_id}/variants?impact=HIGH").get_json()
    assert none["matching"] == 0 and none["variants"] == [] and none["lacking"] == ["impact"]
    genes = client.get(f"/api/v1/jobs/{old.job_id}/genes").get_json()["genes"]
    assert all(g["by_consequence"] == {} for g in genes)


def test_another_users_job_and_a_job_without_a_table(
    api, make_token, make_user, make_job, placed
) -> None:
    job, _ = placed
    stranger = api(make_token(make_user(), scope=models.READ_ONLY))
    assert stranger.get(f"/api/v1/jobs/{job.job_id}/variants").status_code == 404
    assert stranger.get(f"/api/v1/jobs/{job.job_id}/genes").status_code == 404
    user = make_user()
    older = make_job(user, results={"annotated": "x", "log": "y", "summary": "z"})
    mine = api(make_token(user, scope=models.READ_ONLY))
    assert mine.get(f"/api/v1/jobs/{older.job_id}/variants").status_code == 409
    assert mine.get(f"/api/v1/jobs/{older.job_id}/genes").status_code == 409


def test_the_document_takes_its_vocabularies_from_annotator_terms(openapi) -> None:
    parameters = {
        p["name"]: p
        for p in openapi.document["paths"]["/jobs/{job_id}/variants"]["get"]["parameters"]
    }
    assert parameters["consequence"]["schema"]["items"]["enum"] == list(terms.TERM_NAMES)
    assert parameters["impact"]["schema"]["items"]["enum"] == list(terms.IMPACTS)
    variant = openapi.document["components"]["schemas"]["Variant"]["properties"]
    assert set(variant) == set(columns.NAMES)
    assert variant["impact"]["enum"] == [*terms.IMPACTS, None]
