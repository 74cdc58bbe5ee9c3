"""An export's account column decides who owns a row (and so which reps may see it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aggregator.pipeline import Pipeline
from aggregator.runtime import Runtime, open_runtime
from aggregator.types import FetchOutcome

CONFIG = """\
database: sqlite:///{db}
prospects:
  - {{id: apple, name: Apple Inc.}}
  - {{id: microsoft, name: Microsoft, aliases: [MSFT]}}
  - {{id: acme, name: "Acme, Inc."}}
sources:
  - id: crm
    url: file://crm.csv
    kind: export
    visibility: internal
    columns: {{id: id, title: subject, body: notes, prospect: account}}
"""


def _pass(runtime: Runtime) -> FetchOutcome:
    async def run() -> FetchOutcome:
        pipeline = Pipeline(runtime, parse_workers=0, tag_workers=0)
        try:
            [outcome] = await pipeline.run_pass(runtime.holder.sources)
            return outcome
        finally:
            await pipeline.aclose()

    return asyncio.run(run())


def _accounts(runtime: Runtime) -> dict[str, list[str]]:
    """Each stored row's owning accounts (the export's prospect tags)."""
    items = {i: runtime.storage.item(i) for i in range(1, runtime.storage.count_items() + 1)}
    tags = runtime.storage.tags_for(list(items))
    return {row.key: sorted(t.value for t in tags[i] if t.origin == "export")
            for i, row in items.items() if row is not None}


def _setup(tmp_path: Path, rows: str) -> Runtime:
    (tmp_path / "config.yaml").write_text(CONFIG.format(db=tmp_path / "db.sqlite"))
    (tmp_path / "crm.csv").write_text("id,subject,notes,account\n" + rows)
    return open_runtime(tmp_path / "config.yaml")


def test_a_row_whose_only_change_is_its_account_moves_to_the_new_account(tmp_path: Path) -> None:
    runtime = _setup(tmp_path, "r1,Renewal call,Discussed seats,Apple Inc.\n")
    try:
        assert _pass(runtime).new == 1
        assert _accounts(runtime) == {"r1": ["apple"]}
        (tmp_path / "crm.csv").write_text("id,subject,notes,account\nr1,Renewal call,Discussed seats,MSFT\n")
        outcome = _pass(runtime)
        assert (outcome.new, outcome.updated) == (0, 1)
        assert _accounts(runtime) == {"r1": ["microsoft"]}
        stored = runtime.storage.item(1)
        assert stored is not None and stored.prospect_hint == "MSFT"
        assert _pass(runtime).updated == 0  # unchanged since: no churn
    finally:
        runtime.close()


def test_a_row_may_name_several_accounts_and_unknown_ones_are_noted(tmp_path: Path) -> None:
    runtime = _setup(tmp_path, "r1,Joint bid,Both teams,Apple Inc.; Microsoft\n"
                               "r2,Kick-off,Notes,\"Acme, Inc.\"\n"
                               "r3,Intro,Notes,\"Acme, Inc., MSFT\"\n"
                               "r4,Lead,Notes,Globex\n"
                               "r5,Lead,Notes,Globex | Apple Inc.\n")
    try:
        assert _pass(runtime).new == 5
        assert _accounts(runtime) == {"r1": ["apple", "microsoft"], "r2": ["acme"], "r3": ["acme", "microsoft"],
                                      "r4": [], "r5": ["apple"]}
        source = runtime.storage.source("crm")
        assert source is not None and source.notes is not None
        assert source.notes == ("accounts that match no prospect's id, name or alias in config.yaml: "
                                "'Globex' (2 rows); add them (or aliases) so their rows reach the reps who follow them")
    finally:
        runtime.close()
