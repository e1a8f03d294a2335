"""The JSON Schemas in ``definitions/schemas``: workflow inputs and activity inputs and outputs."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import jsonschema

from gas.settings import REPO_ROOT

SCHEMAS_DIR = REPO_ROOT / "definitions" / "schemas"


class SchemaViolation(ValueError):
    """A document does not match its schema; the message says where and why."""


@lru_cache(maxsize=64)
def load(file_name: str) -> dict[str, Any]:
    """A schema by file name."""
    return json.loads((SCHEMAS_DIR / file_name).read_text())


@lru_cache(maxsize=64)
def _validator(file_name: str) -> jsonschema.protocols.Validator:
    schema = load(file_name)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check(document: Any, file_name: str) -> None:
    """Raise SchemaViolation unless ``document`` matches the schema ``file_name``."""
    errors = sorted(_validator(file_name).iter_errors(document), key=lambda e: list(e.path))
    if errors:
        details = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:5]
        )
        raise SchemaViolation(f"{file_name}: {details}")


def problems(document: Any, file_name: str) -> list[str]:
    """Every way ``document`` violates the schema, as readable lines."""
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(_validator(file_name).iter_errors(document), key=lambda e: list(e.path))
    ]
