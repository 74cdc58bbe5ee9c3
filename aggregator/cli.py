"""The `funnelfeed` command: a click group of thin wrappers, one error → exit path.

Each group of commands lives in ``aggregator/commands/``; heavy imports (sklearn,
the web app, uvicorn) happen inside command bodies so `funnelfeed check` is fast.
"""

from __future__ import annotations

import importlib
import logging
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


@click.group(cls=Group)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """funnelfeed: market intelligence feeds for sales teams."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


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
