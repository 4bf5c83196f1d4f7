"""Training on the tiny data: events, early stopping, stop, evaluation, batches."""

import threading

import numpy as np
import pytest

from core import training


def test_batches_are_trimmed_to_their_longest_review_and_cover_every_row():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 50, size=203)
    ids = np.zeros((203, 50), dtype=np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(2, 100, size=length)
    labels = rng.integers(0, 2, size=203).astype(np.float32)
    batches = training.ReviewBatches(ids, labels, 16, shuffle=True, seed=1)
    seen = []
    for index in range(len(batches)):
        batch_ids, batch_labels = batches[index]
        rows = batches._batches[index]
        assert batch_ids.shape[1] == lengths[rows].max()
        np.testing.assert_array_equal(batch_ids, ids[rows, : lengths[rows].max()])
        np.testing.assert_array_equal(batch_labels, labels[rows])
        seen.extend(rows)
    assert sorted(seen) == list(range(203))
    first_order = batches.rows_in_order().copy()
    batches.on_epoch_end()
    assert not np.array_equal(first_order, batches.rows_in_order())


def test_without_bucketing_every_batch_keeps_the_full_length():
    ids = np.ones((10, 30), dtype=np.int32)
    ids[:, 5:] = 0
    batches = training.ReviewBatches(ids, np.zeros(10), 4, bucketing=False)
    assert all(batches[i][0].shape[1] == 30 for i in range(len(batches)))


def test_training_reports_events_and_learns(tiny_vectorized, tiny_hyperparameters):
    events = []
    result = training.train(tiny_hyperparameters, tiny_vectorized, events.append)
    kinds = [event.kind for event in events]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    assert kinds.count("epoch_end") == result.epochs_run
    batch_events = [event for event in events if event.kind == "batch_end"]
    assert batch_events[0].steps_per_epoch == len(batch_events) // result.epochs_run
    assert {"loss", "accuracy"} <= set(batch_events[-1].logs)
    epoch_logs = [event.logs for event in events if event.kind == "epoch_end"]
    assert {"val_loss", "val_accuracy"} <= set(epoch_logs[-1])
    assert [row["epoch"] for row in result.history] == list(
        range(1, result.epochs_run + 1)
    )
    best = int(np.argmin([row["val_loss"] for row in result.history]))
    assert result.best_epoch == best
    assert events[-1].best_epoch == best
    evaluation = training.evaluate(
        result.model, tiny_vectorized.test_ids, tiny_vectorized.test_labels
    )
    assert evaluation.size == 160
    assert sum(map(sum, evaluation.confusion)) == 160
    # The tiny reviews carry obvious cue words: a working loop beats chance.
    assert evaluation.accuracy > 0.6


def test_stop_ends_after_the_current_batch_and_keeps_best_weights(
    tiny_vectorized, tiny_hyperparameters
):
    stop = threading.Event()
    seen = []

    def listener(event):
        seen.append(event)
        if event.kind == "batch_end" and event.epoch == 1 and event.step == 2:
            stop.set()

    hp = tiny_hyperparameters.with_changes(epochs=20, patience=20)
    result = training.train(hp, tiny_vectorized, listener, stop)
    assert result.stop_reason == "stopped_by_user"
    assert result.epochs_run == 2
    batches_in_epoch_two = [e for e in seen if e.kind == "batch_end" and e.epoch == 1]
    assert len(batches_in_epoch_two) == 2
    # The model holds the weights of the best validated epoch.
    best_val_loss = min(row["val_loss"] for row in result.history)
    val_rows = training.data_module.split_indices(
        tiny_vectorized.train_labels, hp.train_size, hp.validation_fraction, hp.seed
    )[1]
    evaluation = training.evaluate(
        result.model,
        tiny_vectorized.train_ids[val_rows],
        tiny_vectorized.train_labels[val_rows],
    )
    assert evaluation.loss == pytest.approx(best_val_loss, abs=1e-3)


def test_mismatched_text_settings_are_refused(tiny_vectorized, tiny_hyperparameters):
    with pytest.raises(ValueError, match="vectorize again"):
        training.train(
            tiny_hyperparameters.with_changes(vocab_size=999), tiny_vectorized
        )


def test_weight_averaging_keeps_the_averaged_weights_of_the_best_epoch(
    tiny_vectorized, tiny_hyperparameters
):
    hp = tiny_hyperparameters.with_changes(weight_averaging=True)
    result = training.train(hp, tiny_vectorized)
    _, validation_rows = training.data_module.split_indices(
        tiny_vectorized.train_labels, hp.train_size, hp.validation_fraction, hp.seed
    )
    evaluation = training.evaluate(
        result.model,
        tiny_vectorized.train_ids[validation_rows],
        tiny_vectorized.train_labels[validation_rows],
    )
    assert evaluation.loss == pytest.approx(result.best["val_loss"], abs=1e-3)
