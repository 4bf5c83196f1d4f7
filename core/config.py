"""Hyperparameters of the lab's model and of its training, with named presets."""

import dataclasses
import json
import math
from typing import Any

CELLS = ("gru", "lstm", "simple_rnn")
MERGE_MODES = ("concat", "sum", "ave", "mul")


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """Everything that decides what model is built and how it is trained.

    The defaults are the course lab's values. Instances are immutable: use
    `dataclasses.replace` (or `Hyperparameters.with_changes`) to vary one.
    """

    # Text
    vocab_size: int = 10_000  # words kept by TextVectorization, [UNK] and 0 included
    sequence_length: int = 300  # tokens read per review; longer reviews are cut

    # Model
    embedding_dim: int = 128  # width of each word vector
    units: int = 64  # state size of the recurrent cell, per direction
    cell: str = "gru"  # recurrent cell: "gru", "lstm" or "simple_rnn"
    bidirectional: bool = True  # read the review forwards and backwards
    merge_mode: str = "concat"  # how the two directions' final states combine
    reset_after: bool = True  # Keras' GRU variant (two bias vectors per gate)
    mask_padding: bool = True  # let the cell skip the padding zeros
    dropout_rate: float = 0.5  # dropout on the final state, before Dense

    # Training
    learning_rate: float = 1e-3  # Adam's step size
    batch_size: int = 64  # reviews per gradient step
    epochs: int = 10  # upper bound; early stopping usually ends sooner
    patience: int = 2  # epochs without a better validation loss before stopping
    train_size: int = 25_000  # training reviews used, validation split included
    validation_fraction: float = 0.2  # share of train_size held out for validation
    length_bucketing: bool = True  # batches of similar length, trimmed (fast path)
    weight_averaging: bool = False  # validate and keep a moving average of weights
    fast_gru: bool = True  # train the GRU via core.fast_gru (same math, less work)
    seed: int = 42  # split, subset, shuffling and weight initialisation

    def __post_init__(self) -> None:
        validate(self)

    def with_changes(self, **changes: Any) -> "Hyperparameters":
        """A copy with some fields changed (validated like any other)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Hyperparameters":
        """Build from a dict such as a model card's; unknown keys are refused."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"Unknown hyperparameter(s) {unknown}. Known: {sorted(known)}."
            )
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @property
    def validation_size(self) -> int:
        return round(self.train_size * self.validation_fraction)

    @property
    def fit_size(self) -> int:
        """Reviews the weights are fitted on (train_size less validation)."""
        return self.train_size - self.validation_size


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"Hyperparameter `{name}` must be an integer, got {value!r} "
            f"({type(value).__name__})."
        )
    if not low <= value <= high:
        raise ValueError(
            f"Hyperparameter `{name}` must be between {low:,} and {high:,}, "
            f"got {value:,}."
        )


def _check_float(name: str, value: Any, low: float, high: float, *, open_low=False):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(
            f"Hyperparameter `{name}` must be a number, got {value!r} "
            f"({type(value).__name__})."
        )
    too_low = value <= low if open_low else value < low
    if too_low or value > high or math.isnan(value):
        bracket = "(" if open_low else "["
        raise ValueError(
            f"Hyperparameter `{name}` must be in {bracket}{low}, {high}], got {value}."
        )


def _check_choice(name: str, value: Any, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(
            f"Hyperparameter `{name}` must be one of {list(choices)}, got {value!r}."
        )


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(
            f"Hyperparameter `{name}` must be True or False, got {value!r}."
        )


def validate(hp: Hyperparameters) -> None:
    """Raise ValueError naming the first field whose value is not allowed."""
    _check_int("vocab_size", hp.vocab_size, 3, 100_000)
    _check_int("sequence_length", hp.sequence_length, 1, 2_000)
    _check_int("embedding_dim", hp.embedding_dim, 1, 1_024)
    _check_int("units", hp.units, 1, 1_024)
    _check_choice("cell", hp.cell, CELLS)
    _check_bool("bidirectional", hp.bidirectional)
    _check_choice("merge_mode", hp.merge_mode, MERGE_MODES)
    _check_bool("reset_after", hp.reset_after)
    _check_bool("mask_padding", hp.mask_padding)
    _check_float("dropout_rate", hp.dropout_rate, 0.0, 0.95)
    _check_float("learning_rate", hp.learning_rate, 0.0, 1.0, open_low=True)
    _check_int("batch_size", hp.batch_size, 1, 4_096)
    _check_int("epochs", hp.epochs, 1, 200)
    _check_int("patience", hp.patience, 0, 200)
    _check_int("train_size", hp.train_size, 20, 25_000)
    _check_float("validation_fraction", hp.validation_fraction, 0.0, 0.5, open_low=True)
    _check_bool("length_bucketing", hp.length_bucketing)
    _check_bool("weight_averaging", hp.weight_averaging)
    _check_bool("fast_gru", hp.fast_gru)
    _check_int("seed", hp.seed, 0, 2**31 - 1)
    if hp.validation_size < 2 or hp.fit_size < 2:
        raise ValueError(
            f"Hyperparameters `train_size`={hp.train_size} and "
            f"`validation_fraction`={hp.validation_fraction} leave "
            f"{hp.fit_size} training and {hp.validation_size} validation reviews; "
            "each needs at least 2."
        )


PRESETS: dict[str, Hyperparameters] = {
    # The course lab's model and hyperparameters on all 25,000 training
    # reviews, with 10% held out for early stopping and the weights averaged
    # over the last ~100 steps: the recipe of the shipped model.
    "lab": Hyperparameters(validation_fraction=0.1, weight_averaging=True),
    # The lab's architecture on a balanced 4,000-review subset for 3 epochs:
    # about a minute and a half on a 2-core CPU, good for watching curves grow.
    "classroom": Hyperparameters(train_size=4_000, epochs=3, patience=1),
    # A small model on a few hundred reviews, for tests and smoke runs.
    "tiny": Hyperparameters(
        vocab_size=500,
        sequence_length=40,
        embedding_dim=8,
        units=4,
        batch_size=16,
        epochs=2,
        patience=1,
        train_size=120,
        validation_fraction=0.25,
    ),
}

PRESET_DESCRIPTIONS: dict[str, str] = {
    "lab": "The lab's model and recipe on all 25,000 training reviews.",
    "classroom": "The lab's model on 4,000 reviews for 3 epochs - fits a lesson.",
    "tiny": "A very small model on 120 reviews, for tests and quick checks.",
}


def preset(name: str) -> Hyperparameters:
    """The named preset, or a ValueError listing the known names."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}. Known presets: {list(PRESETS)}.")
    return PRESETS[name]
