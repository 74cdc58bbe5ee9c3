"""The prospect page's monthly chart counts items in the month they were published in UTC, on any server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from aggregator.entitlements import Viewer
from aggregator.runtime import Runtime
from aggregator.storage import browse
from aggregator.types import ItemData

pytestmark = pytest.mark.parametrize("world_db", ["sqlite", "postgresql"], indirect=True)


def test_month_buckets_do_not_follow_the_database_time_zone(runtime: Runtime, world_db: str) -> None:
    engine = runtime.storage.engine
    if world_db == "postgresql":  # a server set up far from UTC: 31 October 20:00 UTC is November there
        with engine.connect() as conn:
            name = conn.execute(text("SELECT current_database()")).scalar_one()
            conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Pacific/Kiritimati'"))
            conn.commit()
        engine.dispose()  # new connections take the database's setting
    published = datetime(2026, 10, 31, 20, 0, tzinfo=UTC)
    item = ItemData(key="late-october", title="Initech closes the quarter", link=None, content_html="",
                    text="", published=published, content_hash="late-october")
    runtime.storage.store_items("news", "external", [item], published, tag=lambda _s, items: [
        [("prospect", "initech", 1.0, "alias"), ("stage", "closing", 0.9, "model")] for _ in items])
    volume = browse.volume_by_month(runtime.storage, Viewer("manager"), "initech",
                                    datetime(2026, 1, 1, tzinfo=UTC))
    assert volume == {("2026-10", "closing"): 1}
