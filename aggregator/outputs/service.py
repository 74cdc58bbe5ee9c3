"""Serving rep feeds cheaply: token check, stream version, a small cache, single flight.

Feed readers poll far more often than anything changes. So:

1. *Fast path* (no database query): when the SQLite ``data_version`` and the config
   object are what they were when a response was cached, that response (and its
   ETag) is still right. This is what answers nearly every poll.
2. *Validate*: otherwise the token is looked up again (a rotated token dies at
   once) and the stream's version is queried (a few aggregates). Same version:
   the cached bytes are reused, nothing is rebuilt.
3. *Rebuild*: only a changed stream is rebuilt, under a per-stream lock so a
   hundred pollers arriving together cause one rebuild, not a hundred.

The stream version covers every *candidate* item of the stream's prospects, including
items this rep may not see (another account's CRM row that mentions theirs). It is
only ever a cache key, never sent: the validators a client receives depend on what the
rep receives and nothing else, or their changes would time other accounts' internal
activity. The ETag is a digest of the body; Last-Modified is the newest of the config
file, the visible entries' changes and the corrections of those entries, moved on by a
second whenever the body changes without that newest time moving (an item corrected out
of the stream). A rebuild that gives the same bytes keeps the previous validators.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aggregator.config.schema import Config, RepConfig
from aggregator.entitlements import Viewer
from aggregator.outputs.conditional import http_date
from aggregator.outputs.feeds import MEDIA_TYPES, FeedDoc, render_feed
from aggregator.outputs.opml import OPML_MEDIA_TYPE, render_opml
from aggregator.outputs.streams import Entry, Stream, StreamRef, parse_target, resolve_stream, select_entries
from aggregator.outputs.tokens import hash_token, hashes_match, well_formed
from aggregator.runtime import ConfigHolder
from aggregator.storage import Storage
from aggregator.storage.streams import DataProbe, StreamItem, last_correction, stream_items, stream_version

__all__ = ["PRIVATE_HEADERS", "FeedService", "Rendered"]

#: On every response under /f/, 404s included: never shared caches, never a Referer with the token,
#: never run or framed when a browser opens the file. Complete on their own: the web app's fast path
#: sends cached feeds before any middleware could add headers.
PRIVATE_HEADERS: Mapping[str, str] = {
    "Cache-Control": "private",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'none'; sandbox",
    "X-Frame-Options": "DENY",
}
_PAGE = 250
_MAX_CANDIDATES = 5000


@dataclass(frozen=True)
class Rendered:
    """A finished response body with its validators and headers."""

    body: bytes
    media_type: str
    etag: str
    last_modified: datetime
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _Cached:
    generation: int | None
    config: Config
    version: str
    rendered: Rendered


class FeedService:
    """Builds and caches a rep's OPML and feeds; one per process (the web app keeps it)."""

    def __init__(self, holder: ConfigHolder, storage: Storage, *, max_entries: int = 100,
                 cache_size: int = 2048) -> None:
        self.holder, self.storage = holder, storage
        self.max_entries, self.cache_size = max_entries, cache_size
        self.probe = DataProbe(storage)
        self.builds = 0  # how many bodies were rendered (tests check single flight with it)
        self._cache: OrderedDict[tuple[str, str], _Cached] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._flights = [threading.Lock() for _ in range(64)]
        self._config_seen: Config | None = None
        self._config_fp = ""

    def close(self) -> None:
        self.probe.close()

    # -- fast path ---------------------------------------------------------------
    def cached(self, token: str, path: str) -> Rendered | None:
        """The cached response when provably current, without touching the database; else None."""
        generation = self.probe.generation()
        if generation is None:
            return None
        entry = self._cache.get((hash_token(token), path))
        if entry is None or entry.generation != generation or entry.config is not self.holder.config:
            return None
        return entry.rendered

    # -- validate / rebuild --------------------------------------------------------
    def render(self, token: str, path: str) -> Rendered | None:
        """The response for ``/f/<token>/<path>``, or None for every kind of "not found"."""
        target = parse_target(path)
        if target is None or not well_formed(token):
            return None
        token_hash = hash_token(token)
        key = (token_hash, path)
        with self._flights[hash(key) % len(self._flights)]:
            generation = self.probe.generation()  # read first: a commit during our queries re-validates
            config = self.holder.config
            entry = self._cache.get(key)
            if entry is not None and generation is not None and entry.generation == generation \
                    and entry.config is config:
                return entry.rendered
            rep = self._rep_for(token_hash, config)
            if rep is None:
                self._forget(key)
                return None
            names = {p.id: p.name for p in config.prospects}
            stream: Stream | None = None
            if target.kind == "opml":
                version = self._fingerprint(config, token_hash, path)
            else:
                stream = resolve_stream(rep, target.ref, names)
                if stream is None:
                    return None
                # Over every candidate, visible or not: a cache key only (see the module docstring).
                sv = stream_version(self.storage, stream.prospects, stream.stage)
                version = self._fingerprint(config, token_hash, path, repr(sv))
            previous = entry.rendered if entry is not None else None
            if entry is not None and entry.version == version:
                rendered = entry.rendered
            elif stream is None:
                rendered = self._build_opml(rep, names, token, previous)
            else:
                rendered = self._build_feed(rep, stream, target.fmt, token, previous)
            self._remember(key, _Cached(generation, config, version, rendered))
            return rendered

    def _rep_for(self, token_hash: str, config: Config) -> RepConfig | None:
        row = self.storage.rep_by_token_hash(token_hash)
        if row is None or not hashes_match(row.token_hash, token_hash):
            return None
        return next((r for r in config.reps if r.id == row.id), None)  # removed from config: revoked

    def _fingerprint(self, config: Config, *parts: str) -> str:
        if config is not self._config_seen:
            data = [config.web.base_url, [p.model_dump(mode="json") for p in config.prospects],
                    [r.model_dump(mode="json") for r in config.reps],
                    [(s.id, s.title, s.url, s.visibility) for s in self.holder.sources]]
            self._config_fp = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
            self._config_seen = config
        return hashlib.sha256("\n".join((self._config_fp, *parts)).encode()).hexdigest()[:40]

    def _config_mtime(self) -> datetime:
        try:
            return datetime.fromtimestamp(int(self.holder.path.stat().st_mtime), UTC)
        except OSError:
            return datetime(2000, 1, 1, tzinfo=UTC)

    def _url(self, token: str, ref: StreamRef, fmt: str) -> str:
        return f"{self._home()}/f/{token}/{ref.path(fmt)}"

    def _home(self) -> str:
        return self.holder.config.web.base_url.rstrip("/")

    def _build_opml(self, rep: RepConfig, names: Mapping[str, str], token: str,
                    previous: Rendered | None) -> Rendered:
        body = render_opml(rep, names, lambda ref, fmt: self._url(token, ref, fmt), self._home())
        row = self.storage.rep(rep.id)
        stamps = [self._config_mtime(), *([row.token_created_at] if row and row.token_created_at else [])]
        return self._finish(body, OPML_MEDIA_TYPE, max(s.replace(tzinfo=s.tzinfo or UTC) for s in stamps),
                            previous)

    def _build_feed(self, rep: RepConfig, stream: Stream, fmt: str, token: str,
                    previous: Rendered | None) -> Rendered:
        viewer = self.holder.viewer_for("rep", rep.id)
        entries = self._entries(viewer, stream)
        doc = FeedDoc(id=f"urn:funnelfeed:feed:{rep.id}:{stream.ref.path('')[:-1]}", title=stream.title,
                      description=stream.description, self_url=self._url(token, stream.ref, fmt),
                      home_url=self._home(), author=rep.name, entries=entries)
        # Only what this rep receives: the visible entries (and their merged copies) and their
        # corrections. A correction changes no item row but can bring an older item into the
        # stream; without its time a client sending only If-Modified-Since would get 304 for ever.
        shown = [i for e in entries for i in (e.item, *e.also)]
        corrected = last_correction(self.storage, [i.id for i in shown])
        changed = [i.last_changed for i in shown] + ([corrected] if corrected else [])
        last_modified = max([self._config_mtime(), *changed])
        return self._finish(render_feed(fmt, doc), MEDIA_TYPES[fmt], last_modified, previous)

    def _entries(self, viewer: Viewer, stream: Stream) -> list[Entry]:
        """Page through candidates until enough visible stories are found."""
        candidates: list[StreamItem] = []
        while True:
            page = stream_items(self.storage, stream.prospects, stream.stage, limit=_PAGE,
                                offset=len(candidates))
            candidates += page
            entries = select_entries(viewer, stream, candidates, self.max_entries)
            if len(page) < _PAGE or len(entries) >= self.max_entries or len(candidates) >= _MAX_CANDIDATES:
                return entries

    def _finish(self, body: bytes, media_type: str, last_modified: datetime,
                previous: Rendered | None) -> Rendered:
        """Validators from the body alone: same bytes, same ETag, on every process and after every change."""
        self.builds += 1
        etag = '"' + hashlib.sha256(media_type.encode() + b"\n" + body).hexdigest()[:40] + '"'
        if previous is not None:
            if previous.etag == etag:
                return previous  # rebuilt for a change this rep does not receive: validators stay
            if last_modified.replace(microsecond=0) <= previous.last_modified.replace(microsecond=0):
                # Different bytes, no newer visible time (an entry corrected out of the stream).
                last_modified = previous.last_modified.replace(microsecond=0) + timedelta(seconds=1)
        headers = {**PRIVATE_HEADERS, "ETag": etag, "Last-Modified": http_date(last_modified)}
        return Rendered(body, media_type, etag, last_modified, headers)

    # -- cache -----------------------------------------------------------------------
    def _remember(self, key: tuple[str, str], entry: _Cached) -> None:
        with self._cache_lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _forget(self, key: tuple[str, str]) -> None:
        with self._cache_lock:
            self._cache.pop(key, None)
