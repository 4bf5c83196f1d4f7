"""What every page shares: the active model, the data, caches and the sidebar.

Caching by kind: the reviews and their token ids are large and read-only, so
one copy serves every session (`st.cache_resource`, never mutated); loaded
models are shared the same way; what one student trains lives in their
`st.session_state`.
"""

import functools
import inspect
import os
import pathlib

import plotly.graph_objects as go
import streamlit as st

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import data, registry
from core.config import Hyperparameters

ACTIVE_MODEL_KEY = "active_model"
DATA_SOURCE_KEY = "data_source"


def keep_keras_state_between_reruns() -> None:
    """Stop Streamlit from clearing Keras' session after every script run.

    Streamlit calls `keras.backend.clear_session()` after each run, which
    empties TensorFlow's kernel cache (every first prediction after a rerun
    then costs 10x more) and starves a training thread. The models here are
    shared read-only objects, so there is no state to clear. The option
    `runner.postScriptGC` (off in .streamlit/config.toml) is the other half.
    """
    from streamlit.runtime.scriptrunner import script_runner

    def clean_without_keras() -> None:
        import sys

        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is not None:
            pyplot.close("all")

    if getattr(script_runner, "_clean_problem_modules", None) is not None:
        script_runner._clean_problem_modules = clean_without_keras


def leave_legacy_pages_mode() -> None:
    """Make sure every run goes through `streamlit_app.py`'s navigation.

    Because the page files live in a folder named `pages/`, Streamlit starts
    each server in its older multipage mode, where the very first run of a
    page-URL runs that file on its own (no shared sidebar, a page list made
    from every file in the folder) until some run calls `st.navigation`. When
    that happens, switch the mode off and start the run again through the
    app's navigation.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


# Data ----------------------------------------------------------------------


def data_source() -> str:
    """The session's chosen source, else $GRU_LAB_DATA, else tensorflow-datasets."""
    return data.configured_source(st.session_state.get(DATA_SOURCE_KEY))


@st.cache_resource(show_spinner="Reading the IMDB reviews...", max_entries=2)
def _load_imdb(source: str) -> data.ImdbData:
    if source == data.TFDS_SOURCE:
        return data.load_tfds()
    return data.load_local(source)


def load_imdb() -> data.ImdbData | None:
    """The reviews, or None after showing the user how to provide them."""
    try:
        return _load_imdb(data_source())
    except data.DataUnavailableError as error:
        st.error(f"The IMDB reviews could not be loaded. {error}")
        return None


# Models --------------------------------------------------------------------


def _model_stamp(name: str) -> float:
    folder = registry.default_models_dir() / name
    try:
        return (folder / registry.MODEL_FILE).stat().st_mtime
    except OSError:
        return 0.0


@st.cache_resource(show_spinner="Loading the model...", max_entries=8)
def _predictor(name: str, stamp: float):
    from core.inference import Predictor

    predictor = Predictor(registry.load_model(name))
    predictor.warm_up()
    return predictor


def predictor(name: str | None = None):
    """A shared, warmed-up Predictor for a saved model (the active one by default)."""
    name = name or active_model_name()
    return _predictor(name, _model_stamp(name))


@st.cache_resource(show_spinner=False, max_entries=4)
def _saved_runs(root: str, stamp: int) -> tuple[dict, ...]:
    return tuple(registry.list_runs(root))


def saved_runs() -> list[dict]:
    """Cards of the saved runs (shared: read them, never change them).

    The cards are read again only when the models folder changes: a run is
    saved, replaced or deleted by renaming a folder inside it, which moves
    the folder's modification time.
    """
    root = registry.default_models_dir()
    try:
        stamp = root.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return list(_saved_runs(str(root), stamp))


def active_model_name() -> str | None:
    """The model the pages use: the session's choice, else the shipped one."""
    names = [card["name"] for card in saved_runs()]
    chosen = st.session_state.get(ACTIVE_MODEL_KEY)
    if chosen in names:
        return chosen
    if registry.SHIPPED_MODEL in names:
        return registry.SHIPPED_MODEL
    return names[0] if names else None


def set_active_model(name: str) -> None:
    st.session_state[ACTIVE_MODEL_KEY] = name


def active_card() -> dict | None:
    name = active_model_name()
    if name is None:
        return None
    try:
        return registry.load_card(name)
    except (FileNotFoundError, ValueError):
        return None


def active_model_hyperparameters() -> Hyperparameters | None:
    card = active_card()
    return registry.hyperparameters_of(card) if card else None


# Layout --------------------------------------------------------------------


def describe_card(card: dict) -> str:
    test = card.get("test") or {}
    accuracy = test.get("accuracy")
    score = f"{accuracy:.3f} test accuracy" if accuracy is not None else "not scored"
    size = test.get("size")
    on = f" on {size:,} reviews" if size else ""
    return f"{score}{on}"


def sidebar() -> None:
    """The active model and the data source, on every page."""
    with st.sidebar:
        runs = saved_runs()
        names = [card["name"] for card in runs]
        active = active_model_name()
        if not names:
            st.warning(
                "No trained model yet: train one on the Train page, or run "
                "`python -m core.train --preset classroom`."
            )
        else:
            chosen = st.selectbox(
                "Active model",
                names,
                index=names.index(active) if active in names else 0,
                help="The model the Playground and Architecture pages use.",
            )
            if chosen != active:
                set_active_model(chosen)
            card = next(card for card in runs if card["name"] == chosen)
            st.caption(describe_card(card))
        with st.expander("Data source"):
            st.text_input(
                "IMDB reviews",
                key=DATA_SOURCE_KEY,
                placeholder=os.environ.get(data.DATA_ENV) or "tensorflow-datasets",
                help=(
                    "An aclImdb folder or a .tar.gz of it. Empty: the "
                    f"{data.DATA_ENV} environment variable, else tensorflow-datasets."
                ),
            )
            st.caption(f"Using: `{data_source()}`")


@functools.cache
def _source(function) -> tuple[str, str]:
    """(file name, source) of a function; read once per process."""
    return pathlib.Path(inspect.getsourcefile(function)).name, inspect.getsource(
        function
    )


def show_code(*functions) -> None:
    """An expander with the source of the `core` functions a page used."""
    with st.expander("Show the code"):
        for function in functions:
            path, source = _source(function)
            st.caption(f"`{function.__module__}.{function.__qualname__}` ({path})")
            st.code(source, language="python")


# Figures -------------------------------------------------------------------


def plain_figure(data: list[dict], layout: dict) -> go.Figure:
    """A plotly figure from plain trace and layout dicts, built unvalidated.

    Building a figure through plotly's graph objects checks every property as
    it is set: 2-20 ms per figure on two cores, most of a Playground run's
    time when a class of 30 shares one server. The pages write their figures
    as the dicts plotly's JSON format takes, and the page tests validate every
    figure they draw (`go.Figure(spec)` on the sent spec), so a wrong property
    still fails loudly - in the tests instead of on every run.
    """
    return go.Figure({"data": data, "layout": layout}, _validate=False)


# Runs on the first import in every process: a no-op once the app's own
# navigation is in charge, and outside a Streamlit server.
leave_legacy_pages_mode()
