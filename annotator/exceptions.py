"""How the annotator fails: the user's file is at fault, or this worker lacks a reference bundle."""

from __future__ import annotations


class AnnotationInputError(Exception):
    """The uploaded file cannot be annotated; ``str(exc)`` is one sentence for the researcher."""

    error_name = "AnnotationInputError"


class MalformedVcf(AnnotationInputError):
    """The file is not a well-formed VCF (binary, no header, wrong columns, bad position...)."""

    error_name = "MalformedVcf"


class UnsupportedVcfVersion(AnnotationInputError):
    """The file declares a VCF version this annotator does not read (e.g. VCFv3.3)."""

    error_name = "UnsupportedVcfVersion"


class TruncatedInput(AnnotationInputError):
    """The compressed file ends before its end-of-stream marker."""

    error_name = "TruncatedInput"


class BuildMismatch(AnnotationInputError):
    """The file's genome build differs from the one requested, or has no bundle at all."""

    error_name = "BuildMismatch"


class ReferenceUnavailable(Exception):
    """An operator problem: the reference bundle for a build is not installed on this worker."""

    error_name = "ReferenceUnavailable"


class ReferenceBuildError(Exception):
    """A reference bundle could not be built from its source (bad GTF, failed download...)."""

    error_name = "ReferenceBuildError"
