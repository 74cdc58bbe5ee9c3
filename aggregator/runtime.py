"""The object graph: one factory builds it, nothing happens at import time.

``open_runtime`` validates the configuration before opening anything, and the
``ConfigHolder`` keeps the last good configuration running when an edit breaks it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from aggregator.config import Config, database_url, effective_sources, load_config
from aggregator.config.schema import RepConfig
from aggregator.entitlements import Viewer
from aggregator.errors import ConfigError, ConfigProblem, StorageError
from aggregator.storage import Storage, open_storage, utcnow
from aggregator.types import SourceSpec

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]
#: Seconds a changed config.yaml must stay unmodified before it is read (see reload_if_changed).
SETTLE = 1.0


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of the last attempt to (re)load config.yaml, shown to support staff."""

    at: datetime
    ok: bool
    errors: tuple[str, ...] = ()


@dataclass
class ConfigHolder:
    """The configuration in force, swapped atomically on a good reload only."""

    path: Path
    config: Config
    clock: Clock = utcnow
    last_reload: ReloadResult | None = None
    _mtime: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listeners: list[Callable[[Config], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._specs = effective_sources(self.config)
        self._mtime = self._stat()
        self.last_reload = ReloadResult(self.clock(), True)

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    @property
    def sources(self) -> list[SourceSpec]:
        return self._specs

    def source(self, source_id: str) -> SourceSpec | None:
        return next((s for s in self._specs if s.id == source_id), None)

    def rep(self, rep_id: str) -> RepConfig | None:
        return next((r for r in self.config.reps if r.id == rep_id), None)

    def viewer_for(self, role: str, rep_id: str | None) -> Viewer:
        rep = self.rep(rep_id) if rep_id else None
        accounts = frozenset(a.prospect for a in rep.accounts) if rep else frozenset()
        return Viewer(role=role, accounts=accounts)

    def on_change(self, listener: Callable[[Config], None]) -> None:
        self._listeners.append(listener)

    def reload_if_changed(self) -> ReloadResult | None:
        """Reload when the file's mtime moved and has settled; a broken edit keeps the old config.

        A file modified less than SETTLE seconds ago may be half written (an editor that truncates,
        then writes): a valid prefix of it would drop every source and rep after the cut until the
        next tick, so it is read at a later tick instead."""
        mtime = self._stat()
        if mtime == self._mtime or 0 <= time.time() - mtime < SETTLE:
            return None
        self._mtime = mtime
        return self.reload()

    def reload(self) -> ReloadResult:
        try:
            if _blank(self.path):
                raise ConfigError([ConfigProblem(str(self.path), 0, 0, "", (
                    "the file is empty (a save that failed or is still going on?); write at least "
                    "`sources: []` to really run with nothing configured"))])
            config = load_config(self.path)
        except ConfigError as exc:
            result = ReloadResult(self.clock(), False, tuple(str(p) for p in exc.problems))
            log.error("config.yaml edit rejected; the previous configuration keeps running:\n%s", exc)
            self.last_reload = result
            return result
        previous, was_broken = self.config, self.last_reload is not None and not self.last_reload.ok
        with self._lock:
            self.config, self._specs = config, effective_sources(config)
        self.last_reload = ReloadResult(self.clock(), True)
        # After a rejected edit the log's last word was an error: say at the same level that it is over.
        log.log(logging.WARNING if was_broken else logging.INFO,
                "config.yaml reloaded%s: %d prospects, %d sources, %d reps",
                " (the earlier problems are fixed)" if was_broken else "",
                len(config.prospects), len(self._specs), len(config.reps))
        if database_url(config) != database_url(previous):
            log.warning("database: changed in config.yaml, but the open database stays in use until "
                        "funnelfeed is restarted")
        for listener in self._listeners:
            try:
                listener(config)
            except Exception:  # a listener's failure must not undo a good reload
                log.exception("config reload listener failed")
        return self.last_reload


def _blank(path: Path) -> bool:
    """True for a config.yaml with nothing but blanks and comments (unreadable files are load_config's)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


@dataclass
class Runtime:
    """Everything a command or the web app needs, built once."""

    holder: ConfigHolder
    storage: Storage
    clock: Clock = utcnow
    #: A reloaded configuration not yet written to the database (it was unreachable at the reload).
    sync_pending: bool = False

    @property
    def config(self) -> Config:
        return self.holder.config

    def sync(self) -> None:
        """Make the database's sources and reps match the configuration in force."""
        self.storage.sync_sources(self.holder.sources, self.clock())
        self.storage.sync_reps(self.holder.config.reps)

    def sync_after_reload(self) -> None:
        """Sync after a good reload; with the database unreachable, keep the sync pending for
        ``sync_if_pending`` instead of losing it (new sources would never be fetched, removed ones
        would still be, until the next edit)."""
        self.sync_pending = True
        try:
            self.sync()
        except StorageError as exc:
            log.error("%s; the reloaded config.yaml is written to the database when it answers", exc)
            return
        self.sync_pending = False

    def sync_if_pending(self) -> bool:
        """Retry a sync that a reload could not do; True once the database matches the config."""
        if not self.sync_pending:
            return True
        try:
            self.sync()
        except StorageError:
            return False
        self.sync_pending = False
        log.warning("the database answers again; the reloaded config.yaml is now in force for every worker")
        return True

    def close(self) -> None:
        self.storage.close()


def open_runtime(config_path: str | Path, *, clock: Clock = utcnow, migrate: bool = True) -> Runtime:
    """Load config (raising ConfigError on any problem), then open and sync storage."""
    path = Path(config_path)
    config = load_config(path)
    storage = open_storage(database_url(config), run_migrations=migrate)
    try:
        runtime = Runtime(ConfigHolder(path, config, clock), storage, clock)
        runtime.sync()
        runtime.holder.on_change(lambda _config: runtime.sync_after_reload())
    except Exception:
        storage.close()
        raise
    return runtime
