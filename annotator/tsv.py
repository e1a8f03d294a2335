"""The variant table as TSV text: what the outputs wrote and what a download makes on request
from the Parquet table (numpy and pyarrow only, so the web process renders it without the
annotator's engine)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from annotator.columns import NAMES as COLUMNS
from annotator.columns import source_columns_from_metadata


def tsv_names(schema: pa.Schema) -> tuple[str, ...]:
    """The TSV's columns for a variant table: the fixed ones, then its annotation sources' (which
    the Parquet schema's metadata names; none for a job without sources)."""
    held = source_columns_from_metadata(schema.metadata)[0]
    return COLUMNS + tuple(c.name for c in held)


def tsv_header(names: tuple[str, ...] = COLUMNS) -> bytes:
    """The TSV's first line."""
    return ("\t".join(names) + "\n").encode()


def tsv_text(table: pa.Table, names: tuple[str, ...] = COLUMNS) -> memoryview:
    """The table's TSV lines (``names``; null is an empty cell; csv's minimal quoting; a source's
    flag is 1 or empty, its 32-bit floats as written)."""
    cells = []
    for name in names:
        column = table.column(name).combine_chunks()
        if column.type == pa.bool_():
            column = pc.if_else(column, "1", pa.scalar(None, pa.string()))
        elif column.type != pa.string():
            column = pc.cast(column, pa.string())
        column = pc.fill_null(column, "")
        if pc.any(pc.match_substring(column, '"')).as_py():
            quoted = pc.binary_join_element_wise(
                '"', pc.replace_substring(column, '"', '""'), '"', ""
            )
            column = pc.if_else(pc.match_substring(column, '"'), quoted, column)
        cells.append(column)
    cells[-1] = pc.binary_join_element_wise(cells[-1], "", "\n")
    lines = pc.binary_join_element_wise(*cells, "\t")
    width = 8 if pa.types.is_large_string(lines.type) else 4
    offsets = np.frombuffer(lines.buffers()[1], np.int32 if width == 4 else np.int64)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return memoryview(lines.buffers()[2])[first:last]
