"""The tag / train / evaluate commands end to end on a tiny config."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aggregator.commands.classify import evaluate, tag, train

CONFIG = """
classifier:
  model_path: model.pkl
stages:
  servicing: [outage]
prospects:
  - {id: apple, name: Apple Inc., aliases: [Apple, AAPL], domains: [apple.com]}
  - {id: target, name: Target Corporation, aliases: [Target, TGT]}
"""


def _write(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config


def test_tag_without_model_uses_seeds(tmp_path: Path) -> None:
    config = _write(tmp_path)
    items = tmp_path / "items.jsonl"
    items.write_text(
        json.dumps({"id": "1", "title": "Apple recalls chargers after outage complaints", "summary": "", "link": ""})
        + "\n"
        + json.dumps({"id": "2", "title": "Hit your target audience", "summary": "", "link": ""})
        + "\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(tag, ["--config", str(config), "--input", str(items)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert rows[0]["id"] == "1" and rows[0]["prospects"] == ["apple"] and "servicing" in rows[0]["stages"]
    assert rows[1]["prospects"] == []
    assert set(rows[0]["scores"]) == {"prospects", "stages"}


def test_train_then_evaluate(tmp_path: Path) -> None:
    config = _write(tmp_path)
    labels = tmp_path / "labels.jsonl"
    rows = [
        {
            "title": f"Apple signs supply deal {i}",
            "summary": "",
            "link": "",
            "stages": ["closing"],
            "prospects": ["apple"],
        }
        for i in range(6)
    ] + [
        {
            "title": f"Target store outage {i}",
            "summary": "",
            "link": "",
            "stages": ["servicing"],
            "prospects": ["target"],
        }
        for i in range(6)
    ]
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    result = CliRunner().invoke(train, ["--config", str(config), "--labels", str(labels)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "model.pkl").exists() and '"labels": 12' in result.output
    result = CliRunner().invoke(evaluate, ["--config", str(config), "--labels", str(labels), "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert "prospects: micro P=" in result.output and "stages: micro P=" in result.output


def test_bad_config_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("prospects:\n  - {id: Bad Id, name: X}\n", encoding="utf-8")
    result = CliRunner().invoke(tag, ["--config", str(config), "--input", "-"], input="")
    assert result.exit_code == 1 and "Error" in result.output
