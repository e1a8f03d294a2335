"""INFO fields are declared once (annotator.info): the engine's header is rendered from it, and
each per-allele column names a declared field."""

from __future__ import annotations

from annotator import columns, engine, info
from annotator.consequences import CSQ_FORMAT


def test_the_engine_header_is_the_declaration() -> None:
    assert info.header_lines(CSQ_FORMAT) == engine.INFO_LINES
    assert [line.split(",")[0].removeprefix("##INFO=<ID=") for line in engine.INFO_LINES] == list(
        info.IDS
    )


def test_every_column_reads_a_declared_per_allele_field() -> None:
    for column in columns.TABLE:
        if column.info:
            assert info.BY_ID[column.info].number == "A", column.name


def test_the_region_description_lists_the_declared_region_classes() -> None:
    described = info.BY_ID["GAS_REGION"].description
    for region in columns.REGION_CLASSES:
        assert region in described
