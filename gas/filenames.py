"""A researcher's file name: kept as they gave it (any script, any language), made safe to show,
to store on the job's record and to offer back in a download's ``Content-Disposition``.

The name is never part of a key in the buckets (``gas.keys`` builds those from ids).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_LENGTH = 200
DEFAULT = "input.vcf"
# Format characters that reorder or hide text ("evil\u202eftv.vcf" shows as "evilvcf.vtf"); the
# joiners (U+200C, U+200D) that some scripts and emoji need are kept.
_HIDDEN = {
    "\u200b",  # zero width space
    "\u200e",  # left-to-right mark
    "\u200f",  # right-to-left mark
    "\u2060",  # word joiner
    "\ufeff",  # byte order mark
    *(chr(c) for c in range(0x202A, 0x202F)),  # embeddings and overrides
    *(chr(c) for c in range(0x2066, 0x206A)),  # isolates
}
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9._ ()+-]+")


def clean(name: str | None) -> str:
    """The name to keep: its last path segment, NFC, without control or hiding characters or a
    leading dot, at most :data:`MAX_LENGTH` characters (the stem is cut, never the suffix);
    ``input.vcf`` if nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(
        c for c in text if unicodedata.category(c) not in ("Cc", "Cs") and c not in _HIDDEN
    )
    text = " ".join(text.split()).rstrip(" .")
    if text.startswith("."):  # never a hidden file where it is saved
        text = "_" + text
    if len(text) > MAX_LENGTH:
        stem, dot, suffix = text.partition(".")
        suffix = dot + suffix
        text = stem[: max(1, MAX_LENGTH - len(suffix))] + suffix[-(MAX_LENGTH - 1) :]
        text = text[:MAX_LENGTH]
    return text or DEFAULT


def ascii_fallback(name: str) -> str:
    """The name in plain ASCII, for clients that do not read ``filename*``: accents dropped,
    anything else an underscore."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = _UNSAFE_ASCII.sub("_", "".join(c for c in decomposed if not unicodedata.combining(c)))
    plain = plain.strip()
    return ("_" + plain if plain.startswith(".") else plain) or "download"


def content_disposition(name: str, disposition: str = "attachment") -> str:
    """A ``Content-Disposition`` offering ``name`` (RFC 6266): an ASCII ``filename`` for old
    clients, and the exact name UTF-8 percent-encoded in ``filename*`` (RFC 8187)."""
    exact = clean(name)
    return (
        f'{disposition}; filename="{ascii_fallback(exact)}"; '
        f"filename*=UTF-8''{quote(exact, safe='')}"
    )
