"""`gas sources …` and `gas annotate --source` against moto's S3 (in-process): the registry's
versions, provenance and files, what workers fetch and keep, and removal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from moto import mock_aws

from gas import aws, keys
from gas import sources as registry
from gas.resources import Resources
from gas.settings import Settings

REFERENCE = Path(__file__).resolve().parents[3] / ".gas" / "reference"
SOURCE = (
    "##fileformat=VCFv4.2\n"
    '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="Clinical significance">\n'
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    "17\t7674220\trs1\tC\tT\t.\t.\tCLNSIG=Pathogenic;AF=0.0001\n"
    "17\t7676154\trs2\tG\tC\t.\t.\tCLNSIG=Benign;AF=0.6\n"
)


@pytest.fixture
def cloud(tmp_path):
    env = {
        "GAS_CLOUD": "aws",
        "GAS_PREFIX": "srctest",
        "GAS_SECRET_KEY": "x" * 32,
        "GAS_STATE_DIR": str(tmp_path / "state"),
        "GAS_REFERENCE_DIR": str(REFERENCE),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with mock_aws():
        settings = Settings.from_env(env)
        aws.client(settings, "s3").create_bucket(Bucket=Resources.of(settings).results_bucket)
        yield settings, env


def test_add_list_show_version_fetch_and_remove(run, cloud, tmp_path) -> None:
    settings, env = cloud
    vcf = tmp_path / "clinvar_20240101.vcf"
    vcf.write_text(SOURCE)
    added = run(
        "sources", "add", "clinvar", str(vcf), "--build", "GRCh38", "--fields", "CLNSIG,AF", env=env
    )
    assert added.exit_code == 0, added.output
    assert "Registered clinvar v1 (GRCh38, match by allele): 2 records" in added.output
    again = run(
        "sources", "add", "clinvar", str(vcf), "--build", "GRCh38", "--fields", "CLNSIG", env=env
    )
    assert "clinvar v2" in again.output, again.output
    listed = json.loads(run("sources", "list", "--json", env=env).output)
    assert [(v["name"], v["version"], v["current"]) for v in listed] == [("clinvar", 2, True)]
    every = json.loads(run("sources", "list", "--json", "--all-versions", env=env).output)
    assert [v["version"] for v in every] == [1, 2]
    v = listed[0]
    assert v["file"] == "clinvar_20240101.vcf" and v["records"] == 2 and len(v["sha256"]) == 64
    assert [f["info"] for f in v["fields"]] == ["GAS_CLINVAR_CLNSIG"]
    shown = run("sources", "show", "clinvar", env=env).output
    assert "clinvar v1 (GRCh38, old)" in shown and "clinvar v2 (GRCh38, current)" in shown
    assert "GAS_CLINVAR_CLNSIG (column clinvar_clnsig; Number=., String): Clinical" in shown

    # A worker fetches the current versions into its cache, and drops older ones it held.
    old = registry.fetch(settings, every[0])
    paths = registry.for_annotation(settings)
    assert [p.name for p in paths] == [v["folder"]] and (paths[0] / "sites.arrow").exists()
    assert not old.exists()

    # gas annotate --source NAME uses the registered current version.
    inp = tmp_path / "in.vcf"
    inp.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "chr17\t7674220\t.\tC\tT,G\t.\t.\t.\n"
    )
    done = run(
        "annotate", str(inp), "-o", str(tmp_path / "out.vcf"), "--source", "clinvar", env=env
    )
    assert done.exit_code == 0, done.output
    out = (tmp_path / "out.vcf").read_text()
    assert "GAS_CLINVAR_CLNSIG=Pathogenic,." in out
    assert "##GAS_source=<ID=clinvar,Build=GRCh38,Version=2," in out
    summary = json.loads((tmp_path / "out.summary.json").read_text())
    assert [(s["name"], s["version"], s["matched_alleles"]) for s in summary["sources"]] == [
        ("clinvar", 2, 1)
    ]

    # Removing it removes its files too; jobs from now on do not use it.
    gone = run("sources", "remove", "clinvar", "--yes", env=env)
    assert gone.exit_code == 0, gone.output
    assert json.loads(run("sources", "list", "--json", env=env).output) == []
    s3 = aws.client(settings, "s3")
    left = s3.list_objects_v2(Bucket=Resources.of(settings).results_bucket, Prefix="sources/")
    assert [o["Key"] for o in left.get("Contents", [])] == [keys.SOURCES_INDEX]
    assert registry.for_annotation(settings) == []


def test_a_bad_source_is_refused_with_one_line_and_nothing_registered(run, cloud, tmp_path) -> None:
    settings, env = cloud
    vcf = tmp_path / "s.vcf"
    vcf.write_text(SOURCE)
    bad = run(
        "sources", "add", "clinvar", str(vcf), "--build", "GRCh38", "--fields", "NOPE", env=env
    )
    assert bad.exit_code == 1 and "declares no INFO field 'NOPE'" in bad.output
    named = run(
        "sources", "add", "Clin-Var", str(vcf), "--build", "GRCh38", "--fields", "AF", env=env
    )
    assert named.exit_code == 1 and "not a source name" in named.output
    assert json.loads(run("sources", "list", "--json", env=env).output) == []
    missing = run("annotate", str(vcf), "-o", str(tmp_path / "o.vcf"), "--source", "nope", env=env)
    assert missing.exit_code == 1 and "neither a file nor a source registered" in missing.output


def test_a_one_off_file_as_a_source(run, tmp_path) -> None:
    """`gas annotate --source FILE` builds it for this run (every INFO field and ID): no cloud."""
    vcf = tmp_path / "my_lab.vcf"
    vcf.write_text(SOURCE)
    inp = tmp_path / "in.vcf"
    inp.write_text(
        "##fileformat=VCFv4.2\n##reference=GRCh38\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "17\t7676154\t.\tG\tC\t.\t.\t.\n"
    )
    done = run(
        "annotate",
        str(inp),
        "-o",
        str(tmp_path / "out.vcf"),
        "--source",
        str(vcf),
        env={"GAS_REFERENCE_DIR": str(REFERENCE)},
    )
    assert done.exit_code == 0, done.output
    out = (tmp_path / "out.vcf").read_text()
    assert "GAS_MY_LAB_ID=rs2;GAS_MY_LAB_CLNSIG=Benign;GAS_MY_LAB_AF=0.6" in out


def test_a_source_that_would_write_another_sources_field_is_refused(run, cloud, tmp_path) -> None:
    _, env = cloud
    vcf = tmp_path / "s.vcf"
    vcf.write_text(SOURCE)
    ok = run("sources", "add", "gnomad", str(vcf), "--build", "GRCh38", "--fields", "AF", env=env)
    assert ok.exit_code == 0, ok.output
    clash = run(
        "sources", "add", "exomes", str(vcf), "--build", "GRCh37", "--fields", "AF",
        "--prefix", "GNOMAD", env=env,
    )  # fmt: skip
    assert clash.exit_code == 1 and "as the source gnomad does" in clash.output
    assert [v["name"] for v in json.loads(run("sources", "list", "--json", env=env).output)] == [
        "gnomad"
    ]
