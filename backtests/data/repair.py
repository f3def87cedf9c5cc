"""The repair policy for bars whose high or low does not contain their open and close, and for one-day spikes.

Real downloads have such bars (a low a few cents above the open), and now and then a day whose
prices are off by orders of magnitude (Yahoo's GDW on 2014-11-26: 40.77 between closes of
0.005). ``refuse`` (the default) keeps the one-line refusal; ``clip`` raises the high to
max(open, close) and lowers the low to min(open, close) on exactly those rows, replaces a
spike's bar by a flat bar at the close before it (volume kept), and the reader says how many
rows of which file it changed.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .canonical import ADJ_NAMES, SPIKE, TOLERANCE, spike_rows

__all__ = ["REPAIR_POLICIES", "RepairBars", "check_policy", "clip_bars", "flatten_spikes", "repair_notice",
           "spike_notice"]  # fmt: skip

RepairBars = Literal["refuse", "clip"]
REPAIR_POLICIES: tuple[RepairBars, ...] = get_args(RepairBars)
_SHOWN = 3  # dates a notice names before "and N more"


def check_policy(policy: object) -> RepairBars:
    """``policy`` if it is one of REPAIR_POLICIES, else a one-line ConfigError."""
    for known in REPAIR_POLICIES:
        if policy == known:
            return known
    raise ConfigError(f"`repair_bars` must be refuse or clip. Got {policy!r}.")


def clip_bars(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """High raised to max(open, close) and low lowered to min(open, close) where they break the rule.

    Only rows that ``validate_prices`` would refuse change (float noise within its tolerance
    stays as it is); rows with a missing or non-finite value are left for the rules to refuse.
    """
    x = frame[["open", "high", "low", "close"]].to_numpy(dtype="float64", na_value=np.nan)
    o, h, lo, c = x.T
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    with np.errstate(invalid="ignore"):
        high = np.isfinite(x).all(axis=1) & (h < top * (1 - TOLERANCE))
        low = np.isfinite(x).all(axis=1) & (lo > bottom * (1 + TOLERANCE))
    changed = high | low
    if not changed.any():
        return frame, frame.index[:0]
    fixed = frame.assign(high=np.where(high, top, h), low=np.where(low, bottom, lo))
    return fixed, frame.index[changed]


def flatten_spikes(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Each one-day spike (``spike_rows`` of the close or an adjusted close) as a flat bar at the close before it.

    Open, high, low and close (and an adjusted close) all take the previous row's value, itself
    repaired if it was a spike; volume is kept. Other rows are left exactly as they are.
    """
    closes = ["close", *(c for c in ADJ_NAMES if c in frame.columns)]
    flags = np.zeros(len(frame), dtype=bool)
    for name in closes:
        flags |= spike_rows(frame[name].to_numpy(dtype="float64", na_value=np.nan))
    if not flags.any():
        return frame, frame.index[:0]
    keep = pd.Series(~flags, index=frame.index)
    fixed = {name: frame[name].where(keep, frame[name].where(keep).ffill()) for name in closes}
    fixed.update({name: frame[name].where(keep, fixed["close"]) for name in ("open", "high", "low")})
    return frame.assign(**fixed), frame.index[flags]


def spike_notice(source: str, dates: pd.DatetimeIndex) -> str:
    """One line: how many one-day spikes of ``source`` were flattened, and the first of their dates."""
    rows = "1 row" if len(dates) == 1 else f"{len(dates)} rows"
    return (f"repair_bars = clip: flattened {rows} of {source} whose close was over {SPIKE:g} times, or under a "
            f"{SPIKE:g}th of, the closes on both sides (a one-day spike) to the close before it: {_shown(dates)}")


def _shown(dates: pd.DatetimeIndex) -> str:
    shown = ", ".join(f"{d:%Y-%m-%d}" for d in dates[:_SHOWN])
    return shown + (f" and {len(dates) - _SHOWN} more" if len(dates) > _SHOWN else "")


def repair_notice(source: str, dates: pd.DatetimeIndex) -> str:
    """One line: how many rows of ``source`` were clipped, and the first of their dates."""
    rows = "1 row" if len(dates) == 1 else f"{len(dates)} rows"
    return (f"repair_bars = clip: changed {rows} of {source} (high raised to max(open, close) or low lowered "
            f"to min(open, close)): {_shown(dates)}")  # fmt: skip
