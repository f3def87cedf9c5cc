"""The strategy registry: built-ins, plugins through entry points, unknown names."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from strategies import registry


def test_builtins_in_order() -> None:
    assert list(registry.available())[:3] == ["lstm-strategy", "buy-and-hold", "sma-cross"]


def test_plugins_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = [
        EntryPoint("my-cross", "strategies.classic:SmaCross", registry.ENTRY_POINT_GROUP),
        EntryPoint("broken", "no_such_module:Thing", registry.ENTRY_POINT_GROUP),
        EntryPoint("buy-and-hold", "no_such_module:Shadow", registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: plugins if group == registry.ENTRY_POINT_GROUP else [])
    specs = registry.available()
    assert specs["my-cross"].description.startswith("Long while the ``fast``-day SMA")
    assert specs["my-cross"].load().__name__ == "SmaCross"
    assert "fails to import" in specs["broken"].description
    assert specs["buy-and-hold"].target == "strategies.classic:BuyAndHold"  # a plugin cannot shadow a built-in


def test_unknown_strategy_lists_known_ones() -> None:
    with pytest.raises(KeyError, match="choose one of: lstm-strategy, buy-and-hold, sma-cross"):
        registry.get("nope")
