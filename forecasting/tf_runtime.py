"""Quiet, lazy TensorFlow/Keras import and deterministic set-up.

TensorFlow prints C++ log lines (oneDNN, CUDA probing) straight to file
descriptor 2 while it loads, before any Python logging setting applies, so
the import runs with fd 2 pointed at /dev/null. Only code that trains or
predicts calls :func:`keras_module`; ``bt --help`` never pays for it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from types import ModuleType

_KERAS: ModuleType | None = None
SEED_LIMIT = 2**32  # seeds run from 0 to 2**32 - 1: NumPy's and TensorFlow's global seeds take no more


@contextlib.contextmanager
def _quiet_fd2() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration of the block."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras_module() -> ModuleType:
    """Import Keras on the TensorFlow backend once, silently, deterministically."""
    global _KERAS
    if _KERAS is not None:
        return _KERAS
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_DETERMINISTIC_OPS", "1")
    with _quiet_fd2(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import keras
        import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    with contextlib.suppress(RuntimeError):  # already configured in this process
        tf.config.experimental.enable_op_determinism()
    _KERAS = keras
    return keras


def tensorflow_module() -> ModuleType:
    """TensorFlow itself, imported (quietly) by :func:`keras_module`."""
    keras_module()
    import tensorflow as tf

    return tf
