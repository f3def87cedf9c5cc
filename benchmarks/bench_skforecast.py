"""This project's walk-forward LSTM against skforecast's ``ForecasterRnn`` on identical work.

Run: ``python -m benchmarks.bench_skforecast`` (``--quick`` for a 3-fold smoke run).
Needs skforecast: ``pip install -e ".[bench]" && pip install --no-deps "skforecast==0.26.0"``
(its metadata pins pandas<3; it runs on this project's pandas 3).

Both sides forecast the same last ``--days`` trading days of bundled AAPL one day
ahead, from a rolling 756-price training window and a 60-day lookback, refitting
every 21 days: LSTM(64) -> LSTM(64) -> Dense(32) -> Dense(1), Adam(1e-3), MSE,
batch size 64, 5 epochs per fit on every training window (no validation split),
seeds fixed. They run in this one process, one after the other, after TensorFlow
is imported (import time is in neither figure). This project's identical work also
runs with its folds on a local cluster of 2 workers (``forecasting.parallel`` through
``backtests.parallel``, as ``bt walk-forward --workers 2 --no-warm-start`` does): on a
cluster started beforehand (its workers' TensorFlow import is in no figure either), and
starting its own cluster inside the timing; both must give the sequential forecasts
exactly. Then this project runs with its own defaults (warm start, early stopping). Last come two bare fits on the
identical-work run's arrays: Keras' stock ``model.fit`` on the same model, and
this project's ``LSTMForecaster.fit`` alone (its training loop without the
walk-forward around it), so the walk-forward's own overhead shows.
With ``--repeat N`` every row runs N times, interleaved, and the fastest wall
time of each is kept (as ``timeit`` does); forecasts must repeat exactly.

Wall seconds and process CPU seconds (all threads; with the cluster's workers added for
its rows) are both printed: on a shared machine the CPU figure is the steadier of the two. skforecast differs from this
project in ways that do not change the work: it scales prices with a MinMaxScaler
fit on each training window (no look-ahead), feeds 60 lagged prices where this
project feeds 59 daily log returns, keeps training the same Keras model from
fold to fold, and calls ``predict`` once per day.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtests.data import load_prices
from backtests.parallel import ExecutorSession
from forecasting import ForecastConfig, LSTMForecaster, walk_forward
from forecasting.parallel import TaskRunner, parallel_walk_forward
from forecasting.tf_runtime import keras_module
from forecasting.walkforward import train_arrays

LOOKBACK, TRAIN_DAYS, RETRAIN_EVERY, EPOCHS, BATCH_SIZE, SEED = 60, 756, 21, 5, 64, 0
INSTALL = 'pip install -e ".[bench]" && pip install --no-deps "skforecast==0.26.0"'


@dataclass(frozen=True)
class Row:
    """One line of the table: wall and CPU seconds and, where there are forecasts, their RMSE."""

    name: str
    seconds: float
    cpu: float
    rmse: float = float("nan")


class _Clock:
    """Wall and process CPU seconds since construction."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def row(self, name: str, rmse: float = float("nan")) -> Row:
        return Row(name, time.perf_counter() - self.wall, time.process_time() - self.cpu, rmse)


def _rmse(forecast: np.ndarray, actual: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(forecast) - np.asarray(actual)) ** 2)))


def run_skforecast(close: pd.Series, days: int) -> tuple[Row, np.ndarray]:
    """skforecast's documented RNN backtest: ForecasterRnn + backtesting_forecaster_multiseries."""
    keras = keras_module()
    from skforecast.deep_learning import ForecasterRnn, create_and_compile_model
    from skforecast.model_selection import TimeSeriesFold, backtesting_forecaster_multiseries

    # Only the last 756 + days prices: with fixed_train_size the window then rolls at 756 prices.
    series = close.iloc[-(TRAIN_DAYS + days) :].reset_index(drop=True).to_frame("close")
    keras.utils.set_random_seed(SEED)
    clock = _Clock()
    model = create_and_compile_model(
        series=series,
        lags=LOOKBACK,
        steps=1,
        levels="close",
        recurrent_layer="LSTM",
        recurrent_units=[64, 64],
        recurrent_layers_kwargs={"activation": "tanh"},
        dense_units=32,
        dense_layers_kwargs={"activation": "linear"},  # this project's Dense(32) is linear too
        compile_kwargs={"optimizer": keras.optimizers.Adam(1e-3), "loss": "mse"},
    )
    forecaster = ForecasterRnn(
        estimator=model,
        levels="close",
        lags=LOOKBACK,
        fit_kwargs={"epochs": EPOCHS, "batch_size": BATCH_SIZE, "verbose": 0},
    )
    cv = TimeSeriesFold(
        steps=1, initial_train_size=TRAIN_DAYS, refit=RETRAIN_EVERY, fixed_train_size=True, verbose=False
    )
    _, predictions = backtesting_forecaster_multiseries(
        forecaster=forecaster,
        series=series,
        cv=cv,
        metric="mean_squared_error",
        use_in_sample_residuals=False,  # no intervals asked: spare skforecast the residual pass
        n_jobs=1,
        show_progress=False,
        suppress_warnings=True,
    )
    forecast = predictions["pred"].to_numpy(dtype=float)
    if len(forecast) != days:
        raise RuntimeError(f"skforecast returned {len(forecast)} forecasts for {days} days.")
    return clock.row("skforecast ForecasterRnn", _rmse(forecast, close.to_numpy()[-days:])), forecast


def run_project(close: pd.Series, days: int, config: ForecastConfig, name: str) -> tuple[Row, pd.DataFrame]:
    """This project's walk-forward over the same target days; returns the row and the folds table."""
    first, last = len(close) - days, len(close) - 1
    clock = _Clock()
    result = walk_forward(close, config.forecasters(), config.splitter(), first_target=first, last_target=last)
    forecasts = result.forecasts
    return clock.row(name, _rmse(forecasts["forecast"], forecasts["actual"])), result.folds


def _workers_cpu(runner: TaskRunner) -> float:
    """CPU seconds the cluster's worker processes have used so far (0 for a runner without a cluster)."""
    client = getattr(runner, "client", None)
    return float(sum(client.run(time.process_time).values())) if client is not None else 0.0


def run_parallel(close: pd.Series, days: int, config: ForecastConfig, name: str, runner: TaskRunner | None) -> Row:
    """The walk-forward with its folds on 2 workers: on ``runner``'s cluster, or on a new one started in the timing."""
    first, last = len(close) - days, len(close) - 1
    with ExecutorSession("local", 2) as session:
        clock = _Clock()
        pool = runner or session.runner(2)
        before = _workers_cpu(pool) if runner is not None else 0.0
        result = parallel_walk_forward(close, config.forecasters(), config.splitter(), first_target=first,
                                       last_target=last, runner=pool)  # fmt: skip
        row = clock.row(name, _rmse(result.forecasts["forecast"], result.forecasts["actual"]))
        extra = _workers_cpu(pool) - before
    return Row(row.name, row.seconds, row.cpu + extra, row.rmse)


def _fold_arrays(close: pd.Series, days: int, config: ForecastConfig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold's training windows and targets, as the walk-forward builds them."""
    values = close.to_numpy(dtype=np.float64)
    folds = config.splitter().split(len(values), len(values) - days, len(values) - 1)
    return [train_arrays(values, fold, LOOKBACK) for fold in folds]


def run_bare_fit(close: pd.Series, days: int, config: ForecastConfig) -> Row:
    """Seconds of stock Keras ``model.fit`` calls on the arrays the identical-work walk-forward trains on."""
    keras = keras_module()
    lstm = config.forecaster()
    assert isinstance(lstm, LSTMForecaster)
    arrays = []
    for windows, targets in _fold_arrays(close, days, config):
        returns = np.log(targets / windows[:, -1])
        lstm.scale_ = float(returns.std())
        arrays.append((lstm._scaled(windows), (returns / lstm.scale_).astype(np.float32)))
    keras.utils.set_random_seed(SEED)
    clock = _Clock()
    model = keras.Sequential([
        keras.Input((LOOKBACK - 1, 1)),
        keras.layers.LSTM(64, return_sequences=True),
        keras.layers.LSTM(64),
        keras.layers.Dense(32),
        keras.layers.Dense(1),
    ])  # fmt: skip
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    for x, y in arrays:
        model.fit(x, y, epochs=EPOCHS, batch_size=BATCH_SIZE, shuffle=True, verbose=0)
    return clock.row(f"bare Keras model.fit ({len(arrays)} x {EPOCHS} epochs)")


def run_bare_forecaster(close: pd.Series, days: int, config: ForecastConfig) -> Row:
    """Seconds of ``LSTMForecaster.fit`` alone on the same arrays: the training without the walk-forward."""
    arrays = _fold_arrays(close, days, config)
    lstm = config.forecaster()
    clock = _Clock()
    for windows, targets in arrays:
        lstm.fit(windows, targets)
    return clock.row(f"bare LSTMForecaster.fit ({len(arrays)} x {EPOCHS} epochs)")


def _print_table(rows: list[Row], naive: float, bare: Row, identical: Row) -> None:
    """Speed-ups are against the first row (skforecast), in wall and in CPU seconds."""
    print(f"{'run':<47} {'wall s':>7} {'x faster':>8} {'CPU s':>7} {'x faster':>8} {'RMSE':>8} {'RMSE/naive':>10}")
    for row in rows:
        ratio = row.rmse / naive
        rmse = f"{row.rmse:8.4f} {ratio:10.3f}" if np.isfinite(ratio) else ""
        print(f"{row.name:<47} {row.seconds:7.2f} {rows[0].seconds / row.seconds:8.2f} "
              f"{row.cpu:7.2f} {rows[0].cpu / row.cpu:8.2f} {rmse}")  # fmt: skip
    print(f"{'naive (tomorrow = today)':<47} {'':7} {'':8} {'':7} {'':8} {naive:8.4f} {1.0:10.3f}")
    wall, cpu = identical.seconds / bare.seconds - 1, identical.cpu / bare.cpu - 1
    print(f"walk-forward overhead over bare LSTMForecaster.fit (identical work): wall {wall:+.1%}, CPU {cpu:+.1%}")


def _fastest(rows: list[Row], exact: bool = True) -> Row:
    """The repetition with the lowest wall time; with ``exact``, every repetition must give the same RMSE."""
    rmses = {row.rmse for row in rows if np.isfinite(row.rmse)}
    if exact and len(rmses) > 1:
        raise RuntimeError(f"{rows[0].name}: forecasts differ between repetitions (RMSE {sorted(rmses)}).")
    return min(rows, key=lambda row: row.seconds)


def _measure(close: pd.Series, days: int, identical: ForecastConfig,
             repeat: int) -> tuple[dict[str, list[Row]], pd.DataFrame]:  # fmt: skip
    """Every row ``repeat`` times, interleaved; the 2-worker rows on a cluster started once beforehand, and anew."""
    runs: dict[str, list[Row]] = {}
    with ExecutorSession("local", 2) as session:
        pool = session.runner(2)  # started, TensorFlow imported in its workers, before any timing
        for _ in range(repeat):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                runs.setdefault("sk", []).append(run_skforecast(close, days)[0])
            same = run_project(close, days, identical, "bt-lstm, identical work (no warm start, no ES)")[0]
            runs.setdefault("same", []).append(same)
            runs.setdefault("pool", []).append(run_parallel(close, days, identical, "  same, 2 workers", pool))
            runs.setdefault("start", []).append(
                run_parallel(close, days, identical, "  same, 2 workers, cluster start timed", None)
            )
            default_row, folds = run_project(close, days, ForecastConfig(seed=SEED),
                                             "bt-lstm, defaults (warm start, ES)")  # fmt: skip
            runs.setdefault("default", []).append(default_row)
            runs.setdefault("keras", []).append(run_bare_fit(close, days, identical))
            runs.setdefault("bare", []).append(run_bare_forecaster(close, days, identical))
    return runs, folds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 folds (63 days) instead of 252 days")
    parser.add_argument("--days", type=int, default=None, help="target days (default 252, or 63 with --quick)")
    parser.add_argument("--repeat", type=int, default=1, help="run every row N times, keep the fastest (default 1)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    days = args.days or (63 if args.quick else 252)
    load = os.getloadavg()
    close = load_prices("AAPL").frame["close"]
    try:
        import skforecast  # noqa: F401
    except ImportError as err:
        raise SystemExit(f"skforecast is missing ({err}): {INSTALL}") from None
    keras_module()  # TensorFlow's import is outside every timing
    identical = ForecastConfig(seed=SEED, params={"epochs": EPOCHS, "warm_start": False, "early_stopping": False})
    runs, folds = _measure(close, days, identical, args.repeat)
    sk_row = _fastest(runs.pop("sk"), exact=False)  # skforecast's own determinism is not this project's claim
    same_row, pool_row, start_row, default_row, keras_row, bare_row = (_fastest(rows) for rows in runs.values())
    if not same_row.rmse == pool_row.rmse == start_row.rmse:
        rmses = (same_row.rmse, pool_row.rmse, start_row.rmse)
        raise RuntimeError(f"2 workers gave other forecasts than 1 (RMSE {rmses})")
    actual = close.to_numpy()[-days:]
    naive = _rmse(close.to_numpy()[-days - 1 : -1], actual)
    when = close.index[-days], close.index[-1]
    print(f"AAPL, {days} target days {when[0]:%Y-%m-%d} to {when[1]:%Y-%m-%d}; {RETRAIN_EVERY}-day refits, "
          f"{TRAIN_DAYS}-price rolling window, lookback {LOOKBACK}, batch {BATCH_SIZE}; "
          f"fastest of {args.repeat} run(s) each")  # fmt: skip
    _print_table([sk_row, same_row, pool_row, start_row, default_row, keras_row, bare_row], naive, bare_row, same_row)
    print(f"defaults: {folds['epochs'].sum():.0f} epochs over {len(folds)} fits (identical work: "
          f"{EPOCHS * len(folds)})")  # fmt: skip
    import skforecast
    import tensorflow as tf

    print(f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min; "
          f"{' '.join(f'{x:.2f}' for x in load)} before), Python {sys.version.split()[0]}, "
          f"TensorFlow {tf.__version__}, skforecast {skforecast.__version__}")  # fmt: skip


if __name__ == "__main__":
    main()
