"""The operator page: backlog per activity, failed jobs with their reasons, retry."""

from __future__ import annotations

import re
import time

import pytest

from gas import models

pytestmark = pytest.mark.integration


def test_operator_sees_backlog_and_failures_and_can_retry(
    client, make_user, make_job, login_as
) -> None:
    researcher = make_user()
    failed = make_job(
        researcher,
        status=models.FAILED,
        failure_error="AnnotationInputError",
        failure_reason="The file has a header but no variant records.",
    )
    login_as(make_user(operator=True))
    page = client.get("/operator").get_data(as_text=True)
    assert "annotate" in page  # a backlog row per activity
    row = re.search(rf'<tr data-job-id="{failed.job_id}">.*?</tr>', page, re.S)
    assert row, "the failed job is not listed"
    assert "no variant records" in row[0]
    response = client.post(f"/operator/jobs/{failed.job_id}/retry", follow_redirects=True)
    assert "is running again" in response.get_data(as_text=True)


def test_redrive_refuses_an_execution_of_another_deployment(settings) -> None:
    import pytest as _pytest

    from workflows import operations

    with _pytest.raises(operations.RedriveRefused):
        operations.redrive(
            settings, "arn:aws:states:us-east-1:000000000000:execution:someone-else:x"
        )
    assert isinstance(operations.failed_executions(settings), list)


def test_operator_sees_the_reconcilers_last_run_and_its_repairs(
    settings, client, make_user, make_job, login_as
) -> None:
    from workflows import reconcile

    lost = make_job(make_user(), status=models.PENDING)  # a job whose execution never started
    models.Job.get(lost.job_id).update(
        actions=[
            models.Job.execution_arn.set(
                f"arn:aws:states:us-east-1:000000000000:execution:x:{lost.job_id}"
            ),
            models.Job.input_key.set(f"uploads/{lost.user_id}/{lost.job_id}/input.vcf"),
        ]
    )
    # A dry run on the shared stack (a real run would repair other tests' jobs), kept as the last.
    reconciler = reconcile.Reconciler(settings, grace_seconds=0)
    report = reconciler.run(dry_run=True)
    assert any(r.job_id == lost.job_id for r in report.repairs)
    reconciler.save(report)
    login_as(make_user(operator=True))
    page = client.get("/operator").get_data(as_text=True)
    section = re.search(r'<section id="reconciler">.*?</section>', page, re.S)
    assert section and "Last run" in section[0]
    row = re.search(rf'<tr data-job-id="{lost.job_id}">.*?</tr>', section[0], re.S)
    assert row and "upload it again" in row[0]  # its input was never uploaded: FAILED, saying so
    assert "would repair" in section[0]


def test_operator_sees_the_e_mails_sent_newest_first_with_their_text(
    settings, client, make_user, login_as
) -> None:
    from gas import keys, mail

    to = f"{keys.new_id()[:8]}@example.org"
    mail.send(settings, to, "GAS: first message", "Hello,\n\nthe first body <b>not bold</b>.\n")
    time.sleep(1.1)  # LocalStack stamps messages to the second
    mail.send(settings, to, "GAS: second message", "Hello,\n\nthe second body.\n")
    login_as(make_user(operator=True))
    page = client.get("/operator").get_data(as_text=True)
    section = re.search(r'<section id="sent-mail">.*?</section>', page, re.S)
    assert section and "no mail leaves the machine" in section[0]
    rows = [r for r in re.findall(r"<tr data-message-id=.*?</tr>", section[0], re.S) if to in r]
    assert len(rows) == 2
    assert "GAS: second message" in rows[0] and "GAS: first message" in rows[1]
    assert "<details><summary>GAS: first message</summary>" in rows[1]
    assert "the first body &lt;b&gt;not bold&lt;/b&gt;." in rows[1]  # shown as text, escaped


def test_an_unreadable_mailbox_is_a_problem_line_not_an_error(
    client, make_user, login_as, monkeypatch
) -> None:
    from workflows import operations

    def unreadable(*_args: object, **_kwargs: object) -> None:
        raise ConnectionError("LocalStack is not answering")

    monkeypatch.setattr(operations, "sent_mail", unreadable)
    login_as(make_user(operator=True))
    response = client.get("/operator")
    assert response.status_code == 200
    assert "could not be read from the local cloud" in response.get_data(as_text=True)


def test_on_aws_the_mail_is_not_listed(settings, client, make_user, login_as, monkeypatch) -> None:
    import dataclasses

    from workflows import operations

    assert operations.sent_mail(dataclasses.replace(settings, cloud="aws")) is None
    monkeypatch.setattr(operations, "sent_mail", lambda *_args, **_kwargs: None)
    login_as(make_user(operator=True))
    page = client.get("/operator").get_data(as_text=True)
    section = re.search(r'<section id="sent-mail">.*?</section>', page, re.S)
    assert section and "goes out through Amazon SES" in section[0]
    assert "<table" not in section[0]


def test_operator_sees_each_annotation_source_with_its_version_and_provenance(
    settings, client, make_user, login_as, tmp_path
) -> None:
    """What `gas sources add` registered: name, build, version, records, fields, file, SHA-256,
    date added (the registry in this deployment's results bucket)."""
    from annotator.annotation_sources import build_source
    from cli.source_commands import _write_index, register_built
    from gas import sources as registry

    vcf = tmp_path / "clinvar_20261201.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n"
        '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "1\t100\t.\tA\tC\t.\t.\tCLNSIG=Benign\n1\t200\t.\tA\tG\t.\t.\tCLNSIG=Pathogenic\n"
    )
    index, etag = registry.read_index(settings)
    build_source(vcf, tmp_path / "b", name="clinvar", build="GRCh38", fields=["CLNSIG"], version=1)
    manifest = register_built(settings, tmp_path / "b", index, etag)
    try:
        login_as(make_user(operator=True))
        page = client.get("/operator").get_data(as_text=True)
        row = re.search(r'<tr data-source="clinvar" data-build="GRCh38">.*?</tr>', page, re.S)
        assert row, "the source is not listed"
        text = " ".join(re.sub(r"<[^>]+>", " ", row[0]).split())
        sha = manifest["source"]["sha256"]
        assert text.startswith("clinvar GRCh38 v1 2 CLNSIG (allele) clinvar_20261201.vcf")
        assert sha[:12] in text and manifest["source"]["added_at"] in text
    finally:
        _, etag = registry.read_index(settings)
        _write_index(settings, registry.empty_index(), etag)
