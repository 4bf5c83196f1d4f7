"""The Train page, driven by Streamlit's AppTest on the tiny reviews.

AppTest does not run a fragment's `run_every` timer, so the tests rerun the
whole script until the job has finished (each run draws the live panel once).
Plotly charts appear as unknown elements: the tests count them and read the
series the page drew from session state.
"""

import pathlib
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from core import data, jobs, registry
from core.config import preset

APP = "../streamlit_app.py"
PAGE = "pages/train.py"
DEADLINE = 150  # seconds for a tiny run on a busy 2-core machine
JOB_KEY = "train.job"
SHIPPED = pathlib.Path(__file__).resolve().parent.parent / "models" / "lab-bigru"


@pytest.fixture
def models_dir(tmp_path, monkeypatch, tiny_imdb_folder):
    folder = tmp_path / "models"
    monkeypatch.setenv(data.DATA_ENV, str(tiny_imdb_folder))
    monkeypatch.setenv(registry.MODELS_ENV, str(folder))
    return folder


@pytest.fixture
def apps():
    """AppTests opened on the Train page; their jobs are stopped afterwards."""
    opened = []

    def open_page(query=None, settings=None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        at.run()
        at.query_params.update(query or {})
        if settings is not None:
            at.session_state["train.settings"] = settings
        at.switch_page(PAGE).run()
        assert not at.exception, at.exception
        opened.append(at)
        return at

    yield open_page
    for at in opened:
        job = at.session_state.get(JOB_KEY)
        if job is not None:
            job.stop()
            job.wait(DEADLINE)


def job_of(at: AppTest) -> jobs.TrainingJob:
    return at.session_state[JOB_KEY]


def run_until(at: AppTest, condition, timeout=DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the page did not get there in time"
        time.sleep(0.5)
        at.run()
        assert not at.exception, at.exception


def plotly_charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def hidden_entries(folder) -> list[str]:
    return [path.name for path in folder.iterdir() if path.name.startswith(".")]


def test_tiny_run_draws_curves_saves_and_can_be_made_active(apps, models_dir):
    if not SHIPPED.is_dir():
        pytest.skip("The shipped model is not in models/lab-bigru.")
    at = apps()
    # Added after the app opened, so the first page shown does not load it.
    shutil.copytree(SHIPPED, models_dir / registry.SHIPPED_MODEL)
    assert "Train" in at.title[0].value
    at.button(key="train.preset.tiny").click().run()
    assert at.session_state["train.settings"] == preset("tiny").to_dict()
    assert at.query_params["units"] == "4"  # the settings went into the URL

    at.button(key="train.train").click().run()
    assert not at.exception, at.exception
    job = job_of(at)
    assert job.hp == preset("tiny")
    run_until(at, lambda: job.finished)
    at.run()

    progress = job.progress()
    assert progress.status == jobs.DONE, progress.error
    assert len(plotly_charts(at)) == 2  # the curves and the confusion matrix
    series = at.session_state["train.chart_series"]
    assert series.count("training (per batch, smoothed)") == 2  # loss and accuracy
    assert series.count("validation (per epoch)") == 2
    assert "best epoch (weights kept)" in series
    assert len(progress.batch_points) == progress.epochs * progress.steps_per_epoch

    names = [card["name"] for card in registry.list_runs(models_dir)]
    assert names == [job.name, registry.SHIPPED_MODEL]
    assert hidden_entries(models_dir) == []
    assert any("Test accuracy" == metric.label for metric in at.metric)
    assert len(at.get("download_button")) == 2

    # The shipped model is active until the student picks the new one.
    assert at.button(key="train.use").label == "Use this model"
    at.button(key="train.use").click().run()
    assert at.session_state["active_model"] == job.name
    assert at.button(key="train.use").disabled
    assert at.button(key="train.use").label == "Active on the other pages"

    # Both runs are listed for comparison; the shipped one can be overlaid.
    table = at.dataframe[-1].value
    assert table["run"].tolist() == names
    assert table.loc[table["run"] == job.name, "here"].item() == "✓"
    at.multiselect(key="train.w.overlays").select(registry.SHIPPED_MODEL).run()
    series = at.session_state["train.chart_series"]
    assert f"{registry.SHIPPED_MODEL} (validation)" in series


def test_stop_rerun_and_a_second_user(apps, models_dir):
    long_tiny = preset("tiny").with_changes(epochs=200, patience=200).to_dict()
    alice = apps(settings=long_tiny)
    alice.button(key="train.train").click().run()
    job = job_of(alice)
    run_until(alice, lambda: len(job.progress().epoch_points) >= 1)

    # Reruns while training just redraw; pressing Train again is refused.
    alice.button(key="train.train").click().run()
    assert job_of(alice) is job
    assert "is still training" in alice.warning[0].value
    assert not alice.button(key="train.stop").disabled

    # Someone else pressing Train is told why and for how long.
    bob = apps()
    bob.button(key="train.preset.tiny").click().run()
    assert "Another run is training" in bob.info[0].value
    bob.button(key="train.train").click().run()
    refusal = bob.warning[0].value
    assert "Someone else's run is training" in refusal and "left" in refusal
    assert JOB_KEY not in bob.session_state

    # Stop: training ends after the current batch; the best weights are saved.
    alice.button(key="train.stop").click().run()
    run_until(alice, lambda: job.finished)
    alice.run()
    progress = job.progress()
    assert progress.status == jobs.STOPPED, progress.error
    assert progress.stop_reason == "stopped_by_user"
    assert len(progress.epoch_points) < 200
    card = registry.load_card(job.name, models_dir)
    assert card["training"]["best_epoch"] == progress.best_epoch + 1
    assert hidden_entries(models_dir) == []
    assert "Stopped by you" in alice.info[0].value
    assert alice.button(key="train.stop").disabled

    # Now the machine is free for the second user.
    bob.button(key="train.train").click().run()
    assert not bob.warning
    assert job_of(bob).status != jobs.FAILED


def test_settings_round_trip_through_the_url(apps, models_dir):
    at = apps(query={"units": "32", "cell": "lstm", "epochs": "4", "dropout_rate": "x"})
    settings = at.session_state["train.settings"]
    assert (settings["units"], settings["cell"], settings["epochs"]) == (32, "lstm", 4)
    assert at.select_slider(key="train.w.units").value == 32
    assert at.radio(key="train.w.cell").value == "lstm"
    assert "dropout_rate" in at.warning[0].value  # a bad value is named, not used
    assert settings["dropout_rate"] == preset("lab").dropout_rate

    # A change goes back into the URL, and a link with it opens the same page.
    at.select_slider(key="train.w.units").set_value(128).run()
    query = dict(at.query_params)
    assert query["units"] == "128" and query["cell"] == "lstm"
    assert "dropout_rate" not in query and "vocab_size" not in query

    shared = apps(query=query)
    assert shared.session_state["train.settings"] == at.session_state["train.settings"]

    # The settings survive a visit to another page.
    at.switch_page("streamlit_app.py").run()
    at.switch_page(PAGE).run()
    assert at.select_slider(key="train.w.units").value == 128
