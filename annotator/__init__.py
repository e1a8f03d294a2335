"""The GAS annotator engine: region annotation of VCF files against compact reference bundles.

``annotate_file`` is the one entry point the annotate activity and ``gas annotate`` share. Names are
imported on first use, so ``annotator.downloads`` (standard library only) runs without numpy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnnotationResult": "annotator.engine",
    "annotate_file": "annotator.engine",
    "default_threads": "annotator.engine",
    "PARALLEL_INPUT_BYTES": "annotator.engine",
    "AnnotationInputError": "annotator.exceptions",
    "BuildMismatch": "annotator.exceptions",
    "MalformedVcf": "annotator.exceptions",
    "ReferenceBuildError": "annotator.exceptions",
    "ReferenceUnavailable": "annotator.exceptions",
    "TruncatedInput": "annotator.exceptions",
    "UnsupportedVcfVersion": "annotator.exceptions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'annotator' has no attribute {name!r}")
