"""A prospect's dossier for downstream hand-off: everything gathered, by stage, with notes and credit.

Exported as one self-contained HTML file (inline CSS allowed by hash, no scripts,
no external resources) and as Markdown (text HTML- and Markdown-escaped, so a
renderer that passes raw HTML through shows hostile titles as text).
"""

from __future__ import annotations

import base64
import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from aggregator.config.schema import STAGES, ProspectConfig
from aggregator.entitlements import may_see_item
from aggregator.outputs.headline import headline
from aggregator.runtime import Runtime
from aggregator.storage import browse
from web.deps import Principal
from web.render import fmt_date, md_block, md_link, md_text, snippet, stage_label

MAX_ITEMS = 2000
CSS = (Path(__file__).resolve().parent / "static" / "dossier.css").read_text(encoding="utf-8")


@dataclass
class Entry:
    item: browse.ItemView
    notes: list[browse.NoteView] = field(default_factory=list)


@dataclass
class Dossier:
    prospect: ProspectConfig
    reps: list[tuple[str, str, str]]
    generated_at: datetime
    generated_by: str
    by_stage: dict[str, list[Entry]]
    notes: list[browse.NoteView]
    contributors: list[tuple[str, Counter[str]]]
    total: int
    truncated: bool


def gather(runtime: Runtime, principal: Principal, prospect: ProspectConfig,
           reps: list[tuple[str, str, str]]) -> Dossier:
    storage, viewer = runtime.storage, principal.viewer
    views, truncated = browse.items(storage, viewer, browse.ItemFilter(prospect=prospect.id), limit=MAX_ITEMS)
    all_notes = browse.notes(storage, prospect.id)
    item_notes: dict[int, list[browse.NoteView]] = defaultdict(list)
    for note in all_notes:
        if note.item_id is not None:
            item_notes[note.item_id].append(note)
    by_stage: dict[str, list[Entry]] = {s: [] for s in (*STAGES, "none")}
    for view in views:
        stages = view.stages  # highest score first: the item's primary stage
        by_stage[stages[0] if stages else "none"].append(Entry(view, item_notes.get(view.id, [])))
    ids = {v.id for v in views}
    credit: dict[str, Counter[str]] = defaultdict(Counter)
    for c in browse.contributions(storage):
        if c.prospect_id == prospect.id or c.item_id in ids:
            if c.item_id is not None and c.item_id not in ids and c.item_visibility is not None \
                    and not may_see_item(viewer, c.item_visibility, c.item_prospect_tags):
                continue
            credit[c.username][c.kind] += 1
    contributors = sorted(credit.items(), key=lambda kv: -sum(kv[1].values()))
    return Dossier(prospect=prospect, reps=reps, generated_at=runtime.clock(),
                   generated_by=principal.user.username, by_stage={k: v for k, v in by_stage.items() if v},
                   notes=[n for n in all_notes if n.item_id is None], contributors=contributors,
                   total=len(views), truncated=truncated)


def to_html(templates: Jinja2Templates, d: Dossier) -> tuple[str, str]:
    """The HTML file and the Content-Security-Policy that allows exactly its inline stylesheet."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    html = templates.get_template("dossier.html").render(d=d, css=Markup(CSS))
    csp = f"default-src 'none'; style-src 'sha256-{digest}'; img-src data:; base-uri 'none'; form-action 'none'"
    return html, csp


def to_markdown(d: Dossier) -> str:
    p = d.prospect
    out = [f"# Dossier: {md_text(p.name)}", "",
           f"Generated {fmt_date(d.generated_at, True)} by {md_text(d.generated_by)}. "
           f"{d.total} items{' (newest only; more exist)' if d.truncated else ''}.", ""]
    if p.description:
        out += [md_text(p.description), ""]
    facts = [("Aliases", ", ".join(p.aliases)), ("Domains", ", ".join(p.domains)),
             ("People", ", ".join(p.people))]
    out += [f"- **{k}:** {md_text(v)}" for k, v in facts if v] + [""]
    if d.reps:
        out += ["## Reps and deal stages", ""]
        out += [f"- {md_text(name)} ({md_text(rep_id)}): {stage_label(stage)}" for rep_id, name, stage in d.reps]
        out.append("")
    if d.notes:
        out += ["## Account notes", ""]
        for n in d.notes:
            out += [f"**{md_text(n.username)}**, {fmt_date(n.created_at, True)}:", "", md_block(n.body), ""]
    for stage, entries in d.by_stage.items():
        out += [f"## {'No stage yet' if stage == 'none' else stage_label(stage)} ({len(entries)})", ""]
        for e in entries:
            i = e.item
            others = [stage_label(s) for s in i.stages[1:]]
            meta = f"{md_text(i.source_title)}, {fmt_date(i.published)}, {i.visibility}"
            if others:
                meta += f"; also {', '.join(others)}"
            out.append(f"- {md_link(headline(i.title, i.text), i.link)} — {meta}")
            if i.text:
                out.append(f"  {md_text(snippet(i.text, 400))}")
            for n in e.notes:
                out.append(f"  - note by **{md_text(n.username)}** ({fmt_date(n.created_at)}): {md_text(n.body)}")
        out.append("")
    if d.contributors:
        out += ["## Contributors", "", "| who | notes | corrections | marked useful |", "|---|---|---|---|"]
        for who, c in d.contributors:
            out.append(f"| {md_text(who)} | {c['note']} | {c['correction']} | {c['useful']} |")
        out.append("")
    return "\n".join(out)
