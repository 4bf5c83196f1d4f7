"""Training jobs and the job board, on the tiny reviews."""

import itertools
import math
import threading
import time

import numpy as np
import pytest

from core import data, jobs, registry, training
from core.config import Hyperparameters, preset

DEADLINE = 120  # seconds any tiny job may take on a busy 2-core machine


@pytest.fixture
def models_dir(tmp_path):
    return tmp_path / "models"


def tiny_job(vectorized, models_dir, owner="alice", prepare=None, **changes):
    hp = preset("tiny").with_changes(**changes)
    return jobs.TrainingJob(
        hp, prepare or (lambda: vectorized), models_dir=models_dir, owner=owner
    )


def blocked_job(release: threading.Event, vectorized, models_dir, owner):
    """A job that sits in 'preparing' until `release` is set (costs no CPU)."""

    def prepare():
        release.wait(DEADLINE)
        return vectorized

    return tiny_job(vectorized, models_dir, owner=owner, prepare=prepare)


def hidden_entries(models_dir) -> list[str]:
    if not models_dir.exists():
        return []
    return [path.name for path in models_dir.iterdir() if path.name.startswith(".")]


def wait_for(condition, timeout=DEADLINE, every=0.05):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(every)


def test_job_trains_scores_and_saves(tiny_vectorized, models_dir):
    board = jobs.JobBoard(max_running=1)
    job = board.submit(tiny_job(tiny_vectorized, models_dir))
    assert job.wait(DEADLINE), job.progress().message

    progress = job.progress()
    assert progress.status == jobs.DONE, progress.error
    assert progress.saved and progress.finished and progress.fraction == 1.0
    assert progress.eta_seconds == 0.0
    assert len(progress.epoch_points) == 2
    assert len(progress.batch_points) == 2 * progress.steps_per_epoch
    assert progress.best_epoch in (0, 1)
    # Every test review of the tiny set is scored (fewer than the sample size).
    assert progress.test["size"] == 160 and not progress.test_sampled

    card = registry.load_card(job.name, models_dir)
    assert card["training"]["stop_reason"] in ("completed", "early_stopping")
    assert card["test"]["accuracy"] == pytest.approx(progress.test["accuracy"])
    assert "Train page" in card["note"]
    assert hidden_entries(models_dir) == []
    assert board.running() == []


def test_progress_tables_hold_the_curves(tiny_vectorized, models_dir):
    job = jobs.JobBoard(1).submit(tiny_job(tiny_vectorized, models_dir))
    job.wait(DEADLINE)
    progress = job.progress()
    batches, epochs = jobs.progress_frames(progress)

    assert list(batches.columns) == [
        "x",
        "loss",
        "accuracy",
        "batch_loss",
        "batch_accuracy",
    ]
    assert batches["x"].is_monotonic_increasing
    assert batches["x"].iloc[-1] == pytest.approx(2.0)
    assert batches["accuracy"].between(0, 1).all()
    assert epochs["epoch"].tolist() == [1, 2]
    assert epochs["x"].tolist() == pytest.approx([1.0, 2.0])
    assert epochs["val_accuracy"].between(0, 1).all()

    table = jobs.curves_table(progress)
    assert set(table["series"]) == {"batch", "epoch"}
    assert len(table) == len(batches) + len(epochs)


def test_running_means_are_undone_and_smoothed():
    """Keras logs running means; the curve gets each batch's own value."""
    curves = jobs._Curves(steps_per_epoch=4)
    batch_losses = [0.8, 0.6, 0.4, 0.2]
    points = []
    for step, _ in enumerate(batch_losses, start=1):
        mean = float(np.mean(batch_losses[:step]))
        points.append(curves.add(0, step, {"loss": mean, "accuracy": 0.5}))

    assert [point.batch_loss for point in points] == pytest.approx(batch_losses)
    assert points[0].loss == pytest.approx(0.8)  # debiased from the first batch
    smoothed = [point.loss for point in points]
    assert all(later < earlier for earlier, later in itertools.pairwise(smoothed))
    assert smoothed[-1] > 0.2  # smoothing lags behind the last batch
    assert [point.x for point in points] == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_stop_mid_run_keeps_best_weights_and_writes_nothing_partial(
    tiny_vectorized, models_dir
):
    job = jobs.JobBoard(1).submit(
        tiny_job(tiny_vectorized, models_dir, epochs=200, patience=200)
    )
    wait_for(lambda: len(job.progress().epoch_points) >= 2 or job.finished)
    job.stop()
    assert job.wait(DEADLINE)

    progress = job.progress()
    assert progress.status == jobs.STOPPED, progress.error
    assert progress.stop_reason == "stopped_by_user"
    assert 2 <= len(progress.epoch_points) < 200
    assert progress.stop_epoch == len(progress.epoch_points) - 1
    assert progress.saved and hidden_entries(models_dir) == []

    # The saved model is the best epoch's: its validation loss is the best one.
    card = registry.load_card(job.name, models_dir)
    assert card["training"]["stop_reason"] == "stopped_by_user"
    assert card["training"]["best_epoch"] == progress.best_epoch + 1
    hp = Hyperparameters.from_dict(card["hyperparameters"])
    _, validation_rows = data.split_indices(
        tiny_vectorized.train_labels, hp.train_size, hp.validation_fraction, hp.seed
    )
    model = registry.load_model(job.name, models_dir)
    scored = training.evaluate(
        model,
        tiny_vectorized.train_ids[validation_rows],
        tiny_vectorized.train_labels[validation_rows],
    )
    best = progress.epoch_points[progress.best_epoch]
    assert best.val_loss == min(point.val_loss for point in progress.epoch_points)
    assert scored.loss == pytest.approx(best.val_loss, abs=2e-3)


def test_stop_while_preparing_trains_and_saves_nothing(tiny_vectorized, models_dir):
    release = threading.Event()
    job = jobs.JobBoard(1).submit(
        blocked_job(release, tiny_vectorized, models_dir, "alice")
    )
    wait_for(lambda: job.status == jobs.PREPARING)
    job.stop()
    release.set()
    assert job.wait(DEADLINE)

    progress = job.progress()
    assert progress.status == jobs.STOPPED
    assert not progress.saved and progress.batch_points == ()
    assert "nothing" in progress.message
    assert not models_dir.exists() or list(models_dir.iterdir()) == []


def test_failure_is_reported_and_frees_the_board(tiny_vectorized, models_dir):
    def prepare():
        raise ValueError("no reviews here")

    board = jobs.JobBoard(1)
    job = board.submit(tiny_job(tiny_vectorized, models_dir, prepare=prepare))
    assert job.wait(DEADLINE)
    assert job.progress().status == jobs.FAILED
    assert "ValueError: no reviews here" in job.progress().error
    assert board.running() == []


def test_second_submit_is_refused_with_a_reason(tiny_vectorized, models_dir):
    release = threading.Event()
    board = jobs.JobBoard(max_running=1)
    first = board.submit(blocked_job(release, tiny_vectorized, models_dir, "alice"))
    try:
        with pytest.raises(jobs.JobRefused) as refused:
            board.submit(tiny_job(tiny_vectorized, models_dir, owner="bob"))
        reason = str(refused.value)
        assert "Someone else's run is training" in reason
        assert "left" in reason and f"{jobs.MAX_JOBS_ENV}=1" in reason

        with pytest.raises(jobs.JobRefused, match="Your run .* is still training"):
            board.submit(tiny_job(tiny_vectorized, models_dir, owner="alice"))
        assert board.running() == [first]
    finally:
        first.stop()
        release.set()
    assert first.wait(DEADLINE)

    # Once the first has finished, the second may start.
    again = blocked_job(release, tiny_vectorized, models_dir, "bob")
    again.stop()
    assert board.submit(again) is again
    assert again.wait(DEADLINE)


def test_limit_comes_from_the_environment(monkeypatch, tiny_vectorized, models_dir):
    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "2")
    board = jobs.JobBoard()
    assert board.max_running == 2

    release = threading.Event()
    started = [
        board.submit(blocked_job(release, tiny_vectorized, models_dir, owner))
        for owner in ("alice", "bob")
    ]
    try:
        with pytest.raises(jobs.JobRefused, match="2 runs are training"):
            board.submit(blocked_job(release, tiny_vectorized, models_dir, "carol"))
    finally:
        board.stop_all()
        release.set()
    assert all(job.wait(DEADLINE) for job in started)

    monkeypatch.setenv(jobs.MAX_JOBS_ENV, "none")
    with pytest.raises(ValueError, match=jobs.MAX_JOBS_ENV):
        jobs.JobBoard()
    monkeypatch.delenv(jobs.MAX_JOBS_ENV)
    assert jobs.JobBoard().max_running == jobs.DEFAULT_MAX_JOBS


def test_estimate_scales_with_the_work():
    lab = preset("lab")
    classroom = preset("classroom")
    seconds = jobs.estimate_seconds

    assert seconds(classroom) < seconds(lab)
    assert 30 < seconds(classroom) < 180
    assert seconds(lab.with_changes(units=128)) > seconds(lab)
    assert seconds(lab.with_changes(embedding_dim=32)) < seconds(lab)
    assert seconds(lab.with_changes(sequence_length=100)) < seconds(lab)
    assert seconds(lab.with_changes(length_bucketing=False)) > seconds(lab)
    assert seconds(lab.with_changes(fast_gru=False)) > seconds(lab)
    assert seconds(lab.with_changes(epochs=2)) < seconds(lab)
    cells = [seconds(lab.with_changes(cell=cell)) for cell in ("simple_rnn", "gru")]
    assert cells == sorted(cells)
    assert seconds(lab, data_ready=False) > seconds(lab)

    plan = jobs.estimate(classroom)
    assert plan.total == pytest.approx(
        plan.training + plan.evaluation + plan.saving + plan.prepare
    )
    assert "3 epochs" in plan.describe()


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.2, "1 s"),
        (44.6, "45 s"),
        (90, "1 min 30 s"),
        (120, "2 min"),
        (1500, "25 min"),
    ],
)
def test_durations_read_as_a_person_says_them(seconds, said):
    assert jobs.format_seconds(seconds) == said
    assert jobs.format_seconds(math.nan) == "unknown"


def test_test_sample_size_follows_the_training_size():
    assert jobs.test_size_for(preset("lab")) == 25_000
    assert jobs.test_size_for(preset("classroom")) == jobs.QUICK_TEST_SIZE
    assert jobs.test_size_for(preset("classroom"), available=160) == 160
