"""The Playground in Chromium: type a review, read the verdict and the charts."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

NEGATIVE_REVIEW = "An awful, boring film: the worst I have seen in years."
POSITIVE_REVIEW = (
    "A wonderful, moving film with a brilliant cast. I loved every minute."
)
HOSTILE_REVIEW = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


def word_count(review: str) -> int:
    """Tokens of a plain review: words left after punctuation is stripped."""
    return len(re.sub(r"[^\w\s]", "", review).split())


def submit_review(app_page, review: str) -> None:
    box = app_page.page.get_by_role("textbox", name="A movie review")
    box.fill(review)
    app_page.run(lambda: box.press("Control+Enter"))


def shown_probability(app_page) -> float:
    """P(positive) as the caption under the verdict states it."""
    caption = app_page.page.get_by_test_id("stCaptionContainer").filter(
        has_text="P(positive) ="
    )
    text = caption.inner_text()
    return float(re.search(r"P\(positive\) = (\d\.\d+)", text).group(1))


def test_reviews_get_a_verdict_tokens_and_charts(app_page):
    app_page.open("playground")
    page = app_page.page
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()

    submit_review(app_page, NEGATIVE_REVIEW)
    assert app_page.exceptions() == []
    expect(page.get_by_role("heading", name="Negative", exact=True)).to_be_visible()
    probability = shown_probability(app_page)
    assert probability < 0.5
    # the gauge draws the same number, as a percentage
    gauge_number = page.locator('[data-testid="stPlotlyChart"] text.number').first
    expect(gauge_number).to_have_text(f"{probability * 100:.1f}%")
    expect(app_page.metric("Tokens")).to_have_text(str(word_count(NEGATIVE_REVIEW)))
    expect(app_page.metric("Cut tokens")).to_have_text("0")
    # the verdict, the 300 slots, the words that moved it, the gates, the split
    app_page.drawn_charts(at_least=5)
    expect(
        page.locator("strong", has_text="Which words moved the prediction")
    ).to_be_visible()
    app_page.screenshot("playground-negative-review")

    submit_review(app_page, POSITIVE_REVIEW)
    expect(page.get_by_role("heading", name="Positive", exact=True)).to_be_visible()
    assert shown_probability(app_page) >= 0.5
    expect(app_page.metric("Tokens")).to_have_text(str(word_count(POSITIVE_REVIEW)))
    app_page.screenshot("playground-positive-review")

    # An example longer than the 300 slots: the rest is cut.
    app_page.run(page.get_by_role("button", name="Longer than 300 tokens").click)
    box = page.get_by_role("textbox", name="A movie review")
    assert box.input_value().startswith("I went into this film")
    expect(app_page.metric("Padded slots")).to_have_text("0")
    assert int(app_page.metric("Cut tokens").inner_text().replace(",", "")) > 0
    assert app_page.exceptions() == []
    app_page.screenshot("playground-long-example")


def test_markup_in_a_review_shows_as_text_and_runs_nothing(app_page):
    app_page.open("playground")
    page = app_page.page

    submit_review(app_page, HOSTILE_REVIEW)
    assert page.evaluate("window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0
    box = page.get_by_role("textbox", name="A movie review")
    assert box.input_value() == HOSTILE_REVIEW
    # the review was read as words, not markup
    assert app_page.metric("Tokens").inner_text() != "0"
    assert app_page.exceptions() == []

    # The sidebar echoes the data source a student types; it must stay text too.
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Data source").click()  # an expander: no rerun
    source = sidebar.get_by_role("textbox", name="IMDB reviews")
    source.fill(HOSTILE_REVIEW)
    app_page.run(lambda: source.press("Enter"))
    expect(sidebar.get_by_text(HOSTILE_REVIEW).first).to_be_visible()
    assert page.evaluate("window.__xss") is None
    assert page.locator('img[src="x"]').count() == 0
    assert app_page.page_errors == []
    app_page.screenshot("playground-markup-as-text")


def test_home_leads_to_the_playground(app_page):
    app_page.open("")  # the app's root: the Home page
    page = app_page.page
    assert page.get_by_text("Page not found").count() == 0
    app_page.screenshot("home")
    main = page.get_by_test_id("stMain")
    app_page.run(main.get_by_role("link", name="Open the Playground").click)
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    expect(page.get_by_role("heading", name="The prediction")).to_be_visible()
    assert page.url.endswith("/playground")
    assert app_page.exceptions() == []
