"""The one declarative schema of config.yaml.

Every key support staff can write is a field here, with a description. Models
forbid unknown keys so that a typo is an error, never a silently ignored line.
Cross-references (prospect ids, stages, template placeholders) are checked in
``validate.py`` after the shape is known to be right.
"""

from __future__ import annotations

import ipaddress
import math
import re
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from classifiers.types import STAGES as STAGES  # re-exported: config, outputs and web read it here

# The eight names of STAGES (the classifier's, in funnel order), spelled out because a Literal must be.
Stage = Literal[
    "prospecting",
    "qualifying",
    "pricing",
    "proposing",
    "negotiating",
    "closing",
    "delivering",
    "servicing",
]
Kind = Literal["feed", "page", "export"]
Visibility = Literal["external", "internal"]

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: The longest duration accepted anywhere (a fetch interval of a year is already a paused source).
MAX_DURATION = timedelta(days=3650)
_DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


def parse_duration(value: object) -> timedelta:
    """Turn '30m', '1h30m', '2d', '45s' (or a number of seconds) into a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30m, 1h or 1d")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            raise ValueError("a duration must be a positive number of seconds, or written like 30m, 1h or 1d")
        return _bounded(float(value), repr(value))
    if not isinstance(value, str):
        raise ValueError("expected a duration such as 30m, 1h or 1d")
    match = _DURATION_RE.match(value)
    if not value.strip() or match is None or not any(match.groups()):
        raise ValueError(f"{value!r} is not a duration; write it like 90s, 30m, 1h, 1h30m or 2d")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    if days * 86400 + hours * 3600 + minutes * 60 + seconds <= 0:
        raise ValueError("a duration must be positive")
    return _bounded(days * 86400.0 + hours * 3600 + minutes * 60 + seconds, repr(value))


def _bounded(seconds: float, shown: str) -> timedelta:
    """A huge duration (``9999999999d``) is a typo, and timedelta would overflow on it or on
    the next-due time computed from it; cap it with a message instead of a traceback."""
    if seconds > MAX_DURATION.total_seconds():
        raise ValueError(f"{shown} is longer than the longest duration allowed ({MAX_DURATION.days}d)")
    return timedelta(seconds=seconds)


def _check_id(value: object) -> object:
    if isinstance(value, str) and not _ID_RE.match(value):
        raise ValueError(
            f"{value!r} is not a valid id: use lowercase letters, digits, '-' and '_' "
            "(at most 63 characters, starting with a letter or digit)"
        )
    return value


def _check_url(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not re.match(r"^(https?|file)://\S+$", value):
        raise ValueError(
            f"{value!r} is not a URL this product can fetch: it must start with http://, "
            "https:// or file:// and contain no spaces"
        )
    return value


#: Database URL schemes funnelfeed has drivers for (``postgresql://`` means psycopg).
DATABASE_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg://")


def database_problem(url: str) -> str | None:
    """Why ``url`` cannot be funnelfeed's database, or None; said before any driver is tried,
    which would answer "No module named 'MySQLdb'" or "Can't load plugin"."""
    if url.startswith(DATABASE_SCHEMES) and url not in DATABASE_SCHEMES:
        return None
    if url.startswith("sqlite:"):
        return (f"{url!r} names no file: write sqlite:///FILE with three slashes, e.g. sqlite:///funnelfeed.db "
                "(four for an absolute path: sqlite:////var/lib/funnelfeed.db)")
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]
    return (f"{scheme!r} is not a database funnelfeed can use: write sqlite:///FILE (e.g. sqlite:///funnelfeed.db) "
            "or postgresql+psycopg://USER@HOST/DBNAME")


def _check_database(value: object) -> object:
    if isinstance(value, str) and (message := database_problem(value)):
        raise ValueError(message)
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Id = Annotated[str, BeforeValidator(_check_id)]
Url = Annotated[str, BeforeValidator(_check_url)]


class Strict(BaseModel):
    """Base for every config model: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class ProspectConfig(Strict):
    """A company the sales team is pursuing."""

    id: Id = Field(description="Short stable id used everywhere else (lowercase, digits, - and _).")
    name: str = Field(min_length=1, description="The company's full name.")
    aliases: list[str] = Field(default=[], description="Other names and tickers the news uses.")
    domains: list[str] = Field(default=[], description="Web domains; links to them tag the item.")
    people: list[str] = Field(default=[], description="Executives and decision makers to watch.")
    keywords: list[str] = Field(
        default=[], description="Words that make an ambiguous name more likely to mean this company."
    )
    negative_keywords: list[str] = Field(
        default=[], description="Words that mean a match is about something else (e.g. 'pie' for Apple)."
    )
    description: str = Field(default="", description="What the prospect is, shown on its page.")


#: "css@attribute": a CSS selector, then the attribute to read instead of the text ("a@href", "@href").
_ATTRIBUTE_SELECTOR = re.compile(r"^(?P<css>.*?)\s*@(?P<attr>[A-Za-z_:][-A-Za-z0-9_:.]*)$")


def split_selector(selector: str) -> tuple[str, str | None]:
    """A page selector as (CSS, attribute or None): the one reading of the 'a@href' syntax."""
    match = _ATTRIBUTE_SELECTOR.match(selector.strip())
    if match:
        return match.group("css"), match.group("attr")
    return selector.strip(), None


class Selectors(Strict):
    """CSS selectors that turn a plain web page into items (attribute syntax: 'a@href')."""

    item: str = Field(description="Selector of each item's container element.")
    title: str | None = Field(default=None, description="Selector of the title inside an item.")
    link: str | None = Field(default=None, description="Selector of the link, e.g. 'a@href'.")
    date: str | None = Field(default=None, description="Selector of the date, e.g. 'time@datetime'.")
    summary: str | None = Field(default=None, description="Selector of the summary text.")


class ExportColumns(Strict):
    """Which column of a CSV or JSON-lines export holds what."""

    format: Literal["csv", "jsonl"] | None = Field(
        default=None, description="csv or jsonl; guessed from the file name when absent."
    )
    id: str | None = Field(default=None, description="Column with a stable record id.")
    title: str = Field(description="Column with the title.")
    body: str | None = Field(default=None, description="Column with the body text.")
    date: str | None = Field(default=None, description="Column with the date.")
    author: str | None = Field(default=None, description="Column with the author.")
    prospect: str | None = Field(
        default=None, description="Column naming the account (a prospect id, name or alias)."
    )
    link: str | None = Field(default=None, description="Column with a link.")


class BasicAuth(Strict):
    username: str = Field(description="User name (not a secret).")
    password_env: str = Field(description="Environment variable holding the password.")


class AuthConfig(Strict):
    """Credentials for a source; secret values always come from environment variables."""

    header: str = Field(default="Authorization", description="HTTP header that carries the secret.")
    env: str | None = Field(default=None, description="Environment variable holding the header value.")
    prefix: str = Field(default="", description="Text put before the secret, e.g. 'Bearer '.")
    basic: BasicAuth | None = Field(default=None, description="HTTP basic auth instead of a header.")


class SourceFields(Strict):
    """What sources and templates have in common."""

    url: Url = Field(description="Where to fetch from (http, https or file).")
    kind: Kind = Field(description="feed, page or export.")
    visibility: Visibility = Field(
        description="external or internal. Required: a typo must never make an internal source external."
    )
    title: str | None = Field(default=None, description="Human-readable name shown in health pages.")
    prospects: list[Id] = Field(default=[], description="Items from here always concern these prospects.")
    every: Duration | None = Field(default=None, description="How often to fetch; fetch.every by default.")
    select: Selectors | None = Field(default=None, description="CSS selectors for kind: page.")
    columns: ExportColumns | None = Field(default=None, description="Column mapping for kind: export.")
    auth: AuthConfig | None = Field(default=None, description="Credentials, from environment variables.")
    headers: dict[str, str] = Field(default={}, description="Extra non-secret HTTP headers.")
    robots: bool = Field(default=True, description="Honour robots.txt (page sources).")
    enabled: bool = Field(default=True, description="false pauses the source without deleting it.")


class SourceConfig(SourceFields):
    id: Id = Field(description="Stable id of the source.")


class TemplateConfig(SourceFields):
    """A source expanded once per prospect; {id}, {name} and {domain} are filled in URL-encoded."""

    id: Id = Field(description="Template id; expanded sources are named '<template>.<prospect>'.")
    only: list[Id] | None = Field(default=None, description="Expand only for these prospects.")


class AccountConfig(Strict):
    prospect: Id = Field(description="The prospect this rep follows.")
    stage: Stage = Field(description="The funnel stage this rep's deal is at.")


class RepConfig(Strict):
    id: Id = Field(description="Rep id; links a web user to this rep.")
    name: str = Field(min_length=1, max_length=200,  # the reps table's column: PostgreSQL refuses more
                      description="The rep's name, shown in feed titles.")
    email: str | None = Field(default=None, description="Contact address (optional).")
    accounts: list[AccountConfig] = Field(default=[], description="Accounts this rep follows.")


class FetchSettings(Strict):
    """How politely and how often sources are fetched."""

    every: Duration = Field(default=timedelta(hours=1), description="Default fetch interval.")
    jitter: float = Field(default=0.1, ge=0, le=0.5, description="Random share of the interval added.")
    contact: str = Field(
        default="support@example.com", description="Contact put in the User-Agent for site owners."
    )
    timeout: Duration = Field(default=timedelta(seconds=20), description="Connect/read timeout.")
    deadline: Duration = Field(default=timedelta(seconds=60), description="Hard limit per fetch.")
    max_bytes: int = Field(default=10_000_000, gt=0, description="Largest response body accepted.")
    max_redirects: int = Field(default=5, ge=0, le=20, description="Redirects followed at most.")
    concurrency: int = Field(default=32, ge=1, description="Fetches running at once, in all.")
    per_host: int = Field(default=2, ge=1, description="Fetches running at once on one host.")
    per_host_per_minute: int = Field(default=60, ge=1, description="Requests per minute to one host.")
    backoff_max: Duration = Field(default=timedelta(days=1), description="Longest wait after failures.")
    cpu_workers: int = Field(
        default=0, ge=0, le=64,
        description="Extra processes each for parsing and for tagging (0: in-process). Set to the "
                    "number of cores on a machine running one funnelfeed process with many sources.",
    )
    allow_networks: list[str] = Field(
        default=[], description="Private networks (CIDR) sources may reach, e.g. an intranet."
    )
    ca_bundle: str | None = Field(
        default=None,
        description="PEM file of CA certificates trusted for HTTPS besides the usual public ones, "
                    "such as an intranet's own CA; relative to config.yaml's folder.",
    )
    proxy: str | None = Field(
        default=None,
        description="HTTP proxy that external sources are fetched through, e.g. http://proxy.corp.example:3128; "
                    "internal sources are fetched directly.",
    )
    proxy_auth: BasicAuth | None = Field(
        default=None, description="Basic credentials for the proxy; the password comes from an environment variable."
    )

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if value is None:
            return value
        parts = urlsplit(value)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/") or parts.query:
            raise ValueError(f"{value!r} is not a proxy address: write it like http://proxy.example:3128")
        if parts.username or parts.password:
            raise ValueError("put the proxy's credentials in proxy_auth (password from an environment variable), "
                             "not in the URL")
        try:
            parts.port  # noqa: B018  (raises on a port that is not a number)
        except ValueError:
            raise ValueError(f"{value!r} has a port that is not a number") from None
        return value

    @field_validator("allow_networks")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not a network; write it like 10.0.0.0/8") from None
        return value


class WebSettings(Strict):
    base_url: Url = Field(
        default="http://127.0.0.1:8080",
        description="Public address of the web app; used in feed and OPML links, never the Host header.",
    )
    session_secret_env: str = Field(
        default="FUNNELFEED_SECRET_KEY", description="Environment variable with the cookie signing key."
    )


class ClassifierSettings(Strict):
    model_path: str = Field(default="funnelfeed-model.pkl", description="Where the trained model lives.")
    min_prospect_score: float = Field(default=0.5, ge=0, le=1, description="Prospect tag threshold.")
    prospect_model: Literal["logistic", "pairs"] = Field(
        default="logistic",
        description="logistic: balanced precision and recall; pairs: a candidate-pair model tuned for "
                    "precision 0.95 (fewer wrong tags, more missed ones) once there are confirmed items.",
    )


class Config(Strict):
    """The whole of config.yaml."""

    database: Annotated[str, BeforeValidator(_check_database)] = Field(
        default="sqlite:///funnelfeed.db",
        description="sqlite:///FILE or postgresql+psycopg://...; FUNNELFEED_DATABASE_URL overrides.",
    )
    fetch: FetchSettings = Field(default=FetchSettings(), description="Fetching settings.")
    web: WebSettings = Field(default=WebSettings(), description="Web app settings.")
    classifier: ClassifierSettings = Field(default=ClassifierSettings(), description="Tagging settings.")
    stages: dict[Stage, list[str]] = Field(
        default={}, description="Extra words per stage that support staff know signal it."
    )
    prospects: list[ProspectConfig] = Field(default=[], description="Companies pursued.")
    templates: list[TemplateConfig] = Field(default=[], description="Sources expanded per prospect.")
    sources: list[SourceConfig] = Field(default=[], description="Sources fetched as given.")
    reps: list[RepConfig] = Field(default=[], description="Sales reps and the accounts they follow.")
