"""`funnelfeed links`: each rep's private OPML link; `--rotate` / `--revoke` for leaked ones.

Only a hash of each token is stored, so a link can be shown once, when it is
created. Running `links` again creates links for reps that have none and, for
the others, says when their link was issued and how to replace it.
"""

from __future__ import annotations

from pathlib import Path

import click

from aggregator.commands.core import config_option
from aggregator.errors import NotFoundError
from aggregator.outputs.tokens import hash_token, new_token
from aggregator.runtime import open_runtime


def opml_url(base_url: str, token: str) -> str:
    """The address a rep imports into a feed reader."""
    return f"{base_url.rstrip('/')}/f/{token}/opml"


@click.command()
@config_option
@click.option("--base-url", default=None, help="Public address to print links with (default: config web.base_url).")
@click.option("--rotate", "rotate", multiple=True, metavar="REP",
              help="Issue a new link for REP; the old one stops working at once (repeatable).")
@click.option("--revoke", "revoke", multiple=True, metavar="REP",
              help="Disable REP's link without issuing a new one (repeatable).")
def links(config_path: Path, base_url: str | None, rotate: tuple[str, ...], revoke: tuple[str, ...]) -> None:
    """Print each rep's private OPML link, creating links for reps that have none.

    A link is shown only when it is created: only a hash is stored. Use --rotate REP
    to replace a lost or leaked link (the old link then gives 404 immediately).
    """
    both = sorted(set(rotate) & set(revoke))
    if both:
        raise click.UsageError(f"--rotate and --revoke both name {', '.join(both)}: --rotate issues a new "
                               "link (the old one stops working), --revoke leaves the rep with none; pick one")
    runtime = open_runtime(config_path)
    try:
        base = base_url or runtime.config.web.base_url
        known = {r.id for r in runtime.config.reps}
        unknown = [r for r in (*rotate, *revoke) if r not in known]
        if unknown:
            raise NotFoundError(f"unknown rep(s): {', '.join(unknown)}; reps are listed under `reps:` "
                                f"in {config_path}")
        if not known:
            click.echo(f"no reps in {config_path}: add them under reps: (id, name, accounts), then run "
                       "`funnelfeed links` again", err=True)
            return
        now = runtime.clock()
        for rep_id in revoke:
            runtime.storage.set_rep_token_hash(rep_id, None, now)
            click.echo(f"{rep_id}: link revoked (its feeds now answer 404)", err=True)
        selected = rotate if (rotate or revoke) else known
        targets = [r for r in runtime.config.reps if r.id in selected]
        rows = {r.id: r for r in runtime.storage.reps()}
        issued = 0
        for rep in targets:
            row = rows.get(rep.id)
            if row is not None and row.token_hash and rep.id not in rotate:
                when = row.token_created_at.strftime("%Y-%m-%d %H:%M UTC") if row.token_created_at else "earlier"
                click.echo(f"{rep.id}\t{rep.name}\tlink issued {when}; it cannot be shown again "
                           f"(run `funnelfeed links --rotate {rep.id}` for a new one)")
                continue
            token = new_token()
            runtime.storage.set_rep_token_hash(rep.id, hash_token(token), now)
            click.echo(f"{rep.id}\t{rep.name}\t{opml_url(base, token)}")
            issued += 1
        if issued:
            click.echo(f"{issued} new link(s). Send each to its rep privately: anyone holding a link can "
                       "read that rep's feeds, internal notes included. This is the only time they are "
                       "shown.", err=True)
    finally:
        runtime.close()


COMMANDS = [links]
