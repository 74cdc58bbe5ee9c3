"""Fetching sources: HTTP (or file://) → bytes → sanitised, identified items.

Public surface:

- :class:`Fetcher` fetches one source at a time, politely and safely, and returns a
  :class:`~aggregator.types.FetchResult`; a bad source is a result, never an exception.
- :func:`parse_document` turns bytes into items without any I/O (``funnelfeed preview``).
- :func:`next_attempt_delay` decides when to try a source again (backoff, Retry-After).
- :class:`FetchError` is the root of the errors ``parse_document`` raises.
"""

from aggregator.fetch.errors import FetchError, NotAFeed, ParseError
from aggregator.fetch.fetcher import Fetcher
from aggregator.fetch.parse import ParsedDocument, parse_document
from aggregator.fetch.politeness import next_attempt_delay, parse_retry_after

__all__ = [
    "FetchError",
    "Fetcher",
    "NotAFeed",
    "ParseError",
    "ParsedDocument",
    "next_attempt_delay",
    "parse_document",
    "parse_retry_after",
]
