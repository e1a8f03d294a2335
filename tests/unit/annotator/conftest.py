"""Fixtures for the annotator tests: default bundles and the GENCODE GTF excerpt, made once
and cached under .gas/ (the first run downloads from PyPI; later runs are offline and fast), through
``tests.shared_cache`` since several pytest-xdist workers may ask for them at once."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from annotator.sources import install_default
from tests.shared_cache import cached

REPO = Path(__file__).resolve().parents[3]
STATE = REPO / ".gas"
PYRANGES = "pyranges==0.1.7"  # ships example_data/gencode_human.gtf.gz (GENCODE v29, chr1 excerpt)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The default GRCh38 and GRCh37 bundles, as `gas reference install-defaults` makes them."""
    ref = STATE / "reference"
    for build in ("GRCh38", "GRCh37"):

        def make(path: Path, build: str = build) -> None:
            with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
                install_default(build, Path(scratch), STATE / "reference-src")
                os.replace(Path(scratch) / build, path)

        def update(_path: Path, build: str = build) -> None:
            install_default(build, ref, STATE / "reference-src")  # rebuilt if out of date

        cached(ref / build, make, update=update)
    return ref


@pytest.fixture(scope="session")
def gencode_gtf() -> Path:
    """The GENCODE GTF excerpt shipped in the pyranges wheel."""

    def make(path: Path) -> None:
        with tempfile.TemporaryDirectory(dir=path.parent) as download:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "-q",
                "-d",
                download,
                PYRANGES,
            ]
            subprocess.run(cmd, check=True)
            wheel = next(Path(download).glob("pyranges-0.1.7-*.whl"))
            with zipfile.ZipFile(wheel) as z:
                path.write_bytes(z.read("pyranges/example_data/gencode_human.gtf.gz"))

    return cached(STATE / "test-data" / "gencode_human.gtf.gz", make)


HEADER = "##fileformat=VCFv4.2\n"
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def vcf_text(records: list[str], header: str = HEADER) -> str:
    """A small VCF: the given header lines, the #CHROM line, and tab-joined records."""
    return header + COLUMNS + "".join(r.replace(" ", "\t") + "\n" for r in records)


@pytest.fixture
def write_vcf(tmp_path: Path) -> Callable[..., Path]:
    def write(records: list[str], header: str = HEADER, name: str = "in.vcf") -> Path:
        path = tmp_path / name
        path.write_text(vcf_text(records, header))
        return path

    return write


@pytest.fixture
def outputs(tmp_path: Path) -> dict[str, Path]:
    out = tmp_path / "out"
    return {
        "output_vcf": out / "a.vcf",
        "log_path": out / "a.count.log",
        "summary_path": out / "a.summary.json",
    }


def _records_of(vcf: Path) -> list[dict[str, str]]:
    rows = []
    for line in vcf.read_text().splitlines():
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        info = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in cols[7].split(";"))
        rows.append({"CHROM": cols[0], "POS": cols[1], "ID": cols[2], **info})
    return rows


@pytest.fixture
def records_of() -> Callable[[Path], list[dict[str, str]]]:
    """Each data line of an annotated VCF as CHROM/POS/ID plus its INFO key=values."""
    return _records_of


@pytest.fixture
def known_source(tmp_path: Path) -> Callable[..., Path]:
    """Build a known-sites VCF into the source `known` (field ID), as `gas sources
    install-defaults` builds the list GAS ships; returns the built directory."""
    from annotator.annotation_sources import build_source

    def build(vcf: Path, build: str = "GRCh38") -> Path:
        out = tmp_path / f"known-{build}"
        build_source(
            vcf,
            out,
            name="known",
            build=build,
            fields=["ID"],
            version=1,
            added_at="2026-12-01T00:00:00Z",  # fixed: the output names it
        )
        return out

    return build
