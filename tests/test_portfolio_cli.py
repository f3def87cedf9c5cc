"""``bt run topk-strategy``, its run folder and report, ``bt signal --tickers``, and its errors, end to end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ._browser import chromium, page_url, visit
from .conftest import bt

TICKERS = "AAPL,MSFT,NVDA,JPM,KO"
TINY = ["--model", "ridge", "--start", "2026-06-01", "--train-days", "120", "--lookback", "20", "--k", "2"]
RULES = ["strategy", "equal_weight", "topk_naive", "topk_ridge", "momentum", "benchmark"]
SECTIONS = ["headline", "equity", "holdings", "turnover", "forecasts", "trades", "tearsheet", "config"]


@pytest.fixture(scope="module")
def portfolio_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One tiny ``bt run topk-strategy`` over five bundled tickers with the ridge baseline."""
    out = tmp_path_factory.mktemp("portfolio") / "run"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("BT_CACHE_DIR", str(tmp_path_factory.mktemp("portfolio-cache")))
        result = bt("run", "topk-strategy", "--tickers", TICKERS, *TINY, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return result.stdout, out


def test_run_writes_every_table_over_the_same_days(portfolio_run: tuple[str, Path]) -> None:
    stdout, out = portfolio_run
    assert "PORTFOLIO topk-strategy  2026-06-01 to 2026-08-14" in stdout and f"report: {out / 'report.html'}" in stdout
    assert {p.name for p in out.iterdir()} == {"returns.csv", "equity.csv", "weights.csv", "trades.csv", "turnover.csv",
                                               "tickers.csv", "forecasts.csv", "run.json", "report.html",
                                               "tearsheet.html", ".bt-manifest.json"}  # fmt: skip
    returns = pd.read_csv(out / "returns.csv", index_col="date")
    weights = pd.read_csv(out / "weights.csv", index_col="date")
    assert list(returns.columns) == RULES and list(weights.index) == list(returns.index)
    assert returns.index[0] == "2026-06-01" and returns.index[-1] == "2026-08-14"
    assert list(weights.columns) == sorted(TICKERS.split(","))
    assert (weights.gt(0).sum(axis=1) <= 2).all() and (weights.sum(axis=1) <= 1).all()
    assert (returns["topk_naive"] == 0).all()  # the naive forecast predicts no change: never above the threshold
    assert returns["topk_ridge"].equals(returns["strategy"])  # the model is ridge: the same rule, the same fills
    trades = pd.read_csv(out / "trades.csv")
    assert list(trades.columns) == ["date", "ticker", "action", "size", "price", "value", "commission"]
    assert len(trades) > 4 and set(trades["ticker"]) <= set(TICKERS.split(","))
    meta = json.loads((out / "run.json").read_text())
    assert meta["kind"] == "bt-lstm portfolio run" and meta["portfolio"]["k"] == 2
    assert meta["config"]["forecast"]["model"] == "ridge" and meta["summary"]["tickers"] == 5
    assert set(meta["summary"]["psr"]) == set(RULES) - {"strategy"}
    tickers = pd.read_csv(out / "tickers.csv")
    assert list(tickers["status"]) == ["used"] * 5 and tickers["dm_p_value"].between(0, 1).all()


def test_the_one_reader_reads_the_portfolio_folder(portfolio_run: tuple[str, Path]) -> None:
    from reports.saved import load_run

    run = load_run(portfolio_run[1])
    assert run.compares_rules and run.folds is None and run.baselines is None
    assert run.weights is not None and list(run.weights.columns) == sorted(TICKERS.split(","))
    assert run.turnover is not None and run.tickers is not None and len(run.tickers) == 5
    assert run.returns is not None and list(run.returns.columns) == RULES
    assert run.forecasts is not None and set(run.forecasts["ticker"]) == set(TICKERS.split(","))


def test_report_sections_and_bt_report_rebuilds_it(portfolio_run: tuple[str, Path], tmp_path: Path) -> None:
    _, out = portfolio_run
    html = (out / "report.html").read_text()
    for sid in SECTIONS:
        assert f'id="{sid}"' in html and f'href="#{sid}"' in html
    for words in ("equal weight, rebalanced monthly", "top-k on 12-1 month momentum", "benchmark (SPY)",
                  "PSR of the strategy against it", "verdict (Holm)", "verdict (BH)", "sign test",
                  'src="tearsheet.html"'):  # fmt: skip
        assert words in html, words
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    (copy / "report.html").unlink()
    result = bt("report", str(copy))
    assert result.returncode == 0, result.stderr
    assert (copy / "report.html").read_text().count("<section") == len(SECTIONS)


@pytest.mark.skipif(chromium() is None and os.environ.get("CI") != "true", reason="Chromium is not installed")
def test_report_renders_in_headless_chromium(portfolio_run: tuple[str, Path]) -> None:
    _, out = portfolio_run
    probe = ("(() => ({sections: [...document.querySelectorAll('section')].map(s => s.id),"
             "images: [...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight]),"
             "rows: document.querySelectorAll('#forecasts tbody tr').length}))()")  # fmt: skip
    seen = visit(page_url(out / "report.html"), probe)
    assert seen.problems == []
    assert seen.evaluated["sections"] == SECTIONS
    images = seen.evaluated["images"]
    assert [alt for alt, _, _ in images] == ["equity curves", "holdings heatmap", "turnover"]
    assert all(w > 400 and h > 150 for _, w, h in images), images
    assert seen.evaluated["rows"] == 5
    sheet = visit(page_url(out / "tearsheet.html"), "document.querySelectorAll('svg').length")
    assert sheet.problems == [] and sheet.evaluated > 5


def test_forecasts_as_executor_tasks_give_the_same_run(portfolio_run: tuple[str, Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    _, out = portfolio_run
    monkeypatch.setenv("BT_CACHE_DIR", str(tmp_path / "cache"))
    result = bt("run", "topk-strategy", "--tickers", TICKERS, *TINY, "--scheduler", "sync", "--out",
                str(tmp_path / "r"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "forecasts of 0 from the cache" in result.stdout  # the tasks' own tables, not read back from a cache
    for name in ("returns.csv", "equity.csv", "weights.csv", "trades.csv", "forecasts.csv"):
        assert (tmp_path / "r" / name).read_bytes() == (out / name).read_bytes(), name


def test_config_file_with_a_portfolio_table(tmp_path: Path) -> None:
    config = tmp_path / "p.toml"
    config.write_text('[forecast]\nmodel = "ridge"\ntrain_days = 120\nlookback = 20\n[data]\nstart = 2026-07-01\n'
                      '[portfolio]\ntickers = ["KO", "JPM", "AAPL"]\nk = 1\nweighting = "inverse-volatility"\n')
    result = bt("run", "topk-strategy", "--config", str(config), "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["portfolio"]["tickers"] == ["KO", "JPM", "AAPL"] and meta["portfolio"]["k"] == 1
    assert meta["portfolio"]["weighting"] == "inverse-volatility" and meta["period"]["first_day"] == "2026-07-01"
    weights = pd.read_csv(tmp_path / "r" / "weights.csv", index_col="date")
    assert (weights.gt(0).sum(axis=1) <= 1).all()
    # The run folder's run.json reproduces the run; options still win over it.
    again = bt("run", "topk-strategy", "--config", str(tmp_path / "r" / "run.json"), "--k", "2", "--out",
               str(tmp_path / "r2"))  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "r2" / "run.json").read_text())["portfolio"]["k"] == 2


def test_a_ticker_without_data_is_left_out_and_counted(tmp_path: Path) -> None:
    result = bt("run", "topk-strategy", "--tickers", "KO,JPM,NOSUCHTICKER", *TINY, "--source", "bundled", "--out",
                str(tmp_path / "r"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "2 traded, 1 left out" in result.stdout
    tickers = pd.read_csv(tmp_path / "r" / "tickers.csv").set_index("ticker")
    assert tickers.loc["NOSUCHTICKER", "status"].startswith("left out: ")


def test_signal_ranks_the_universe_and_gives_target_weights() -> None:
    result = bt("signal", "--tickers", TICKERS, "--model", "ridge", "--train-days", "120", "--lookback", "20",
                "--k", "2", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    s = json.loads(result.stdout)
    assert s["data_through"] == "2026-08-14" and s["strategy"] == "topk-strategy" and len(s["ranking"]) == 5
    predicted = [r["predicted_return"] for r in s["ranking"]]
    assert predicted == sorted(predicted, reverse=True) and [r["rank"] for r in s["ranking"]] == [1, 2, 3, 4, 5]
    above = [r["ticker"] for r in s["ranking"] if r["predicted_return"] > 0][:2]
    assert set(s["targets"]) == set(above) and all(w == pytest.approx(0.475) for w in s["targets"].values())
    assert s["cash"] == pytest.approx(1 - 0.475 * len(above))
    text = bt("signal", "--tickers", TICKERS, "--model", "ridge", "--train-days", "120", "--lookback", "20")
    assert text.returncode == 0 and "targets for the next open after 2026-08-14" in text.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["run", "topk-strategy", "--model", "ridge"], "no tickers: pass --tickers"),
    (["run", "topk-strategy", "--universe", "dow31"], "unknown universe 'dow31'"),
    (["run", "topk-strategy", "--universe", "dow30", "--as-of", "2020-01-02"], "--as-of applies only to sp500"),
    (["run", "topk-strategy", "--tickers", "KO", "--k", "0"], "`k` must be an integer from 1"),
    (["run", "topk-strategy", "--tickers", "KO", "--weighting", "cap"], "weighting"),
    (["run", "topk-strategy", "--tickers", "KO,JPM", "--universe", "dow30"], "not several"),
    (["run", "topk-strategy", "AAPL"], "topk-strategy ranks several tickers, and AAPL alone is one: give --universe"),
    (["run", "topk-strategy", "KO", "JPM", "--tickers", "KO,JPM"], "give the tickers once"),
    (["run", "topk-strategy", "--tickers", "KO,JPM", "--csv", "prices.csv"], "--csv applies to one ticker's run"),
    (["run", "topk-strategy", "--tickers", "NOSUCHTICKER", "--source", "bundled"], "none of the 1 tickers"),
    (["run", "topk-strategy", "--tickers", "KO", "--start", "1990-01-02"], "the portfolio's days"),
    (["run", "lstm-strategy", "AAPL", "--universe", "dow30"], "not a portfolio strategy (it trades one ticker): drop "
                                                              "--universe"),
    (["run", "lstm-strategy", "AAPL", "MSFT"], "give one TICKER, not 2"),
    (["run", "sma-cross", "AAPL", "--k", "3"], "drop --k"),
    (["signal", "AAPL", "--hold", "KO"], "drop --hold"),
    (["signal", "--tickers", "KO", "--strategy", "lstm-strategy"], "not a portfolio strategy"),
])  # fmt: skip
def test_bad_input_is_one_line(args: list[str], words: str, tmp_path: Path) -> None:
    result = bt(*args, "--out", str(tmp_path / "x")) if args[0] == "run" and "AAPL" not in args else bt(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr
    assert not (tmp_path / "x").exists()
