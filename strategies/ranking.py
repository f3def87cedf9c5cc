"""Top-k portfolio decisions as pure functions: which names to hold after the next open, at what weight.

The one rule that ``bt run topk-strategy``, ``bt signal --universe`` and portfolio paper trading share.
At the close of day t every ticker has a score (its predicted return for t+1, or any ranking score);
``target_weights`` maps the scores, the weights held now and what may be bought to the weights wanted
at the next open, as fractions of TOTAL equity (never of the cash left), summing to at most ``size``.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

WEIGHTINGS = ("equal", "inverse-volatility")


@dataclass(frozen=True)
class TopkRule:
    """The settings of the top-k rule.

    ``k``: how many names to hold. ``weighting``: ``equal`` (``size / k`` each) or
    ``inverse-volatility`` (``size * n / k`` split in proportion to 1 / volatility, n the names
    held), so fewer than k names leave the rest in cash. ``threshold``: a name is a candidate
    only when its score is above it (None: no threshold). ``n_drop``: at most this many held
    names that are still candidates are replaced a day (Qlib's TopkDropout; None: no limit).
    ``max_turnover``: at most this fraction of equity traded a day, buys plus sells (None: no
    limit). ``size``: the fraction of equity invested when k names are held.
    """

    k: int = 5
    weighting: str = "equal"
    threshold: float | None = 0.0
    n_drop: int | None = None
    max_turnover: float | None = None
    size: float = 0.95

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 1000:
            raise ValueError(f"`k` must be an integer from 1 to 1000. Got {self.k!r}.")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(f"`weighting` must be one of {', '.join(WEIGHTINGS)}. Got {self.weighting!r}.")
        if self.threshold is not None and not math.isfinite(self.threshold):
            raise ValueError(f"`threshold` must be a finite number. Got {self.threshold!r}.")
        if self.n_drop is not None and (isinstance(self.n_drop, bool) or not isinstance(self.n_drop, int)
                                        or self.n_drop < 0):  # fmt: skip
            raise ValueError(f"`n_drop` must be an integer >= 0. Got {self.n_drop!r}.")
        if self.max_turnover is not None and not (math.isfinite(self.max_turnover) and self.max_turnover > 0):
            raise ValueError(f"`max_turnover` must be a positive fraction of equity. Got {self.max_turnover!r}.")
        if not (math.isfinite(self.size) and 0 < self.size <= 1):
            raise ValueError(f"`size` must be a fraction of equity in (0, 1]. Got {self.size!r}.")


def rank(scores: Mapping[str, float]) -> list[str]:
    """Tickers with a finite score, best first; ties in alphabetical order (so every run ranks alike)."""
    return sorted((t for t, s in scores.items() if _finite(s)), key=lambda t: (-scores[t], t))


def candidates(rule: TopkRule, scores: Mapping[str, float], eligible: Collection[str],
               volatility: Mapping[str, float] | None = None) -> list[str]:  # fmt: skip
    """The ranked names that may be held: eligible, above the threshold, and (inverse-volatility) with a volatility."""
    out = [t for t in rank(scores) if t in eligible and (rule.threshold is None or scores[t] > rule.threshold)]
    if rule.weighting == "inverse-volatility":
        vol = volatility or {}
        out = [t for t in out if _finite(vol.get(t, math.nan)) and vol[t] > 0]
    return out


def select(rule: TopkRule, ranked: list[str], held: Collection[str]) -> list[str]:
    """At most k names to hold, best first: the top k, or with ``n_drop`` the held names kept but the worst n_drop.

    ``ranked`` is ``candidates``' list. A held name that is no candidate (below the threshold, out of the
    index, no score) is always sold; ``n_drop`` limits only the replacement of candidates by better ones.
    """
    top = ranked[: rule.k]
    if rule.n_drop is None:
        return top
    keep = [t for t in ranked if t in held][: rule.k]
    outside = [t for t in keep if t not in top]
    dropped = set(outside[len(outside) - rule.n_drop :]) if rule.n_drop else set()
    keep = [t for t in keep if t not in dropped]
    fresh = [t for t in ranked if t not in keep][: rule.k - len(keep)]
    chosen = set(keep) | set(fresh)
    return [t for t in ranked if t in chosen]


def weigh(rule: TopkRule, names: list[str], volatility: Mapping[str, float] | None = None) -> dict[str, float]:
    """Target weights of ``names`` (fractions of total equity, summing to ``size * len(names) / k`` at most)."""
    if not names:
        return {}
    if rule.weighting == "equal":
        return {t: rule.size / rule.k for t in names}
    if volatility is None:
        raise ValueError("inverse-volatility weights need each name's volatility")
    inverse = {t: 1.0 / volatility[t] for t in names}
    total = sum(inverse.values())
    invested = rule.size * len(names) / rule.k
    return {t: invested * inverse[t] / total for t in names}


def turnover(target: Mapping[str, float], current: Mapping[str, float]) -> float:
    """Fraction of equity traded to go from ``current`` to ``target``: buys plus sells."""
    names = set(target) | set(current)
    return sum(abs(target.get(t, 0.0) - current.get(t, 0.0)) for t in names)


def limit_turnover(target: Mapping[str, float], current: Mapping[str, float], max_turnover: float | None,
                   forced: Collection[str] = ()) -> dict[str, float]:  # fmt: skip
    """Move from ``current`` towards ``target`` by at most ``max_turnover`` (``forced`` names are sold whole).

    The move is scaled down evenly, so the result is a blend of two portfolios that each invest at
    most 100%: it never invests more than the larger of them.
    """
    names = sorted(set(target) | set(current))
    wanted = {t: target.get(t, 0.0) for t in names}
    if max_turnover is None:
        return wanted
    exits = {t for t in forced if t in wanted}
    budget = max(0.0, max_turnover - sum(abs(current.get(t, 0.0)) for t in exits))
    free = {t: wanted[t] - current.get(t, 0.0) for t in names if t not in exits}
    needed = sum(abs(v) for v in free.values())
    if needed <= budget:
        return wanted
    scale = budget / needed
    return {t: 0.0 if t in exits else current.get(t, 0.0) + free[t] * scale for t in names}


def target_weights(rule: TopkRule, scores: Mapping[str, float], current: Mapping[str, float], *,
                   eligible: Collection[str] | None = None,
                   volatility: Mapping[str, float] | None = None) -> dict[str, float]:  # fmt: skip
    """The weights wanted at the next open for every scored or held name (0 for a name to sell).

    ``current``: the weights held now (fractions of equity). ``eligible``: the names that may be held
    (index members with a bar today; default: every scored name); a held name outside it is sold whole,
    whatever ``max_turnover`` says.
    """
    allowed = set(scores) if eligible is None else set(eligible)
    held = [t for t, w in current.items() if w > 0]
    ranked = candidates(rule, scores, allowed, volatility)
    target = weigh(rule, select(rule, ranked, held), volatility)
    forced = [t for t in held if t not in allowed]
    full = {t: target.get(t, 0.0) for t in sorted(set(scores) | set(current))}
    return limit_turnover(full, current, rule.max_turnover, forced)


def needs_trade(rule: TopkRule, target: Mapping[str, float], current: Mapping[str, float]) -> bool:
    """Whether to trade today: when the names held change (no trades for mere drift between changes).

    With ``max_turnover`` a change may take several days, so the rule then trades every day,
    towards the targets and within the cap.
    """
    if rule.max_turnover is not None:
        return turnover(target, current) > 0
    return {t for t, w in target.items() if w > 0} != {t for t, w in current.items() if w > 0}


def _finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except TypeError:
        return False
