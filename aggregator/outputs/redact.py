"""Keep feed tokens out of logs: a logging filter for uvicorn's access (and error) log.

A token in a URL is a bearer credential; access logs are read by many more people
than the reps who own the tokens. Install it with :func:`install_token_redaction`
in-process, or name :data:`FILTER_PATH` in a ``logging.config.dictConfig`` (which is
how ``uvicorn --workers N --log-config`` gets it into every worker).
"""

from __future__ import annotations

import logging
import re

_TOKEN_PATH = re.compile(r"/f/[^/\s?#\"']+")
REDACTED = "/f/<token>"
#: Dotted path for ``dictConfig`` ``filters: {redact: {"()": FILTER_PATH}}``.
FILTER_PATH = "aggregator.outputs.redact.TokenRedactingFilter"
ACCESS_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    """Replace the token segment of every ``/f/<token>/...`` path in ``text``."""
    return _TOKEN_PATH.sub(REDACTED, text)


class TokenRedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments so no ``/f/<token>`` path survives."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "/f/" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) and "/f/" in a else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def install_token_redaction(loggers: tuple[str, ...] = ACCESS_LOGGERS) -> None:
    """Attach a redacting filter to uvicorn's loggers (idempotent: never twice on one logger)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(f, TokenRedactingFilter) for f in logger.filters):
            logger.addFilter(TokenRedactingFilter())
