"""The walk-forward splitter: validated when built, anchored at the first target, no overlap."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecasting import WalkForwardSplitter


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"train_days": 0}, "`train_days` must be an integer greater than 0. Got 0."),
        ({"retrain_every": -3}, "`retrain_every` must be an integer greater than 0. Got -3."),
        ({"lookback": 1.5}, "`lookback` must be an integer greater than 0. Got 1.5."),
        ({"lookback": 1}, "`lookback` must be at least 2"),
        ({"train_days": 60, "lookback": 60}, "`train_days` must exceed `lookback`"),
        ({"window": "sliding"}, "`window` must be 'rolling' or 'expanding'. Got 'sliding'."),
    ],
)
def test_invalid_arguments_are_named(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace("`", "`").replace(".", r"\.")):
        WalkForwardSplitter(**kwargs)


def test_default_fold_shape() -> None:
    folds = WalkForwardSplitter().split(2000, 1000)
    first = folds[0]
    assert (first.train_start, first.origin, first.test_start, first.test_end) == (244, 999, 1000, 1020)
    assert first.origin - first.train_start + 1 == 756
    assert folds[-1].test_end == 1999
    assert len(folds) == 48  # ceil(1000 / 21)


def test_expanding_window_starts_at_zero() -> None:
    folds = WalkForwardSplitter(window="expanding").split(2000, 1000)
    assert all(f.train_start == 0 for f in folds)


def test_too_little_history_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 756 earlier prices"):
        WalkForwardSplitter().split(2000, 700)


@given(
    n=st.integers(200, 3000),
    train=st.integers(30, 300),
    every=st.integers(1, 60),
    lookback=st.integers(2, 20),
    offset=st.integers(0, 100),
    expanding=st.booleans(),
)
def test_folds_tile_targets_and_never_train_on_them(n, train, every, lookback, offset, expanding) -> None:
    splitter = WalkForwardSplitter(train + lookback + 10, every, lookback, "expanding" if expanding else "rolling")
    first = splitter.min_history + offset
    if first >= n:
        return
    folds = splitter.split(n, first)
    targets = [d for f in folds for d in range(f.test_start, f.test_end + 1)]
    assert targets == list(range(first, n))
    for f in folds:
        assert f.origin == f.test_start - 1  # trained on data through the day before its first target
        assert 0 <= f.train_start <= f.origin - splitter.lookback
        assert f.test_end - f.test_start < every
    # Anchored at the first target: truncating the data never moves a fold.
    shorter = splitter.split(n - (n - first) // 2, first)
    assert shorter[:-1] == folds[: len(shorter) - 1]
