"""Precision, recall and F1 for multi-label tags, and where the worst labels go wrong."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LabelScore:
    """Counts and scores for one label (a prospect id or a stage)."""

    label: str
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else 0.0


@dataclass(frozen=True)
class Confusion:
    """For one badly served label: what was predicted when it was missed, and what was true when it was wrong."""

    label: str
    missed_got: dict[str, int]  # gold had label, prediction lacked it: what the prediction had instead
    wrong_was: dict[str, int]  # prediction had label, gold lacked it: what gold had instead
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    """Scores of one kind of tag (prospects or stages) over a set of items."""

    kind: str
    per_label: tuple[LabelScore, ...]
    micro: LabelScore
    confusions: tuple[Confusion, ...] = field(default=())

    @property
    def macro_precision(self) -> float:
        scored = [s for s in self.per_label if s.support]
        return sum(s.precision for s in scored) / len(scored) if scored else 0.0

    @property
    def macro_recall(self) -> float:
        scored = [s for s in self.per_label if s.support]
        return sum(s.recall for s in scored) / len(scored) if scored else 0.0

    @property
    def macro_f1(self) -> float:
        scored = [s for s in self.per_label if s.support]
        return sum(s.f1 for s in scored) / len(scored) if scored else 0.0


def score(
    kind: str,
    gold: Sequence[set[str]],
    predicted: Sequence[set[str]],
    labels: Sequence[str],
    ids: Sequence[str] = (),
    worst: int = 3,
) -> Report:
    """Per-label, micro and macro scores, plus confusions of the ``worst`` labels by F1."""
    per = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if label in g and label in p)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if label not in g and label in p)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if label in g and label not in p)
        per.append(LabelScore(label, tp, fp, fn))
    micro = LabelScore("micro", sum(s.tp for s in per), sum(s.fp for s in per), sum(s.fn for s in per))
    ranked = sorted((s for s in per if s.support or s.fp), key=lambda s: (s.f1, -s.support))[:worst]
    confusions = []
    for s in ranked:
        missed: Counter[str] = Counter()
        wrong: Counter[str] = Counter()
        examples = []
        for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
            if s.label in g and s.label not in p:
                missed.update(sorted(p) or ["(none)"])
                examples.append(f"missed {ids[i]}" if ids else "missed")
            elif s.label in p and s.label not in g:
                wrong.update(sorted(g) or ["(none)"])
                examples.append(f"wrong {ids[i]}" if ids else "wrong")
        confusions.append(
            Confusion(s.label, dict(missed.most_common(5)), dict(wrong.most_common(5)), tuple(examples[:5]))
        )
    return Report(kind, tuple(per), micro, tuple(confusions))


def render(report: Report) -> str:
    """The report as a plain-text table."""
    lines = [
        f"{report.kind}: micro P={report.micro.precision:.3f} R={report.micro.recall:.3f} "
        f"F1={report.micro.f1:.3f} | macro P={report.macro_precision:.3f} R={report.macro_recall:.3f} "
        f"F1={report.macro_f1:.3f}",
        f"  {'label':<16} {'P':>6} {'R':>6} {'F1':>6} {'support':>8} {'fp':>4}",
    ]
    for s in report.per_label:
        lines.append(f"  {s.label:<16} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:8d} {s.fp:4d}")
    for c in report.confusions:
        lines.append(
            f"  worst {c.label}: when missed, got {c.missed_got or '{}'}; when wrong, was {c.wrong_was or '{}'}"
        )
        if c.examples:
            lines.append("    e.g. " + ", ".join(c.examples))
    return "\n".join(lines)
