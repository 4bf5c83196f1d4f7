"""The app shell: navigation over the pages that exist, the active model."""

import pathlib

from streamlit.testing.v1 import AppTest

from core import registry

APP = "../streamlit_app.py"
REPO = pathlib.Path(__file__).resolve().parent.parent


def test_shell_lists_existing_pages_and_shows_the_shipped_model(monkeypatch):
    monkeypatch.delenv(registry.MODELS_ENV, raising=False)
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception
    active = at.sidebar.selectbox[0]
    assert active.label == "Active model"
    assert active.value == registry.SHIPPED_MODEL
    assert "test accuracy on 25,000 reviews" in at.sidebar.caption[0].value


def test_without_models_the_sidebar_says_how_to_get_one(monkeypatch, tmp_path):
    monkeypatch.setenv(registry.MODELS_ENV, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=90).run()
    assert not at.exception
    assert "No trained model yet" in at.sidebar.warning[0].value
