"""Playground: type a review; see what the model reads, what it says, and why.

Tokens and the prediction come first (milliseconds); the explanations - word
influence in one batch, the gates from a NumPy re-run of the GRU - follow
below them and are kept in the session for the text they were computed for.
"""

import html
import math
import time

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import explain, inference, text
from pages import common

REVIEW_KEY = "playground.review"  # the text; survives leaving the page
BOX_KEY = "playground.review_box"  # the text area's own key (dropped on leaving)
ORIGIN_KEY = "playground.origin"  # a drawn test review's label and stars
EXPLAINED_KEY = "playground.explained"  # the last explanation and what it was for
UNIT_GATE_KEY = "playground.unit_gate"  # which gate the per-unit heat maps show
UNITS_SHOWN_KEY = "playground.units_shown"  # whether the per-unit heat maps are drawn

POSITIVE_COLOUR = "#2e9e62"
NEGATIVE_COLOUR = "#d0473a"
UPDATE_COLOUR = "#2f6fdf"  # as on the Architecture page
RESET_COLOUR = "#e07b39"
# Light for a gate near 0, dark blue near 1, written out: plotly.js' own
# "Blues" runs the other way round from plotly's Python one.
GATE_SCALE = plotly.colors.make_colorscale(plotly.colors.sequential.Blues)
GRID_COLUMNS = 20
MAX_CUT_SHOWN = 100  # tokens beyond the sequence length drawn in the grid
MAX_STANDARDIZED_SHOWN = 5_000  # characters of the cleaned text shown
INFLUENCE_SCALE_FLOOR = 0.05  # a change of P(positive) shown at full colour, at least

LONG_REVIEW = (
    "I went into this film knowing almost nothing about it, and for most of its "
    "running time it rewarded me. The opening scenes in the harbour town are "
    "beautifully shot, the light on the water is gorgeous, and the score by a "
    "composer I had never heard of is warm and memorable. The lead actress is "
    "wonderful as the young doctor who returns home after her father's death, "
    "and the supporting cast, especially the old fisherman and his grandson, "
    "gives the story real heart.<br /><br />The first half is a gentle, funny "
    "and touching portrait of a small community. There is a lovely sequence at "
    "a wedding where everyone dances in the rain, and a quiet scene between the "
    "doctor and her mother in the kitchen that is as honest as anything I have "
    "seen this year. The dialogue is natural, the pacing is patient without "
    "being slow, and the director clearly loves these people. I laughed often "
    "and I was moved more than once.<br /><br />The middle section introduces a "
    "developer who wants to buy the harbour, and for a while this adds tension "
    "in a good way. The town meeting scene is well written and brilliantly "
    "acted, and the photography of the storm that follows is spectacular. Up to "
    "this point I would have called it one of the best films of its kind. It is "
    "worth saying how good the small details are: the hand-painted signs on the "
    "shops, the radio that only plays old songs, the dog that follows the doctor "
    "everywhere. The costumes feel lived in and the town feels like a real place "
    "with a real history, and even the minor characters get a moment to shine. "
    "I kept thinking how rare it is to see a film this confident, this kind and "
    "this beautifully made, and I was sure I would be telling everyone to go."
    "<br /><br />Then the last half hour arrives and throws all of it away. The "
    "twist is ridiculous, the villain becomes a cartoon, the ending is rushed "
    "and insulting, and the final scene undoes everything the film had built. I "
    "left angry. What a waste of a great cast - avoid it."
)
EXAMPLES = {
    "Negation": (
        "I really wanted to like this movie, but it is not good. The jokes are "
        "not funny, the story is not interesting, and the cast does not seem to "
        "care either. Not recommended."
    ),
    "Twist at the end": (
        "The first hour is slow, the dialogue is clumsy and the lead actor looks "
        "bored. But the last twenty minutes are so powerful and so beautifully "
        "played that I forgave everything. A wonderful film."
    ),
    "Unknown words": (
        "Zorgblatt is a fantabulous flickerama! Grümpel's cinematografical "
        "wizardry 🤩🍿 - 素晴らしい映画, c'est magnifique."
    ),
    "Longer than 300 tokens": LONG_REVIEW,
}
DEFAULT_EXAMPLE = "Twist at the end"


# Input ---------------------------------------------------------------------


def set_review(review: str, origin: dict | None = None) -> None:
    """Put `review` in the text box (a callback, so before the box is drawn)."""
    st.session_state[REVIEW_KEY] = review
    st.session_state[BOX_KEY] = review
    st.session_state[ORIGIN_KEY] = origin


def keep_typed_review() -> None:
    st.session_state[REVIEW_KEY] = st.session_state[BOX_KEY]
    st.session_state[ORIGIN_KEY] = None


def draw_test_review() -> None:
    imdb = common.load_imdb()
    if imdb is None:
        return
    index = int(np.random.default_rng().integers(len(imdb.test)))
    origin = {
        "index": index,
        "label": int(imdb.test.labels[index]),
        "rating": int(imdb.test.ratings[index]),
    }
    set_review(str(imdb.test.texts[index]), origin)


def review_input() -> str:
    """Example buttons, the random draw and the text box; returns the review."""
    st.session_state.setdefault(REVIEW_KEY, EXAMPLES[DEFAULT_EXAMPLE])
    st.session_state.setdefault(ORIGIN_KEY, None)
    if BOX_KEY not in st.session_state:
        st.session_state[BOX_KEY] = st.session_state[REVIEW_KEY]

    columns = st.columns(len(EXAMPLES) + 1)
    columns[0].button(
        "Random test review",
        icon=":material/casino:",
        on_click=draw_test_review,
        help="A review the model never trained on, with its true label and stars.",
        width="stretch",
    )
    for column, (name, example) in zip(columns[1:], EXAMPLES.items()):
        column.button(name, on_click=set_review, args=(example,), width="stretch")
    review = st.text_area(
        "A movie review",
        key=BOX_KEY,
        height=150,
        on_change=keep_typed_review,
        placeholder="Type or paste a movie review...",
        help="Press Ctrl+Enter (or click outside the box) to read it.",
    )
    origin = st.session_state[ORIGIN_KEY]
    if origin is not None:
        label = "positive" if origin["label"] == 1 else "negative"
        stars = f"{origin['rating']}/10 stars, " if origin["rating"] else ""
        st.caption(
            f"Test review #{origin['index']:,}: the reviewer gave {stars}so its "
            f"true label is **{label}**."
        )
    return review or ""


# What the model sees -------------------------------------------------------


def slot_grid(tokenized: inference.Tokenized) -> go.Figure:
    """The sequence's slots as a grid: words, [UNK], padding, and what is cut."""
    sequence_length = len(tokenized.sequence)
    kinds = tokenized.slot_kinds()[: sequence_length + MAX_CUT_SHOWN]
    cut_shown = len(kinds) - sequence_length
    rows = math.ceil(sequence_length / GRID_COLUMNS)
    cut_rows = math.ceil(cut_shown / GRID_COLUMNS)
    gap = 1 if cut_shown else 0  # an empty row between what is read and what is cut
    height = rows + gap + cut_rows

    cell = np.full((height, GRID_COLUMNS), np.nan)
    labels = np.full((height, GRID_COLUMNS), "", dtype=object)
    hover = np.full((height, GRID_COLUMNS), "", dtype=object)
    for slot, kind in enumerate(kinds):
        is_cut = kind == inference.SLOT_CUT
        row, column = divmod(slot - (sequence_length if is_cut else 0), GRID_COLUMNS)
        if is_cut:
            row += rows + gap
        cell[row, column] = kind + 0.5  # the middle of the kind's colour band
        if kind == inference.SLOT_PADDING:
            labels[row, column] = "0"
            hover[row, column] = f"slot {slot + 1}: padding (id 0)"
            continue
        word = tokenized.words[slot]
        token_id = int(tokenized.ids[slot])
        unknown = token_id == text.UNKNOWN_ID
        shown = text.UNKNOWN_TOKEN if unknown else word
        labels[row, column] = shown if len(shown) <= 8 else shown[:7] + "…"
        rank = "not in the vocabulary" if unknown else f"rank {token_id - 1:,}"
        where = "cut: never read" if is_cut else "read"
        place = f"token {slot + 1}" if is_cut else f"slot {slot + 1}"
        hover[row, column] = (
            f"{place}: {html.escape(word)}<br>id {token_id} ({rank})<br>{where}"
        )

    colours = ["#e9ecf1", "#f2b36b", "#9cc3ef", "#c7c7c7"]
    # one band of a quarter of the scale per kind: z = kind + 0.5 of 0..4
    colourscale = [
        [(i + edge) / 4, colour] for i, colour in enumerate(colours) for edge in (0, 1)
    ]
    row_labels = [
        f"{r * GRID_COLUMNS + 1}-{min((r + 1) * GRID_COLUMNS, sequence_length)}"
        for r in range(rows)
    ]
    row_labels += [""] * gap
    first_cut = sequence_length + 1
    row_labels += [
        f"cut {first_cut + r * GRID_COLUMNS}-{first_cut + (r + 1) * GRID_COLUMNS - 1}"
        for r in range(cut_rows)
    ]
    title = (
        f"The model's input: {sequence_length} slots, {GRID_COLUMNS} to a row "
        "(blue: a word it knows, orange: [UNK], pale: padding 0"
    )
    title += ", grey: cut, never read)" if cut_shown else ")"
    heatmap = {
        "type": "heatmap",
        "z": cell,
        "zmin": 0,
        "zmax": 4,
        "colorscale": colourscale,
        "showscale": False,
        "text": labels,
        "texttemplate": "%{text}",
        "textfont": {"size": 10},
        "hovertext": hover,
        "hoverinfo": "text",
        "xgap": 2,
        "ygap": 2,
    }
    layout = {
        "title": {"text": title},
        "height": 90 + 24 * height,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},
        "plot_bgcolor": "rgba(0,0,0,0)",
        "xaxis": {"visible": False},
        "yaxis": {
            "autorange": "reversed",
            "tickmode": "array",
            "tickvals": list(range(height)),
            "ticktext": row_labels,
            "showgrid": False,
        },
    }
    return common.plain_figure([heatmap], layout)


def token_table(tokenized: inference.Tokenized) -> pd.DataFrame:
    """Every word with its id, its vocabulary rank and whether it is read."""
    ids = tokenized.ids
    known = ids != text.UNKNOWN_ID
    return pd.DataFrame(
        {
            "position": np.arange(1, len(ids) + 1),
            "word": tokenized.words,
            "id": ids,
            # ids count from 2 for the most frequent word; [UNK] has no rank
            "vocabulary rank": pd.Series(ids - 1, dtype="Int64").where(known),
            "read by the model": np.arange(len(ids)) < len(tokenized.sequence),
        }
    )


def show_what_the_model_sees(tokenized: inference.Tokenized, vocabulary_size: int):
    sequence_length = len(tokenized.sequence)
    words = len(tokenized.ids)
    unknown = int(np.sum(tokenized.ids == text.UNKNOWN_ID))

    st.subheader("What the model sees")
    st.markdown(
        "The text is lowercased, `<br />` line breaks and punctuation are removed, "
        f"and each word becomes its id in a vocabulary of {vocabulary_size:,} words: "
        "id 2 is the most frequent word, and a word outside the vocabulary becomes "
        f"`[UNK]` (id 1). The model reads exactly {sequence_length} ids: a short "
        "review is padded with 0s, a long one is cut."
    )
    columns = st.columns(4)
    columns[0].metric("Tokens", f"{words:,}")
    columns[1].metric(
        "Unknown ([UNK])",
        f"{unknown / words:.0%}" if words else "-",
        help=f"{unknown:,} of {words:,} tokens are not in the vocabulary.",
    )
    columns[2].metric("Padded slots", f"{tokenized.padded_slots:,}")
    columns[3].metric(
        "Cut tokens",
        f"{tokenized.cut_tokens:,}",
        help=f"Tokens after the first {sequence_length}: the model never reads them.",
    )

    st.plotly_chart(slot_grid(tokenized), key="playground.slot_grid")
    if tokenized.cut_tokens > MAX_CUT_SHOWN:
        st.caption(
            f"The grid shows the first {MAX_CUT_SHOWN} cut tokens of "
            f"{tokenized.cut_tokens:,}; the table below lists them all."
        )
    with st.expander("The cleaned-up text and every token's id"):
        standardized = tokenized.standardized
        if len(standardized) > MAX_STANDARDIZED_SHOWN:
            standardized = standardized[:MAX_STANDARDIZED_SHOWN] + " …"
        st.code(standardized, language=None, wrap_lines=True)
        st.dataframe(token_table(tokenized), hide_index=True, height=300)


# The prediction ------------------------------------------------------------


def probability_gauge(probability: float) -> go.Figure:
    colour = POSITIVE_COLOUR if probability >= 0.5 else NEGATIVE_COLOUR
    indicator = {
        "type": "indicator",
        "mode": "number+gauge",
        "value": probability * 100,
        "number": {"suffix": "%", "valueformat": ".1f"},
        "title": {"text": "P(positive)", "font": {"size": 14}},
        "gauge": {
            "shape": "bullet",
            "axis": {"range": [0, 100], "ticksuffix": "%"},
            "bar": {"color": colour, "thickness": 0.5},
            "steps": [
                {"range": [0, 50], "color": "#f7dcd9"},
                {"range": [50, 100], "color": "#d6efe1"},
            ],
            "threshold": {
                "line": {"color": "#333", "width": 2},
                "thickness": 0.9,
                "value": 50,
            },
        },
    }
    layout = {"height": 110, "margin": {"l": 110, "r": 30, "t": 20, "b": 25}}
    return common.plain_figure([indicator], layout)


def show_prediction(probability: float, model_name: str, seconds: float) -> None:
    positive = probability >= 0.5
    label = "positive" if positive else "negative"
    colour = "green" if positive else "red"
    origin = st.session_state[ORIGIN_KEY]

    st.subheader("The prediction")
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.markdown(f"### :{colour}[{label.capitalize()}]")
    verdict = f"P(positive) = {probability:.3f}; 0.5 or more reads as positive."
    if origin is not None:
        truth = "positive" if origin["label"] == 1 else "negative"
        verdict += " Right." if truth == label else f" Wrong: it is {truth}."
    left.caption(verdict)
    right.plotly_chart(probability_gauge(probability), key="playground.gauge")
    st.caption(
        f"Model `{model_name}`. Tokens and prediction took {seconds * 1000:.0f} ms."
    )


# Why -----------------------------------------------------------------------


def influence_html(words: list[str], change: np.ndarray) -> str:
    """The words read, each on a background as green (or red) as its influence.

    The strongest word sets the scale, but never below INFLUENCE_SCALE_FLOOR:
    a review on which no word matters much stays pale.
    """
    scale = max(float(np.max(np.abs(change), initial=0.0)), INFLUENCE_SCALE_FLOOR)
    spans = []
    for position, (word, delta) in enumerate(zip(words, change), start=1):
        strength = min(abs(float(delta)) / scale, 1.0)
        rgb = "46,158,98" if delta > 0 else "208,71,58"
        spans.append(
            f'<span title="word {position}: removing it changes P(positive) by '
            f'{-delta:+.3f}" style="background: rgba({rgb},{0.85 * strength:.2f}); '
            "padding: 1px 3px; margin: 1px; border-radius: 3px; "
            f'display: inline-block">{html.escape(word)}</span>'
        )
    return (
        '<div style="line-height: 1.9; font-size: 0.95rem">'
        + " ".join(spans)
        + "</div>"
    )


def top_words_chart(words: list[str], change: np.ndarray, count: int = 8):
    order = np.argsort(change)
    chosen = [i for i in order[:count] if change[i] < 0]
    chosen += [i for i in order[::-1][:count] if change[i] > 0][::-1]
    labels = [f"{words[i]} (#{i + 1})" for i in chosen]
    values = [float(change[i]) for i in chosen]
    bars = {
        "type": "bar",
        "x": values,
        "y": labels,
        "orientation": "h",
        "marker": {
            "color": [
                POSITIVE_COLOUR if value > 0 else NEGATIVE_COLOUR for value in values
            ]
        },
        "hovertemplate": "%{y}: %{x:+.3f}<extra></extra>",
    }
    layout = {
        "title": {"text": "Words that moved the prediction most"},
        "xaxis": {
            "title": {"text": "P(positive) with the word - P(positive) without it"},
            "exponentformat": "e",
        },
        "yaxis": {"type": "category"},
        "height": 140 + 22 * len(chosen),
        "margin": {"l": 10, "r": 10, "t": 50, "b": 40},
    }
    return common.plain_figure([bars], layout)


def gates_chart(words: list[str], reading: explain.Reading) -> go.Figure:
    """Mean gates of each direction and the readings' verdicts, word by word.

    One panel per reading and one for the verdicts, stacked on one shared
    word axis (one x axis, a y axis per panel).
    """
    positions = np.arange(1, reading.length + 1)
    hover_words = [html.escape(word) for word in words[: reading.length]]
    two_way = reading.backward is not None
    rows = 3 if two_way else 2
    titles = ["Forward reading (left to right): mean gates over its units"]
    if two_way:
        titles.append("Backward reading (right to left): mean gates over its units")
    titles.append("Sentiment so far: what each reading would say after this word")
    spacing = 0.08
    panel = (1 - spacing * (rows - 1)) / rows
    # (bottom, top) of each panel, top panel first
    domains = [
        (1 - row * (panel + spacing) - panel, 1 - row * (panel + spacing))
        for row in range(rows)
    ]
    axis_names = ["y"] + [f"y{row + 1}" for row in range(1, rows)]
    data = []

    def line(row, values, name, colour, dash=None, legend=True):
        data.append(
            {
                "type": "scatter",
                "mode": "lines",
                "x": positions,
                "y": values,
                "yaxis": axis_names[row],
                "name": name,
                "legendgroup": name,
                "showlegend": legend,
                "line": {"color": colour, "dash": dash or "solid", "width": 1.8},
                "customdata": hover_words,
                "hovertemplate": "word %{x}: %{customdata}<br>%{y:.3f}<extra>"
                + html.escape(name)
                + "</extra>",
            }
        )

    traces = [(0, reading.forward)]
    if two_way:
        traces.append((1, reading.backward))
    for row, trace in traces:
        first = row == 0
        update = trace.update_gate[0].mean(axis=1)
        reset = trace.reset_gate[0].mean(axis=1)
        line(row, update, "update gate z", UPDATE_COLOUR, legend=first)
        line(row, reset, "reset gate r", RESET_COLOUR, legend=first)
    last = rows - 1
    line(last, reading.forward_so_far, "forward reading's verdict", "#444")
    if two_way:
        line(
            last,
            reading.backward_so_far,
            "backward reading's verdict",
            "#444",
            dash="dot",
        )

    layout = {
        "height": 260 * rows,
        "margin": {"l": 10, "r": 10, "t": 90, "b": 10},
        "legend": {"orientation": "h", "x": 0, "y": 1.05, "yanchor": "bottom"},
        "hovermode": "x unified",
        "xaxis": {
            "anchor": axis_names[last],
            "title": {"text": "word position in the review"},
        },
        "annotations": [
            {
                "text": title,
                "xref": "paper",
                "yref": "paper",
                "x": 0.5,
                "y": top,
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 14},
            }
            for title, (_, top) in zip(titles, domains)
        ],
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "yref": axis_names[last],
                "y0": 0.5,
                "y1": 0.5,
                "line": {"color": "#999", "width": 1, "dash": "dash"},
            }
        ],
    }
    if reading.length <= 40:
        layout["xaxis"].update(
            tickmode="array", tickvals=positions, ticktext=hover_words, tickangle=-60
        )
    for row, domain in enumerate(domains):
        name = "yaxis" if row == 0 else f"yaxis{row + 1}"
        title = "P(positive)" if row == last else "gate (0-1)"
        layout[name] = {
            "domain": list(domain),
            "range": [0, 1],
            "title": {"text": title},
            "anchor": "x",
        }
    return common.plain_figure(data, layout)


def unit_heatmap(words: list[str], gate: np.ndarray, symbol: str, title: str):
    """One gate of every unit (rows) at every word (columns)."""
    values = gate.T
    heatmap = {
        "type": "heatmap",
        "z": values,
        "x": np.arange(1, values.shape[1] + 1),
        "zmin": 0,
        "zmax": 1,
        "colorscale": GATE_SCALE,
        "colorbar": {"title": {"text": symbol}},
        "customdata": np.tile(
            np.array([html.escape(w) for w in words[: values.shape[1]]], object),
            (values.shape[0], 1),
        ),
        "hovertemplate": "word %{x}: %{customdata}<br>unit %{y}: "
        + symbol
        + " = %{z:.2f}<extra></extra>",
    }
    layout = {
        "title": {"text": title},
        "xaxis": {"title": {"text": "word position in the review"}},
        "yaxis": {"title": {"text": "unit"}},
        "height": 380,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 40},
    }
    return common.plain_figure([heatmap], layout)


def split_chart(split: explain.DecisionSplit, two_way: bool) -> go.Figure:
    labels = ["bias b", "forward reading w_f·h_f"]
    values = [split.bias, split.forward]
    if two_way:
        labels.append("backward reading w_b·h_b")
        values.append(split.backward)
    waterfall = {
        "type": "waterfall",
        "x": labels + ["logit (the sum)"],
        "y": values + [split.logit],
        "measure": ["relative"] * len(values) + ["total"],
        "text": [f"{value:+.3f}" for value in values] + [f"{split.logit:+.3f}"],
        "textposition": "outside",
        "increasing": {"marker": {"color": POSITIVE_COLOUR}},
        "decreasing": {"marker": {"color": NEGATIVE_COLOUR}},
        "totals": {"marker": {"color": "#555"}},
        "connector": {"line": {"color": "#bbb"}},
    }
    layout = {
        "title": {
            "text": (
                f"The logit, part by part: sigmoid({split.logit:+.2f}) = "
                f"{split.probability:.3f}"
            )
        },
        "yaxis": {"title": {"text": "contribution to the logit (above 0: positive)"}},
        "height": 380,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 40},
    }
    return common.plain_figure([waterfall], layout)


def explanation(predictor, explainer, tokenized: inference.Tokenized):
    """Influence and reading for this review, computed once per text and model."""
    wanted = (id(predictor), tokenized.text)
    kept = st.session_state.get(EXPLAINED_KEY)
    if kept is not None and kept[0] == wanted:
        return kept[1]
    started = time.perf_counter()
    influence = explain.word_influence(predictor, tokenized.ids)
    # an Explainer, or the reason there is none for this model
    reading = (
        explainer if isinstance(explainer, str) else explainer.read(tokenized.sequence)
    )
    result = (influence, reading, time.perf_counter() - started)
    st.session_state[EXPLAINED_KEY] = (wanted, result)
    return result


@st.cache_resource(show_spinner=False, max_entries=8)
def _explainer(model_name: str, predictor_id: int, _model):
    """The model's Explainer, or why the gate view is not available."""
    try:
        return explain.Explainer(_model)
    except explain.ExplanationUnavailable as reason:
        return str(reason)


def show_why(predictor, model_name: str, tokenized: inference.Tokenized) -> None:
    st.subheader("Why")
    if tokenized.length == 0:
        st.info("No word is left after cleaning up, so there is nothing to explain.")
        return
    explainer = _explainer(model_name, id(predictor), predictor.model)
    with st.spinner("Taking each word out in turn and re-running the GRU..."):
        influence, reading, seconds = explanation(predictor, explainer, tokenized)
    words = tokenized.words[: tokenized.length]

    st.markdown(
        "**Which words moved the prediction.** Each word read is taken out of "
        "the review in turn and the review is scored again (all in one batch). "
        ":green-background[Green] words pushed towards positive - without them "
        "P(positive) drops; :red-background[red] ones towards negative. Hover "
        "over a word for its number."
    )
    st.html(influence_html(words, influence.change))
    if tokenized.length < len(tokenized.words):
        st.caption(
            f"... and {len(tokenized.words) - tokenized.length:,} more words the "
            "model never reads."
        )
    st.plotly_chart(
        top_words_chart(words, influence.change), key="playground.top_words"
    )

    if isinstance(reading, str):
        st.info(f"The gate and forward/backward views are not available: {reading}")
        st.caption(f"Explanations took {seconds * 1000:.0f} ms.")
        return
    two_way = reading.backward is not None
    st.markdown(
        "**What the gates did, word by word.** The update gate z decides how much "
        "of its memory a reading keeps at each word: near 1 the word barely "
        "changes the state, near 0 the state is rewritten from the word. The "
        "reset gate r decides how much of the memory is used to form that new "
        "candidate. The last panel turns each reading's state after every word "
        "into a probability: "
        + (
            "`sigmoid(w_f · h_f(t) + b/2)` for the forward reading (w_f: the "
            "Dense weights on its state, b: the Dense bias) and "
            "`sigmoid(w_b · h_b(t) + b/2)` for the backward one, which starts at "
            "the last word and moves left. Where the two lines jump is where a "
            "word changed a reading's mind."
            if two_way
            else "`sigmoid(w · h(t) + b)`, the model's verdict on the review cut "
            "after word t."
        )
    )
    st.plotly_chart(gates_chart(words, reading), key="playground.gates")
    # Drawn only when asked for: two 64-row heat maps are the largest figures
    # of the page, and most readers never open them.
    if st.toggle(
        "Show every unit's gates",
        key=UNITS_SHOWN_KEY,
        help="The means above hide how differently the units behave.",
    ):
        st.caption("Each row is one unit of the state, each column a word.")
        gate_name = st.radio(
            "Gate",
            ["update gate z", "reset gate r"],
            horizontal=True,
            key=UNIT_GATE_KEY,
        )
        symbol = gate_name[-1]
        directions = [("Forward", reading.forward)]
        if two_way:
            directions.append(("Backward", reading.backward))
        for direction, trace in directions:
            gate = trace.update_gate if symbol == "z" else trace.reset_gate
            st.plotly_chart(
                unit_heatmap(
                    words,
                    gate[0],
                    symbol,
                    f"{direction} reading: {gate_name} of each unit",
                ),
                key=f"playground.units_{direction.lower()}",
            )

    split = reading.split
    st.markdown(
        "**Forward and backward, exactly.** The last layer is "
        "`P(positive) = sigmoid(w · h + b)` over both final states, so "
        "`w · h = w_f · h_f + w_b · h_b`: what the forward reading adds plus what "
        "the backward one adds. Dropout does nothing at prediction time, so the "
        "parts add up to the model's logit exactly."
        if two_way
        else "**The decision.** The last layer is `P(positive) = sigmoid(w · h + b)`."
    )
    st.plotly_chart(split_chart(split, two_way), key="playground.split")
    st.caption(
        f"Explanations took {seconds * 1000:.0f} ms. The gates come from a NumPy "
        "re-run of the GRU with the model's own weights; its P(positive) is "
        f"{split.probability:.4f}."
    )


# The page ------------------------------------------------------------------


st.title("Playground")
st.markdown(
    "Type a review and see it as the model does: the cleaned-up words, their ids "
    "and the fixed number of slots it reads (300 for the lab's model), then its "
    "verdict.  \n"
    "Below, see why: which words moved the prediction, what the update and reset "
    "gates did at each word, and how much the forward and the backward reading "
    "each contributed."
)

model_name = common.active_model_name()
if model_name is None:
    st.warning(
        "There is no trained model yet. Train one on the Train page, or run "
        "`python -m core.train --preset classroom`."
    )
    st.stop()

review = review_input()
if not review.strip():
    st.info(
        "Type or paste a review above - or pick an example or a random test "
        "review - to see what the model makes of it."
    )
    st.stop()

try:
    predictor = common.predictor(model_name)
except (OSError, ValueError) as error:
    st.error(
        f"The model `{model_name}` could not be loaded; choose another in the "
        f"sidebar. Keras said: {error}"
    )
    st.stop()
started = time.perf_counter()
tokenized = predictor.tokenize(review)
probability = float(predictor.predict_ids(tokenized.sequence)[0])
seconds = time.perf_counter() - started

if tokenized.text_was_cut:
    st.warning(
        f"This text has {len(review):,} characters; only the first "
        f"{inference.MAX_TEXT_CHARS:,} are tokenized (the model reads at most "
        f"{predictor.sequence_length} words anyway)."
    )
show_prediction(probability, model_name, seconds)
show_what_the_model_sees(tokenized, len(predictor.vocabulary))
show_why(predictor, model_name, tokenized)

common.show_code(
    inference.Predictor.tokenize,
    explain.run_gru,
    explain.Explainer.read,
    explain.word_influence,
)
