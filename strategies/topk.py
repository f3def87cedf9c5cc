"""Portfolio strategies over one feed per ticker: the top-k rule and the equal-weight comparison.

A ``PortfolioData`` feed carries, beside the bars, what is known at the close of each day:
``score`` (the predicted return for the next day, or another ranking score; NaN when none),
``volatility`` (of daily returns over the trailing 60 days through that day) and ``eligible``
(1 when the name may be held that day: an index member with a bar). The strategies decide at
the close; their orders fill at the next open. Targets are fractions of total equity; orders
are placed sells first, then buys, so the sells' cash is there for the buys.
"""

from __future__ import annotations

from typing import Any

import backtrader as bt
import numpy as np

from .feeds import FrameData
from .ranking import TopkRule, needs_trade, target_weights


class PortfolioData(FrameData):
    """PandasData plus the ``score``, ``volatility`` and ``eligible`` lines a portfolio strategy reads.

    Preloaded a column at a time (``FrameData``); loaded bar by bar (paper trading's live days),
    the values come from the frame's columns as arrays instead of one ``iloc`` per value.
    """

    lines = ("score", "volatility", "eligible")
    params = (("score", -1), ("volatility", -1), ("eligible", -1), ("openinterest", None))

    def start(self) -> None:
        super().start()
        # Taken on the first bar-by-bar load (a preload never needs them).
        self._columns: list[tuple[Any, np.ndarray]] | None = None

    def _take_columns(self) -> list[tuple[Any, np.ndarray]]:
        """Each line with its column's values; also the dates as backtrader numbers and the date line."""
        frame = self.p.dataname
        self._stamps = [bt.date2num(stamp.to_pydatetime()) for stamp in frame.index]
        self._clock = self.datetime  # the date line: a feed passes a line's name on to its ``lines``
        return [(getattr(self.lines, name), frame.iloc[:, index].to_numpy())
                for name, index in self._colmapping.items()
                if name != "datetime" and index is not None]  # fmt: skip

    def _tick_fill(self, force: bool = False) -> None:
        """No tick copies: backtrader's broker falls back to the bar's own open, high, low and close (the same
        values), and copying all ten lines of every feed on every bar is a fifth of a portfolio backtest."""

    def _tick_nullify(self) -> None:
        """Nothing to clear: see ``_tick_fill``."""

    def _load(self) -> bool:
        if self._columns is None:
            self._columns = self._take_columns()
        self._idx += 1
        if self._idx >= len(self._stamps):
            return False
        for line, values in self._columns:
            line[0] = values[self._idx]
        self._clock[0] = self._stamps[self._idx]
        return True


class RebalancingStrategy(bt.Strategy):
    """A strategy over many feeds (each named by its ticker) that trades to target weights of equity."""

    feed = PortfolioData  # the feed class the engine gives it, one per ticker

    def weights_now(self) -> dict[str, float]:
        """The weight of each name held, at today's close (fractions of total equity)."""
        equity = self.broker.getvalue()
        out = {}
        for data in self.datas:
            size = self.getposition(data).size
            if size:
                out[data._name] = size * data.close[0] / equity
        return out

    def rebalance(self, weights: dict[str, float]) -> None:
        """Order each name to ``weights`` of today's equity at today's close: whole shares, sells first."""
        equity = self.broker.getvalue()
        sells, buys = [], []
        for data in self.datas:
            held = self.getposition(data).size
            wanted = int(weights.get(data._name, 0.0) * equity / data.close[0]) if data.close[0] > 0 else held
            if wanted < held:
                sells.append((data, held - wanted))
            elif wanted > held:
                buys.append((data, wanted - held))
        for data, size in sells:
            self.sell(data=data, size=size)
        for data, size in buys:
            self.buy(data=data, size=size)


class TopkStrategy(RebalancingStrategy):
    """Hold the k names with the best score above ``threshold``, weighted ``equal`` or ``inverse-volatility``.

    See ``strategies.ranking.TopkRule`` for the parameters. ``decisions`` keeps each day's
    target weights (date, weights), for tests and reports.
    """

    params = (("k", 5), ("weighting", "equal"), ("threshold", 0.0), ("n_drop", None), ("max_turnover", None),
              ("size", 0.95))  # fmt: skip

    def __init__(self) -> None:
        self.rule = TopkRule(self.p.k, self.p.weighting, self.p.threshold, self.p.n_drop, self.p.max_turnover,
                             self.p.size)  # fmt: skip
        self.decisions: list[tuple[object, dict[str, float]]] = []

    def next(self) -> None:
        scores = {d._name: float(d.score[0]) for d in self.datas}
        eligible = [d._name for d in self.datas if d.eligible[0] > 0]
        volatility = {d._name: float(d.volatility[0]) for d in self.datas}
        current = self.weights_now()
        target = target_weights(self.rule, scores, current, eligible=eligible, volatility=volatility)
        self.decisions.append((self.datas[0].datetime.date(0), target))
        if needs_trade(self.rule, target, current):
            self.rebalance(target)


class EqualWeight(RebalancingStrategy):
    """Every eligible name at ``size / n`` of equity, rebalanced at the first close of each month.

    The buy-and-hold of a universe: it also sells, at the next open, a name that stops being
    eligible (leaves the index) between rebalances.
    """

    params = (("size", 0.95),)

    def next(self) -> None:
        eligible = [d._name for d in self.datas if d.eligible[0] > 0]
        today = self.datas[0].datetime.date(0)
        if len(self) == 1 or self.datas[0].datetime.date(-1).month != today.month:
            self.rebalance({t: self.p.size / len(eligible) for t in eligible})
            return
        for data in self.datas:
            if self.getposition(data).size and data._name not in eligible:
                self.close(data=data)
