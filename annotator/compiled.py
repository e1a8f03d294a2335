"""The annotator's C module (``annotator/_lines.c``, built when GAS is installed), or a clear
error where it is not built."""

try:
    from annotator._lines import (
        info_values,
        join_lines,
        join_rows,
        push_records,
        split_lines,
        tabix_records,
    )
except ImportError as exc:  # e.g. a checkout put on PYTHONPATH without being installed
    raise ImportError(
        "GAS's C module annotator/_lines.c is not built here: install GAS (`make setup`, or "
        "`pip install -e .`, which needs a C compiler and the Python headers)"
    ) from exc

__all__ = [
    "info_values",
    "join_lines",
    "join_rows",
    "push_records",
    "split_lines",
    "tabix_records",
]
