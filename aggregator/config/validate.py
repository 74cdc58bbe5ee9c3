"""Checks that need the whole file: duplicate ids, references, placeholders, secrets, files it names.

They run on the raw data, tolerant of wrong shapes, so that ``funnelfeed check``
reports these problems alongside the field errors instead of after them.
"""

from __future__ import annotations

import os
import ssl
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aggregator.config.messages import did_you_mean, key_path
from aggregator.config.schema import split_selector
from aggregator.config.yamlload import LoadedYaml
from aggregator.errors import ConfigProblem

PLACEHOLDERS = ("id", "name", "domain")
Problem = Callable[[Sequence[str | int], str], ConfigProblem]


def _entries(data: Any, section: str) -> list[tuple[int, dict[str, Any]]]:
    value = data.get(section) if isinstance(data, dict) else None
    if not isinstance(value, list):
        return []
    return [(i, e) for i, e in enumerate(value) if isinstance(e, dict)]


def _strings(value: Any) -> list[tuple[int, str]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, str)] if isinstance(value, list) else []


def placeholders_in(url: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(url) if name is not None]
    except ValueError:
        return ["<unbalanced braces>"]


def placeholder_problems(url: str) -> list[str]:
    """What is wrong with a template URL's placeholders: each message says how to write it.

    ``{name!r}`` or ``{name:>20}`` would be filled in by str.format with quotes or padding,
    a URL that looks right in config.yaml but fetches something else, so only the bare
    ``{id}``, ``{name}`` and ``{domain}`` are accepted."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(url) if name is not None]
    except ValueError:
        return ["a '{' or '}' has no partner; placeholders are written {id}, {name} or {domain}, "
                "and a literal brace is written {{ or }}"]
    problems = []
    for name, spec, conv in fields:
        if name not in PLACEHOLDERS:
            problems.append(f"unknown placeholder {{{name}}}{did_you_mean(name, PLACEHOLDERS)}; "
                            "templates may use {id}, {name} and {domain}")
        elif spec or conv:
            written = "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            problems.append(f"placeholder {written} would not be filled in as written: write {{{name}}} "
                            "(values are URL-encoded for you)")
    return problems


def ca_bundle_trouble(path: Path) -> str | None:
    """Why the CA bundle at ``path`` cannot be used for HTTPS, or None if it can."""
    if not path.is_file():
        return f"no file at {path}: give the PEM file of your organisation's CA certificates"
    try:
        ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"{path} holds no usable PEM CA certificate ({exc.__class__.__name__}: {exc})"
    return None


def cross_check(loaded: LoadedYaml, environ: Mapping[str, str] | None = None) -> list[ConfigProblem]:
    """Every problem that a single field's validation cannot see."""
    env = os.environ if environ is None else environ
    data = loaded.data

    def problem(loc: Sequence[str | int], message: str) -> ConfigProblem:
        line, col = loaded.locate(loc)
        return ConfigProblem(loaded.path, line, col, key_path(loc), message)

    problems: list[ConfigProblem] = []
    prospect_ids = [e["id"] for _, e in _entries(data, "prospects") if isinstance(e.get("id"), str)]

    def check_ref(loc: Sequence[str | int], ref: str) -> None:
        if ref not in prospect_ids:
            problems.append(problem(loc, f"unknown prospect {ref!r}{did_you_mean(ref, prospect_ids)}"))

    fetch = data.get("fetch") if isinstance(data, dict) else None
    ca_bundle = fetch.get("ca_bundle") if isinstance(fetch, dict) else None
    if isinstance(ca_bundle, str):
        trouble = ca_bundle_trouble(Path(loaded.path).resolve().parent / ca_bundle)
        if trouble:
            problems.append(problem(("fetch", "ca_bundle"), trouble))
    proxy_auth = fetch.get("proxy_auth") if isinstance(fetch, dict) else None
    password_env = proxy_auth.get("password_env") if isinstance(proxy_auth, dict) else None
    if isinstance(password_env, str) and password_env not in env:
        problems.append(problem(("fetch", "proxy_auth"), f"environment variable {password_env} is not set; "
                                "export it before starting funnelfeed"))
    if isinstance(proxy_auth, dict) and not (isinstance(fetch, dict) and fetch.get("proxy")):
        problems.append(problem(("fetch", "proxy_auth"), "proxy_auth needs 'proxy:' (the proxy's address)"))

    for section in ("prospects", "templates", "sources", "reps"):
        seen: dict[str, int] = {}
        for index, entry in _entries(data, section):
            ident = entry.get("id")
            if not isinstance(ident, str):
                continue
            if ident in seen:
                problems.append(problem((section, index, "id"),
                                        f"duplicate id {ident!r}; {section}[{seen[ident]}] already uses it"))
            else:
                seen[ident] = index

    for index, prospect in _entries(data, "prospects"):
        for j, domain in _strings(prospect.get("domains")):
            if message := domain_problem(domain):
                problems.append(problem(("prospects", index, "domains", j), message))

    for section in ("sources", "templates"):
        for index, entry in _entries(data, section):
            for j, ref in _strings(entry.get("prospects")):
                check_ref((section, index, "prospects", j), ref)
            problems.extend(_check_source(entry, (section, index), problem, env))
    for index, template in _entries(data, "templates"):
        url = template.get("url")
        for message in placeholder_problems(url) if isinstance(url, str) else []:
            problems.append(problem(("templates", index, "url"), message))
        for j, ref in _strings(template.get("only")):
            check_ref(("templates", index, "only", j), ref)

    for index, rep in _entries(data, "reps"):
        accounts = rep.get("accounts")
        for j, account in enumerate(accounts if isinstance(accounts, list) else []):
            if isinstance(account, dict) and isinstance(account.get("prospect"), str):
                check_ref(("reps", index, "accounts", j, "prospect"), account["prospect"])

    explicit = {e.get("id") for _, e in _entries(data, "sources")}
    for index, template in _entries(data, "templates"):
        for prospect in prospect_ids:
            if f"{template.get('id')}.{prospect}" in explicit:
                problems.append(problem(("templates", index, "id"),
                                        f"expanding this template makes source id "
                                        f"'{template.get('id')}.{prospect}', which a source already uses"))
    return problems


def _check_source(entry: dict[str, Any], loc: tuple[str | int, ...], make: Problem,
                  env: Mapping[str, str]) -> Iterator[ConfigProblem]:
    kind, url = entry.get("kind"), entry.get("url")
    if kind == "export" and "columns" not in entry:
        yield make((*loc, "kind"), "an export needs 'columns:' saying which column holds the title "
                   "(and optionally body, date, author, prospect, link, id)")
    if kind in ("feed", "page") and "columns" in entry:
        yield make((*loc, "columns"), "'columns' applies only to kind: export")
    if kind in ("feed", "export") and "select" in entry:
        yield make((*loc, "select"), "'select' applies only to kind: page")
    if isinstance(url, str) and url.startswith("file://") and kind in ("feed", "page"):
        yield make((*loc, "url"), "file:// URLs are only for kind: export")
    if isinstance(url, str) and (password := _url_password(url)):
        yield make((*loc, "url"), f"the URL carries a password ({password}); it would show in logs and "
                   "health pages: use 'auth: {basic: {username: NAME, password_env: VARIABLE}}' instead")
    select = entry.get("select")
    for field, value in select.items() if isinstance(select, dict) else ():
        if isinstance(value, str) and (message := selector_problem(str(field), value)):
            yield make((*loc, "select", field), message)
    auth = entry.get("auth")
    if isinstance(auth, dict):
        names = [auth["env"]] if isinstance(auth.get("env"), str) else []
        basic = auth.get("basic")
        if isinstance(basic, dict) and isinstance(basic.get("password_env"), str):
            names.append(basic["password_env"])
        if not names:
            yield make((*loc, "auth"), "auth needs 'env: VARIABLE' (a header secret) or 'basic:'")
        for name in names:
            if name not in env:
                yield make((*loc, "auth"),
                           f"environment variable {name} is not set; export it before starting funnelfeed")
    headers = entry.get("headers")
    for header in headers if isinstance(headers, dict) else {}:
        if str(header).lower() in {"authorization", "cookie", "proxy-authorization"}:
            yield make((*loc, "headers", header),
                       f"{header} carries a secret: use 'auth: {{header: {header}, env: VARIABLE}}' instead")


def selector_problem(field: str, selector: str) -> str | None:
    """Why a page selector cannot work, or None: a selector that is not CSS fails every fetch,
    so `check` (and `preview --select`) say so up front."""
    import soupsieve  # bs4's selector engine; imported here so loading config stays light

    css, attr = split_selector(selector) if field != "item" else (selector.strip(), None)
    if not css and attr is None:
        return "a selector cannot be empty; remove the key or write a CSS selector such as h2"
    if css:
        try:
            soupsieve.compile(css)
        except soupsieve.SelectorSyntaxError as exc:
            example = "article" if field == "item" else "h2, or a@href for an attribute"
            return f"{selector!r} is not a valid CSS selector ({str(exc).splitlines()[0]}); write it like {example}"
    return None


def _url_password(url: str) -> str | None:
    """The password part of ``scheme://user:password@host``, masked, or None."""
    netloc = urlsplit(url).netloc if "://" in url else ""
    userinfo, at, _host = netloc.rpartition("@")
    if at and ":" in userinfo and userinfo.split(":", 1)[1]:
        return f"{userinfo.split(':', 1)[0]}:***"
    return None


def domain_problem(domain: str) -> str | None:
    """Why ``domain`` is not a bare host name, or None: a URL there never matches an item's link
    and makes a {domain} template fetch 'https://https%3A%2F%2F...'."""
    host = domain.strip()
    if "://" in host or "/" in host or "@" in host or not host or any(c.isspace() for c in host):
        guess = urlsplit(host if "://" in host else f"//{host}").hostname if host else None
        example = guess.removeprefix("www.") if guess else "acme.example"
        return f"{domain!r} is not a domain: write the host name alone, e.g. {example}"
    return None
