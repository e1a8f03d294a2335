"""An API client for tests that checks every response against the served OpenAPI document.

Each answer must be documented for its operation (path, method, status) with its content type,
and its body must validate against the documented schema (JSON Schema 2020-12, as OpenAPI 3.1
uses it). A response the document does not describe fails the test that received it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.test import TestResponse

DOCUMENT_URI = "urn:gas:openapi"


@dataclass
class OpenApiChecker:
    """Finds the operation a request hit and validates its response."""

    document: dict[str, Any]
    checked: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.base = self.document["servers"][0]["url"]
        self.registry = Registry().with_resource(
            DOCUMENT_URI, Resource.from_contents(self.document, default_specification=DRAFT202012)
        )
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$"), path)
            for path in self.document["paths"]
        ]

    def operation(self, method: str, url: str) -> tuple[str, dict[str, Any]]:
        path = url.split("?", 1)[0]
        assert path.startswith(self.base), f"{url} is not under {self.base}"
        relative = path[len(self.base) :]
        for pattern, template in self.templates:
            if pattern.match(relative):
                operations = self.document["paths"][template]
                assert method.lower() in operations, f"{method} {template} is not documented"
                return template, operations[method.lower()]
        raise AssertionError(f"{url}: no documented path matches")

    def check(self, method: str, url: str, response: TestResponse) -> None:
        template, operation = self.operation(method, url)
        status = str(response.status_code)
        answers = operation["responses"]
        assert status in answers, (
            f"{method} {template} answered {status}, documented: {sorted(answers)}; "
            + response.get_data(as_text=True)[:300]
        )
        documented = answers[status].get("content")
        if not documented:
            assert not response.get_data(), f"{method} {template} {status} must have no body"
            return
        mimetype = response.mimetype
        assert mimetype in documented, f"{method} {template} {status}: {mimetype} not in document"
        schema = documented[mimetype].get("schema")
        if schema is not None:
            validator = Draft202012Validator(
                {"$ref": DOCUMENT_URI + schema["$ref"]},
                registry=self.registry,
                format_checker=FormatChecker(),
            )
            errors = sorted(validator.iter_errors(response.get_json()), key=str)
            assert not errors, f"{method} {template} {status}: {errors[0].message}"
        self.checked.append((method.upper(), template, response.status_code))


class ApiClient:
    """Requests to /api/v1 with a token (or none), each response checked by ``checker``."""

    def __init__(self, client: FlaskClient, checker: OpenApiChecker, token: str | None) -> None:
        self.client, self.checker, self.token = client, checker, token

    def request(self, method: str, url: str, **kwargs: Any) -> TestResponse:
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        self.checker.check(method, url, response)
        return response

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", url, **kwargs)
