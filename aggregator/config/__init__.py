"""config.yaml: load, validate fully (every problem at once), expand templates, reload."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from aggregator.config.messages import problems_from_validation
from aggregator.config.schema import STAGES, Config, database_problem
from aggregator.config.templates import effective_sources
from aggregator.config.validate import cross_check
from aggregator.config.yamlload import LoadedYaml, parse_yaml, read_yaml
from aggregator.errors import ConfigError, ConfigProblem

__all__ = [
    "STAGES",
    "Config",
    "ConfigError",
    "database_url",
    "effective_sources",
    "load_config",
    "load_config_text",
]


def _validate(loaded: LoadedYaml, environ: Mapping[str, str] | None) -> Config:
    problems = []
    config = None
    try:
        config = Config.model_validate(loaded.data)
    except ValidationError as exc:
        problems.extend(problems_from_validation(exc, loaded, Config))
    problems.extend(cross_check(loaded, environ))
    if problems or config is None:
        problems.sort(key=lambda p: (p.line, p.column))
        raise ConfigError(problems)
    return _resolve_relative_files(config, Path(loaded.path).resolve().parent)


def _resolve_relative_files(config: Config, base: Path) -> Config:
    """`file://examples/x.csv`, a relative model_path, ca_bundle and SQLite file are relative to
    config.yaml's folder."""

    def fix(url: str) -> str:
        if url.startswith("file://") and not url.startswith("file:///"):
            return "file://" + str(base / url.removeprefix("file://"))
        return url

    sources = [s.model_copy(update={"url": fix(s.url)}) for s in config.sources]
    templates = [t.model_copy(update={"url": fix(t.url)}) for t in config.templates]
    model_path = Path(config.classifier.model_path)
    classifier = config.classifier.model_copy(
        update={"model_path": str(model_path if model_path.is_absolute() else base / model_path)})
    database = config.database
    db_path = database.removeprefix("sqlite:///")
    if database.startswith("sqlite:///") and db_path != ":memory:" and not Path(db_path).is_absolute():
        # else `funnelfeed sources --config /srv/ff/config.yaml` run from elsewhere opens a new, empty database
        database = f"sqlite:///{base / db_path}"
    fetch = config.fetch
    if fetch.ca_bundle:
        fetch = fetch.model_copy(update={"ca_bundle": str(base / fetch.ca_bundle)})  # an absolute path stays
    return config.model_copy(update={"sources": sources, "templates": templates, "classifier": classifier,
                                     "fetch": fetch, "database": database})


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Load and fully validate config.yaml; raises ConfigError listing every problem."""
    return _validate(read_yaml(path), environ)


def load_config_text(text: str, path: str = "config.yaml", environ: Mapping[str, str] | None = None) -> Config:
    """Like load_config, from a string (tests, previews)."""
    return _validate(parse_yaml(text, path), environ)


def database_url(config: Config) -> str:
    """FUNNELFEED_DATABASE_URL overrides config.yaml, so passwords stay out of the file."""
    url = os.environ.get("FUNNELFEED_DATABASE_URL")
    if not url:
        return config.database
    if message := database_problem(url):
        raise ConfigError([ConfigProblem("FUNNELFEED_DATABASE_URL", 0, 0, "", message)])
    return url
