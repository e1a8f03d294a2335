"""The GAS annotator engine: region annotation of VCF files against compact reference bundles.

``annotate_file`` is the one entry point the annotate activity and ``gas annotate`` share.
"""

from annotator.engine import AnnotationResult, annotate_file
from annotator.exceptions import (
    AnnotationInputError,
    BuildMismatch,
    MalformedVcf,
    ReferenceBuildError,
    ReferenceUnavailable,
    TruncatedInput,
    UnsupportedVcfVersion,
)

__all__ = [
    "AnnotationInputError",
    "AnnotationResult",
    "BuildMismatch",
    "MalformedVcf",
    "ReferenceBuildError",
    "ReferenceUnavailable",
    "TruncatedInput",
    "UnsupportedVcfVersion",
    "annotate_file",
]
