"""Input field types that SQLite and Postgres store alike: bad input is a 422 on both.

Postgres refuses some values SQLite keeps (NUL characters, NaN in JSONB); refusing
them at the edge keeps the two backends answering the same, and never with a 500.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

from app.models import EMAIL_LENGTH, KIND_LENGTH

__all__ = ["MAX_JSON_DEPTH", "Email", "Kind", "Name", "Payload", "Secret", "TokenName"]

# Deeper payloads cannot be serialised back (pydantic's limit) and are never real data.
MAX_JSON_DEPTH = 32


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        # A lone surrogate ("\ud800") is valid JSON but no UTF-8: neither backend stores it.
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


def _portable_json(value: Any) -> Any:
    # Iterative, so a hostile nesting depth cannot exhaust the stack.
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("NaN and Infinity are not JSON")
        if isinstance(item, str):
            _no_nul(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _no_nul(str(key))
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value


def _check_email(value: str) -> str:
    # A light shape check: the address is an identifier here, never mailed.
    lowered = value.lower()  # may grow: "İ".lower() is two characters
    local, at, domain = lowered.rpartition("@")
    if not at or not local or "." not in domain.strip(".") or any(c.isspace() for c in value):
        raise ValueError("not an email address")
    if len(lowered) > EMAIL_LENGTH:
        raise ValueError(f"an email address has at most {EMAIL_LENGTH} characters")
    return lowered


def _text(min_length: int, max_length: int) -> Any:
    return StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length)


Email = Annotated[
    str, _text(3, EMAIL_LENGTH), AfterValidator(_no_nul), AfterValidator(_check_email)
]
Kind = Annotated[str, _text(1, KIND_LENGTH), AfterValidator(_no_nul)]
# The lengths of users.name and tokens.name.
Name = Annotated[str, _text(1, 200), AfterValidator(_no_nul)]
TokenName = Annotated[str, _text(1, 100), AfterValidator(_no_nul)]
# Only hashed, never stored: any text will do.
Secret = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Payload = Annotated[dict[str, Any], AfterValidator(_portable_json)]
