"""HTTP validators: ETag / Last-Modified values and the 304 decision (pure, RFC 9110 §13)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

__all__ = ["http_date", "not_modified"]


def http_date(value: datetime) -> str:
    """``Tue, 03 Nov 2026 12:00:00 GMT``."""
    return format_datetime(value.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def not_modified(headers: Mapping[str, str], etag: str, last_modified: datetime | None) -> bool:
    """Whether a GET with these request headers may be answered 304.

    If-None-Match wins when present (weak comparison); If-Modified-Since counts only
    without it, since a tag change alone moves the ETag but not the date.
    """
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = _etags(inm)
        return "*" in tags or etag.removeprefix("W/") in tags
    ims = headers.get("if-modified-since")
    if ims is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since
