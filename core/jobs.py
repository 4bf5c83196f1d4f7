"""Training jobs that run beside the app: one thread per job, a board to limit them.

A `TrainingJob` prepares the reviews (through a function the caller supplies,
usually a cached one), trains, scores the model on the test reviews and saves
the run - all in a worker thread. Whoever started it reads a `Progress`
snapshot whenever it likes and may ask it to stop; nothing here draws
anything, so a page, a test or a terminal can drive a job alike.

A `JobBoard` is shared by everyone using the app. The machine has two cores,
so it lets at most `max_running` jobs train at once (the environment variable
GRU_LAB_MAX_TRAINING_JOBS, default 1) and refuses the rest with a reason that
says what is running and for how long.
"""

import dataclasses
import logging
import math
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable

import numpy as np
import pandas as pd

from core import cards, fast_gru, registry, training
from core import data as data_module
from core.config import Hyperparameters

logger = logging.getLogger(__name__)

MAX_JOBS_ENV = "GRU_LAB_MAX_TRAINING_JOBS"
DEFAULT_MAX_JOBS = 1

# Test reviews scored after a run shorter than the full 25,000: a balanced
# sample large enough for two-decimal accuracy, small enough to take seconds.
QUICK_TEST_SIZE = 5_000
FULL_TRAIN_SIZE = 25_000

QUEUED = "queued"
PREPARING = "preparing"
TRAINING = "training"
EVALUATING = "evaluating"
SAVING = "saving"
DONE = "done"
STOPPED = "stopped"
FAILED = "failed"
STATUSES = (QUEUED, PREPARING, TRAINING, EVALUATING, SAVING, DONE, STOPPED, FAILED)
FINISHED = frozenset({DONE, STOPPED, FAILED})


# How long a run takes ----------------------------------------------------------
#
# Measured on this machine (2 cores, no GPU, intra-op 1 / inter-op 2 threads),
# December 2026. Other engineers were training on it at the same time (load
# average 3 to 14 on the 2 cores), so single figures varied by 2-5x; these
# constants sit between the quiet and the busy measurements, and the board
# corrects them by the pace of recent runs (`JobBoard.pace`).
# - Lab model (bidirectional GRU 64, embedding 128, batch 64, length-bucketed
#   and masked): 571 reviews/s on a quiet machine (the shipped model's card:
#   20,000 reviews plus 5,000 validated in 34-38 s per epoch), i.e. 0.51 ms
#   per time step of a batch; 1.2-1.6 ms at load ~1.5 (classroom preset from
#   the command line: 3 epochs in 45 s); 2.7 ms at load 3-5.
# - The first batch ends 3-10 s after `fit` starts (building and tracing the
#   graph), and the first epoch holds about as much again (Keras traces the
#   step once more when batch widths start to vary).
# - Relative costs from 2-epoch runs of each variant at load 3-5 (per batch,
#   lab = 1): units 32 0.82, units 128 2.1, embedding 32 0.88, SimpleRNN 0.27,
#   one direction 0.52, batch 128 1.48, batch 32 0.50, fixed 300-token batches
#   2.07. The model below (a fixed cost per step plus matrix work) is within
#   about 30% of these; LSTM, wider embeddings, unmasked and shorter sequences
#   measured too noisily to use, so those follow the model alone.
# - Validation runs forward only, about 3x faster per review than training;
#   scoring 25,000 test reviews took 4.8 s, 5,000 took 2.7 s; saving ~1 s.
# - Preparing the reviews (adapting the vocabulary on 25,000 texts and
#   vectorizing 50,000) took 3.4 s at load ~1.5, 9-12 s at load 3-5.

# Mean tokens per review after TextVectorization (vocabulary 10,000), when
# reviews are cut to `sequence_length`: the width of a length-bucketed batch.
_MEAN_TOKENS = (
    (25, 25.0),
    (50, 49.8),
    (100, 96.2),
    (150, 133.6),
    (200, 158.3),
    (300, 188.6),
    (400, 205.8),
    (500, 216.0),
    (800, 228.2),
    (1000, 230.2),
    (2000, 230.6),
)
_SECONDS_PER_STEP = 1.0e-3  # one time step of a lab batch, forward and backward
_STARTUP_SECONDS = 12.0  # build, trace, and trace again during the first epoch
_VALIDATION_SPEEDUP = 3.0  # validation review vs. training review
_TEST_SETUP_SECONDS = 1.5  # tracing the prediction function
_TEST_REVIEWS_PER_SECOND = 5_000.0
_SAVE_SECONDS = 1.5
_PREPARE_SECONDS = 8.0
# Share of a step's time that grows with the matrix sizes (the rest is the
# fixed cost of running a step's many small ops), and relative costs per cell.
_MATRIX_SHARE = 0.45
_CELL_COST = {"gru": 1.0, "lstm": 1.15, "simple_rnn": 0.2}
_GATES = {"gru": 3, "lstm": 4, "simple_rnn": 1}
_UNIDIRECTIONAL_COST = 0.6  # the two directions share the two cores
_MASK_COST = 1.07
# core.fast_gru's loop and fused Adam against Keras' layer on the same batches
# (bench/train_speed.py: 13.5 s against 26.4 s per epoch of 20,000 reviews).
_FAST_GRU_COST = 0.5
_LAB = Hyperparameters()


def mean_tokens(sequence_length: int) -> float:
    """Average tokens per review once reviews are cut to `sequence_length`."""
    lengths, means = zip(*_MEAN_TOKENS)
    return float(np.interp(sequence_length, lengths, means))


def _step_cost(hp: Hyperparameters) -> float:
    """Seconds per time step of one batch, forward and backward."""

    def matrix_work(embedding_dim, units, batch_size, cell):
        return batch_size * _GATES[cell] * (embedding_dim + units) * units

    lab_work = matrix_work(_LAB.embedding_dim, _LAB.units, _LAB.batch_size, _LAB.cell)
    work = matrix_work(hp.embedding_dim, hp.units, hp.batch_size, hp.cell)
    # Fixed costs grow slowly with batch size (copies, masks, the loss).
    fixed = (1 - _MATRIX_SHARE) * (hp.batch_size / _LAB.batch_size) ** 0.25
    relative = fixed * _CELL_COST[hp.cell] + _MATRIX_SHARE * work / lab_work
    if not hp.bidirectional:
        relative *= _UNIDIRECTIONAL_COST
    if hp.mask_padding:
        relative *= _MASK_COST
    if fast_gru.used_for(hp):
        relative *= _FAST_GRU_COST
    return _SECONDS_PER_STEP * relative / _MASK_COST


@dataclasses.dataclass(frozen=True)
class Estimate:
    """How long a run should take on this machine, step by step (seconds)."""

    prepare: float
    startup: float
    per_epoch: float  # training and validation
    validation: float  # the validation part of one epoch
    epochs: int
    evaluation: float
    saving: float

    @property
    def training(self) -> float:
        return self.startup + self.per_epoch * self.epochs

    @property
    def total(self) -> float:
        return self.prepare + self.training + self.evaluation + self.saving

    def describe(self) -> str:
        """One line for people: the total and what it is made of."""
        epochs = f"{self.epochs} epoch{'s' * (self.epochs != 1)}"
        parts = [f"{epochs} of ~{format_seconds(self.per_epoch)}"]
        parts.append(f"~{format_seconds(self.startup)} to build the model")
        if self.prepare:
            parts.append(f"~{format_seconds(self.prepare)} to prepare the reviews")
        parts.append(
            f"~{format_seconds(self.evaluation + self.saving)} to score and save"
        )
        return f"about {format_seconds(self.total)} ({', '.join(parts)})"


def estimate(
    hp: Hyperparameters, *, data_ready: bool = True, pace: float = 1.0
) -> Estimate:
    """The expected duration of a run of `hp`, every epoch run (an upper bound
    when early stopping ends it sooner).

    Scales the measured cost of a lab batch step by the batch width (the
    average review length below `sequence_length` with length bucketing, the
    full length without), the size of the cell's matrices, the cell, one or
    two directions and masking. `pace` multiplies the computing times: the
    board passes how much slower (or faster) than planned recent runs went.
    """
    fit_batches = math.ceil(hp.fit_size / hp.batch_size)
    train_seconds = fit_batches * planned_batch_seconds(hp) * pace
    review_seconds = train_seconds / max(hp.fit_size, 1)
    validation_seconds = hp.validation_size * review_seconds / _VALIDATION_SPEEDUP
    return Estimate(
        prepare=0.0 if data_ready else _PREPARE_SECONDS,
        startup=_STARTUP_SECONDS * pace,
        per_epoch=train_seconds + validation_seconds,
        validation=validation_seconds,
        epochs=hp.epochs,
        evaluation=(_TEST_SETUP_SECONDS + test_size_for(hp) / _TEST_REVIEWS_PER_SECOND)
        * pace,
        saving=_SAVE_SECONDS,
    )


def estimate_seconds(
    hp: Hyperparameters, *, data_ready: bool = True, pace: float = 1.0
) -> float:
    """`estimate(hp).total`: seconds from pressing Train to a saved run."""
    return estimate(hp, data_ready=data_ready, pace=pace).total


def planned_batch_seconds(hp: Hyperparameters) -> float:
    """The estimate's seconds per training batch (at pace 1)."""
    width = (
        mean_tokens(hp.sequence_length)
        if hp.length_bucketing
        else float(hp.sequence_length)
    )
    return width * _step_cost(hp)


def format_seconds(seconds: float | None) -> str:
    """'45 s', '1 min 30 s', '12 min' - rounded as a person would say it."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 600:
        minutes, rest = divmod(int(round(seconds / 5) * 5), 60)
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    return f"{round(seconds / 60)} min"


def test_size_for(hp: Hyperparameters, available: int = FULL_TRAIN_SIZE) -> int:
    """Test reviews to score on: all of them after a full run, else a sample."""
    if hp.train_size >= FULL_TRAIN_SIZE:
        return available
    return min(QUICK_TEST_SIZE, available)


# Progress ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BatchPoint:
    """One training batch. x: epochs done (fractional); loss/accuracy smoothed."""

    x: float
    loss: float
    accuracy: float
    batch_loss: float
    batch_accuracy: float


@dataclasses.dataclass(frozen=True)
class EpochPoint:
    """One finished epoch (1-based); x is where its training ended on the axis."""

    epoch: int
    x: float
    loss: float
    accuracy: float
    val_loss: float
    val_accuracy: float
    seconds: float


@dataclasses.dataclass(frozen=True)
class Progress:
    """A consistent snapshot of a job, safe to read from any thread.

    epoch is 0-based (the one running); best_epoch and stop_epoch are 0-based
    indices into `epoch_points`. `version` grows with every change.
    """

    job_id: str
    run_name: str
    owner: str
    status: str
    message: str
    epochs: int
    epoch: int
    step: int
    steps_per_epoch: int
    elapsed: float
    eta_seconds: float | None
    batch_points: tuple[BatchPoint, ...]
    epoch_points: tuple[EpochPoint, ...]
    best_epoch: int | None
    stop_epoch: int | None
    stop_reason: str | None
    error: str | None
    test: dict | None
    test_sampled: bool
    saved: bool
    version: int

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float:
        """Share of the planned training done, 0 to 1 (1 once finished)."""
        if self.finished and self.status != FAILED:
            return 1.0
        if not self.steps_per_epoch or not self.epochs:
            return 0.0
        done = self.epoch + self.step / self.steps_per_epoch
        return min(1.0, done / self.epochs)


def progress_frames(progress: Progress) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curves as tables: (per batch, per epoch).

    Batches: x (epochs done), loss and accuracy (smoothed), batch_loss and
    batch_accuracy (that batch alone). Epochs: epoch (1-based), x, loss,
    accuracy (training means over the epoch), val_loss, val_accuracy, seconds.
    """
    batch_columns = [field.name for field in dataclasses.fields(BatchPoint)]
    epoch_columns = [field.name for field in dataclasses.fields(EpochPoint)]
    batches = pd.DataFrame(
        [dataclasses.astuple(point) for point in progress.batch_points],
        columns=batch_columns,
    )
    epochs = pd.DataFrame(
        [dataclasses.astuple(point) for point in progress.epoch_points],
        columns=epoch_columns,
    )
    return batches, epochs


def curves_table(progress: Progress) -> pd.DataFrame:
    """Both curves in one long table (for a CSV): a `series` column says which."""
    batches, epochs = progress_frames(progress)
    batches = batches.assign(series="batch")
    epochs = epochs.assign(series="epoch")
    table = pd.concat([batches, epochs], ignore_index=True, sort=False)
    columns = ["series", "x", "epoch", "loss", "accuracy", "batch_loss"]
    columns += ["batch_accuracy", "val_loss", "val_accuracy", "seconds"]
    return table.reindex(columns=columns).sort_values(["x", "series"], kind="stable")


def _smoothing_weight(steps_per_epoch: int) -> float:
    """EMA weight that remembers about a fifth of an epoch of batches."""
    span = max(2.0, steps_per_epoch / 5)
    return min(0.97, max(0.5, 1 - 1 / span))


class _Curves:
    """Turns Keras' running means into per-batch values and smooths them."""

    def __init__(self, steps_per_epoch: int):
        self.weight = _smoothing_weight(steps_per_epoch)
        self.steps_per_epoch = max(1, steps_per_epoch)
        self.previous = {"loss": 0.0, "accuracy": 0.0}
        self.average = {"loss": 0.0, "accuracy": 0.0}
        self.count = 0

    def add(self, epoch: int, step: int, logs: dict) -> BatchPoint | None:
        if "loss" not in logs:
            return None
        batch = {}
        for key, low, high in (("loss", 0.0, math.inf), ("accuracy", 0.0, 1.0)):
            mean = logs.get(key, math.nan)
            # Keras logs the running mean over the epoch; undo it.
            before = self.previous[key] if step > 1 else 0.0
            value = step * mean - (step - 1) * before
            batch[key] = min(high, max(low, value)) if math.isfinite(value) else mean
            self.previous[key] = mean
        self.count += 1
        for key, value in batch.items():
            self.average[key] = (
                self.weight * self.average[key] + (1 - self.weight) * value
            )
        debias = 1 - self.weight**self.count
        return BatchPoint(
            x=epoch + step / self.steps_per_epoch,
            loss=self.average["loss"] / debias,
            accuracy=self.average["accuracy"] / debias,
            batch_loss=batch["loss"],
            batch_accuracy=batch["accuracy"],
        )


# A job ---------------------------------------------------------------------------


PrepareFunction = Callable[[], training.VectorizedImdb]


class TrainingJob:
    """One run: prepare, train, score on test reviews, save - in its own thread.

    Args:
        hp: what to train.
        prepare: returns the vectorized reviews for `hp`'s text settings;
            called in the worker thread, so it should be cached and must not
            touch the UI.
        name: the saved run's folder name (default: a new unique one).
        models_dir: where to save (default: `registry.default_models_dir()`).
        owner: who started it (a session id), for the board's messages.
        data_ready: whether `prepare` will return at once (for the estimate).
        note: free text stored in the model card.
    """

    def __init__(
        self,
        hp: Hyperparameters,
        prepare: PrepareFunction,
        *,
        name: str | None = None,
        models_dir=None,
        owner: str = "",
        data_ready: bool = True,
        note: str = "",
    ):
        self.id = uuid.uuid4().hex[:10]
        self.hp = hp
        self.name = registry.check_name(name) if name else registry.new_run_name()
        self.models_dir = models_dir
        self.owner = owner
        self.note = note
        self.data_ready = data_ready
        self.estimate = estimate(hp, data_ready=data_ready)
        self.created = time.time()
        self._prepare = prepare
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

        self._status = QUEUED
        self._message = "Waiting to start."
        self._started: float | None = None
        self._ended: float | None = None
        self._training_started: float | None = None
        self._epoch = 0
        self._step = 0
        self._steps_per_epoch = 0
        self._batch_times: list[float] = []
        self._last_batch_time: float | None = None
        self._validation_seconds: float | None = None
        self._batch_points: list[BatchPoint] = []
        self._epoch_points: list[EpochPoint] = []
        self._best_epoch: int | None = None
        self._stop_epoch: int | None = None
        self._stop_reason: str | None = None
        self._error: str | None = None
        self._test: dict | None = None
        self._test_sampled = False
        self._saved = False
        self._version = 0
        self._curves: _Curves | None = None

    def __repr__(self) -> str:
        return f"TrainingJob({self.name!r}, status={self.status!r})"

    # Control -----------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (the board does this on `submit`)."""
        if self._thread is not None:
            raise RuntimeError(f"Job {self.name} was already started.")
        self._started = time.perf_counter()
        self._thread = threading.Thread(
            target=self._run, name=f"training-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask training to end after the current batch; best weights are kept.

        A job still preparing its data ends without training or saving; a job
        already scoring or saving finishes that first (the model is complete).
        """
        self._stop.set()
        with self._lock:
            if self._status in (QUEUED, PREPARING, TRAINING):
                self._message = "Stopping after the current batch..."
                self._version += 1

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout`); True if finished."""
        return self._done.wait(timeout)

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def measured_pace(self, minimum_batches: int = 20) -> float | None:
        """Measured over planned seconds per batch, once enough batches ran."""
        with self._lock:
            times = self._batch_times[-100:]
        if len(times) < minimum_batches:
            return None
        return statistics.median(times) / planned_batch_seconds(self.hp)

    def describe(self) -> str:
        """A short line such as '4,000 reviews, 3 epochs, bidirectional GRU 64'."""
        hp = self.hp
        cell = {"gru": "GRU", "lstm": "LSTM", "simple_rnn": "SimpleRNN"}[hp.cell]
        direction = "bidirectional " if hp.bidirectional else ""
        return (
            f"{hp.train_size:,} reviews, {hp.epochs} epoch{'s' * (hp.epochs != 1)}, "
            f"{direction}{cell} {hp.units}"
        )

    # Reading -----------------------------------------------------------------

    def progress(self) -> Progress:
        with self._lock:
            now = time.perf_counter()
            end = self._ended or now
            return Progress(
                job_id=self.id,
                run_name=self.name,
                owner=self.owner,
                status=self._status,
                message=self._message,
                epochs=self.hp.epochs,
                epoch=self._epoch,
                step=self._step,
                steps_per_epoch=self._steps_per_epoch,
                elapsed=(end - self._started) if self._started else 0.0,
                eta_seconds=self._eta(now),
                batch_points=tuple(self._batch_points),
                epoch_points=tuple(self._epoch_points),
                best_epoch=self._best_epoch,
                stop_epoch=self._stop_epoch,
                stop_reason=self._stop_reason,
                error=self._error,
                test=self._test,
                test_sampled=self._test_sampled,
                saved=self._saved,
                version=self._version,
            )

    def _eta(self, now: float) -> float | None:
        """Seconds left (caller holds the lock): measured rates once there are
        some, the estimate before."""
        if self._status in FINISHED:
            return 0.0
        plan = self.estimate
        after_training = plan.evaluation + plan.saving
        if self._status == QUEUED:
            return plan.total
        if self._status == PREPARING:
            waited = now - (self._started or now)
            return max(0.0, plan.prepare - waited) + plan.training + after_training
        if self._status == EVALUATING:
            return after_training
        if self._status == SAVING:
            return plan.saving
        # Training: recent steps tell the pace (the median sees past the
        # slow first steps, while Keras traces the graph).
        steps_left = (self.hp.epochs - self._epoch) * self._steps_per_epoch - self._step
        epochs_left = self.hp.epochs - self._epoch
        if len(self._batch_times) < 3 or not self._steps_per_epoch:
            spent = now - (self._training_started or now)
            return max(plan.training - spent, 0.0) + after_training
        seconds_per_batch = statistics.median(self._batch_times[-30:])
        validation = self._validation_seconds
        if validation is None:
            validation = plan.validation
        return (
            steps_left * seconds_per_batch + epochs_left * validation + (after_training)
        )

    # The worker thread -------------------------------------------------------

    def _set(self, **values) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self, f"_{key}", value)
            self._version += 1

    def _run(self) -> None:
        try:
            self._set(status=PREPARING, message="Preparing the reviews...")
            vectorized = self._prepare()
            if self._stop.is_set():
                self._finish(
                    STOPPED,
                    "Stopped before training began; nothing was trained or saved.",
                )
                return

            self._set(
                status=TRAINING,
                message="Building the model...",
                training_started=time.perf_counter(),
            )
            result = training.train(
                self.hp, vectorized, listener=self._on_event, stop=self._stop
            )

            size = test_size_for(self.hp, len(vectorized.test_labels))
            sampled = size < len(vectorized.test_labels)
            self._set(
                status=EVALUATING,
                message=f"Scoring the model on {size:,} test reviews...",
            )
            rows = (
                data_module.balanced_indices(vectorized.test_labels, size, self.hp.seed)
                if sampled
                else np.arange(size)
            )
            test = training.evaluate(
                result.model, vectorized.test_ids[rows], vectorized.test_labels[rows]
            )
            self._set(
                status=SAVING,
                message="Saving the run...",
                test=test.to_dict(),
                test_sampled=sampled,
            )
            card = cards.make_card(
                result, test, test_sampled=sampled, note=self._card_note(result)
            )
            registry.save_run(result.model, card, self.name, self.models_dir)
            self._set(saved=True)
            final = STOPPED if result.stop_reason == "stopped_by_user" else DONE
            self._finish(final, self._final_message(result, test))
        except Exception as error:  # the thread must always end in a state
            logger.exception("Training job %s failed", self.name)
            self._finish(
                FAILED, "Training failed.", error=f"{type(error).__name__}: {error}"
            )
        finally:
            if not self._done.is_set():
                self._finish(FAILED, "Training ended unexpectedly.")

    def _finish(self, status: str, message: str, error: str | None = None) -> None:
        with self._lock:
            self._status = status
            self._message = message
            self._error = error
            self._ended = time.perf_counter()
            self._version += 1
        self._done.set()

    def _card_note(self, result: training.TrainingResult) -> str:
        parts = ["Trained on the Train page."]
        if self.note:
            parts.insert(0, self.note)
        if result.stop_reason == "stopped_by_user" and result.best_epoch is not None:
            parts.append(
                f"Stopped by the user in epoch {result.epochs_run}; the weights "
                f"of epoch {result.best_epoch + 1} (best validation loss) were kept."
            )
        return " ".join(parts)

    def _final_message(self, result: training.TrainingResult, test) -> str:
        best = "none" if result.best_epoch is None else result.best_epoch + 1
        ended = {
            "completed": f"Trained all {result.epochs_run} epochs",
            "early_stopping": (
                f"Early stopping ended training after epoch {result.epochs_run}"
            ),
            "stopped_by_user": f"Stopped by you in epoch {result.epochs_run}",
        }[result.stop_reason]
        return (
            f"{ended}; kept the weights of epoch {best} (lowest validation loss). "
            f"Test accuracy {test.accuracy:.3f} on {test.size:,} reviews."
        )

    def _on_event(self, event: training.TrainingEvent) -> None:
        now = time.perf_counter()
        with self._lock:
            self._version += 1
            if event.kind == "train_begin":
                self._steps_per_epoch = event.steps_per_epoch
                self._curves = _Curves(event.steps_per_epoch)
                self._message = "Training (the first batches are slow while "
                self._message += "TensorFlow builds the graph)..."
            elif event.kind == "batch_end":
                self._on_batch(event, now)
            elif event.kind == "epoch_end":
                self._on_epoch(event, now)
            elif event.kind == "train_end":
                self._best_epoch = event.best_epoch
                self._stop_reason = event.stop_reason
                if event.stop_reason in ("early_stopping", "stopped_by_user"):
                    self._stop_epoch = len(self._epoch_points) - 1
                self._message = "Training finished."

    def _on_batch(self, event: training.TrainingEvent, now: float) -> None:
        if self._last_batch_time is not None and event.step > 1:
            self._batch_times.append(now - self._last_batch_time)
        self._last_batch_time = now
        self._epoch = event.epoch
        self._step = event.step
        point = self._curves.add(event.epoch, event.step, event.logs)
        if point is not None:
            self._batch_points.append(point)
        if self._stop.is_set():
            return
        self._message = (
            f"Epoch {event.epoch + 1} of {event.epochs}, "
            f"batch {event.step} of {event.steps_per_epoch}"
        )

    def _on_epoch(self, event: training.TrainingEvent, now: float) -> None:
        if self._last_batch_time is not None:
            self._validation_seconds = now - self._last_batch_time
        logs = event.logs
        seconds = event.seconds - sum(point.seconds for point in self._epoch_points)
        self._epoch_points.append(
            EpochPoint(
                epoch=event.epoch + 1,
                x=event.epoch + self._step / max(1, event.steps_per_epoch),
                loss=logs.get("loss", math.nan),
                accuracy=logs.get("accuracy", math.nan),
                val_loss=logs.get("val_loss", math.nan),
                val_accuracy=logs.get("val_accuracy", math.nan),
                seconds=seconds,
            )
        )
        # The best epoch so far, as EarlyStopping sees it: lowest val_loss
        # (the first one on a tie).
        losses = [point.val_loss for point in self._epoch_points]
        if not all(math.isnan(loss) for loss in losses):
            self._best_epoch = int(np.nanargmin(losses))
        self._last_batch_time = None
        self._message = (
            f"Epoch {event.epoch + 1} of {event.epochs} done: validation accuracy "
            f"{logs.get('val_accuracy', math.nan):.3f}"
        )


# The board -----------------------------------------------------------------------


class JobRefused(RuntimeError):
    """The board cannot start a job now; the message says why and for how long."""


def max_jobs_from_env() -> int:
    """The limit on jobs training at once, from GRU_LAB_MAX_TRAINING_JOBS."""
    value = os.environ.get(MAX_JOBS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_JOBS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(
            f"The environment variable {MAX_JOBS_ENV} must be a whole number of "
            f"at least 1 (runs allowed to train at once), got {value!r}."
        )
    return limit


class JobBoard:
    """Every training job of this process; at most `max_running` at a time.

    Args:
        max_running: jobs allowed to train at once (default: the environment
            variable GRU_LAB_MAX_TRAINING_JOBS, else 1). On a 2-core machine two
            runs side by side each take about twice as long.
        keep_finished: finished jobs remembered for their curves and results.
    """

    def __init__(self, max_running: int | None = None, keep_finished: int = 50):
        self.max_running = max_jobs_from_env() if max_running is None else max_running
        if self.max_running < 1:
            raise ValueError(f"max_running must be at least 1, got {self.max_running}.")
        self.keep_finished = keep_finished
        self._jobs: dict[str, TrainingJob] = {}
        self._lock = threading.Lock()

    def pace(self) -> float:
        """How much slower than planned the last few runs trained (1: as
        planned), so estimates follow the machine's current load."""
        with self._lock:
            recent = sorted(self._jobs.values(), key=lambda job: -job.created)
        paces = [job.measured_pace() for job in recent[:8]]
        paces = [pace for pace in paces if pace is not None][:3]
        if not paces:
            return 1.0
        return min(5.0, max(0.2, statistics.median(paces)))

    def estimate(self, hp: Hyperparameters, *, data_ready: bool = True) -> Estimate:
        """`estimate(hp)` at the pace recent runs on this board went."""
        return estimate(hp, data_ready=data_ready, pace=self.pace())

    def submit(self, job: TrainingJob) -> TrainingJob:
        """Start `job`, or raise JobRefused saying what runs and its ETA."""
        planned = self.estimate(job.hp, data_ready=job.data_ready)
        with self._lock:
            running = [other for other in self._jobs.values() if not other.finished]
            if len(running) >= self.max_running:
                raise JobRefused(self._refusal(job, running))
            job.estimate = planned
            self._jobs[job.id] = job
            self._forget_old()
            job.start()
        logger.info("Started training job %s (%s)", job.name, job.describe())
        return job

    def get(self, job_id: str | None) -> TrainingJob | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def running(self) -> list[TrainingJob]:
        with self._lock:
            return [job for job in self._jobs.values() if not job.finished]

    def jobs(self) -> list[TrainingJob]:
        """All remembered jobs, newest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda job: -job.created)

    def stop_all(self, wait: float | None = None) -> None:
        """Ask every running job to stop (and wait up to `wait` seconds each)."""
        for job in self.running():
            job.stop()
        if wait is not None:
            for job in self.running():
                job.wait(wait)

    def _forget_old(self) -> None:
        finished = [job for job in self._jobs.values() if job.finished]
        finished.sort(key=lambda job: job.created)
        for job in finished[: max(0, len(finished) - self.keep_finished)]:
            del self._jobs[job.id]

    def _refusal(self, job: TrainingJob, running: list[TrainingJob]) -> str:
        def where(other: TrainingJob) -> str:
            progress = other.progress()
            if progress.status == TRAINING and progress.steps_per_epoch:
                stage = f"epoch {progress.epoch + 1} of {progress.epochs}"
            else:
                stage = progress.status
            return f"{stage}, about {format_seconds(progress.eta_seconds)} left"

        own = [other for other in running if job.owner and other.owner == job.owner]
        if own:
            return (
                f"Your run {own[0].name} is still training ({where(own[0])}). "
                "Stop it, or wait for it to finish, before starting another."
            )
        soonest = min(running, key=lambda other: other.progress().eta_seconds or 0)
        if len(running) == 1:
            busy = f"Someone else's run is training on this machine ({where(soonest)})"
        else:
            busy = (
                f"{len(running)} runs are training on this machine; the first "
                f"should finish in about "
                f"{format_seconds(soonest.progress().eta_seconds)}"
            )
        plural = "run trains" if self.max_running == 1 else "runs train"
        return (
            f"{busy}. Only {self.max_running} {plural} at a time here, so that each "
            f"gets the CPU (setting {MAX_JOBS_ENV}={self.max_running}). Press Train "
            "again once it has finished."
        )
