"""The pure top-k rule: ranking, selection with dropout, weights, the turnover cap, and never over 100%."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strategies.ranking import TopkRule, needs_trade, rank, select, target_weights, turnover

SCORES = {"A": 0.05, "B": 0.04, "C": 0.03, "D": 0.02, "E": -0.01, "F": math.nan}


def test_rank_orders_by_score_then_name_and_skips_missing() -> None:
    assert rank(SCORES) == ["A", "B", "C", "D", "E"]
    assert rank({"Z": 0.01, "Y": 0.01, "X": 0.02}) == ["X", "Y", "Z"]  # ties: alphabetical, every run alike


def test_top_k_equal_weights_of_total_equity() -> None:
    rule = TopkRule(k=2, size=0.9)
    assert target_weights(rule, SCORES, {}) == {"A": 0.45, "B": 0.45, "C": 0, "D": 0, "E": 0, "F": 0}


def test_cash_when_fewer_than_k_clear_the_threshold() -> None:
    rule = TopkRule(k=4, threshold=0.025, size=1.0)
    weights = target_weights(rule, SCORES, {})
    assert {t: w for t, w in weights.items() if w} == {"A": 0.25, "B": 0.25, "C": 0.25}  # 25% stays in cash
    assert target_weights(TopkRule(k=3, threshold=0.1), SCORES, {"A": 0.3}) == dict.fromkeys("ABCDEF", 0.0)


def test_inverse_volatility_weights() -> None:
    rule = TopkRule(k=2, weighting="inverse-volatility", size=1.0)
    weights = target_weights(rule, SCORES, {}, volatility={"A": 0.01, "B": 0.03, "C": 0.02})
    assert weights["A"] == pytest.approx(0.75) and weights["B"] == pytest.approx(0.25)
    # No volatility (too little history): not a candidate, the next name takes its place.
    weights = target_weights(rule, SCORES, {}, volatility={"A": math.nan, "B": 0.03, "C": 0.01})
    assert weights["A"] == 0 and weights["C"] == pytest.approx(0.75) and weights["B"] == pytest.approx(0.25)


def test_dropout_replaces_at_most_n_drop_names_a_day() -> None:
    rule = TopkRule(k=3, n_drop=1)
    # Held D and E, both outside today's top 3 (A, B, C): only the worse one, E, is replaced, by A.
    assert select(rule, rank(SCORES), held=["D", "E"]) == ["A", "B", "D"]
    assert select(TopkRule(k=3, n_drop=0), rank(SCORES), held=["D", "E"]) == ["A", "D", "E"]  # fills the empty slot
    assert select(TopkRule(k=3), rank(SCORES), held=["D", "E"]) == ["A", "B", "C"]  # no limit: the top k
    # A held name that is no candidate any more (below the threshold) is sold whatever n_drop says.
    assert select(TopkRule(k=3, n_drop=0), rank({"A": 0.02, "B": 0.01}), held=["C"]) == ["A", "B"]


def test_a_name_out_of_the_index_is_sold_whole_even_under_a_turnover_cap() -> None:
    rule = TopkRule(k=2, size=1.0, max_turnover=0.2)
    current = {"C": 0.5, "D": 0.5}
    weights = target_weights(rule, SCORES, current, eligible=["A", "B", "D"])
    assert weights["C"] == 0.0  # left the index: sold at the next open, not limited by the cap
    assert turnover({t: w for t, w in weights.items() if t != "C"}, {"D": 0.5}) == pytest.approx(0.0)
    weights = target_weights(rule, SCORES, {"C": 0.5, "D": 0.5})
    assert turnover(weights, current) == pytest.approx(0.2)  # the rest of the move is capped


def test_trades_only_when_the_names_change_unless_capped() -> None:
    rule = TopkRule(k=2)
    assert not needs_trade(rule, {"A": 0.475, "B": 0.475}, {"A": 0.52, "B": 0.43})  # drift alone: no trade
    assert needs_trade(rule, {"A": 0.475, "C": 0.475}, {"A": 0.5, "B": 0.45})
    capped = TopkRule(k=2, max_turnover=0.5)
    assert needs_trade(capped, {"A": 0.475, "B": 0.475}, {"A": 0.4, "B": 0.475})  # still on its way


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"k": 0}, "`k` must be an integer from 1"), ({"weighting": "cap"}, "`weighting` must be one of"),
    ({"n_drop": -1}, "`n_drop` must be an integer >= 0"), ({"max_turnover": 0.0}, "`max_turnover` must be"),
    ({"size": 1.5}, "`size` must be a fraction"), ({"threshold": math.inf}, "`threshold` must be a finite"),
])  # fmt: skip
def test_bad_settings_name_the_setting(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TopkRule(**kwargs)


names = st.sampled_from("ABCDEFGHIJ")
score = st.one_of(st.floats(-0.2, 0.2), st.just(math.nan))


@settings(max_examples=300, deadline=None)
@given(
    scores=st.dictionaries(names, score, min_size=1),
    current=st.dictionaries(names, st.floats(0, 0.5)),
    eligible=st.sets(names),
    k=st.integers(1, 6),
    n_drop=st.one_of(st.none(), st.integers(0, 3)),
    cap=st.one_of(st.none(), st.floats(0.01, 2.0)),
    weighting=st.sampled_from(["equal", "inverse-volatility"]),
)
def test_never_more_than_size_and_never_more_than_k_new_names(scores, current, eligible, k, n_drop, cap,
                                                             weighting) -> None:  # fmt: skip
    total = sum(current.values())
    if total > 1:
        current = {t: w / total for t, w in current.items()}  # an account holds at most 100%
    rule = TopkRule(k=k, weighting=weighting, n_drop=n_drop, max_turnover=cap, size=0.95)
    vol = {t: 0.01 + i / 100 for i, t in enumerate("ABCDEFGHIJ")}
    weights = target_weights(rule, scores, current, eligible=eligible, volatility=vol)
    assert all(w >= 0 for w in weights.values())
    assert sum(weights.values()) <= max(0.95, sum(current.values())) + 1e-12
    assert all(weights[t] == 0 for t in current if t not in eligible)  # leaving the index: sold whole
    if cap is None:
        assert sum(w > 0 for w in weights.values()) <= k
        assert all(weights[t] == 0 or t in eligible for t in weights)
