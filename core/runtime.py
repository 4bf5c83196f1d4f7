"""Process-wide TensorFlow settings that must be made before its first op."""

import os

# On a small CPU the forward and backward GRUs run fastest side by side, one
# core each: one thread inside an op, two ops at once. Measured by
# bench/train_speed.py; override with the usual TensorFlow variables.
DEFAULT_INTRA_OP_THREADS = "1"
DEFAULT_INTER_OP_THREADS = "2"


def configure_environment() -> None:
    """Set backend, log level and thread pools unless the caller already did."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", DEFAULT_INTRA_OP_THREADS)
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", DEFAULT_INTER_OP_THREADS)


def versions() -> dict[str, str]:
    """Versions of the libraries a saved model depends on."""
    import platform

    import keras
    import numpy
    import tensorflow

    return {
        "python": platform.python_version(),
        "tensorflow": tensorflow.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
    }
