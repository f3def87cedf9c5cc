"""The run's report as a person sees it, ``bt report`` and ``bt walk-forward``."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ._browser import chromium, page_url, visit
from .conftest import TINY_CLI, bt

SECTIONS = ["headline", "forecast", "errors", "folds", "equity", "tearsheet", "config"]
PROBE = """(() => ({
  sections: [...document.querySelectorAll('section')].map(s => s.id),
  toc: [...document.querySelectorAll('nav a')].map(a => a.getAttribute('href')),
  images: [...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight]),
  verdict: (document.querySelector('.verdict') || {}).textContent,
  models: [...document.querySelectorAll('#errors tbody th')].map(t => t.textContent),
  iframe: (document.querySelector('iframe') || {}).src,
}))()"""


@pytest.fixture(scope="module")
def run_dir(tiny_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result, out = tiny_run
    assert result.returncode == 0, result.stderr
    copy = tmp_path_factory.mktemp("report") / "run"
    shutil.copytree(out, copy)
    return copy


def test_report_sections_and_words(run_dir: Path) -> None:
    html = (run_dir / "report.html").read_text()
    for sid in SECTIONS:
        assert f'id="{sid}"' in html and f'href="#{sid}"' in html
    assert "AAPL lstm-strategy 2026-06-01 to 2026-08-14" in html
    assert "the naive forecast" in html and "DM p" in html
    for model in ("naive", "drift", "moving-average", "ridge", "LSTM (mean of 2 seeds)", "single seed: std"):
        assert model in html
    assert 'src="tearsheet.html"' in html
    assert "Theil&#x27;s U ridge" in html or "Theil's U ridge" in html  # per-fold metrics of every model


@pytest.mark.skipif(chromium() is None and os.environ.get("CI") != "true", reason="Chromium is not installed")
def test_report_renders_in_headless_chromium(run_dir: Path) -> None:
    seen = visit(page_url(run_dir / "report.html"), PROBE)
    assert seen.problems == []
    got = seen.evaluated
    assert got["sections"] == SECTIONS
    assert got["toc"] == [f"#{s}" for s in SECTIONS]
    assert len(got["images"]) == 4 and all(w > 400 and h > 200 for _, w, h in got["images"]), got["images"]
    assert got["verdict"].startswith("The LSTM")
    assert got["iframe"].endswith("/tearsheet.html")
    # The embedded tearsheet itself (file:// frames are opaque to the parent page, so visit it directly).
    sheet = visit(page_url(run_dir / "tearsheet.html"), "document.querySelectorAll('svg').length")
    assert sheet.problems == [] and sheet.evaluated > 5
    # The screenshot of the top is not blank: a real page has many distinct shades.
    from matplotlib import image

    pixels = image.imread(io.BytesIO(seen.screenshot), format="png")
    assert pixels.shape[0] > 500 and np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0).shape[0] > 50


def test_bt_report_rebuilds_the_same_page_without_training(run_dir: Path) -> None:
    before = (run_dir / "report.html").read_bytes()
    (run_dir / "report.html").unlink()
    result = bt("report", str(run_dir))
    assert result.returncode == 0, result.stderr
    assert "training folds" not in result.stderr
    assert (run_dir / "report.html").read_bytes() == before


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda d: (d / "run.json").unlink(), "run.json"),
        (lambda d: (d / "run.json").write_text((d / "run.json").read_text()[:200]), "run.json"),
        (lambda d: (d / "run.json").write_text(json.dumps({**json.loads((d / "run.json").read_text()), "format": 1})),
         "another version"),
        (lambda d: (d / "forecasts.csv").write_text((d / "forecasts.csv").read_text()[:300]), "forecasts.csv"),
        (lambda d: (d / "returns.csv").unlink(), "returns.csv"),
        (lambda d: (d / "folds.csv").write_text("fold,x\n1,2\n"), "folds.csv"),
    ],
)
def test_damaged_run_folder_is_refused_and_nothing_overwritten(run_dir: Path, tmp_path: Path, damage, named) -> None:
    folder = tmp_path / "run"
    shutil.copytree(run_dir, folder)
    damage(folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    result = bt("report", str(folder))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_report_of_a_missing_folder(tmp_path: Path) -> None:
    result = bt("report", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no such run folder" in result.stderr


def test_walk_forward_command(tmp_path: Path) -> None:
    out = tmp_path / "wf"
    result = bt("walk-forward", "MSFT", *TINY_CLI, "--out", str(out))
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "metrics.json").read_text())
    models = [row["model"] for row in meta["metrics"]]
    assert models == ["LSTM", "naive", "drift", "moving-average", "ridge"]
    naive = meta["metrics"][1]
    assert naive["theils_u"] == 1.0 and naive["dm_p_value"] == 1.0
    # 53 days from 2026-06-01, retrained every 21: 3 folds, for the LSTM and each baseline.
    assert len(meta["per_fold"]) == 3 * 5
    assert {row["model"] for row in meta["per_fold"]} == set(models)
    assert {row["theils_u"] for row in meta["per_fold"] if row["model"] == "naive"} == {1.0}
    for name in ("forecasts.csv", "folds.csv", "baselines.csv", "forecast.html"):
        assert (out / name).stat().st_size > 0
    assert "Theil's U" in result.stdout and "ridge" in result.stdout
    page = (out / "forecast.html").read_text()
    assert 'id="forecast"' in page and 'id="errors"' in page and 'id="equity"' not in page


def test_walk_forward_with_a_baseline_model_trains_no_network(tmp_path: Path) -> None:
    result = bt("walk-forward", "AAPL", "--model", "ridge", "--start", "2025-01-02", "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    assert "training folds" in result.stderr  # baselines are fit fold by fold too, just fast
    meta = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert [row["model"] for row in meta["metrics"]] == ["ridge", "naive", "drift", "moving-average"]
    assert "tensorflow" not in result.stderr.lower()


def _section_ids(page: str) -> list[str]:
    return [part.split('"', 1)[0] for part in page.split('<section id="')[1:]]


def test_one_reader_and_one_page_whose_sections_follow_what_the_run_holds() -> None:
    from dataclasses import replace

    from reports.page import run_page
    from reports.saved import load_run

    run = load_run(Path(__file__).parent / "fixtures" / "legacy" / "run-ridge")  # written by an earlier version
    assert run.folds is not None and run.baselines is not None and run.returns is not None
    assert run.weights is None and run.turnover is None and run.tickers is None and not run.compares_rules
    assert _section_ids(run_page(run, "tearsheet.html")) == SECTIONS
    # Holdings, not a kind of folder, bring the holdings section; the fills then get a section of their own.
    held = replace(run, weights=pd.DataFrame({"AAPL": 0.95}, index=run.returns.index))
    page = run_page(held, None)
    assert _section_ids(page) == ["headline", "forecast", "errors", "folds", "equity", "holdings", "trades",
                                  "tearsheet", "config"]  # fmt: skip
    assert 'alt="holdings heatmap"' in page
