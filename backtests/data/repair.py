"""The repair policy for bars whose high or low does not contain their open and close.

Real downloads have such bars (a low a few cents above the open). ``refuse`` (the default)
keeps today's one-line refusal; ``clip`` raises the high to max(open, close) and lowers the
low to min(open, close) on exactly those rows, and the reader says how many rows of which
file it changed.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .canonical import TOLERANCE

__all__ = ["REPAIR_POLICIES", "RepairBars", "check_policy", "clip_bars", "repair_notice"]

RepairBars = Literal["refuse", "clip"]
REPAIR_POLICIES: tuple[str, ...] = get_args(RepairBars)
_SHOWN = 3  # dates a notice names before "and N more"


def check_policy(policy: object) -> RepairBars:
    """``policy`` if it is one of REPAIR_POLICIES, else a one-line ConfigError."""
    if policy not in REPAIR_POLICIES:
        raise ConfigError(f"`repair_bars` must be refuse or clip. Got {policy!r}.")
    return policy  # type: ignore[return-value]


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


def repair_notice(source: str, dates: pd.DatetimeIndex) -> str:
    """One line: how many rows of ``source`` were clipped, and the first of their dates."""
    shown = ", ".join(f"{d:%Y-%m-%d}" for d in dates[:_SHOWN])
    more = f" and {len(dates) - _SHOWN} more" if len(dates) > _SHOWN else ""
    rows = "1 row" if len(dates) == 1 else f"{len(dates)} rows"
    return (f"repair_bars = clip: changed {rows} of {source} (high raised to max(open, close) or low lowered "
            f"to min(open, close)): {shown}{more}")  # fmt: skip
