"""The Playground page, run by Streamlit's AppTest on the tiny model."""

import json

import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from core import data, registry

APP = "../streamlit_app.py"
BOX = "playground.review_box"
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"


@pytest.fixture
def page(monkeypatch, tiny_models_dir, tiny_imdb_folder):
    """The app with the tiny model active, switched to the Playground."""
    monkeypatch.setenv(registry.MODELS_ENV, str(tiny_models_dir))
    monkeypatch.setenv(data.DATA_ENV, str(tiny_imdb_folder))
    at = AppTest.from_file(APP, default_timeout=90)
    at.run()
    at.switch_page("pages/playground.py")
    at.run()
    assert not at.exception
    return at


def type_review(at: AppTest, review: str) -> AppTest:
    at.text_area(key=BOX).input(review).run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> str:
    return "\n".join(caption.value for caption in at.caption)


def test_typing_a_review_shows_tokens_prediction_and_explanations(page):
    at = type_review(page, "A wonderful, superb film. Loved it!")
    assert at.session_state["playground.review"].startswith("A wonderful")
    assert "P(positive) = " in captions(at)
    assert "tiny-run" in captions(at)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Tokens"] == "6"
    assert metrics["Cut tokens"] == "0"
    assert metrics["Padded slots"] == str(40 - 6)  # the tiny preset reads 40
    assert len(at.get("plotly_chart")) >= 4  # gauge, grid, influence, gates, split
    assert "Explanations took" in captions(at)


def test_an_empty_review_gets_a_prompt(page):
    at = type_review(page, "   ")
    assert "Type or paste a review" in at.info[0].value
    assert "P(positive)" not in captions(at)


def test_a_huge_paste_is_cut_and_still_predicted(page):
    at = type_review(page, "great film " * 100_000)  # 1.1 MB
    assert "only the first 100,000" in at.warning[0].value
    assert "P(positive) = " in captions(at)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Padded slots"] == "0"


def test_html_in_a_review_is_shown_as_text(page):
    at = type_review(page, HOSTILE)
    assert "P(positive) = " in captions(at)
    assert at.get("html"), "the influence heat map is missing"
    rendered = [element.proto.body for element in at.get("html")]
    rendered += [element.value for element in at.markdown]
    assert rendered and not any(
        "<script" in body or "<img" in body for body in rendered
    )


def test_emoji_and_other_scripts_are_unknown_words(page):
    at = type_review(page, "😍 素晴らしい映画 great")
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Tokens"] == "3"
    assert metrics["Unknown ([UNK])"] == "67%"


def test_an_example_and_a_random_test_review_fill_the_box(page):
    at = page
    at.button[1].click().run()  # the first example
    assert not at.exception
    example = at.session_state["playground.review"]
    assert at.text_area(key=BOX).value == example
    at.button[0].click().run()  # a random test review, with its true label
    assert not at.exception
    assert at.session_state["playground.review"] != example
    assert "true label is" in captions(at)


def test_the_text_survives_a_visit_to_another_page(page):
    at = type_review(page, "A superb film.")
    at.switch_page("pages/architecture.py").run()
    at.switch_page("pages/playground.py").run()
    assert at.text_area(key=BOX).value == "A superb film."


def test_every_chart_drawn_is_valid_plotly(page):
    """The page builds its figures unvalidated (for speed): validate them here."""
    at = type_review(page, "Not boring at all: a wonderful film with a weak end.")
    at.toggle(key="playground.units_shown").set_value(True).run()
    assert not at.exception
    charts = at.get("plotly_chart")
    keys = {chart.proto.id for chart in charts}
    assert len(charts) >= 7, keys  # grid, gauge, words, gates, 2 unit maps, split
    for chart in charts:
        spec = json.loads(chart.proto.spec)
        go.Figure(spec)  # plotly's full validation: raises on any wrong property
        assert spec["data"], chart.proto.id


def test_a_wrong_figure_property_is_caught():
    """The validation above can fail."""
    with pytest.raises(ValueError):
        go.Figure({"data": [{"type": "scatter", "colour": "red"}], "layout": {}})
