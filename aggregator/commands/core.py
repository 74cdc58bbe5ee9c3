"""Core commands: check, serve, worker, fetch, sources, preview, retag."""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Sized
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aggregator.config import effective_sources, load_config
from aggregator.config.messages import did_you_mean
from aggregator.config.templates import skipped_prospects
from aggregator.errors import ConfigError, FunnelfeedError, NotFoundError
from aggregator.runtime import open_runtime
from aggregator.schedule import lease_length
from aggregator.storage import aware
from aggregator.types import FetchOutcome, SourceSpec

if TYPE_CHECKING:
    from rich.console import Console

    from aggregator.config.schema import Selectors
    from aggregator.runtime import Runtime

config_option = click.option(
    "--config", "config_path", default="config.yaml", show_default=True,
    envvar="FUNNELFEED_CONFIG", type=click.Path(dir_okay=False, path_type=Path),
    help="Path to config.yaml (env FUNNELFEED_CONFIG).",
)


@click.command()
@config_option
def check(config_path: Path) -> None:
    """Validate config.yaml and print every problem at once (exit 1), or a summary (exit 0)."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s) found in {config_path}", err=True)
        sys.exit(1)
    sources = effective_sources(config)
    click.echo(f"{config_path}: OK: {_count(config.prospects, 'prospect')}, {_count(sources, 'source')} "
               f"({len(config.sources)} configured, {len(sources) - len(config.sources)} from "
               f"{_count(config.templates, 'template')}), {_count(config.reps, 'rep')}")
    for template in config.templates:
        bare = skipped_prospects(template, config)
        if bare:  # expand_template skips them: say so, or they silently get no coverage from it
            click.echo(f"note: template {template.id!r} uses {{domain}}, so it makes no source for "
                       f"{', '.join(bare)}: give {'it' if len(bare) == 1 else 'them'} domains: in prospects:",
                       err=True)


def _count(things: Sized, noun: str) -> str:
    """A count with its noun: "1 template", "3 templates"."""
    return f"{len(things)} {noun}{'' if len(things) == 1 else 's'}"


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-fetch", is_flag=True, help="Serve the web app only (workers fetch elsewhere).")
def serve(config_path: Path, host: str, port: int, no_fetch: bool) -> None:
    """Run the web app and the fetch scheduler in one process."""
    from aggregator.service import listen
    from aggregator.service import serve as run_serve

    runtime = open_runtime(config_path)
    try:
        _ensure_admin(runtime)  # a too-short admin password stops start-up before the port is taken
        sock = listen(host, port)
    except FunnelfeedError:
        runtime.close()
        raise
    click.echo(f"funnelfeed serving on http://{host}:{port} (database: {runtime.storage.dialect}, "
               f"{len(runtime.holder.sources)} sources{', fetching' if not no_fetch else ''})", err=True)
    asyncio.run(run_serve(runtime, host, port, fetch=not no_fetch, sock=sock))


def _ensure_admin(runtime: object) -> None:
    try:
        from web.security import ensure_admin_from_env
    except ImportError:
        return
    ensure_admin_from_env(runtime)  # type: ignore[arg-type]


@click.command()
@config_option
def worker(config_path: Path) -> None:
    """Fetch only (no web): run any number of these against one PostgreSQL database."""
    from aggregator.service import STOP_SIGNALS, work

    runtime = open_runtime(config_path)
    if runtime.storage.dialect == "sqlite":
        click.echo("note: with SQLite, run one process only (`funnelfeed serve`); workers need PostgreSQL "
                   "to share sources", err=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, stop.set)
        await work(runtime, stop=stop)

    asyncio.run(main())


def _select(specs: list[SourceSpec], ids: tuple[str, ...]) -> list[SourceSpec]:
    by_id = {s.id: s for s in specs}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise NotFoundError(f"unknown source(s): {', '.join(unknown)}; `funnelfeed sources` lists them")
    return [by_id[i] for i in ids]


@click.command()
@config_option
@click.option("--source", "source_ids", multiple=True, help="Fetch this source (repeatable).")
@click.option("--all", "fetch_all", is_flag=True, help="Fetch every enabled source, due or not.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source per line.")
def fetch(config_path: Path, source_ids: tuple[str, ...], fetch_all: bool, as_json: bool) -> None:
    """Run one fetch pass (due sources by default) and print a summary.

    Exit status is 0 when the pass ran, even if some sources failed.
    """
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from aggregator.pipeline import Pipeline
    from aggregator.service import owner_id

    runtime = open_runtime(config_path)
    specs = [s for s in runtime.holder.sources if s.enabled]
    if source_ids:
        specs = _select(runtime.holder.sources, source_ids)
    elif not fetch_all:
        now = runtime.clock()
        due = {r.id for r in runtime.storage.sources() if (aware(r.next_due) or now) <= now}
        specs = [s for s in specs if s.id in due]

    done: list[FetchOutcome] = []

    def emit(o: FetchOutcome) -> None:
        done.append(o)
        click.echo(json.dumps({"source": o.source, "status": o.status, "new": o.new,
                               "updated": o.updated, "error": o.error}))

    async def run(claimed: list[SourceSpec]) -> list[FetchOutcome]:
        pipeline = Pipeline(runtime)
        try:
            if as_json:
                return await pipeline.run_pass(claimed, emit)
            with Progress(console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task("fetching", total=len(claimed))

                def advance(o: FetchOutcome) -> None:
                    done.append(o)
                    progress.advance(task)
                return await pipeline.run_pass(claimed, advance)
        finally:
            await pipeline.aclose()

    if not specs:
        _say_nothing_to_fetch(runtime)
        runtime.close()
        return
    # Lease what this pass fetches, as workers do: a source another process is fetching right
    # now (a worker, or serve) is left to it, never fetched twice, and its lease is not taken over.
    owner = owner_id()
    held = set(runtime.storage.claim(owner, runtime.clock(), lease_length(runtime.config.fetch.deadline),
                                     [s.id for s in specs]))
    busy = [FetchOutcome(s.id, "deferred", error="another funnelfeed process is fetching it right now")
            for s in specs if s.id not in held]
    for outcome in busy if as_json else ():
        emit(outcome)
    try:
        outcomes = busy + asyncio.run(run([s for s in specs if s.id in held]))
    except KeyboardInterrupt:  # Ctrl-C: say what was kept instead of click's bare "Aborted!"
        runtime.storage.release_owned(owner)
        runtime.close()
        click.echo(f"interrupted: {len(done)} of {_count(specs, 'source')} finished and their items are "
                   "stored; the rest keep their schedule, so a due one is fetched by the next pass", err=True)
        sys.exit(130)
    runtime.storage.release_owned(owner)  # recording each attempt released its lease; this is a safety net
    runtime.close()
    if as_json:
        return
    table = Table("source", "status", "new", "updated", "error", title="fetch pass")
    for o in sorted(outcomes, key=lambda o: (o.status != "error", o.source)):
        table.add_row(o.source, o.status, str(o.new), str(o.updated), o.error or "")
    console = _report_console()
    console.print(table)
    counts = Counter(o.status for o in outcomes)
    console.print(f"{_count(outcomes, 'source')}: {counts['ok']} ok, {counts['not_modified']} not modified, "
                  f"{counts['deferred']} deferred, {counts['error']} failed; "
                  f"{sum(o.new for o in outcomes)} new items, {sum(o.updated for o in outcomes)} updated")


def _say_nothing_to_fetch(runtime: Runtime) -> None:
    """An empty table and "0 sources" look like a broken config; say why nothing ran instead."""
    enabled = [s.id for s in runtime.holder.sources if s.enabled]
    if not runtime.holder.sources:
        message = f"no sources in {runtime.holder.path}: add some under sources: or templates:"
    elif not enabled:
        message = "every source is disabled (enabled: false); nothing to fetch"
    else:
        due = [r.next_due for r in runtime.storage.sources() if r.id in enabled and r.next_due is not None]
        soonest = f" (the next is due {_short_time(min(due))})" if due else ""
        message = f"no source is due yet{soonest}; `funnelfeed fetch --all` fetches every source now"
    click.echo(message, err=True)  # stderr: `--json` output stays JSON lines (none here)


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source per line.")
def sources(config_path: Path, as_json: bool) -> None:
    """Show the health of every source."""
    from rich.table import Table

    runtime = open_runtime(config_path)
    rows = runtime.storage.sources()
    runtime.close()

    def iso(value: datetime | None) -> str | None:
        moment = aware(value)  # SQLite hands back naive times; say they are UTC, as the table does
        return moment.isoformat() if moment is not None else None

    if as_json:
        for r in rows:
            status = "error" if r.consecutive_failures else (r.last_status or "never")
            click.echo(json.dumps({
                "source": r.id, "status": status, "kind": r.kind, "visibility": r.visibility,
                "last_attempt": iso(r.last_attempt), "last_success": iso(r.last_success),
                "http_status": r.http_status, "consecutive_failures": r.consecutive_failures,
                "next_due": iso(r.next_due), "items": r.items_stored, "error": r.last_error,
                "notes": r.notes.splitlines() if r.notes else [],
            }))
        return
    table = Table("source", "kind", "vis.", "last attempt", "HTTP", "last success", "failures", "items", "next due",
                  "error / notes")
    for r in rows:
        said = [r.last_error] if r.last_error else []
        said += [f"note: {note}" for note in (r.notes or "").splitlines()]
        table.add_row(r.id, r.kind, r.visibility, _short_time(r.last_attempt) or "never", str(r.http_status or ""),
                      _short_time(r.last_success) or "never", str(r.consecutive_failures), str(r.items_stored),
                      _short_time(r.next_due), "\n".join(said))
    _report_console().print(table)


#: columns for a report written to a file or a pipe (Rich would fold it to 80 and wrap every error)
_REPORT_WIDTH = 200


def _report_console() -> Console:
    """A console for tables: the terminal's width, or a wide page when the output is redirected."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=_REPORT_WIDTH)


def _short_time(value: datetime | None) -> str:
    """A stored time for people: UTC to the second (``--json`` keeps full ISO 8601)."""
    moment = aware(value)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else ""


@click.command()
@config_option
@click.argument("source_id", required=False)
@click.option("--url", help="Preview a URL that is not in config.yaml yet.")
@click.option("--kind", type=click.Choice(["feed", "page", "export"]), default="feed", show_default=True)
@click.option("--select", "selectors", multiple=True, metavar="FIELD=SELECTOR",
              help="Page selectors, e.g. --select item=article --select link=a@href.")
@click.option("--visibility", type=click.Choice(["external", "internal"]), default="external")
@click.option("--json", "as_json", is_flag=True)
def preview(config_path: Path, source_id: str | None, url: str | None, kind: str,
            selectors: tuple[str, ...], visibility: str, as_json: bool) -> None:
    """Fetch once and print the items that would be stored, with tags; stores nothing."""
    from aggregator.fetch import Fetcher
    from aggregator.outputs.headline import headline
    from aggregator.tagging import ItemTagger

    config = load_config(config_path)
    if source_id:
        spec = _select(effective_sources(config), (source_id,))[0]
    elif url:
        if kind == "export":
            raise click.UsageError("an export needs its column mapping: add the source to config.yaml with "
                                   "columns: and run `funnelfeed preview SOURCE_ID`")
        if selectors and kind != "page":
            raise click.UsageError("--select applies only to --kind page")
        select = _selectors(selectors) if selectors else None
        spec = SourceSpec(id="preview", url=url, kind=kind, visibility=visibility,  # type: ignore[arg-type]
                          every=timedelta(hours=1), select=select)
    else:
        raise click.UsageError("give a SOURCE_ID from config.yaml or --url")

    async def run():  # type: ignore[no-untyped-def]
        fetcher = Fetcher(config.fetch)
        try:
            return await fetcher.fetch(spec, etag=None, last_modified=None)
        finally:
            await fetcher.aclose()

    result = asyncio.run(run())
    if result.status == "error":
        click.echo(f"{spec.id}: {result.error}", err=True)
        sys.exit(1)
    tags = ItemTagger(config).tag(spec, result.items) if result.items else []
    for item, item_tags in zip(result.items, tags, strict=True):
        prospects = sorted({t[1] for t in item_tags if t[0] == "prospect"})
        stages = sorted({t[1] for t in item_tags if t[0] == "stage"})
        if as_json:
            click.echo(json.dumps({"key": item.key, "title": item.title, "link": item.link,
                                   "published": item.published.isoformat() if item.published else None,
                                   "prospects": prospects, "stages": stages}))
        else:
            date = item.published.date().isoformat() if item.published else "no date"
            click.echo(f"- {headline(item.title, item.text)}\n  {item.link or '(no link)'}  [{date}]  "
                       f"prospects: {', '.join(prospects) or '-'}  stages: {', '.join(stages) or '-'}")
    for note in result.notes:  # selectors to fix, unreadable dates, skipped rows
        click.echo(f"note: {note}", err=as_json)
    if not as_json:
        click.echo(f"{len(result.items)} item(s) from {spec.id} ({spec.visibility}); nothing was stored")


def _selectors(options: tuple[str, ...]) -> Selectors:
    """``--select FIELD=SELECTOR`` options as Selectors; each mistake is a usage error naming the option."""
    from aggregator.config.schema import Selectors
    from aggregator.config.validate import selector_problem

    fields = list(Selectors.model_fields)
    pairs: dict[str, str] = {}
    for option in options:
        field, equals, selector = option.partition("=")
        field = field.strip()
        if not equals or not field:
            raise click.UsageError(f"--select {option!r}: write FIELD=SELECTOR, e.g. --select item=article")
        if field not in fields:
            raise click.UsageError(f"--select {option!r}: unknown field {field!r}{did_you_mean(field, fields)}; "
                                   f"fields: {', '.join(fields)}")
        if problem := selector_problem(field, selector):
            raise click.UsageError(f"--select {option!r}: {problem}")
        pairs[field] = selector
    if "item" not in pairs:
        raise click.UsageError("--select item=SELECTOR is required: it finds each item on the page "
                               "(e.g. --select item=article)")
    return Selectors.model_validate(pairs)


@click.command()
@config_option
def retag(config_path: Path) -> None:
    """Re-tag every stored item with the current config and model."""
    from rich.progress import Progress

    from aggregator.tagging import ItemTagger

    runtime = open_runtime(config_path)
    tagger = ItemTagger(runtime.config)
    total = runtime.storage.count_items()
    with Progress(transient=True) as progress:
        task = progress.add_task("re-tagging", total=total)
        done = runtime.storage.retag(lambda sid, items: tagger.tag(runtime.holder.source(sid), items),
                                     progress=lambda n: progress.advance(task, n))
    runtime.close()
    click.echo(f"re-tagged {done} items")


COMMANDS = [check, serve, worker, fetch, sources, preview, retag]
