"""Result kinds are declared once (gas.result_kinds): a kind added there reaches the key layout,
the archive, the download rule, the job page's file list, the API and the CLI. This module is the
second file such a kind touches."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from gas import archive, keys, result_kinds
from gas.result_kinds import ResultKind
from webapp import results as pages
from workflows import downloads

USER, JOB = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
VEP = ResultKind(
    "vep",
    "annotated.vep.txt",
    ".vep.txt",
    "VEP's default output",
    "text/plain",
    archived=True,
    in_api=True,
)


@pytest.fixture
def with_vep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(result_kinds, "KINDS", (*result_kinds.KINDS, VEP))


def _job(kinds: tuple[str, ...]) -> Any:
    results = {k: keys.result_key(USER, JOB, k) for k in kinds}
    return SimpleNamespace(
        job_id=JOB,
        input_filename="sample.vcf",
        results=SimpleNamespace(as_dict=lambda: results),
        result_sizes=None,
    )


class _Links:
    def download(self, kind: str) -> str:
        return f"/download/{kind}"


def test_a_kind_added_to_the_declaration_reaches_every_surface(with_vep: None) -> None:
    key = keys.result_key(USER, JOB, "vep")
    assert key == f"results/{USER}/{JOB}/annotated.vep.txt"
    assert keys.parse_result_key(key) == (USER, JOB, "vep")
    job = _job((*result_kinds.stored(), "vep"))
    assert "vep" in archive.archived_kinds(job.results.as_dict())
    assert "vep" in result_kinds.stored() and "vep" in result_kinds.in_api()
    chosen = downloads.plan(job, "vep")
    assert chosen.stored and chosen.filename == "sample.vep.txt" and chosen.key == key
    listed = pages.files_view(job, _Links())  # type: ignore[arg-type]
    assert {"kind": "vep", "label": VEP.label, "url": "/download/vep", "size": None} in listed


def test_without_the_declaration_the_kind_is_nowhere() -> None:
    with pytest.raises(KeyError):
        keys.result_key(USER, JOB, "vep")
    with pytest.raises(downloads.NotOffered):
        downloads.plan(_job(result_kinds.stored()), "vep")


def test_a_stored_once_job_offers_the_plain_vcf_and_tsv_made_from_what_it_stores() -> None:
    job = _job(result_kinds.stored())
    assert not ({"annotated", "tsv"} & set(job.results.as_dict()))
    for kind, source in (("annotated", "annotated_gz"), ("tsv", "parquet")):
        chosen = downloads.plan(job, kind)
        assert not chosen.stored and chosen.source_key == keys.result_key(USER, JOB, source)
    assert set(downloads.offered(job)) == set(result_kinds.names())  # both indexes, here
    assert archive.archived_kinds(job.results.as_dict()) == ["annotated_gz", "parquet"]


def test_an_old_layout_job_is_served_what_it_stores() -> None:
    job = _job(("annotated", "log", "summary"))  # before the standard outputs
    assert downloads.plan(job, "annotated").stored
    assert downloads.offered(job) == ("annotated", "summary", "log")
    assert archive.archived_kinds(job.results.as_dict()) == ["annotated"]


def test_the_api_and_cli_offer_the_kinds_declared_for_the_api() -> None:
    from cli import client_commands
    from webapp import api_spec

    assert (*result_kinds.in_api(), "input") == client_commands.KINDS
    text = repr(api_spec.__dict__)
    assert all(kind in text for kind in result_kinds.in_api())


def test_stream_links_are_signed_and_expire() -> None:
    token = downloads.stream_token("secret", JOB, "tsv")
    assert downloads.read_stream_token("secret", token, 60) == (JOB, "tsv")
    with pytest.raises(downloads.NotOffered):
        downloads.read_stream_token("other", token, 60)
    with pytest.raises(downloads.NotOffered):
        downloads.read_stream_token("secret", token, -1)
