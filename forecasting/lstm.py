"""The LSTM forecaster of "Prediction of Stock Price Using LSTM", fit honestly.

Architecture (the write-up's): LSTM(64, return_sequences=True) -> LSTM(64)
-> Dense(32) -> Dense(1). Each input window of ``lookback`` prices is made
level-free as its ``lookback - 1`` daily log returns, divided by the standard
deviation of daily log returns measured on the training window only; the
network predicts the next day's scaled log return, turned back into a price.
(Level-free inputs beat windows of raw or min-max-scaled prices, whose
scaler would have to be fit on future price levels to cover them.)

The Keras model is built and compiled once and reused across folds: with
``warm_start`` a later fit continues from the previous weights for
``warm_epochs``; without it the initial weights and optimizer state are
restored, which is the same work as a fresh model without the rebuild.

Training is Keras' own custom-loop pattern rather than ``model.fit``: one
``tf.function`` train step (GradientTape + the model's Adam), traced once per
model for any batch size, fed NumPy batches in an order drawn from
``numpy.random.default_rng((seed, fit number))``. That is the same gradient
arithmetic ``fit`` does, minus its per-call set-up (tf.data pipelines,
callbacks, retracing for the validation pass), which on walk-forward sized
fits cost as much as a whole epoch; the shuffle order depends on nothing but
the seed and the fold. Early stopping keeps the weights of the best epoch on
the validation tail, as Keras' ``EarlyStopping(restore_best_weights=True)``,
with two differences: the optimizer state (Adam's step count and moments) is
put back with the weights, and the starting point is a candidate too, so a
warm refit that only worsens the validation loss is undone instead of letting
the model drift.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import numpy as np

from .base import Forecaster
from .tf_runtime import SEED_LIMIT, keras_module, tensorflow_module

PREDICT_ROWS = 32  # the rows of every prediction pass (see ``LSTMForecaster._predict``)


MAX_SIZE = 4096  # the most units an LSTM or Dense layer may have
MAX_WEIGHTS = 50_000_000  # the most weights the network may have (200 MB a copy; training keeps about six)


def initial_seeds(seed: int) -> list[int]:
    """The seeds of the eight random initializers, in the order the layers are made, from ``seed`` alone.

    With no seed of its own, a Keras initializer draws one from Python's process-wide ``random``
    (``randint(1, 10**9)``), which other threads draw from too (a Dask worker's heartbeats do): the
    initial weights would depend on timing. Here the same draws come from a generator of our own,
    seeded with ``seed``, and each initializer is given its seed through Keras' public ``seed=``
    arguments: per LSTM its kernel, its recurrent kernel and its (dropout) seed generator, then each
    Dense kernel. These are the very seeds a quiet process seeded with ``seed`` would draw.
    """
    draws = random.Random(seed)
    return [draws.randint(1, int(1e9)) for _ in range(8)]


def network(steps: int, units: tuple[int, int], dense: int, seed: int) -> Any:
    """The uncompiled Keras model for windows of ``steps`` returns, every random initializer seeded
    explicitly (``initial_seeds``): its initial weights depend on ``seed`` alone."""
    keras = keras_module()
    seeds = iter(initial_seeds(seed))
    init = keras.initializers

    def lstm(size: int, **kwargs: Any) -> Any:
        kernel, recurrent = init.GlorotUniform(seed=next(seeds)), init.Orthogonal(seed=next(seeds))
        return keras.layers.LSTM(size, kernel_initializer=kernel, recurrent_initializer=recurrent,
                                 seed=next(seeds), **kwargs)  # fmt: skip

    first, second = lstm(units[0], return_sequences=True), lstm(units[1])
    dense_layers = [keras.layers.Dense(n, kernel_initializer=init.GlorotUniform(seed=next(seeds))) for n in (dense, 1)]
    return keras.Sequential([keras.Input((steps, 1)), first, second, *dense_layers])


def weight_count(units: tuple[int, int], dense: int) -> int:
    """How many weights the network has (both LSTMs with their four gates, both Dense layers)."""
    first, second = units
    return 4 * first * (1 + first + 1) + 4 * second * (first + second + 1) + second * dense + dense + dense + 1


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be an integer greater than 0. Got {value!r}.")


@dataclasses.dataclass
class LSTMForecaster(Forecaster):
    """Two stacked LSTMs and two Dense layers, with warm start and early stopping.

    ``early_stopping=False`` trains on every sample for exactly the epochs asked,
    with no validation tail: the same work as a plain ``model.fit``.
    """

    units: tuple[int, int] = (64, 64)
    dense: int = 32
    epochs: int = 20
    warm_epochs: int = 1
    warm_start: bool = True
    batch_size: int = 64
    learning_rate: float = 1e-3
    patience: int = 3
    val_fraction: float = 0.1
    seed: int = 0
    early_stopping: bool = True

    name = "lstm"
    description = "LSTM(64)->LSTM(64)->Dense(32)->Dense(1) on scaled daily log returns"

    def __post_init__(self) -> None:
        units = tuple(self.units)  # a list from a config file or JSON
        if len(units) != 2:
            raise ValueError(f"`units` must give two LSTM layer sizes. Got {units!r}.")
        self.units = (units[0], units[1])
        for name, value in [("units", u) for u in self.units] + [
            ("dense", self.dense),
            ("epochs", self.epochs),
            ("warm_epochs", self.warm_epochs),
            ("batch_size", self.batch_size),
            ("patience", self.patience),
        ]:
            _check_positive_int(name, value)
        if not (isinstance(self.learning_rate, float | int) and 0 < self.learning_rate < 1):
            raise ValueError(f"`learning_rate` must be in (0, 1). Got {self.learning_rate!r}.")
        if not 0 < self.val_fraction < 0.5:
            raise ValueError(f"`val_fraction` must be in (0, 0.5). Got {self.val_fraction!r}.")
        self._check_size()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < SEED_LIMIT:
            raise ValueError(f"`seed` must be an integer from 0 to {SEED_LIMIT - 1}. Got {self.seed!r}.")
        self.model_: Any = None
        self.fits_ = 0
        self.last_fit_: dict[str, float] = {}

    def _check_size(self) -> None:
        """Refuse a network too big to train here before any training: it would run into an out-of-memory."""
        for name, value in [("units", u) for u in self.units] + [("dense", self.dense)]:
            if value > MAX_SIZE:
                raise ValueError(f"`{name}` must be at most {MAX_SIZE} units a layer. Got {value!r}.")
        weights = weight_count(self.units, self.dense)
        if weights > MAX_WEIGHTS:
            raise ValueError(f"`units` {list(self.units)} and `dense` {self.dense} make a network of {weights:,} "
                             f"weights; at most {MAX_WEIGHTS:,} are allowed. Choose smaller layers.")  # fmt: skip

    def _build(self, steps: int) -> None:
        keras, tf = keras_module(), tensorflow_module()
        keras.utils.set_random_seed(self.seed)
        model = network(steps, self.units, self.dense, self.seed)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse")
        optimizer, variables = model.optimizer, model.trainable_variables
        optimizer.build(variables)
        windows = tf.TensorSpec([None, steps, 1], tf.float32)

        @tf.function(input_signature=[windows, tf.TensorSpec([None], tf.float32)])
        def train_step(x: Any, y: Any) -> Any:
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model(x, training=True)[:, 0] - y))
            optimizer.apply(tape.gradient(loss, variables), variables)
            return loss

        @tf.function(input_signature=[windows])
        def forward(x: Any) -> Any:
            return model(x, training=False)[:, 0]

        self.model_ = model
        self._train_step, self._forward = train_step, forward
        self._initial_weights = model.get_weights()

    def _reset(self) -> None:
        """Back to the initial weights and a fresh optimizer state: a new model, minus the rebuild."""
        self.model_.set_weights(self._initial_weights)
        for var in self.model_.optimizer.variables:
            if "learning_rate" not in var.path:
                var.assign(np.zeros(var.shape, dtype=var.dtype))

    def _scaled(self, windows: np.ndarray) -> np.ndarray:
        return (np.diff(np.log(windows), axis=1) / self.scale_)[..., None].astype(np.float32)

    def _fit(self, windows: np.ndarray, targets: np.ndarray) -> None:
        returns = np.log(targets / windows[:, -1])
        self.scale_ = float(returns.std()) or 1.0
        x, y = self._scaled(windows), (returns / self.scale_).astype(np.float32)
        # Without early stopping every sample trains, for exactly the epochs asked (as skforecast does).
        n_val = max(1, int(round(len(x) * self.val_fraction))) if self.early_stopping else 0
        if len(x) - n_val < 2:
            raise ValueError(f"too few training samples ({len(x)}) for a validation tail.")
        steps = windows.shape[1] - 1
        if self.model_ is None or self.model_.input_shape[1] != steps:
            self._build(steps)
            epochs = self.epochs
        elif self.warm_start:
            epochs = self.warm_epochs
        else:
            self._reset()
            epochs = self.epochs
        n_train = len(x) - n_val
        self.last_fit_ = self._train(x[:n_train], y[:n_train], x[n_train:], y[n_train:], epochs)
        self.fits_ += 1

    def _train(
        self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, epochs: int
    ) -> dict[str, float]:
        """Up to ``epochs`` shuffled passes over (x, y); returns the epochs run and the best validation loss.

        With a validation tail, training stops after ``patience`` epochs without a
        lower validation loss, and the best epoch's weights and optimizer state are
        kept. The starting point counts as epoch 0: a warm fit that only worsens
        the validation loss leaves the model as it was instead of drifting.
        """
        # Shuffling depends only on (seed, fold), not on process history or TensorFlow's global RNG.
        order = np.random.default_rng((self.seed, self.fits_))
        validate = len(x_val) > 0
        if validate:
            best, kept, waited = self._val_loss(x_val, y_val), self._snapshot(), 0
        run = 0
        for run in range(1, epochs + 1):
            shuffled = order.permutation(len(x))
            for start in range(0, len(x), self.batch_size):
                batch = shuffled[start : start + self.batch_size]
                self._train_step(x[batch], y[batch])
            if not validate:
                continue
            loss = self._val_loss(x_val, y_val)
            if loss < best:
                best, kept, waited = loss, self._snapshot(), 0
                continue
            waited += 1
            if waited >= self.patience or run == epochs:
                self._restore(kept)
                break
        return {"epochs": float(run), "val_loss": best} if validate else {"epochs": float(run)}

    def _snapshot(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The weights and the optimizer's state (step count, Adam moments), as arrays."""
        return self.model_.get_weights(), [np.array(v.numpy()) for v in self.model_.optimizer.variables]

    def _restore(self, snapshot: tuple[list[np.ndarray], list[np.ndarray]]) -> None:
        weights, optimizer = snapshot
        self.model_.set_weights(weights)
        for var, value in zip(self.model_.optimizer.variables, optimizer, strict=True):
            var.assign(value)

    def _val_loss(self, x_val: np.ndarray, y_val: np.ndarray) -> float:
        return float(np.mean((self._forward(x_val).numpy() - y_val) ** 2))

    def _predict(self, windows: np.ndarray) -> np.ndarray:
        """Every forward pass has the same shape, ``PREDICT_ROWS`` rows (the last block padded with zeros).

        A forward pass rounds by its shape (one row takes another kernel than many), so windows
        predicted in batches of their fold's size, or one by one in paper trading, would differ in
        their last bits. At one fixed shape the CPU kernels compute each row alike, so a window's
        forecast is the same whichever windows share its pass and wherever it sits in it: a property
        of the kernels, not of the code, so the tests check it where they run (``tests/test_lstm.py``;
        ``tests/test_parallel.py`` for one-thread Dask workers against this process).
        """
        x = self._scaled(windows)
        blocks = []
        for start in range(0, len(x), PREDICT_ROWS):
            block = x[start : start + PREDICT_ROWS]
            padded = np.zeros((PREDICT_ROWS, *x.shape[1:]), dtype=x.dtype)
            padded[: len(block)] = block
            blocks.append(self._forward(padded).numpy()[: len(block)])
        out = np.concatenate(blocks).astype(np.float64) if blocks else np.zeros(0)
        return windows[:, -1] * np.exp(out * self.scale_)

    def fit_info(self) -> dict[str, float]:
        return dict(self.last_fit_)

    def independent_fits(self) -> bool:
        """Whether every fit starts afresh (no warm start), so a walk-forward's folds may be fit apart."""
        return not self.warm_start

    def start_at_fit(self, number: int) -> LSTMForecaster:
        """Make this unfitted model's next fit the ``number``-th (0-based) of a walk-forward.

        Its shuffle order is then drawn from ``(seed, number)`` as in a run that fit every fold
        before; without warm start the fit is the same as that run's, bit for bit.
        """
        if self.model_ is not None:
            raise ValueError("start_at_fit needs an unfitted model.")
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ValueError(f"`number` must be a non-negative integer. Got {number!r}.")
        self.fits_ = number
        return self

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        """Pickle as ``to_bytes``: the Keras model and its traced steps cannot be pickled themselves."""
        return Forecaster.from_bytes, (self.to_bytes(),)

    def _get_state(self) -> dict[str, Any]:
        """Learned values plus the Keras weights, optimizer state and initial weights, as arrays.

        Arrays rather than a ``.keras`` file: restoring them into a freshly built model
        continues training exactly as the in-memory model would (a test checks it).
        """
        state = super()._get_state()
        model = state.pop("model_")
        if model is not None:
            weights, optimizer = self._snapshot()
            state["keras"] = {
                "steps": int(model.input_shape[1]),
                "weights": weights,
                "optimizer": optimizer,
                "initial_weights": self._initial_weights,
            }
        return state

    def _set_state(self, state: dict[str, Any]) -> None:
        state = dict(state)
        saved = state.pop("keras", None)
        super()._set_state(state)
        self.model_ = None
        if saved is None:
            return
        self._build(saved["steps"])
        if len(self.model_.optimizer.variables) != len(saved["optimizer"]):
            raise ValueError("the saved optimizer state does not fit this model.")
        self._restore((saved["weights"], saved["optimizer"]))
        self._initial_weights = saved["initial_weights"]
