"""`gas annotate` and `gas reference …` through click, with settings passed in as ctx.obj."""

from __future__ import annotations

import json
from dataclasses import replace

import click
from click.testing import CliRunner

from cli.annotator_commands import register
from gas.settings import Settings


def cli() -> click.Group:
    @click.group()
    def gas() -> None:
        pass

    register(gas)
    return gas


def settings_for(reference_dir, tmp_path):
    return replace(Settings(), reference_dir=reference_dir, state_dir=reference_dir.parent)


def test_annotate_writes_vcf_log_and_summary(reference_dir, tmp_path, write_vcf):
    vcf = write_vcf(["17 7676550 . G A . . ."])
    out = tmp_path / "res" / "job.vcf"
    r = CliRunner().invoke(
        cli(),
        ["annotate", str(vcf), "-o", str(out), "--build", "GRCh38"],
        obj=settings_for(reference_dir, tmp_path),
    )
    assert r.exit_code == 0, r.output
    assert "Annotated 1 variants" in r.output
    assert (tmp_path / "res" / "job.count.log").exists()
    assert json.loads((tmp_path / "res" / "job.summary.json").read_text())["by_region"]["CDS"] == 1


def test_annotate_bad_file_is_one_readable_line(reference_dir, tmp_path, write_vcf):
    vcf = write_vcf(["17 abc . G A . . ."])
    r = CliRunner().invoke(
        cli(),
        ["annotate", str(vcf), "-o", str(tmp_path / "o.vcf")],
        obj=settings_for(reference_dir, tmp_path),
    )
    assert r.exit_code == 1
    assert "Error: MalformedVcf: Line 3: POS 'abc' is not a whole number." in r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o.vcf").exists()


def test_install_defaults_is_idempotent_and_fast(reference_dir, tmp_path):
    r = CliRunner().invoke(
        cli(), ["reference", "install-defaults"], obj=settings_for(reference_dir, tmp_path)
    )
    assert r.exit_code == 0, r.output
    assert r.output.count("already installed") == 2


def test_reference_build_from_gtf(gencode_gtf, tmp_path):
    s = replace(Settings(), reference_dir=tmp_path / "ref", state_dir=tmp_path)
    r = CliRunner().invoke(
        cli(), ["reference", "build", "--gtf", str(gencode_gtf), "--build", "GRCh38"], obj=s
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ref" / "GRCh38" / "manifest.json").exists()
    r = CliRunner().invoke(cli(), ["reference", "list"], obj=s)
    assert "GRCh38" in r.output and "gencode_human.gtf.gz" in r.output


def test_annotate_processes_option_gives_the_same_output(
    reference_dir, tmp_path, write_vcf, monkeypatch
):
    import annotator.vcf

    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)  # many blocks
    vcf = write_vcf([f"17 {7670000 + 37 * i} . G A,T . . DP={i}" for i in range(3000)])
    outs = []
    for n in ("1", "2"):
        out = tmp_path / n / "job.vcf"
        r = CliRunner().invoke(
            cli(),
            ["annotate", str(vcf), "-o", str(out), "--processes", n],
            obj=settings_for(reference_dir, tmp_path),
        )
        assert r.exit_code == 0, r.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
