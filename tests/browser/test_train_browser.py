"""The Train page in Chromium: train the tiny preset, stop a run, share the CPU.

The server reads the tiny IMDB folder of tests/conftest.py, so the tiny preset
trains in seconds; its runs land in the server's temporary models folder.
"""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

TRAINING_TIMEOUT_MS = 180_000  # tiny preset: seconds alone, more on a busy box
RUN_NAME = re.compile(r"Results: (run-[\w.-]+)")


def preset_button(page, name: str):
    """The preset's button, found by its widget key (its label is short)."""
    return page.locator(f".st-key-train-preset-{name}").get_by_role("button")


def choose_tiny_preset(app_page) -> None:
    page = app_page.page
    app_page.run(preset_button(page, "tiny").click)
    expect(page.get_by_text(re.compile(r"Now: (the )?tiny\b"))).to_be_visible()


def slide_to_the_end(app_page, label: str) -> None:
    """Move a slider to its largest value with the keyboard, as a person can."""
    slider = app_page.page.get_by_role("slider", name=label)
    slider.focus()
    app_page.run(lambda: slider.press("End"))


def train_button(page):
    return page.get_by_role("button", name="Train", exact=True)


def stop_button(page):
    return page.get_by_role("button", name="Stop", exact=True)


def wait_for_results(app_page) -> str:
    """Wait until the finished run's results are drawn; return the run's name."""
    heading = app_page.page.get_by_role("heading", name=RUN_NAME)
    heading.wait_for(timeout=TRAINING_TIMEOUT_MS)
    app_page.wait_until_idle()
    return RUN_NAME.search(heading.inner_text()).group(1)


def test_the_tiny_preset_trains_and_its_model_serves_the_playground(app_page):
    app_page.open("train")
    page = app_page.page
    choose_tiny_preset(app_page)

    app_page.run(train_button(page).click)
    expect(page.get_by_test_id("stProgress")).to_be_visible()
    name = wait_for_results(app_page)

    accuracy = float(app_page.metric("Test accuracy").inner_text())
    assert 0.0 <= accuracy <= 1.0
    assert app_page.metric("Training time").inner_text()
    app_page.drawn_charts(at_least=2)  # the curves, the confusion matrix
    curves = page.get_by_test_id("stPlotlyChart").first
    assert curves.locator("g.trace").count() > 0  # lines drawn, not an empty frame
    assert app_page.exceptions() == []
    app_page.screenshot("train-tiny-preset-finished")

    app_page.run(page.get_by_role("button", name="Use this model").click)
    assert page.get_by_role("button", name="Active on the other pages").is_disabled()
    app_page.go_to("Playground")
    assert page.get_by_role("combobox", name="Active model").input_value() == name
    caption = page.get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile(r"^Model ")
    )
    assert name in caption.inner_text()
    verdict = page.get_by_role("heading", name=re.compile("^(Positive|Negative)$"))
    expect(verdict).to_be_visible()
    app_page.screenshot("train-new-model-in-the-playground")


def test_a_second_train_press_is_refused_and_stop_ends_the_run(
    app_page, second_app_page
):
    # The first student starts a run long enough to be stopped: the tiny
    # preset made as slow as its controls allow - 20 epochs, patience 10, the
    # largest state, embedding and sequence length, every batch padded to it.
    app_page.open("train")
    page = app_page.page
    choose_tiny_preset(app_page)
    for label in (
        "Epochs (at most)",
        "Early-stopping patience",
        "Sequence length (tokens)",
        "Units per direction",
        "Embedding size",
    ):
        slide_to_the_end(app_page, label)
    page.get_by_text("More settings").click()  # an expander: no rerun
    app_page.run(page.get_by_text("Length-bucketed batches (fast path)").click)
    app_page.run(train_button(page).click)
    expect(stop_button(page)).to_be_enabled()  # at once, not after another click
    page.get_by_text(re.compile(r"Epoch \d+ of 20")).first.wait_for(
        timeout=TRAINING_TIMEOUT_MS
    )

    # A second student, elsewhere, is told why Train does not start.
    second_app_page.open("train")
    other = second_app_page.page
    expect(other.get_by_text("Another run is training on this machine")).to_be_visible()
    choose_tiny_preset(second_app_page)
    second_app_page.run(train_button(other).click)
    refusal = other.get_by_test_id("stAlertContentWarning")
    expect(refusal).to_contain_text("Someone else's run is training on this machine")
    expect(refusal).to_contain_text("Only 1 run trains at a time")
    assert other.get_by_test_id("stProgress").count() == 0
    second_app_page.screenshot("train-second-press-refused")

    # The first student stops the run: the best weights are kept and scored.
    app_page.run(stop_button(page).click)
    wait_for_results(app_page)
    stopped = page.get_by_test_id("stAlertContentInfo").filter(
        has_text="Stopped by you"
    )
    expect(stopped).to_be_visible()
    assert app_page.exceptions() == []
    app_page.screenshot("train-stopped-by-the-student")
