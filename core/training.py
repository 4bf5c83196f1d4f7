"""Training and evaluating the classifier, with progress handed to a listener.

The fast path (the default): every review is vectorized once; batches are
formed from reviews of similar length and each batch is cut to its longest
review, with the padding masked. The lab's plain recipe - every batch padded
to the full sequence length - is kept as `length_bucketing=False` so the two
can be compared (bench/train_speed.py).
"""

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from core import data as data_module
from core import model as model_module
from core import text
from core.config import Hyperparameters

logger = logging.getLogger(__name__)

# Reviews sorted by length together in one pool before being cut into
# batches: large enough for similar lengths, small enough to keep randomness.
BUCKET_POOL_BATCHES = 32


@dataclasses.dataclass(frozen=True)
class VectorizedImdb:
    """Reviews turned into token ids once, for every run with the same text settings.

    The vocabulary is learnt from all training reviews (validation included;
    their labels are not used), never from test reviews.
    """

    vectorizer: keras.layers.TextVectorization
    train_ids: np.ndarray
    train_labels: np.ndarray
    test_ids: np.ndarray
    test_labels: np.ndarray
    source: str
    seconds: float


def vectorize_imdb(
    imdb: data_module.ImdbData, vocab_size: int, sequence_length: int
) -> VectorizedImdb:
    """Adapt a vectorizer on the training texts and vectorize both splits."""
    started = time.perf_counter()
    vectorizer = text.adapt_vectorizer(vocab_size, sequence_length, imdb.train.texts)
    train_ids = text.vectorize(vectorizer, imdb.train.texts)
    test_ids = text.vectorize(vectorizer, imdb.test.texts)
    seconds = time.perf_counter() - started
    logger.info(
        "Vectorized %d reviews in %.1f s", len(train_ids) + len(test_ids), seconds
    )
    return VectorizedImdb(
        vectorizer=vectorizer,
        train_ids=train_ids,
        train_labels=imdb.train.labels.astype(np.float32),
        test_ids=test_ids,
        test_labels=imdb.test.labels.astype(np.float32),
        source=imdb.source,
        seconds=seconds,
    )


class ReviewBatches(keras.utils.PyDataset):
    """Batches of token ids for `fit`, `evaluate` and prediction.

    With `bucketing`, reviews of similar length share a batch and each batch is
    cut to its longest review; without it every batch keeps the full padded
    length (the lab's recipe). With `shuffle`, the order changes every epoch,
    reproducibly from `seed`.
    """

    def __init__(
        self,
        token_ids: np.ndarray,
        labels: np.ndarray | None,
        batch_size: int,
        *,
        bucketing: bool = True,
        shuffle: bool = False,
        seed: int = 0,
    ):
        super().__init__()
        self.token_ids = token_ids
        self.labels = labels
        self.batch_size = batch_size
        self.bucketing = bucketing
        self.shuffle = shuffle
        self.lengths = np.maximum(text.sequence_lengths(token_ids), 1)
        self._rng = np.random.default_rng(seed)
        self._batches = self._plan()

    def _plan(self) -> list[np.ndarray]:
        count = len(self.token_ids)
        order = self._rng.permutation(count) if self.shuffle else np.arange(count)
        if self.bucketing:
            pool = self.batch_size * BUCKET_POOL_BATCHES if self.shuffle else count
            pools = [order[i : i + pool] for i in range(0, count, pool)]
            order = (
                np.concatenate(
                    [p[np.argsort(self.lengths[p], kind="stable")] for p in pools]
                )
                if pools
                else order
            )
        batches = [
            order[i : i + self.batch_size] for i in range(0, count, self.batch_size)
        ]
        if self.shuffle:
            self._rng.shuffle(batches)
        if self.bucketing:
            self._lead_with_two_widths(batches)
        return batches

    def _lead_with_two_widths(self, batches: list[np.ndarray]) -> None:
        """Make the first two batches differ in width wherever widths differ.

        Keras reads a PyDataset's input shape from its first two batches: if
        both had the same width, every later batch would have to match it and
        `fit` would fail on the first narrower one (5-7% of seeds on the IMDB
        reviews). Swapping one batch forward keeps the order random.
        """
        if len(batches) < 3:
            return
        first_width = self.lengths[batches[0]].max()
        if self.lengths[batches[1]].max() != first_width:
            return
        for index in range(2, len(batches)):
            if self.lengths[batches[index]].max() != first_width:
                batches[1], batches[index] = batches[index], batches[1]
                return

    def __len__(self) -> int:
        return len(self._batches)

    def __getitem__(self, index: int):
        rows = self._batches[index]
        width = int(self.lengths[rows].max()) if self.bucketing else None
        ids = self.token_ids[rows, :width]
        if self.labels is None:
            return (ids,)
        return ids, self.labels[rows]

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._batches = self._plan()

    def rows_in_order(self) -> np.ndarray:
        """Row indices in the order the batches yield them."""
        return np.concatenate(self._batches) if self._batches else np.zeros(0, int)


@dataclasses.dataclass(frozen=True)
class TrainingEvent:
    """One moment of training, in plain values a page or a terminal can show.

    kind: "train_begin", "batch_end", "epoch_end" or "train_end".
    epoch: 0-based epoch; step: batches finished in that epoch.
    logs: Keras' logs (batch values are running means over the epoch so far).
    """

    kind: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    seconds: float
    logs: dict[str, float]
    best_epoch: int | None = None
    stop_reason: str | None = None


Listener = Callable[[TrainingEvent], None]


class TrainingStopped(Exception):
    """Raised inside a listener to ask training to stop cleanly."""


class EventCallback(keras.callbacks.Callback):
    """Hands every batch and epoch to `listener`; stops when `stop` is set.

    A stop request ends the epoch after the current batch (Keras still
    validates that epoch) and keeps the best weights seen so far.
    """

    def __init__(
        self,
        listener: Listener | None,
        epochs: int,
        steps_per_epoch: int,
        stop: threading.Event | None = None,
    ):
        super().__init__()
        self.listener = listener
        self.epochs = epochs
        self.steps_per_epoch = steps_per_epoch
        self.stop = stop or threading.Event()
        self.stopped_by_user = False
        self.epoch = 0
        self.started = time.perf_counter()
        self.epoch_started = self.started
        self.epoch_seconds: list[float] = []

    def _send(self, kind: str, step: int, logs, **extra) -> None:
        if self.listener is None:
            return
        values = {k: float(v) for k, v in (logs or {}).items() if np.isscalar(v)}
        event = TrainingEvent(
            kind=kind,
            epoch=self.epoch,
            epochs=self.epochs,
            step=step,
            steps_per_epoch=self.steps_per_epoch,
            seconds=time.perf_counter() - self.started,
            logs=values,
            **extra,
        )
        try:
            self.listener(event)
        except TrainingStopped:
            self.stop.set()

    def _check_stop(self) -> None:
        if self.stop.is_set() and not self.model.stop_training:
            self.stopped_by_user = True
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self.started = time.perf_counter()
        self._send("train_begin", 0, logs)
        self._check_stop()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.epoch_started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._send("batch_end", batch + 1, logs)
        self._check_stop()

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_seconds.append(time.perf_counter() - self.epoch_started)
        self._send("epoch_end", self.steps_per_epoch, logs)
        self._check_stop()


@dataclasses.dataclass
class TrainingResult:
    """What `train` produced: the model with its best weights, and the story."""

    model: keras.Model
    hyperparameters: Hyperparameters
    history: list[dict[str, float]]
    best_epoch: int | None
    stop_reason: str  # "completed", "early_stopping" or "stopped_by_user"
    seconds: float
    fit_size: int
    validation_size: int
    source: str

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def best(self) -> dict[str, float]:
        if self.best_epoch is None:
            return {}
        return self.history[self.best_epoch]


def train(
    hp: Hyperparameters,
    vectorized: VectorizedImdb,
    listener: Listener | None = None,
    stop: threading.Event | None = None,
) -> TrainingResult:
    """Train a new model as `hp` says, reporting to `listener`.

    Early stopping watches the validation loss with `hp.patience`; at the end
    the weights of the best epoch are restored. Setting `stop` (or raising
    TrainingStopped in the listener) ends training after the current batch.
    """
    _check_text_settings(hp, vectorized)
    fit_rows, validation_rows = data_module.split_indices(
        vectorized.train_labels, hp.train_size, hp.validation_fraction, hp.seed
    )
    fit_batches = ReviewBatches(
        vectorized.train_ids[fit_rows],
        vectorized.train_labels[fit_rows],
        hp.batch_size,
        bucketing=hp.length_bucketing,
        shuffle=True,
        seed=hp.seed,
    )
    validation_batches = ReviewBatches(
        vectorized.train_ids[validation_rows],
        vectorized.train_labels[validation_rows],
        max(hp.batch_size, 128),
        bucketing=hp.length_bucketing,
    )

    model = model_module.build_model(hp, vectorized.vectorizer)
    trainable = model_module.training_model(model, fast=hp.fast_gru)
    model_module.compile_for_training(trainable, hp.learning_rate, hp.weight_averaging)

    events = EventCallback(listener, hp.epochs, len(fit_batches), stop)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=hp.patience, restore_best_weights=True
    )
    callbacks = [events, early_stopping]
    if hp.weight_averaging:
        # Before early stopping, so that the best epoch is judged, kept and
        # restored with the averaged weights in the model.
        callbacks.insert(0, keras.callbacks.SwapEMAWeights(swap_on_epoch=True))
    started = time.perf_counter()
    history = trainable.fit(
        fit_batches,
        validation_data=validation_batches,
        epochs=hp.epochs,
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - started

    epochs = _history_rows(history.history, events.epoch_seconds)
    best_epoch = early_stopping.best_epoch if epochs else None
    if events.stopped_by_user:
        reason = "stopped_by_user"
    elif early_stopping.stopped_epoch > 0 and len(epochs) < hp.epochs:
        reason = "early_stopping"
    else:
        reason = "completed"
    if listener is not None:
        events._send(
            "train_end",
            events.steps_per_epoch,
            epochs[best_epoch] if best_epoch is not None else {},
            best_epoch=best_epoch,
            stop_reason=reason,
        )
    return TrainingResult(
        model=model,
        hyperparameters=hp,
        history=epochs,
        best_epoch=best_epoch,
        stop_reason=reason,
        seconds=seconds,
        fit_size=len(fit_rows),
        validation_size=len(validation_rows),
        source=vectorized.source,
    )


def _check_text_settings(hp: Hyperparameters, vectorized: VectorizedImdb) -> None:
    config = vectorized.vectorizer.get_config()
    found = (config["max_tokens"], config["output_sequence_length"])
    if found != (hp.vocab_size, hp.sequence_length):
        raise ValueError(
            "The vectorized reviews were made with vocab_size="
            f"{found[0]} and sequence_length={found[1]}, but the hyperparameters "
            f"ask for {hp.vocab_size} and {hp.sequence_length}: vectorize again."
        )


def _history_rows(history: dict, epoch_seconds: list[float]) -> list[dict]:
    count = len(history.get("loss", []))
    rows = []
    for epoch in range(count):
        row = {"epoch": epoch + 1}
        for key, values in history.items():
            if epoch < len(values):
                row[key] = float(values[epoch])
        if epoch < len(epoch_seconds):
            row["seconds"] = round(epoch_seconds[epoch], 2)
        rows.append(row)
    return rows


# Evaluation ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Scores on a set of labelled reviews. confusion: [[TN, FP], [FN, TP]]."""

    loss: float
    accuracy: float
    confusion: list[list[int]]
    size: int
    seconds: float

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def predict_token_ids(
    model: keras.Model, token_ids: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """P(positive) for each row of post-padded token ids, in the input order."""
    trainable = model_module.token_model(model)
    batches = ReviewBatches(token_ids, None, batch_size)
    predict = tf.function(
        lambda ids: trainable(ids, training=False),
        input_signature=[tf.TensorSpec((None, None), tf.int32)],
    )
    probabilities = np.zeros(len(token_ids), dtype=np.float32)
    for index in range(len(batches)):
        (ids,) = batches[index]
        rows = batches._batches[index]
        probabilities[rows] = predict(tf.constant(ids)).numpy()[:, 0]
    return probabilities


def evaluate(
    model: keras.Model,
    token_ids: np.ndarray,
    labels: np.ndarray,
    batch_size: int = 256,
) -> Evaluation:
    """Loss, accuracy and confusion matrix of `model` on vectorized reviews."""
    started = time.perf_counter()
    probabilities = predict_token_ids(model, token_ids, batch_size)
    labels = np.asarray(labels, dtype=np.float32)
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    predicted = probabilities >= 0.5
    actual = labels >= 0.5
    confusion = [
        [int(np.sum(~actual & ~predicted)), int(np.sum(~actual & predicted))],
        [int(np.sum(actual & ~predicted)), int(np.sum(actual & predicted))],
    ]
    return Evaluation(
        loss=float(loss),
        accuracy=float(np.mean(predicted == actual)) if len(labels) else math.nan,
        confusion=confusion,
        size=len(labels),
        seconds=time.perf_counter() - started,
    )
