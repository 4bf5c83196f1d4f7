"""Train: choose the hyperparameters, press Train, watch the curves grow.

Training never runs inside this script. A process-wide job board
(`core.jobs.JobBoard`, one per server) owns a worker thread per run and limits
how many train at once; this page starts a job, asks it to stop, and draws its
progress from a fragment that polls the job every second while it runs.

Settings live in session-state keys of their own (widget values are dropped
when the student opens another page) and in the URL, so a link carries them.
"""

import collections
import dataclasses
import functools
import threading
import uuid
from collections.abc import Callable

import pandas as pd
import streamlit as st

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import charts, jobs, params, registry, training
from core.config import PRESET_DESCRIPTIONS, PRESETS, Hyperparameters
from pages import common

SETTINGS_KEY = "train.settings"  # the hyperparameters as a dict; survives leaving
URL_READ_KEY = "train.url_read"  # the URL's settings were read once this session
JOB_KEY = "train.job"  # this session's latest TrainingJob
OWNER_KEY = "train.owner"  # who this session is, for the job board's messages
SESSION_RUNS_KEY = "train.session_runs"  # names of the runs started here
OVERLAYS_KEY = "train.overlays"  # earlier runs drawn behind the curves
SERIES_KEY = "train.chart_series"  # trace names of the last curves drawn (tests)
WIDGET = "train.w."  # prefix of the widgets' own keys

LAB = PRESETS["lab"]


# Controls ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Control:
    """One hyperparameter's widget: its choices and a one-line hint."""

    field: str
    label: str
    hint: str
    choices: tuple = ()  # values offered (the current one is always added)
    kind: str = "slider"  # a select_slider; or "radio", "toggle", "number", "text"
    names: dict | None = None  # how values read, when not plain numbers


def _count(value) -> str:
    return f"{value:,}"


def _train_size_name(value: int) -> str:
    return f"{value:,} (all)" if value >= jobs.FULL_TRAIN_SIZE else f"{value:,}"


CELL_NAMES = {"gru": "GRU", "lstm": "LSTM", "simple_rnn": "SimpleRNN"}

TEXT_CONTROLS = (
    Control(
        "vocab_size",
        "Vocabulary size",
        "The most frequent words get an id; every other word becomes [UNK].",
        (500, 1_000, 2_000, 5_000, 10_000, 20_000, 30_000),
    ),
    Control(
        "sequence_length",
        "Sequence length (tokens)",
        "Tokens read per review; longer reviews are cut (a quarter of them at 300).",
        (40, 50, 100, 150, 200, 300, 400, 500),
    ),
)
MODEL_CONTROLS = (
    Control(
        "embedding_dim",
        "Embedding size",
        "Numbers per word vector: how much each word can say on its own.",
        (8, 16, 32, 64, 128, 256),
    ),
    Control(
        "units",
        "Units per direction",
        "Size of the cell's memory (its state vector); cost grows with its square.",
        (4, 8, 16, 32, 64, 128, 256),
    ),
    Control(
        "cell",
        "Cell",
        "GRU: two gates; LSTM: three gates and a cell state; SimpleRNN: no gates.",
        tuple(CELL_NAMES),
        kind="radio",
        names=CELL_NAMES,
    ),
    Control(
        "bidirectional",
        "Bidirectional",
        "Read each review forwards and backwards and join the two final states.",
        kind="toggle",
    ),
    Control(
        "mask_padding",
        "Mask padding",
        "Let the cell skip the padding zeros instead of reading them as words.",
        kind="toggle",
    ),
    Control(
        "dropout_rate",
        "Dropout",
        "Share of the final state zeroed at random in training, against overfitting.",
        (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    ),
)
TRAINING_CONTROLS = (
    Control(
        "learning_rate",
        "Learning rate",
        "Adam's step size: too small learns slowly, too large jumps around.",
        (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2),
    ),
    Control(
        "batch_size",
        "Batch size",
        "Reviews per gradient step; larger batches give smoother, fewer steps.",
        (16, 32, 64, 128, 256),
    ),
    Control(
        "epochs",
        "Epochs (at most)",
        "Passes over the training reviews; early stopping may end sooner.",
        tuple(range(1, 21)),
    ),
    Control(
        "patience",
        "Early-stopping patience",
        "Epochs without a lower validation loss before training stops.",
        tuple(range(11)),
    ),
    Control(
        "train_size",
        "Training reviews",
        "Reviews drawn (half positive) for training, a fifth of them for validation.",
        (120, 500, 1_000, 2_000, 4_000, 8_000, 12_500, 25_000),
    ),
)
MORE_CONTROLS = (
    Control(
        "validation_fraction",
        "Validation share",
        "Share of the training reviews held out to watch for overfitting.",
        (0.1, 0.15, 0.2, 0.25, 0.3),
    ),
    Control(
        "merge_mode",
        "Merge mode",
        "How the two directions' final states are joined (bidirectional only).",
        ("concat", "sum", "ave", "mul"),
        kind="radio",
    ),
    Control(
        "reset_after",
        "reset_after (Keras' GRU variant)",
        "Apply the reset gate after the recurrent product (two biases per gate).",
        kind="toggle",
    ),
    Control(
        "length_bucketing",
        "Length-bucketed batches (fast path)",
        "Batch reviews of similar length and cut each batch to its longest review.",
        kind="toggle",
    ),
    Control(
        "fast_gru",
        "Fast GRU loop (core.fast_gru)",
        "Train the GRU with the project's own loop: Keras' weights and arithmetic, "
        "about half the time per batch. Only for the GRU with reset_after; other "
        "cells always train with Keras' layers.",
        kind="toggle",
    ),
    Control(
        "seed", "Seed", "Same seed, same split, shuffling and start.", kind="number"
    ),
)
_CONTROLLED = {
    control.field
    for control in TEXT_CONTROLS + MODEL_CONTROLS + TRAINING_CONTROLS + MORE_CONTROLS
}
# Any hyperparameter added to core.config later still gets a plain widget.
MORE_CONTROLS += tuple(
    Control(
        field.name,
        field.name.replace("_", " ").capitalize(),
        f"`{field.name}` in core/config.py.",
        kind={"bool": "toggle", "str": "text"}.get(
            getattr(field.type, "__name__", field.type), "number"
        ),
    )
    for field in dataclasses.fields(Hyperparameters)
    if field.name not in _CONTROLLED
)
NAMES: dict[str, Callable] = {
    "vocab_size": _count,
    "sequence_length": _count,
    "train_size": _train_size_name,
    "learning_rate": lambda value: f"{value:g}",
}


def _choices(control: Control, current) -> list:
    """The control's choices with the current value (from a link, say) added."""
    return sorted(set(control.choices) | {current})


def _draw_control(control: Control, settings: dict) -> None:
    """One widget with a key of its own, seeded from (and copied back to) settings."""
    key = WIDGET + control.field
    if key not in st.session_state:
        st.session_state[key] = settings[control.field]
    current = st.session_state[key]
    if control.kind == "slider":
        names = NAMES.get(control.field, str)
        st.select_slider(
            control.label,
            _choices(control, current),
            key=key,
            help=control.hint,
            format_func=names,
        )
    elif control.kind == "radio":
        names = control.names or {}
        st.radio(
            control.label,
            _choices(control, current) if not control.names else list(control.choices),
            key=key,
            help=control.hint,
            horizontal=True,
            format_func=lambda value: names.get(value, value),
        )
    elif control.kind == "toggle":
        st.toggle(control.label, key=key, help=control.hint)
    elif control.kind == "text":
        st.text_input(control.label, key=key, help=control.hint)
    else:
        low = 0 if isinstance(current, int) else 0.0
        st.number_input(control.label, min_value=low, key=key, help=control.hint)
    settings[control.field] = st.session_state[key]


def _apply(values: dict) -> None:
    """Put `values` into the settings and every widget (in a callback, before
    the widgets are drawn)."""
    settings = st.session_state[SETTINGS_KEY]
    settings.update(values)
    for field, value in values.items():
        st.session_state[WIDGET + field] = value


def _apply_preset(name: str) -> None:
    _apply(PRESETS[name].to_dict())


def _preset_of(settings: dict) -> str | None:
    for name, preset in PRESETS.items():
        if preset.to_dict() == settings:
            return name
    return None


# The URL -----------------------------------------------------------------------

_FIELD_TYPES = {field.name: field.type for field in dataclasses.fields(Hyperparameters)}


def _url_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _parse_url_value(field: str, text: str):
    kind = _FIELD_TYPES[field]
    kind = getattr(kind, "__name__", kind)
    if kind == "bool":
        if text.lower() in ("true", "1", "yes", "on"):
            return True
        if text.lower() in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text


def settings_from_url(query: dict[str, str]) -> tuple[dict, list[str]]:
    """The lab's settings changed by the link's values, and what was ignored.

    All values are tried together first (some only make sense together, such
    as a small `train_size` with its `validation_fraction`), then one by one.
    """
    problems, parsed = [], {}
    for field in _FIELD_TYPES:
        if field in query:
            try:
                parsed[field] = _parse_url_value(field, query[field])
            except ValueError as error:
                problems.append(f"`{field}={query[field]}` ({error})")
    try:
        return Hyperparameters.from_dict(LAB.to_dict() | parsed).to_dict(), problems
    except ValueError:
        pass
    settings = LAB.to_dict()
    for field, value in parsed.items():
        try:
            Hyperparameters.from_dict(settings | {field: value})
        except ValueError as error:
            problems.append(f"`{field}={query[field]}` ({error})")
            continue
        settings[field] = value
    return settings, problems


def url_of(settings: dict) -> dict[str, str]:
    """The settings that differ from the lab's, as URL values."""
    lab = LAB.to_dict()
    return {
        field: _url_value(value)
        for field, value in settings.items()
        if field in lab and value != lab[field]
    }


def _write_url(settings: dict) -> None:
    wanted = url_of(settings)
    for field in _FIELD_TYPES:
        if field in st.query_params and field not in wanted:
            del st.query_params[field]
    for field, value in wanted.items():
        if st.query_params.get(field) != value:
            st.query_params[field] = value


# Shared resources: the job board and the prepared reviews ------------------------


@st.cache_resource
def _job_board() -> jobs.JobBoard:
    """One board for every session: the limit on runs training at once."""
    return jobs.JobBoard()


class VectorizedStore:
    """Reviews vectorized once per (source, vocab_size, sequence_length).

    Shared by every session and filled by the training threads themselves
    (no Streamlit call there); a second request for the same key waits for
    the first instead of vectorizing again.
    """

    def __init__(self, max_entries: int = 3):
        self.max_entries = max_entries
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict = {}

    def has(self, source: str, vocab_size: int, sequence_length: int) -> bool:
        with self._lock:
            return (source, vocab_size, sequence_length) in self._entries

    def get(self, imdb, vocab_size: int, sequence_length: int):
        key = (imdb.source, vocab_size, sequence_length)
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
                    return self._entries[key]
            vectorized = training.vectorize_imdb(imdb, vocab_size, sequence_length)
            with self._lock:
                self._entries[key] = vectorized
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            return vectorized


@st.cache_resource
def _vectorized_store() -> VectorizedStore:
    return VectorizedStore()


# Starting and stopping -------------------------------------------------------


def _start(hp: Hyperparameters) -> None:
    """Submit a job for `hp`, or say why not (next to the buttons)."""
    imdb = common.load_imdb()
    if imdb is None:
        return
    store = _vectorized_store()
    job = jobs.TrainingJob(
        hp,
        functools.partial(store.get, imdb, hp.vocab_size, hp.sequence_length),
        models_dir=registry.default_models_dir(),
        owner=st.session_state[OWNER_KEY],
        data_ready=store.has(imdb.source, hp.vocab_size, hp.sequence_length),
    )
    try:
        _job_board().submit(job)
    except jobs.JobRefused as refusal:
        st.warning(str(refusal), icon=":material/hourglass_top:")
        return
    st.session_state[JOB_KEY] = job
    st.session_state[SESSION_RUNS_KEY].append(job.name)
    st.rerun()  # draw the page again with Stop enabled and the live panel polling


def _stop() -> None:
    job = st.session_state.get(JOB_KEY)
    if job is not None:
        job.stop()


# Drawing ---------------------------------------------------------------------


def _progress_text(progress: jobs.Progress) -> str:
    if progress.finished:
        ended = {jobs.DONE: "Done", jobs.STOPPED: "Stopped", jobs.FAILED: "Failed"}
        return f"{ended[progress.status]} after {jobs.format_seconds(progress.elapsed)}"
    parts = []
    if progress.status == jobs.TRAINING and progress.batch_points:
        parts.append(f"Epoch {progress.epoch + 1} of {progress.epochs}")
        parts.append(f"batch {progress.step} of {progress.steps_per_epoch}")
    else:
        parts.append(progress.message)
    parts.append(f"{jobs.format_seconds(progress.elapsed)} elapsed")
    parts.append(f"about {jobs.format_seconds(progress.eta_seconds)} left")
    return " · ".join(parts)


def _draw_curves(progress: jobs.Progress | None, overlays, total_epochs: int) -> None:
    if progress is None:
        batches = epochs = None
        best = stop = reason = None
    else:
        batches, epochs = jobs.progress_frames(progress)
        best, stop, reason = (
            progress.best_epoch,
            progress.stop_epoch,
            progress.stop_reason,
        )
        total_epochs = progress.epochs
    figure = charts.curves_figure(
        batches,
        epochs,
        total_epochs=total_epochs,
        best_epoch=best,
        stop_epoch=stop,
        stop_reason=reason,
        overlays=overlays,
    )
    st.session_state[SERIES_KEY] = charts.series_names(figure)
    st.plotly_chart(figure, key="train.curves", config={"displaylogo": False})


def _live(job: jobs.TrainingJob | None, overlays, total_epochs: int) -> None:
    """Progress and curves; polls every second while this session's job runs."""
    polling = job is not None and not job.finished

    @st.fragment(run_every=1.0 if polling else None)
    def panel() -> None:
        progress = job.progress() if job is not None else None
        if progress is not None:
            if progress.status == jobs.FAILED:
                st.error(f"Training failed: {progress.error}")
            elif progress.stop_reason is None and job.stop_requested:
                st.caption(progress.message)
            st.progress(progress.fraction, text=_progress_text(progress))
        if progress is not None or overlays:
            _draw_curves(progress, overlays, total_epochs)
        else:
            st.info(
                "Press **Train** to watch the loss and accuracy curves grow, batch "
                "by batch, or pick earlier runs under *Compare runs* to see theirs.",
                icon=":material/show_chart:",
            )
        if polling and progress is not None and progress.finished:
            st.rerun()  # the whole page: results, and the buttons' new state

    panel()


def _draw_results(job: jobs.TrainingJob) -> None:
    progress = job.progress()
    if progress.status == jobs.FAILED or not progress.saved:
        if progress.status != jobs.FAILED:
            st.info(progress.message)
        return
    card = registry.load_card(job.name, job.models_dir)
    test = card["test"]

    st.subheader(f"Results: {job.name}")
    if progress.status == jobs.STOPPED:
        st.info(progress.message, icon=":material/stop_circle:")
    else:
        st.success(progress.message)
    best = card["validation"]
    accuracy, loss, size = test["accuracy"], test["loss"], test["size"]
    columns = st.columns(4)
    columns[0].metric(
        "Test accuracy",
        f"{accuracy:.3f}",
        f"{accuracy - charts.LAB_TEST_ACCURACY:+.3f} vs. the lab's "
        f"{charts.LAB_TEST_ACCURACY}",
    )
    columns[1].metric("Test loss", f"{loss:.3f}")
    columns[2].metric(
        "Best validation accuracy",
        f"{best['accuracy']:.3f}",
        f"epoch {card['training']['best_epoch']}",
        delta_color="off",
        delta_arrow="off",
    )
    columns[3].metric(
        "Training time",
        jobs.format_seconds(card["training"]["seconds"]),
        f"{card['training']['epochs_run']} epoch(s)",
        delta_color="off",
        delta_arrow="off",
    )
    if progress.test_sampled:
        st.caption(
            f"Scored on a balanced sample of {size:,} of the 25,000 test reviews "
            "(a quick run); a run on all 25,000 training reviews is scored on "
            "every test review."
        )
    else:
        st.caption(f"Scored on all {size:,} test reviews.")

    left, right = st.columns([2, 3])
    with left:
        st.markdown("**Confusion matrix** (test reviews)")
        st.plotly_chart(
            charts.confusion_figure(test["confusion"]),
            key="train.confusion",
            config={"displaylogo": False},
        )
    with right:
        st.markdown("**History** (per epoch; the starred epoch's weights were kept)")
        history = pd.DataFrame(card["history"])
        best_epoch = card["training"]["best_epoch"]
        history["kept"] = ["★" if e == best_epoch else "" for e in history["epoch"]]
        order = ["epoch", "kept", "loss", "accuracy", "val_loss", "val_accuracy"]
        history = history[[c for c in order + ["seconds"] if c in history]]
        st.dataframe(
            history,
            hide_index=True,
            column_config={
                key: st.column_config.NumberColumn(format="%.3f")
                for key in ("loss", "accuracy", "val_loss", "val_accuracy")
            }
            | {"seconds": st.column_config.NumberColumn(format="%.1f s")},
        )

    folder = registry.run_folder(job.name, job.models_dir)
    columns = st.columns(3)
    columns[0].download_button(
        "Curves (CSV)",
        jobs.curves_table(progress).to_csv(index=False),
        file_name=f"{job.name}-curves.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/download:",
    )
    columns[1].download_button(
        "Model (.keras)",
        lambda: (folder / registry.MODEL_FILE).read_bytes(),
        file_name=f"{job.name}.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
    )
    active = common.active_model_name() == job.name
    columns[2].button(
        "Active on the other pages" if active else "Use this model",
        key="train.use",
        on_click=common.set_active_model,
        args=(job.name,),
        disabled=active,
        type="primary",
        icon=":material/check_circle:" if active else ":material/input:",
        help="Make it the model the Playground and Architecture pages use.",
    )


def _comparison_table(cards: list[dict], session_runs: list[str]) -> pd.DataFrame:
    rows = []
    for card in cards:
        hp = card.get("hyperparameters", {})
        trained = card.get("training", {})
        test = card.get("test") or {}
        rows.append(
            {
                "run": card["name"],
                "here": "✓" if card["name"] in session_runs else "",
                "best val acc": (card.get("validation") or {}).get("accuracy"),
                "test acc": test.get("accuracy"),
                "test reviews": test.get("size"),
                "epochs": trained.get("epochs_run"),
                "seconds": trained.get("seconds"),
                "stop": trained.get("stop_reason"),
                "cell": CELL_NAMES.get(hp.get("cell"), hp.get("cell")),
                "bidir.": hp.get("bidirectional"),
                "units": hp.get("units"),
                "embedding": hp.get("embedding_dim"),
                "vocab": hp.get("vocab_size"),
                "seq. len": hp.get("sequence_length"),
                "mask": hp.get("mask_padding"),
                "dropout": hp.get("dropout_rate"),
                "learning rate": hp.get("learning_rate"),
                "batch": hp.get("batch_size"),
                "train reviews": hp.get("train_size"),
                "created": card.get("created"),
            }
        )
    return pd.DataFrame(rows)


def _draw_comparison(cards: list[dict]) -> None:
    st.subheader("Compare runs")
    if not cards:
        st.caption("No saved runs yet.")
        return
    table = _comparison_table(cards, st.session_state[SESSION_RUNS_KEY])
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "best val acc": st.column_config.NumberColumn(format="%.3f"),
            "test acc": st.column_config.NumberColumn(format="%.3f"),
            "test reviews": st.column_config.NumberColumn(format="localized"),
            "train reviews": st.column_config.NumberColumn(format="localized"),
            "seconds": st.column_config.NumberColumn(format="%.0f"),
            "learning rate": st.column_config.NumberColumn(format="%g"),
        },
    )
    st.caption(
        f"Click a column to sort. For reference, the lab's own model reached "
        f"{charts.LAB_TEST_ACCURACY} test accuracy (the dotted line on the accuracy "
        "chart). Quick runs are scored on a 5,000-review sample, and short runs "
        "vary by a few points from seed to seed."
    )


# The page ----------------------------------------------------------------------

st.session_state.setdefault(SETTINGS_KEY, LAB.to_dict())
st.session_state.setdefault(OWNER_KEY, uuid.uuid4().hex[:8])
st.session_state.setdefault(SESSION_RUNS_KEY, [])
st.session_state.setdefault(OVERLAYS_KEY, [])
settings = st.session_state[SETTINGS_KEY]

# A shared link's settings win once, when the page first opens in a session.
if not st.session_state.get(URL_READ_KEY):
    st.session_state[URL_READ_KEY] = True
    if any(field in st.query_params for field in _FIELD_TYPES):
        from_url, problems = settings_from_url(st.query_params.to_dict())
        _apply(from_url)
        if problems:
            st.warning("Some settings in the link were ignored: " + "; ".join(problems))

st.title("Train")
st.markdown(
    "Choose how big the model is and how it learns, press **Train**, and watch "
    "the loss and accuracy curves grow batch by batch.  \nThen score it on "
    "reviews it has never seen, compare it with earlier runs, and use it on the "
    "other pages."
)

try:
    board = _job_board()
except ValueError as error:
    st.error(str(error))
    st.stop()

# Presets and controls.
preset_columns = st.columns([1, 1, 1, 5], vertical_alignment="center")
for column, name in zip(preset_columns, PRESETS):
    column.button(
        name.capitalize(),
        key=f"train.preset.{name}",
        on_click=_apply_preset,
        args=(name,),
        help=PRESET_DESCRIPTIONS[name],
        width="stretch",
    )
current_preset = _preset_of(settings)
preset_columns[3].caption(
    f"Presets. Now: **{current_preset}** - {PRESET_DESCRIPTIONS[current_preset]}"
    if current_preset
    else "Presets. Now: your own settings."
)

text_column, model_column, training_column = st.columns(3, gap="large")
with text_column:
    st.markdown("**Text**")
    for control in TEXT_CONTROLS:
        _draw_control(control, settings)
with model_column:
    st.markdown("**Model**")
    for control in MODEL_CONTROLS:
        _draw_control(control, settings)
with training_column:
    st.markdown("**Training**")
    for control in TRAINING_CONTROLS:
        _draw_control(control, settings)
    with st.expander("More settings"):
        for control in MORE_CONTROLS:
            _draw_control(control, settings)
_write_url(settings)

try:
    hp = Hyperparameters.from_dict(settings)
except ValueError as error:
    hp = None
    st.error(f"These settings cannot be trained: {error}")

# How long it should take, and whether the machine is free.
job: jobs.TrainingJob | None = st.session_state.get(JOB_KEY)
running = job is not None and not job.finished
if hp is not None:
    source = common.data_source()
    ready = _vectorized_store().has(source, hp.vocab_size, hp.sequence_length)
    plan = board.estimate(hp, data_ready=ready)
    st.markdown(
        f"**{params.total_params(hp):,} parameters.** Expected time on this "
        f"machine: {plan.describe()}."
        + (" Early stopping may end it sooner." if hp.epochs > 1 else "")
    )
others = [other for other in board.running() if other is not job]
if others and not running:
    eta = min(other.progress().eta_seconds or 0 for other in others)
    if len(others) >= board.max_running:
        st.info(
            f"Another run is training on this machine right now (about "
            f"{jobs.format_seconds(eta)} left); Train will say so until it ends.",
            icon=":material/hourglass_top:",
        )

button_columns = st.columns([1, 1, 5])
train_clicked = button_columns[0].button(
    "Train",
    key="train.train",
    type="primary",
    icon=":material/play_arrow:",
    disabled=hp is None,
    width="stretch",
)
button_columns[1].button(
    "Stop",
    key="train.stop",
    on_click=_stop,
    icon=":material/stop:",
    disabled=not running,
    help="End after the current batch and keep the best weights so far.",
    width="stretch",
)
if train_clicked and hp is not None:
    _start(hp)  # reruns the page once the job has started

# The curves: live while training, then the finished run's, with the earlier
# runs chosen under "Compare runs" behind them (read before that widget is drawn).
saved = common.saved_runs()
overlay_key = WIDGET + "overlays"
overlay_options = [
    card["name"] for card in saved if job is None or card["name"] != job.name
]
chosen = st.session_state.get(overlay_key, st.session_state[OVERLAYS_KEY])
chosen = [name for name in chosen if name in overlay_options]
st.session_state[overlay_key] = st.session_state[OVERLAYS_KEY] = chosen
overlays = [charts.overlay_from_card(card) for card in saved if card["name"] in chosen]
_live(job, overlays, hp.epochs if hp is not None else LAB.epochs)

if job is not None and job.finished:
    _draw_results(job)

_draw_comparison(saved)
if overlay_options:
    st.multiselect(
        "Overlay earlier runs on the curves (validation, dashed)",
        overlay_options,
        key=overlay_key,
        max_selections=len(charts.OVERLAY_COLOURS),
        help="Saved runs - this session's and older ones - drawn behind the curves.",
    )

common.show_code(training.EventCallback, jobs.TrainingJob._run, charts.curves_figure)
