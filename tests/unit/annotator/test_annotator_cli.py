"""`gas annotate` and `gas reference …` through click, with settings passed in as ctx.obj."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import click
from click.testing import CliRunner

from cli.annotator_commands import register
from gas.settings import Settings

REPO = Path(__file__).resolve().parents[3]


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


def test_annotate_threads_option_gives_the_same_output(
    reference_dir, tmp_path, write_vcf, monkeypatch
):
    import annotator.vcf

    monkeypatch.setattr(annotator.vcf, "CHUNK_BYTES", 4096)  # many blocks
    vcf = write_vcf([f"17 {7670000 + 37 * i} . G A,T . . DP={i}" for i in range(3000)])
    outs = []
    # --processes is the option's old name, kept for scripts written before threads.
    for option, n in (("--threads", "1"), ("--threads", "2"), ("--processes", "3")):
        out = tmp_path / n / "job.vcf"
        r = CliRunner().invoke(
            cli(),
            ["annotate", str(vcf), "-o", str(out), option, n],
            obj=settings_for(reference_dir, tmp_path),
        )
        assert r.exit_code == 0, r.output
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_default_threads_is_every_core_only_for_large_inputs(tmp_path, monkeypatch):
    import annotator.engine as engine

    monkeypatch.setattr(engine, "cpu_count", lambda: 16)
    small, large = tmp_path / "small.vcf", tmp_path / "large.vcf"
    small.write_bytes(b"x" * engine.PARALLEL_INPUT_BYTES)  # at the threshold: one thread
    with open(large, "wb") as f:
        f.truncate(engine.PARALLEL_INPUT_BYTES + 1)
    assert engine.default_threads(small) == 1
    assert engine.default_threads(large) == 16


def test_annotate_without_threads_uses_the_default_choice(
    reference_dir, tmp_path, write_vcf, monkeypatch
):
    import annotator
    import annotator.engine as engine

    seen = []
    real = engine.annotate_file

    def spy(*args, **kwargs):
        seen.append(kwargs["threads"])
        return real(*args, **kwargs)

    monkeypatch.setattr(annotator.engine, "annotate_file", spy)
    monkeypatch.setattr(engine, "PARALLEL_INPUT_BYTES", 10)  # this tiny file is "large"
    monkeypatch.setattr(engine, "cpu_count", lambda: 2)
    vcf = write_vcf(["17 7676550 . G A . . ."])
    for extra, expected in (([], 2), (["--threads", "1"], 1)):
        r = CliRunner().invoke(
            cli(),
            ["annotate", str(vcf), "-o", str(tmp_path / "o.vcf"), *extra],
            obj=settings_for(reference_dir, tmp_path),
        )
        assert r.exit_code == 0, r.output
        assert seen.pop() == expected
    assert annotator.default_threads is engine.default_threads


def _gas(*args: str, reference_dir) -> subprocess.CompletedProcess:
    """The real `gas` process (console-script entry point), as a researcher runs it."""
    env = {**os.environ, "GAS_REFERENCE_DIR": str(reference_dir), "PYTHONPATH": str(REPO)}
    code = "import sys; from cli.main import main; sys.argv = ['gas', *sys.argv[1:]]; main()"
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_gas_annotate_process_ends_with_its_output_flushed_and_its_exit_code(
    reference_dir, tmp_path, write_vcf
):
    # `gas annotate` skips the interpreter's teardown (os._exit): nothing it prints may be lost.
    out = tmp_path / "o.vcf"
    done = _gas("annotate", str(write_vcf(["17 7676550 . G A . . ."])), "-o", str(out),
                reference_dir=reference_dir)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Annotated 1 variants" in done.stdout
    assert done.stdout.rstrip().endswith(f"summary: {tmp_path / 'o.summary.json'}")
    assert "GAS_REGION=CDS" in out.read_text()
    bad = _gas("annotate", str(write_vcf(["17 abc . G A . . ."], name="bad.vcf")), "-o",
               str(tmp_path / "b.vcf"), reference_dir=reference_dir)  # fmt: skip
    assert bad.returncode == 1
    assert "Error: MalformedVcf" in bad.stderr


def test_annotating_in_one_thread_imports_only_what_it_needs(reference_dir, tmp_path, write_vcf):
    # Start-up is a large part of a one-shot run: pyarrow.compute (~40 ms of wrappers), the
    # thread pool and the cloud libraries stay out of a one-thread annotation.
    vcf = write_vcf(["17 7676550 . G A . . .", "1 1000 . A C,G . . ."])
    probe = (
        "import sys\nfrom pathlib import Path\nfrom annotator import annotate_file\n"
        f"d = Path({str(tmp_path)!r})\n"
        f"annotate_file(Path({str(vcf)!r}), d / 'o.vcf', d / 'o.log', d / 'o.json', "
        f"reference_dir=Path({str(reference_dir)!r}), threads=1)\n"
        "banned = ('pyarrow.compute', 'pyarrow.feather', 'multiprocessing', "
        "'concurrent.futures', 'boto3', 'pynamodb', 'dateutil')\n"
        "print(sorted(m for m in sys.modules if m.startswith(banned)))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    shown = subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().splitlines()[-1] == "[]"


# ---- gas reference add-sequence / list, and install-defaults keeping a sequence ------------


def _small_bundle(tmp_path: Path) -> Settings:
    """A GRCh38 bundle of two genes (chr1, chrM) in tmp_path/ref, and settings pointing there."""
    from annotator.sources import build_from_gtf

    attrs = 'gene_id "G.1"; gene_name "G"; gene_type "protein_coding"; transcript_id "T";'
    gtf = tmp_path / "model.gtf"
    gtf.write_text(
        "".join(
            f"{c}\tT\t{kind}\t1\t500\t.\t+\t.\t{attrs}\n"
            for c in ("chr1", "chrM")
            for kind in ("gene", "transcript", "exon")
        )
    )
    build_from_gtf(gtf, "GRCh38", tmp_path / "ref" / "GRCh38")
    return replace(Settings(), reference_dir=tmp_path / "ref", state_dir=tmp_path)


def test_add_sequence_reports_what_it_added_and_skipped(tmp_path):
    s = _small_bundle(tmp_path)
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chr1\nACGTacgtNN\n>chrM\nGATCACAGG\n>chrUn_KI270302v1\nACGT\n>chr7\nA\n")
    r = CliRunner().invoke(cli(), ["reference", "list"], obj=s)
    assert "no sequence (coordinates only)" in r.output
    r = CliRunner().invoke(
        cli(), ["reference", "add-sequence", "--build", "GRCh38", str(fasta)], obj=s
    )
    assert r.exit_code == 0, r.output
    assert "added the sequence of 2 contig(s), 19 bases, from genome.fa" in r.output
    assert "1, MT" in r.output
    assert (
        "skipped 2 record(s), not a contig of the GRCh38 bundle: chrUn_KI270302v1, chr7" in r.output
    )
    r = CliRunner().invoke(cli(), ["reference", "list"], obj=s)
    assert "sequence: 1,MT, 19 bases" in r.output


def test_add_sequence_into_another_reference_dir_with_a_rename(tmp_path):
    s = _small_bundle(tmp_path)
    fasta = tmp_path / "mt.fa"
    fasta.write_text(">MT_human rCRS\nGATCACAGGTCTATCACC\n")
    moved = replace(s, reference_dir=tmp_path / "elsewhere")
    r = CliRunner().invoke(
        cli(),
        [
            "reference",
            "add-sequence",
            "--build",
            "GRCh38",
            "--reference-dir",
            str(tmp_path / "ref"),
            "--rename",
            "MT_human=MT",
            str(fasta),
        ],
        obj=moved,
    )
    assert r.exit_code == 0, r.output
    assert "added the sequence of 1 contig(s), 18 bases" in r.output
    assert (tmp_path / "ref" / "GRCh38" / "sequence" / "sequence.json").exists()


def test_add_sequence_failures_are_one_readable_line(tmp_path):
    s = _small_bundle(tmp_path)
    fasta = tmp_path / "other.fa"
    fasta.write_text(">chrUn_1\nACGT\n")
    r = CliRunner().invoke(
        cli(), ["reference", "add-sequence", "--build", "GRCh38", str(fasta)], obj=s
    )
    assert r.exit_code == 1
    assert "Error: none of the records of other.fa is a contig of the GRCh38 bundle" in r.output
    assert "Traceback" not in r.output
    r = CliRunner().invoke(
        cli(), ["reference", "add-sequence", "--build", "GRCh37", str(fasta)], obj=s
    )
    assert r.exit_code == 1 and "the GRCh37 reference bundle is not installed" in r.output
    r = CliRunner().invoke(
        cli(),
        ["reference", "add-sequence", "--build", "GRCh38", "--rename", "x", str(fasta)],
        obj=s,
    )
    assert r.exit_code == 2 and "is not RECORD=CONTIG" in r.output


def test_install_defaults_keeps_an_added_sequence(tmp_path, monkeypatch):
    """A rebuild (forced, or for a new bundle format) keeps the sequence added to the bundle."""
    import annotator.sources as sources

    attrs = 'gene_id "G.1"; gene_name "G"; gene_type "protein_coding"; transcript_id "T";'
    gtf = tmp_path / "model.gtf"
    gtf.write_text(
        "".join(
            f"{c}\tT\t{kind}\t1\t500\t.\t+\t.\t{attrs}\n"
            for c in ("chr1", "chrM")
            for kind in ("gene", "transcript", "exon")
        )
    )
    # The packages' gene model takes ~30 s to build; this one stands in for it.
    monkeypatch.setattr(sources, "download_sources", lambda *a: [tmp_path / "a", tmp_path / "b"])
    monkeypatch.setattr(sources, "model_grch38", lambda *files: sources.model_from_gtf(gtf))
    s = replace(Settings(), reference_dir=tmp_path / "ref", state_dir=tmp_path)
    run = CliRunner().invoke
    r = run(cli(), ["reference", "install-defaults", "--build", "GRCh38"], obj=s)
    assert r.exit_code == 0, r.output
    fasta = tmp_path / "g.fa"
    fasta.write_text(">1\nACGTTT\n")
    r = run(cli(), ["reference", "add-sequence", "--build", "GRCh38", str(fasta)], obj=s)
    assert r.exit_code == 0, r.output
    bundle_dir = tmp_path / "ref" / "GRCh38"
    manifest = bundle_dir / "manifest.json"
    for how in (["--force"], []):
        if not how:  # an older bundle format: rebuilt without --force
            m = json.loads(manifest.read_text())
            manifest.write_text(json.dumps({**m, "format_version": 2}))
        r = run(cli(), ["reference", "install-defaults", "--build", "GRCh38", *how], obj=s)
        assert r.exit_code == 0, r.output
        assert "bundle written" in r.output
        from annotator.bundle import Bundle
        from annotator.sequence import RCRS_FASTA, load_sequence

        bundle = Bundle(bundle_dir)
        assert load_sequence(bundle).fetch(0, 0, 6) == b"ACGTTT"
        held = ["1", "MT"] if RCRS_FASTA.exists() else ["1"]
        assert bundle.manifest["sequence"]["contigs"] == held
    r = run(cli(), ["reference", "list"], obj=s)
    assert "sequence: " + ",".join(held) in r.output
