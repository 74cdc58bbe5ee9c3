"""Turn seeds, stage vocabularies, labelled files and people's corrections into a saved model.

The model file holds the fitted stage model plus the items whose prospects were
confirmed (so prospect profiles can be rebuilt against whatever prospects the
config lists today), a version string and a summary of what it was trained on.
Training is a plain function with no shared state, so it can run in a background
thread while serving keeps using the previous model.
"""

from __future__ import annotations

import json
import pickle
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from classifiers.stages import StageModel, StageModelParams
from classifiers.text import item_text
from classifiers.types import STAGES, LabeledItem, TextItem

MODEL_VERSION = "funnelfeed-tagger/3"  # 3: stage cue features and nearest neighbours; 2: stacked coefficients
SEEDS_DIR = Path(__file__).resolve().parent / "seeds"
WEIGHTS = {"seed": 1.0, "vocab": 0.5, "labels": 1.0, "correction": 3.0}
"""Sample weight by kind of example: people's corrections count most."""


class ModelError(Exception):
    """A model file is missing, unreadable or from an incompatible version."""


@dataclass
class TrainedModel:
    """What is persisted: the stage model, confirmed prospect examples and a training summary."""

    stage_model: StageModel
    confirmed: list[tuple[TextItem, tuple[str, ...]]] = field(default_factory=list)
    summary: dict[str, object] = field(default_factory=dict)
    version: str = MODEL_VERSION


class LabelError(ValueError):
    """A labelled example that cannot be used: not a JSON object, or naming an unknown stage or prospect.

    For an unknown name, ``unknown`` holds it and ``choices`` the names allowed there, so a caller can
    suggest the closest one; ``noun`` says which kind ("stage" or "prospect"). ``read_jsonl`` puts the
    file and line in front of the message: ``labels.jsonl line 5: unknown stage 'pricng'``.
    """

    def __init__(self, message: str, *, noun: str = "", unknown: str = "", choices: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.noun = noun
        self.unknown = unknown
        self.choices = tuple(choices)

    def at(self, where: str) -> LabelError:
        """The same problem with its place (``path line N``) in front of the message."""
        return LabelError(f"{where}: {self.message}", noun=self.noun, unknown=self.unknown, choices=self.choices)


def read_jsonl(path: str | Path, origin: str = "labels", prospects: Collection[str] | None = None) -> list[LabeledItem]:
    """Read ``{"title","summary","link","stages":[...],"prospects":[...]}`` lines.

    Raises LabelError naming the file and line for a line that is not a JSON object, a stage not in
    STAGES, or (when ``prospects`` is given) a prospect id not in ``prospects``.
    """
    out: list[LabeledItem] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise LabelError(f"{path} line {number}: not JSON ({exc.msg})") from exc
            try:
                out.append(
                    labeled_from_dict(row, origin=origin, default_id=f"{Path(path).name}:{number}", prospects=prospects)
                )
            except LabelError as exc:
                raise exc.at(f"{path} line {number}") from exc
    return out


def labeled_from_dict(
    row: Mapping[str, object],
    origin: str = "labels",
    default_id: str = "",
    prospects: Collection[str] | None = None,
) -> LabeledItem:
    """One labelled example from a JSON-like mapping.

    Raises LabelError when ``row`` is not a mapping, ``stages`` or ``prospects`` is not a list, a stage
    is not in STAGES, or (when ``prospects`` is given) a prospect id is not in it.
    """
    if not isinstance(row, Mapping):
        raise LabelError(
            f'expected a JSON object like {{"title": "...", "stages": ["pricing"]}}, got {_json_type(row)}'
        )
    item = TextItem(
        id=str(row.get("id") or default_id),
        title=str(row.get("title") or ""),
        summary=str(row.get("summary") or ""),
        link=str(row.get("link") or ""),
    )
    stages = _names(row, "stages", "stage", STAGES)
    found = _names(row, "prospects", "prospect", prospects)
    return LabeledItem(item, stages, found, WEIGHTS.get(origin, 1.0), origin)


def _names(row: Mapping[str, object], key: str, noun: str, known: Collection[str] | None) -> tuple[str, ...]:
    """The list of names under ``key`` (absent or null: none), each checked against ``known``."""
    value = row.get(key)
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        example = '["pricing"]' if noun == "stage" else '["acme"]'
        raise LabelError(f"{key!r} must be a list of {noun} names like {example}, got {_json_type(value)}")
    names = tuple(str(v) for v in value)
    if known is not None:
        for name in names:
            if name not in known:
                raise LabelError(f"unknown {noun} {name!r}", noun=noun, unknown=name, choices=known)
    return names


def _json_type(value: object) -> str:
    """What a JSON value is, in JSON's words: an array, a string, a number, ..."""
    kinds = {
        list: "an array",
        str: "a string",
        bool: "true or false",
        int: "a number",
        float: "a number",
        type(None): "null",
        dict: "an object",
    }
    return kinds.get(type(value), type(value).__name__)


def seed_examples(seeds_dir: Path = SEEDS_DIR) -> list[LabeledItem]:
    """The shipped, hand-written seed headlines (one file per stage, plus ``none``)."""
    out: list[LabeledItem] = []
    for path in sorted(seeds_dir.glob("*.jsonl")):
        out.extend(read_jsonl(path, origin="seed"))
    return out


def vocab_examples(vocab: Mapping[str, Sequence[str]]) -> list[LabeledItem]:
    """Weak labels: every stage word support staff configured becomes a tiny example."""
    out = []
    for stage, words in vocab.items():
        if stage not in STAGES:
            continue
        for word in words:
            if word.strip():
                out.append(
                    LabeledItem(TextItem(f"vocab:{stage}:{word}", word), (stage,), (), WEIGHTS["vocab"], "vocab")
                )
    return out


def gather(
    vocab: Mapping[str, Sequence[str]] | None = None,
    label_files: Iterable[str | Path] = (),
    extra_examples: Iterable[LabeledItem] = (),
    use_seeds: bool = True,
    prospects: Collection[str] | None = None,
) -> list[LabeledItem]:
    """All training examples: seeds, vocabulary, labelled files, then extra (e.g. corrections).

    Label files are checked as ``read_jsonl`` checks them (prospect ids against ``prospects`` when given).
    """
    examples = seed_examples() if use_seeds else []
    examples += vocab_examples(vocab or {})
    for path in label_files:
        examples += read_jsonl(path, prospects=prospects)
    examples += list(extra_examples)
    return examples


def train(
    examples: Sequence[LabeledItem],
    params: StageModelParams | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> TrainedModel:
    """Fit the stage model on ``examples``; keep those with prospect labels for profiles."""
    if not examples:
        raise ModelError("no training examples: the shipped seeds are missing and nothing else was given")
    texts = [item_text(e.item) for e in examples]
    labels = np.array([[int(s in e.stages) for s in STAGES] for e in examples], dtype=int)
    weights = np.array([e.weight for e in examples], dtype=float)
    tune = np.array([e.origin not in ("seed", "vocab") for e in examples], dtype=bool)
    model = StageModel(params or StageModelParams()).fit(texts, labels, weights, tune)
    confirmed = [(e.item, e.prospects) for e in examples if e.origin not in ("seed", "vocab")]
    summary: dict[str, object] = {
        "trained_at": clock().isoformat(timespec="seconds"),
        "examples": len(examples),
        "by_origin": dict(Counter(e.origin for e in examples)),
        "by_stage": {s: int(labels[:, j].sum()) for j, s in enumerate(STAGES)},
        "no_stage": int((labels.sum(axis=1) == 0).sum()),
        "thresholds": dict(model.thresholds),
        "confirmed_items": len(confirmed),
    }
    return TrainedModel(model, confirmed, summary)


def save_model(model: TrainedModel, path: str | Path) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a model."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(target.suffix + ".tmp")
    with open(temp, "wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    temp.replace(target)


def load_model(path: str | Path, missing_ok: bool = True) -> TrainedModel | None:
    """The model at ``path``; None if absent (and ``missing_ok``); ModelError if unusable.

    Only load files this product wrote: pickle runs code from the file.
    """
    target = Path(path)
    if not target.exists():
        if missing_ok:
            return None
        raise ModelError(f"{target}: no model file; run `funnelfeed train` to build one")
    try:
        with open(target, "rb") as handle:
            model = pickle.load(handle)
    except Exception as exc:  # any unpickling failure means the same thing to the caller
        raise ModelError(f"{target}: cannot read model ({exc}); retrain with `funnelfeed train`") from exc
    if not isinstance(model, TrainedModel) or getattr(model, "version", None) != MODEL_VERSION:
        found = getattr(model, "version", type(model).__name__)
        raise ModelError(f"{target}: model version {found!r}, expected {MODEL_VERSION!r}; retrain it")
    return model


def train_in_background(
    examples: Sequence[LabeledItem],
    on_done: Callable[[TrainedModel], None],
    on_error: Callable[[BaseException], None] | None = None,
) -> threading.Thread:
    """Train in a daemon thread and hand the result to ``on_done``; serving is never blocked."""

    def run() -> None:
        try:
            result = train(examples)
        except Exception as exc:  # reported to the caller, never lost in the thread
            if on_error is not None:
                on_error(exc)
            return
        on_done(result)

    thread = threading.Thread(target=run, name="funnelfeed-train", daemon=True)
    thread.start()
    return thread
