"""Scoring helpers of `citechat eval` that need no engine."""

import statistics

import pytest

from citechat.evaluation import holds_answer, percentile


def test_percentile_interpolates_between_ranks():
    assert percentile([], 50) == 0.0
    assert percentile([42.0], 95) == 42.0
    assert percentile([5, 1, 9, 3, 7], 50) == 5
    assert percentile([1, 2, 3, 4], 50) == statistics.median([1, 2, 3, 4]) == 2.5
    assert percentile([10.0, 30.0], 95) == pytest.approx(29.0)
    values = [float(v) for v in range(101)]  # percentiles fall on the values themselves
    assert [percentile(values, p) for p in (50, 95, 99)] == [50.0, 95.0, 99.0]


def test_holds_answer_ignores_case_and_spacing():
    assert holds_answer("The  Harbour\nferry", ["harbour FERRY"])
    assert not holds_answer("The harbour", ["ferry", "  "])
