"""Page tokens: where the next page of an account's job list starts, for the pages and the API.

A token is signed with the dashboard's key and names the account and the query it continues, so
another account's token, a token of another query, or a changed one is refused
(:class:`BadPageToken`) before DynamoDB sees it: DynamoDB rejects a start key of another user's
index partition as a server error.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadData, URLSafeSerializer

# The longest token the API takes (its keys are three short strings; this is generous).
MAX_LENGTH = 1024


class BadPageToken(ValueError):
    """Not a page token this dashboard gave out for this account and this query."""


# One salt for every job list (the pages' and the API's): a token names its query, so one face's
# token is another query's there and refused all the same.
SALT = "jobs-page"


def _serializer(secret_key: str | bytes) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def dumps(
    secret_key: str | bytes,
    user_id: str,
    query: dict[str, Any],
    last_key: dict[str, Any],
) -> str:
    """A token for the page after ``last_key`` of ``user_id``'s list under ``query``."""
    return str(_serializer(secret_key).dumps({"u": user_id, "q": query, "k": last_key}))


def loads(
    secret_key: str | bytes, token: str, user_id: str, query: dict[str, Any]
) -> dict[str, Any]:
    """The start key a token holds, if it was given out for ``user_id`` and ``query``."""
    if len(token) > MAX_LENGTH:
        raise BadPageToken("too long")
    try:
        payload = _serializer(secret_key).loads(token)
    except BadData:
        raise BadPageToken("not signed by this dashboard") from None
    if not isinstance(payload, dict) or payload.get("u") != user_id:
        raise BadPageToken("another account's")
    if payload.get("q") != query:
        raise BadPageToken("another query's")
    last_key = payload.get("k")
    if not isinstance(last_key, dict) or not _is_start_key(last_key, user_id):
        raise BadPageToken("no start key")
    return last_key


def _is_start_key(value: Any, user_id: str) -> bool:
    """A DynamoDB start key of the account's own partition: {name: {"S": text}} entries."""
    if not isinstance(value, dict) or not value:
        return False
    for name, typed in value.items():
        if not (isinstance(name, str) and isinstance(typed, dict) and len(typed) == 1):
            return False
        if not isinstance(typed.get("S"), str):
            return False
    return value.get("user_id") == {"S": user_id}
