"""The `funnelfeed` command: a click group of thin wrappers, one error → exit path.

Each group of commands lives in ``aggregator/commands/``; heavy imports (sklearn,
the web app, uvicorn) happen inside command bodies so `funnelfeed check` is fast.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys

import click

from aggregator.errors import FunnelfeedError

COMMAND_MODULES = ("core", "classify", "links", "users")


class Group(click.Group):
    """Turns every FunnelfeedError into a message on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except FunnelfeedError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


#: Query parameters whose values are credentials (news APIs take their key in the URL).
_SECRET_PARAM = re.compile(r"(?i)([?&][^=&#]*(?:key|token|secret|passw(?:or)?d|pwd|sig(?:nature)?|auth)[^=&#]*=)"
                           r"[^&#]*")
_URL_PASSWORD = re.compile(r"(//[^/?#:@\s]*:)[^/?#@\s]+@")


def redact_url(text: str) -> str:
    """``https://u:pw@h/x?api_key=abc`` → ``https://u:***@h/x?api_key=***``."""
    return _SECRET_PARAM.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))


class _UrlSecretFilter(logging.Filter):
    """httpx logs every request's full URL at INFO (`-v`): keep API keys in query strings out of logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(str(a)) if i == 1 else a for i, a in enumerate(record.args))
        return True


@click.group(cls=Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """funnelfeed: market intelligence feeds for sales teams."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _UrlSecretFilter) for f in httpx_log.filters):
        httpx_log.addFilter(_UrlSecretFilter())


def _register() -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"aggregator.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"aggregator.commands.{name}":
                continue
            raise
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
