"""The Architecture page in Chromium: change the model, watch every count follow."""

import pytest
from playwright.sync_api import expect

from core import params
from core.config import Hyperparameters

pytestmark = pytest.mark.browser

LAB = Hyperparameters()
TOOLS = {"Playground", "Architecture", "Train"}


def total_of(hp: Hyperparameters) -> str:
    return f"{sum(params.layer_params(hp).values()):,}"


def recurrent_of(hp: Hyperparameters) -> str:
    return f"{params.layer_params(hp)[params.RECURRENT]:,}"


def keras_verdict(app_page):
    return app_page.page.get_by_test_id("stAlertContentSuccess").filter(
        has_text="Keras agrees"
    )


def test_changing_the_model_changes_every_count_and_keras_agrees(app_page):
    app_page.open("architecture")
    page = app_page.page
    expect(app_page.metric("Total parameters")).to_have_text(total_of(LAB))
    expect(app_page.metric("Bidirectional GRU")).to_have_text(recurrent_of(LAB))
    expect(keras_verdict(app_page)).to_contain_text(total_of(LAB))
    assert app_page.drawn_charts(at_least=2) == 2  # the model, the GRU inside
    app_page.screenshot("architecture-lab-model")

    # One click on "+" of Units n: 64 -> 80.
    units = page.get_by_test_id("stNumberInput").filter(has_text="Units n")
    app_page.run(units.get_by_test_id("stNumberInputStepUp").click)
    wider = LAB.with_changes(units=80)
    assert page.get_by_role("spinbutton", name="Units n").input_value() == "80"
    expect(app_page.metric("Total parameters")).to_have_text(total_of(wider))
    expect(keras_verdict(app_page)).to_contain_text(total_of(wider))

    # An LSTM read in one direction only.
    app_page.run(page.get_by_role("radio", name="LSTM").click)
    bidirectional = page.get_by_test_id("stCheckbox").filter(has_text="Bidirectional")
    app_page.run(bidirectional.locator("label").first.click)
    lstm = wider.with_changes(cell="lstm", bidirectional=False)
    expect(app_page.metric("LSTM")).to_have_text(recurrent_of(lstm))
    expect(app_page.metric("Total parameters")).to_have_text(total_of(lstm))
    expect(keras_verdict(app_page)).to_contain_text(total_of(lstm))
    assert app_page.exceptions() == []
    app_page.screenshot("architecture-lstm-one-direction")

    # Typing a number, as a student would.
    vocabulary = page.get_by_role("spinbutton", name="Vocabulary size V")
    vocabulary.fill("2000")
    app_page.run(lambda: vocabulary.press("Enter"))
    small = lstm.with_changes(vocab_size=2_000)
    expect(app_page.metric("Total parameters")).to_have_text(total_of(small))

    app_page.run(page.get_by_role("button", name="The lab's values").click)
    expect(app_page.metric("Total parameters")).to_have_text(total_of(LAB))
    expect(keras_verdict(app_page)).to_contain_text(total_of(LAB))


def test_the_quiz_checks_a_committed_answer(app_page):
    app_page.open("architecture")
    page = app_page.page
    question = params.quiz_question(1)
    answer = page.get_by_role("spinbutton", name="Your answer")
    answer.fill(str(question.answer + 1))
    app_page.run(page.get_by_role("button", name="Commit to this answer").click)
    expect(page.get_by_text(f"the answer is {question.answer:,}")).to_be_visible()

    answer.fill(str(question.answer))
    app_page.run(page.get_by_role("button", name="Commit to this answer").click)
    expect(page.get_by_text(f"Right: {question.answer:,}.")).to_be_visible()
    app_page.screenshot("architecture-quiz")


def test_the_architecture_page_opens_at_its_own_address(app_page):
    app_page.open("architecture")
    page = app_page.page
    expect(page.get_by_role("heading", name="Architecture").first).to_be_visible()
    assert page.get_by_text("Page not found").count() == 0
    assert TOOLS <= set(app_page.navigation())
    assert "common" not in app_page.navigation()
    expect(page.get_by_test_id("stSidebar").get_by_text("Active model")).to_be_visible()


def test_a_fresh_servers_first_visitor_by_link_gets_the_whole_app(app):
    """The app's first session opened /architecture (see the `app` fixture).

    A folder named pages/ beside streamlit_app.py starts Streamlit in its old
    multipage mode, where such a visitor would get the page file alone: no
    shared sidebar, and every file of pages/ listed as a page.
    """
    assert TOOLS <= set(app.first_contact["links"])
    assert "common" not in app.first_contact["links"]
    assert app.first_contact["active model box"]
