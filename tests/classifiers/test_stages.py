"""Stage model: shipped seeds, keyword baseline, corrections, persistence, background training."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import pytest

from classifiers import (
    STAGES,
    LabeledItem,
    ModelError,
    Tagger,
    TextItem,
    TrainedModel,
    gather,
    load_model,
    save_model,
    score,
    train,
    train_in_background,
)
from classifiers.evaluate import KEYWORD_BASELINE, keyword_stages
from classifiers.text import item_text


@pytest.fixture(scope="module")
def seeds_model() -> TrainedModel:
    return train(gather())


def test_seeds_model_tags_obvious_headlines(seeds_model: TrainedModel) -> None:
    tagger = Tagger([], seeds_model)
    tags = tagger.tag_many(
        [
            TextItem("1", "Harrow Systems recalls 10,000 routers after overheating complaints"),
            TextItem("2", "Orchid Bank names new chief financial officer"),
            TextItem("3", "Storms expected over the weekend, forecasters say"),
        ]
    )
    assert "servicing" in tags[0].stages
    assert "proposing" in tags[1].stages
    assert tags[2].stages == {}
    assert all(set(t.stages) <= set(STAGES) for t in tags)


def test_summary_records_training_data(seeds_model: TrainedModel) -> None:
    summary = seeds_model.summary
    assert summary["by_origin"] == {"seed": summary["examples"]}
    by_stage = summary["by_stage"]
    assert isinstance(by_stage, dict) and set(by_stage) == set(STAGES)
    assert "trained_at" in summary


def test_seeds_alone_beat_a_keyword_list(seeds_model: TrainedModel, dev_items: list[LabeledItem]) -> None:
    texts = [item_text(e.item) for e in dev_items]
    gold = [set(e.stages) for e in dev_items]
    ours = score("stages", gold, [set(p) for p in seeds_model.stage_model.predict(texts)], STAGES)
    keywords = score("stages", gold, [keyword_stages(t, KEYWORD_BASELINE) for t in texts], STAGES)
    assert ours.micro.f1 > keywords.micro.f1 + 0.03


def test_corrections_raise_that_stages_f1(dev_items: list[LabeledItem]) -> None:
    """People's corrections on half the DEV items raise stage F1 on the other half."""
    pool, held = dev_items[::2], dev_items[1::2]
    corrections = [LabeledItem(e.item, e.stages, e.prospects, weight=3.0, origin="correction") for e in pool]
    texts = [item_text(e.item) for e in held]
    gold = [set(e.stages) for e in held]

    def f1(model: TrainedModel) -> dict[str, float]:
        report = score("stages", gold, [set(p) for p in model.stage_model.predict(texts)], STAGES)
        return {s.label: s.f1 for s in report.per_label}

    before = f1(train(gather()))
    after = f1(train(gather(extra_examples=corrections)))
    for stage in ("servicing", "negotiating", "closing"):
        assert after[stage] > before[stage] + 0.1, (stage, before[stage], after[stage])


def test_save_load_round_trip(tmp_path: Path, seeds_model: TrainedModel) -> None:
    path = tmp_path / "m" / "model.pkl"
    save_model(seeds_model, path)
    loaded = load_model(path)
    assert loaded is not None and loaded.summary == seeds_model.summary


def test_load_missing_and_incompatible(tmp_path: Path) -> None:
    assert load_model(tmp_path / "absent.pkl") is None
    with pytest.raises(ModelError, match="no model file"):
        load_model(tmp_path / "absent.pkl", missing_ok=False)
    (tmp_path / "old.pkl").write_bytes(pickle.dumps({"version": "0"}))
    with pytest.raises(ModelError, match="expected"):
        load_model(tmp_path / "old.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "junk.pkl")


def test_training_runs_in_background() -> None:
    done = threading.Event()
    result: list[TrainedModel] = []
    examples = gather(vocab={"servicing": ["outage", "service disruption"]})

    def finished(model: TrainedModel) -> None:
        result.append(model)
        done.set()

    thread = train_in_background(examples, finished)
    assert thread.daemon
    assert done.wait(120)
    assert result[0].summary["by_origin"] == {"seed": len(examples) - 2, "vocab": 2}
