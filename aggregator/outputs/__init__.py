"""What reps subscribe to: private per-rep OPML and RSS / Atom / JSON Feed streams.

    tokens.py       256-bit feed tokens, stored hashed, compared in constant time
    redact.py       logging filter keeping tokens out of access logs
    streams.py      which items a stream holds (pure; the entitlement rule applied)
    feeds.py        RSS 2.0 / Atom 1.0 (feedgen) and JSON Feed 1.1 rendering
    opml.py         the rep's OPML file
    conditional.py  ETag / Last-Modified and the 304 decision
    service.py      cache + single flight around all of the above
"""

from __future__ import annotations

from aggregator.outputs.redact import FILTER_PATH, TokenRedactingFilter, install_token_redaction, redact
from aggregator.outputs.service import PRIVATE_HEADERS, FeedService, Rendered
from aggregator.outputs.tokens import hash_token, new_token

__all__ = [
    "FILTER_PATH",
    "PRIVATE_HEADERS",
    "FeedService",
    "Rendered",
    "TokenRedactingFilter",
    "hash_token",
    "install_token_redaction",
    "new_token",
    "redact",
]
