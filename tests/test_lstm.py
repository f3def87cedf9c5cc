"""The LSTM's own training loop (exact epoch counts, early stopping, order that depends on the seed only) and
its predictions, the same bits whichever windows share a forward pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forecasting import LSTMForecaster
from forecasting.windows import windows_ending_at

SMALL = {"units": (8, 8), "dense": 4, "batch_size": 32}


@pytest.fixture(scope="module")
def arrays(aapl: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Real AAPL windows: 200 training windows of 20 prices and the 10 windows after them."""
    close = aapl["close"].loc["2020-01-01":].to_numpy(dtype=np.float64)
    ends = np.arange(19, 219)
    return windows_ending_at(close, ends, 20), close[ends + 1], windows_ending_at(close, np.arange(219, 229), 20)


def test_without_early_stopping_every_epoch_runs(arrays) -> None:
    x, y, _ = arrays
    model = LSTMForecaster(**SMALL, epochs=4, early_stopping=False).fit(x, y)
    assert model.fit_info() == {"epochs": 4.0}


def test_early_stopping_keeps_the_best_epoch(arrays) -> None:
    x, y, later = arrays
    model = LSTMForecaster(**SMALL, epochs=30, patience=2, learning_rate=0.05).fit(x, y)
    info = model.fit_info()
    assert 1 <= info["epochs"] < 30  # a large step size overshoots soon, so patience ends the fit
    n_val = round(len(x) * 0.1)
    x_val = model._scaled(x[-n_val:])
    y_val = np.log(y[-n_val:] / x[-n_val:, -1]) / model.scale_
    # The kept weights are the best epoch's: their validation loss is the reported minimum.
    assert model._val_loss(x_val, y_val.astype(np.float32)) == pytest.approx(info["val_loss"], rel=1e-6)
    assert np.all(np.isfinite(model.predict(later)))


def test_a_warm_refit_that_only_hurts_is_undone(arrays) -> None:
    """The starting point is an early-stopping candidate: a refit whose epoch raises the validation loss
    (here an absurd step size, 0.9) leaves the weights and the optimizer state exactly as they were."""
    x, y, later = arrays
    model = LSTMForecaster(**SMALL, epochs=3, warm_epochs=1).fit(x, y)
    before, weights = model.predict(later), model.model_.get_weights()
    optimizer = [v.numpy().copy() for v in model.model_.optimizer.variables if "learning_rate" not in v.path]
    model.model_.optimizer.learning_rate.assign(0.9)
    model.fit(x, y)
    np.testing.assert_array_equal(model.predict(later), before)
    for got, want in zip(model.model_.get_weights(), weights, strict=True):
        np.testing.assert_array_equal(got, want)
    after = [v.numpy() for v in model.model_.optimizer.variables if "learning_rate" not in v.path]
    for got, want in zip(after, optimizer, strict=True):
        np.testing.assert_array_equal(got, want)


def test_training_order_ignores_tensorflows_global_random_state(arrays) -> None:
    """Shuffling comes from (seed, fit number) alone: global random state set between fits changes nothing.

    (Building a model re-seeds everything, so the disturbance goes between a first fit and a warm refit.)
    """
    import keras
    import tensorflow as tf

    x, y, later = arrays
    params = {**SMALL, "epochs": 2, "early_stopping": False}  # so the refits always train
    plain = LSTMForecaster(**params, seed=3).fit(x, y)
    disturbed = LSTMForecaster(**params, seed=3).fit(x, y)
    keras.utils.set_random_seed(999)
    tf.random.uniform([5])
    np.random.seed(1)
    assert plain.fit(x, y).predict(later).tobytes() == disturbed.fit(x, y).predict(later).tobytes()
    other_seed = LSTMForecaster(**params, seed=4).fit(x, y).fit(x, y).predict(later)
    assert not np.array_equal(plain.predict(later), other_seed)


@pytest.fixture(scope="module")
def fitted(aapl: pd.DataFrame) -> tuple[LSTMForecaster, np.ndarray]:
    """The default-sized network (shapes decide the kernels), briefly fit, and 80 real windows to predict."""
    close = aapl["close"].loc["2018-01-01":].to_numpy(dtype=np.float64)
    x = windows_ending_at(close, np.arange(29, 329), 30)
    model = LSTMForecaster(epochs=1, early_stopping=False).fit(x, close[np.arange(30, 330)])
    return model, windows_ending_at(close, np.arange(329, 409), 30)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(start=st.integers(0, 79), size=st.integers(1, 80))
def test_a_forecast_does_not_depend_on_the_windows_predicted_with_it(fitted, start, size) -> None:
    """A fold's windows in one call, a shorter fold's (data cut at a fold boundary) or a paper day's single
    window: each window's forecast is the same bits, so paper trading and look-ahead checks agree exactly."""
    model, later = fitted
    every = model.predict(later)
    part = later[start : start + size]
    assert model.predict(part).tobytes() == every[start : start + size].tobytes()
    assert model.predict(part[-1:]).tobytes() == every[start + len(part) - 1 : start + len(part)].tobytes()
