"""Metrics on hand-computed cases."""

from __future__ import annotations

from classifiers import render, score


def test_micro_macro_and_confusions() -> None:
    gold = [{"a"}, {"a", "b"}, {"b"}, set()]
    pred = [{"a"}, {"a"}, {"c"}, {"b"}]
    report = score("stages", gold, pred, ["a", "b", "c"], ids=["1", "2", "3", "4"], worst=1)
    a, b, c = report.per_label
    assert (a.tp, a.fp, a.fn) == (2, 0, 0)
    assert (b.tp, b.fp, b.fn) == (0, 1, 2)
    assert (c.tp, c.fp, c.fn) == (0, 1, 0)
    assert report.micro.precision == 2 / 4 and report.micro.recall == 2 / 4
    assert report.macro_f1 == (1.0 + 0.0) / 2  # c has no support: left out of the macro mean
    worst = report.confusions[0]
    assert worst.label == "b" and worst.missed_got == {"a": 1, "c": 1} and worst.wrong_was == {"(none)": 1}
    assert "micro P=0.500" in render(report)
