"""Expand source templates once per prospect, and list every effective source (pure)."""

from __future__ import annotations

from urllib.parse import quote

from aggregator.config.schema import Config, ProspectConfig, SourceFields, TemplateConfig
from aggregator.config.validate import placeholders_in
from aggregator.types import SourceSpec


def fill(url: str, prospect: ProspectConfig) -> str:
    """Fill a template URL for one prospect; values are URL-encoded."""
    values = {
        "id": quote(prospect.id, safe=""),
        "name": quote(prospect.name, safe=""),
        "domain": quote(_ascii_domain(prospect.domains[0]) if prospect.domains else "", safe=""),
    }
    return url.format(**values)


def _ascii_domain(domain: str) -> str:
    """'bücher.example' → 'xn--bcher-kva.example': percent-encoding would break a URL whose host
    is {domain}, while the IDNA form is right in a host, a path and a query alike."""
    try:
        return domain.strip().encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def _spec(source_id: str, fields: SourceFields, config: Config, url: str, prospects: tuple[str, ...],
          template: str | None) -> SourceSpec:
    return SourceSpec(
        id=source_id,
        url=url,
        kind=fields.kind,
        visibility=fields.visibility,
        every=fields.every or config.fetch.every,
        title=fields.title or source_id,
        prospects=prospects,
        select=fields.select,
        columns=fields.columns,
        auth=fields.auth,
        headers=tuple(sorted(fields.headers.items())),
        robots=fields.robots,
        enabled=fields.enabled,
        template=template,
    )


def _in_scope(template: TemplateConfig, prospect: ProspectConfig) -> bool:
    return template.only is None or prospect.id in template.only


def skipped_prospects(template: TemplateConfig, config: Config) -> list[str]:
    """Prospects the template covers but makes no source for: its URL uses {domain} and they have none."""
    if "domain" not in placeholders_in(template.url):
        return []
    return [p.id for p in config.prospects if _in_scope(template, p) and not p.domains]


def expand_template(template: TemplateConfig, config: Config) -> list[SourceSpec]:
    """One source per prospect (or per prospect in ``only``), named '<template>.<prospect>'."""
    out = []
    skipped = set(skipped_prospects(template, config))  # nothing sensible to fill in for them
    for prospect in config.prospects:
        if not _in_scope(template, prospect) or prospect.id in skipped:
            continue
        title = f"{template.title or template.id}: {prospect.name}"
        spec = _spec(
            f"{template.id}.{prospect.id}",
            template,
            config,
            fill(template.url, prospect),
            tuple(dict.fromkeys((*template.prospects, prospect.id))),
            template.id,
        )
        out.append(SourceSpec(**{**spec.__dict__, "title": title}))
    return out


def effective_sources(config: Config) -> list[SourceSpec]:
    """Every source to fetch: the configured ones, then the template expansions."""
    specs = [_spec(s.id, s, config, s.url, tuple(s.prospects), None) for s in config.sources]
    for template in config.templates:
        specs.extend(expand_template(template, config))
    return specs
