"""One ``bt run`` (and ``bt signal``, ``bt paper start``) for both kinds of strategy: ``backtests.selection.route``
picks the path from the strategy's registered kind, and the ticker selection, not a stand-in ticker, names a
portfolio."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backtests.cli import app
from backtests.cli.portfolio import portfolio_config
from backtests.errors import ConfigError
from backtests.pipeline import RunRequest
from backtests.selection import RANKING, SINGLE, Route, TickerSelection, route
from strategies import registry


def test_every_strategy_has_a_kind_and_topk_is_the_ranking_one() -> None:
    assert {spec.name: spec.kind for spec in registry.available().values()} == {
        "lstm-strategy": SINGLE, "buy-and-hold": SINGLE, "sma-cross": SINGLE}  # fmt: skip
    assert registry.find("topk-strategy").kind == RANKING and registry.ranking_names() == ("topk-strategy",)


@pytest.mark.parametrize(("strategy", "selection", "expected"), [
    ("lstm-strategy", TickerSelection(("AAPL",)), ("lstm-strategy", SINGLE)),
    (None, TickerSelection(("AAPL",)), ("lstm-strategy", SINGLE)),
    (None, TickerSelection(), ("lstm-strategy", SINGLE)),
    ("topk-strategy", TickerSelection(universe="dow30"), ("topk-strategy", RANKING)),
    ("topk-strategy", TickerSelection(("KO", "JPM")), ("topk-strategy", RANKING)),
    ("topk-strategy", TickerSelection(), ("topk-strategy", RANKING)),  # the [portfolio] table, else "no tickers"
    (None, TickerSelection(tickers="KO,JPM"), ("topk-strategy", RANKING)),
])  # fmt: skip
def test_route_follows_the_strategy_kind(strategy: str | None, selection: TickerSelection,
                                         expected: tuple[str, str]) -> None:  # fmt: skip
    chosen = route(strategy, selection)
    assert (chosen.strategy, chosen.kind) == expected


@pytest.mark.parametrize(("strategy", "selection", "options", "words"), [
    ("lstm-strategy", TickerSelection(("AAPL",), universe="dow30"), {}, "drop --universe"),
    ("sma-cross", TickerSelection(("AAPL", "MSFT")), {}, "give one TICKER, not 2"),
    ("buy-and-hold", TickerSelection(tickers_file=Path("list.txt")), {}, "drop --tickers-file"),
    ("lstm-strategy", TickerSelection(("AAPL",)), {"only_ranking": ["--n-drop"]}, "drop --n-drop"),
    ("topk-strategy", TickerSelection(("AAPL",)), {}, "AAPL alone is one"),
    ("topk-strategy", TickerSelection(("AAPL", "KO"), universe="dow30"), {}, "give the tickers once"),
    ("topk-strategy", TickerSelection(universe="dow30"), {"only_single": ["--csv"]}, "drop --csv"),
    ("no-such", TickerSelection(universe="dow30"), {}, r"unknown strategy 'no-such'; choose one of: .*topk-strategy"),
])  # fmt: skip
def test_route_refuses_what_the_kind_does_not_take(strategy: str, selection: TickerSelection,
                                                   options: dict[str, list[str]], words: str) -> None:  # fmt: skip
    with pytest.raises(ConfigError, match=words):
        route(strategy, selection, **options)


def test_a_ticker_in_the_strategy_place_is_an_unknown_strategy_with_a_hint() -> None:
    result = CliRunner().invoke(app, ["run", "AAPL", "--model", "naive"])
    assert result.exit_code == 2 and "no ticker" not in result.output
    assert "unknown strategy 'AAPL'" in result.output and "e.g. lstm-strategy AAPL" in result.output
    assert "topk-strategy" in result.output


def test_a_config_file_with_only_a_portfolio_table_routes_to_the_ranking_strategy(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[portfolio]\nuniverse = "dow30"\nk = 3\n')
    assert route(None, TickerSelection(), config_file=config) == Route("topk-strategy", RANKING)
    assert route("lstm-strategy", TickerSelection(("AAPL",)), config_file=config).kind == SINGLE  # the argument wins


def test_route_reads_the_strategy_of_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[strategy]\nname = "topk-strategy"\n[portfolio]\nuniverse = "dow30"\n')
    assert route(None, TickerSelection(), config_file=config).kind == RANKING
    config.write_text('[strategy]\nname = "sma-cross"\n')
    with pytest.raises(ConfigError, match="sma-cross is not a portfolio strategy"):
        route(None, TickerSelection(universe="dow30"), config_file=config)


def test_ticker_arguments_and_the_tickers_option_give_one_portfolio() -> None:
    listed, _ = portfolio_config({"model": "ridge"}, TickerSelection(("ko", "JPM")), "topk-strategy")
    option, _ = portfolio_config({"model": "ridge"}, TickerSelection(tickers="KO,JPM"), "topk-strategy")
    assert listed == option and listed.tickers == ("KO", "JPM") and listed.name == "PORTFOLIO"


def test_a_universe_names_the_portfolio_and_run_json_keeps_that_name_as_its_ticker() -> None:
    config, chosen = portfolio_config({}, TickerSelection(universe="dow30"), "topk-strategy")
    assert config.name == "DOW30" and config.universe == "dow30" and len(config.tickers) == len(chosen.tickers) > 20
    assert config.run.data.ticker == "DOW30"  # for older readers of run.json; nothing decides by it
    folder = RunRequest(config).folder(dt.datetime(2026, 1, 2, 3, 4, 5))
    assert folder == Path("runs") / "DOW30-topk-strategy-20260102-030405"


def test_one_visible_run_signal_and_paper_start_whose_help_gives_both_forms() -> None:
    names = {c.name for c in app.registered_commands}
    assert {"run", "signal"} <= names
    assert not names & {"run-portfolio", "signal-portfolio", "paper-start-portfolio"}
    text = CliRunner().invoke(app, ["run", "--help"], terminal_width=200).output
    for words in ("bt run lstm-strategy AAPL", "bt run topk-strategy --universe dow30", "--universe", "--k",
                  "--max-turnover", "--csv"):  # fmt: skip
        assert words in text, words
    start = CliRunner().invoke(app, ["paper", "start", "--help"], terminal_width=200).output
    assert "--universe" in start and "--ticker " in start and "--k" in start
    signal = CliRunner().invoke(app, ["signal", "--help"], terminal_width=200).output
    assert "--universe" in signal and "--hold" in signal and "--position" in signal


def test_a_sweep_of_a_ranking_strategy_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sweep", "topk-strategy", "--tickers", "KO,JPM", "--scheduler", "sync",
                                      "--out", str(tmp_path / "s")])  # fmt: skip
    assert result.exit_code == 2 and "a sweep runs one ticker per job: use `bt run topk-strategy" in result.output
    assert not (tmp_path / "s").exists()


def test_a_sweep_of_the_ranking_strategy_of_a_config_file_names_it(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[strategy]\nname = "topk-strategy"\n')
    result = CliRunner().invoke(app, ["sweep", "--config", str(config), "--tickers", "KO,JPM", "--scheduler", "sync",
                                      "--out", str(tmp_path / "s")])  # fmt: skip
    assert result.exit_code == 2 and "None" not in result.output, result.output
    assert "topk-strategy ranks a universe" in result.output and "`bt run topk-strategy --universe U`" in result.output
    assert not (tmp_path / "s").exists()


def test_a_ranking_run_refused_before_any_forecast_writes_only_its_error_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "run.json").write_text("{}")
    code = "import sys; from backtests.cli import main; sys.argv[0] = 'bt'; main()"
    result = subprocess.run([sys.executable, "-c", code, "run", "topk-strategy", "--tickers", "KO,JPM", "--model",
                             "naive", "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode == 2 and result.stderr.startswith("error: run folder"), repr(result.stderr)
    assert result.stderr.count("\n") == 1 and result.stdout == ""
