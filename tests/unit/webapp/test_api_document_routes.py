"""The OpenAPI document and the API's registered routes are the same set: a route the document
does not describe fails here, and so does a documented path or method that no route serves."""

from __future__ import annotations

import re

from flask import Flask

from gas.settings import Settings
from webapp import api_spec, create_app

PREFIX = "/api/v1"
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _app() -> Flask:
    return create_app(Settings(prefix="routes", secret_key="unit-test-key"), TESTING=True)


def registered(app: Flask) -> set[tuple[str, str]]:
    """(path as OpenAPI writes it, method) for every route under the API's prefix."""
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX) :])
        found |= {(path, method) for method in (rule.methods or set()) - IGNORED_METHODS}
    return found


def documented(document: dict) -> set[tuple[str, str]]:
    return {
        (path, method.upper())
        for path, operations in document["paths"].items()
        for method in operations
        if method in {"get", "put", "post", "delete", "patch"}
    }


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    app = _app()
    routes, described = registered(app), documented(api_spec.document())
    assert routes, "no API routes found: the prefix moved?"
    assert sorted(routes - described) == [], "routes the OpenAPI document does not describe"
    assert sorted(described - routes) == [], "documented operations no route serves"


def test_the_check_sees_a_route_missing_from_the_document() -> None:
    app = _app()
    app.add_url_rule(f"{PREFIX}/jobs/<job_id>/undocumented", "undocumented", lambda job_id: "")
    assert ("/jobs/{job_id}/undocumented", "GET") in registered(app) - documented(
        api_spec.document()
    )


def test_the_check_sees_a_documented_route_that_does_not_exist() -> None:
    document = api_spec.document()
    paths = {**document["paths"], "/nowhere": {"get": {}}}
    assert ("/nowhere", "GET") in documented({"paths": paths}) - registered(_app())
