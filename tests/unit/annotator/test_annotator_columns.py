"""The variant table's column declarations, and the vocabularies the web process reads."""

from __future__ import annotations

import subprocess
import sys

from annotator import columns, engine, outputs


def test_the_engine_reads_its_region_classes_from_the_one_list() -> None:
    assert engine.REGIONS is columns.REGION_CLASSES


def test_the_outputs_write_exactly_the_declared_columns() -> None:
    assert outputs.COLUMNS == columns.NAMES
    assert [n for n in outputs.SCHEMA.names if n != "chrom_index"] == list(columns.NAMES)
    assert set(columns.CONSEQUENCE_COLUMNS) <= set(columns.NAMES)
    assert list(columns.NAMES[-len(columns.CONSEQUENCE_COLUMNS) :]) == list(
        columns.CONSEQUENCE_COLUMNS
    )  # new columns last: readers that count columns keep working


def test_the_plain_modules_load_no_numpy_pyarrow_or_pysam() -> None:
    # The web process and the API document import these; the heavy modules stay out.
    code = (
        "import sys, annotator.columns, annotator.terms, webapp.api_spec; "
        "print(sorted(m for m in ('numpy', 'pyarrow', 'pysam') if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"
