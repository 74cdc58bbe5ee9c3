"""CLI commands for the tagging engine: ``tag``, ``train`` and ``evaluate``.

Thin wrappers: each parses its options, loads config, calls one function of
``classifiers`` and prints the result. scikit-learn is imported inside the
command bodies so ``funnelfeed --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aggregator.config.messages import did_you_mean
from aggregator.tagging import profiles_from_config, stage_vocab

if TYPE_CHECKING:
    from aggregator.config.schema import Config
    from classifiers import LabelError


def _load(path: str | None) -> Config:
    """Load and validate config.yaml (defaults when no path is given); paths in it come resolved."""
    from aggregator.config import load_config
    from aggregator.config.schema import Config

    if path is None:
        return Config()
    try:
        return load_config(path)
    except Exception as exc:  # ConfigError lists every problem; show them, exit 1
        raise click.ClickException(str(exc)) from exc


def _read_items(handle: Any) -> list[Any]:
    from classifiers import TextItem

    items = []
    name = "standard input" if getattr(handle, "name", "<stdin>") in ("<stdin>", "-") else handle.name
    for number, line in enumerate(handle, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"{name} line {number}: not JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise click.ClickException(f"{name} line {number}: expected a JSON object like "
                                       '{"id": "1", "title": "...", "summary": "...", "link": "..."}, '
                                       f"got {type(row).__name__}")
        items.append(
            TextItem(
                id=str(row.get("id", number)),
                title=str(row.get("title") or ""),
                summary=str(row.get("summary") or ""),
                link=str(row.get("link") or ""),
            )
        )
    return items


@click.command("tag")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--input",
    "input_file",
    type=click.File("r", encoding="utf-8"),
    default="-",
    show_default=True,
    help="JSON lines with id, title, summary, link.",
)
def tag(config_path: str, input_file: Any) -> None:
    """Tag items (JSON lines) with prospects and stages; JSON lines to stdout."""
    from classifiers import Tagger, load_model
    from classifiers.training import ModelError

    config = _load(config_path)
    try:
        model = load_model(Path(config.classifier.model_path))
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    tagger = Tagger(profiles_from_config(config), model, config.classifier.min_prospect_score,
                    vocab=stage_vocab(config), prospect_model=config.classifier.prospect_model)
    items = _read_items(input_file)
    for item, tags in zip(items, tagger.tag_many(items), strict=True):
        scores = {"prospects": {p: t.score for p, t in tags.prospects.items()}, "stages": tags.stages}
        record = {
            "id": item.id,
            "prospects": sorted(tags.prospects),
            "stages": list(tags.stages),
            "scores": scores,
            "origins": {p: t.origin for p, t in tags.prospects.items()},
        }
        sys.stdout.write(json.dumps(record) + "\n")


#: A person's correction counts this many times a seed or labelled example.
CORRECTION_WEIGHT = 3.0


def _corrections(config: Config) -> list[Any]:
    """Tag corrections from the database as weighted training examples."""
    from aggregator.config import database_url
    from aggregator.storage import open_storage
    from classifiers import LabeledItem, TextItem

    storage = open_storage(database_url(config))
    try:
        examples = []
        for row, correction in storage.corrections():
            values = tuple(v for v in correction.values_csv.split(",") if v)
            item = TextItem(id=str(row.id), title=row.title, summary=row.text, link=row.link or "")
            if correction.kind == "stage":
                examples.append(LabeledItem(item, stages=values, weight=CORRECTION_WEIGHT, origin="correction"))
            elif values:
                examples.append(LabeledItem(item, prospects=values, weight=CORRECTION_WEIGHT,
                                            origin="correction"))
        return examples
    finally:
        storage.close()


def _label_problem(exc: LabelError, config_path: str | None) -> click.ClickException:
    """A label file's bad line as one message, with the closest stage or prospect id when one is close."""
    message = str(exc)
    if exc.unknown:
        hint = did_you_mean(exc.unknown, exc.choices)
        if not hint and exc.noun == "stage":
            hint = f" (stages: {', '.join(exc.choices)})"
        elif not hint and exc.noun == "prospect":
            hint = f" (not a prospect id in {config_path})"
        message += hint
    return click.ClickException(message)


@click.command("train")
@click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False), default=None)
@click.option(
    "--labels",
    "label_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Labelled JSON lines (title, summary, link, stages, prospects); repeatable.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to save (default: classifier.model_path from config).",
)
def train(config_path: str | None, label_files: tuple[str, ...], output: str | None) -> None:
    """Rebuild the tagging model from seeds, stage words and labelled files, and save it."""
    from classifiers import LabelError, gather, save_model
    from classifiers import train as train_model

    config = _load(config_path)
    # Label files name prospects by config.yaml's ids: check them when there is a config.yaml to check against.
    prospects = {p.id for p in config.prospects} if config_path is not None else None
    try:
        examples = gather(vocab=stage_vocab(config), label_files=label_files, prospects=prospects)
    except LabelError as exc:
        raise _label_problem(exc, config_path) from exc
    corrections = _corrections(config) if config_path is not None else []
    if corrections:
        click.echo(f"including {len(corrections)} correction(s) people made in the web view", err=True)
    try:
        model = train_model(examples + corrections)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    path = Path(output) if output else Path(config.classifier.model_path)
    save_model(model, path)
    click.echo(f"saved {path}")
    click.echo(json.dumps(model.summary, indent=2))


@click.command("evaluate")
@click.option("--config", "config_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--labels", "labels_file", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--folds", default=5, show_default=True, type=click.IntRange(2, 20))
@click.option("--seed", default=0, show_default=True, help="Seed of the fold split.")
@click.option("--baseline", is_flag=True, help="Also print the logistic-regression and keyword baselines.")
def evaluate(config_path: str, labels_file: str, folds: int, seed: int, baseline: bool) -> None:
    """Cross-validated precision/recall/F1 for prospects and stages (never scoring what was trained on)."""
    from classifiers import LabelError, cross_validate, read_jsonl, render

    config = _load(config_path)
    try:
        labeled = read_jsonl(labels_file, prospects={p.id for p in config.prospects})
    except LabelError as exc:
        raise _label_problem(exc, config_path) from exc
    try:
        result = cross_validate(
            labeled,
            profiles_from_config(config),
            stage_vocab(config),
            folds=folds,
            seed=seed,
            min_prospect_score=config.classifier.min_prospect_score,
            baselines=baseline,
            prospect_model=config.classifier.prospect_model,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(labeled)} items, {folds}-fold cross-validation (seed {seed})\n")
    click.echo(render(result.prospects) + "\n")
    click.echo(render(result.stages))
    for name, report in result.baselines.items():
        click.echo(f"\nbaseline - {name}\n" + render(report))


COMMANDS = [tag, train, evaluate]
