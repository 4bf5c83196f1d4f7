"""The Architecture page, run through the app as a student would reach it."""

import dataclasses
import json

import plotly.graph_objects as go
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core import keras_check, params
from core.config import Hyperparameters
from pages import common

PAGE = "pages/architecture.py"


@pytest.fixture
def app(monkeypatch, tmp_path):
    """The app on the Architecture page, with no saved models to load."""
    monkeypatch.setenv("GRU_LAB_MODELS", str(tmp_path))
    st.cache_resource.clear()
    at = AppTest.from_file("../streamlit_app.py", default_timeout=60)
    at.switch_page(PAGE)
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def text_of(at: AppTest) -> str:
    return "\n".join(markdown.value for markdown in at.markdown)


def title(at: AppTest) -> str:
    return at.title[0].value


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def test_lab_values_show_the_labs_counts(app):
    assert title(app) == "Architecture"
    assert metrics(app) == {
        "Total parameters": "1,354,625",
        "Embedding": "1,280,000",
        "Bidirectional GRU": "74,496",
        "Dense": "129",
    }
    words = text_of(app)
    for number in ("12,416", "37,248", "74,496"):
        assert number in words
    assert (
        "1,354,625" in app.success[0].value and "Keras agrees" in app.success[0].value
    )
    assert not app.error
    assert len(app.get("plotly_chart")) == 2
    for chart in app.get("plotly_chart"):  # built unvalidated for speed
        go.Figure(json.loads(chart.proto.spec))  # plotly's full validation
    assert any("appears in no count" in caption.value for caption in app.caption)


def test_changing_the_controls_changes_every_count(app):
    app.number_input(key="architecture.units").set_value(32).run()
    hp = Hyperparameters(units=32)
    assert metrics(app)["Total parameters"] == f"{params.total_params(hp):,}"
    assert f"{params.gate_params(128, 32, 2):,}" in text_of(app)
    assert "Keras agrees" in app.success[0].value

    app.number_input(key="architecture.units").set_value(64)
    app.toggle(key="architecture.reset_after").set_value(False).run()
    assert metrics(app)["Bidirectional GRU"] == "74,112"

    app.button_group(key="architecture.cell").set_value("lstm")
    app.toggle(key="architecture.bidirectional").set_value(False).run()
    lstm = Hyperparameters(cell="lstm", bidirectional=False)
    assert metrics(app)["LSTM"] == f"{params.recurrent_params(lstm):,}"
    assert "Keras agrees" in app.success[0].value and not app.error


def test_sequence_length_changes_no_count(app):
    app.number_input(key="architecture.sequence_length").set_value(1_000).run()
    assert metrics(app)["Total parameters"] == "1,354,625"
    assert "Keras agrees" in app.success[0].value


def test_active_models_values_load_with_one_click(app, monkeypatch):
    active = Hyperparameters(cell="simple_rnn", units=16, merge_mode="sum")
    monkeypatch.setattr(common, "active_model_hyperparameters", lambda: active)
    app.run()
    button(app, "Load the active model's values").click().run()
    assert metrics(app)["Total parameters"] == f"{params.total_params(active):,}"
    button(app, "The lab's values").click().run()
    assert metrics(app)["Total parameters"] == "1,354,625"


def test_quiz_answer_comes_only_after_committing(app):
    question = params.quiz_question(1)
    assert not any(question.working in s.value for s in [*app.success, *app.error])
    answer_input = next(n for n in app.number_input if n.label == "Your answer")
    answer_input.set_value(question.answer)
    button(app, "Commit to this answer").click().run()
    assert any(question.working in s.value for s in app.success)

    button(app, "Next question").click().run()
    assert app.number_input(key="architecture.quiz_number").value == 2
    assert not any("Right:" in s.value for s in app.success)


def test_a_keras_disagreement_is_shown(app, monkeypatch):
    real = keras_check.count_with_keras

    def one_parameter_off(hp):
        result = real(hp)
        counts = dict(result.layer_params, dense=result.layer_params["dense"] + 1)
        return dataclasses.replace(result, layer_params=counts)

    monkeypatch.setattr(keras_check, "count_with_keras", one_parameter_off)
    st.cache_resource.clear()
    app.run()
    assert app.error and "Keras disagrees" in app.error[0].value
    assert "dense" in app.error[0].value


def test_settings_survive_a_visit_to_another_page(app):
    app.number_input(key="architecture.units").set_value(32).run()
    app.switch_page("pages/playground.py").run()
    app.switch_page(PAGE).run()
    assert app.number_input(key="architecture.units").value == 32
    assert metrics(app)["Total parameters"] == (
        f"{params.total_params(Hyperparameters(units=32)):,}"
    )
