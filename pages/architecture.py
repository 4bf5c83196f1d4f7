"""Architecture: where each parameter of the model lives, checked against Keras.

The ledger, the chart and the formulas come from `core.params` (pure Python)
and appear at once; the Keras check builds the real model afterwards, in a
container placed above the quiz, and is cached per architecture.
"""

import pandas as pd
import streamlit as st

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import params
from core.config import CELLS, MERGE_MODES, Hyperparameters
from pages import common

LAB = Hyperparameters()
CONTROLS = (
    "vocab_size",
    "embedding_dim",
    "units",
    "sequence_length",
    "cell",
    "bidirectional",
    "merge_mode",
    "reset_after",
)
# Upper bounds of the controls: the Keras check allocates the real Embedding,
# and 50,000 x 512 floats (100 MB) is as much as a shared classroom server
# should build on a click. core.config allows more.
MAX_VOCAB_SIZE = 50_000
MAX_WIDTH = 512
QUIZ_NUMBER_KEY = "architecture.quiz_number"
QUIZ_ANSWER_KEY = "architecture.quiz_answer"

GATE_COLOURS = {
    "update z": "#2f6fdf",
    "reset r": "#e07b39",
    "candidate h": "#2e9e62",
    "input i": "#2f6fdf",
    "forget f": "#e07b39",
    "cell c": "#2e9e62",
    "output o": "#8e5cc8",
    "state": "#2f6fdf",
}
LAYER_COLOURS = {params.EMBEDDING: "#9aa9bd", params.OUTPUT: "#c2a383"}
DIRECTION_COLOUR = "#dfe3ea"


def key(field: str) -> str:
    return f"architecture.{field}"


def active_hyperparameters() -> Hyperparameters | None:
    """The hyperparameters of the model active in the sidebar, if there is one."""
    return common.active_model_hyperparameters()


def load_into_controls(hp: Hyperparameters) -> None:
    """Set every control to `hp`'s value (a button callback, before widgets)."""
    for field in CONTROLS:
        value = getattr(hp, field)
        if field == "vocab_size":
            value = min(value, MAX_VOCAB_SIZE)
        elif field in ("embedding_dim", "units"):
            value = min(value, MAX_WIDTH)
        st.session_state[key(field)] = value


def controls() -> Hyperparameters:
    """The architecture the student chose; the lab's values to begin with."""
    for field in CONTROLS:
        st.session_state.setdefault(key(field), getattr(LAB, field))
    keep = {"persist_state": "session"}

    with st.container(border=True):
        sizes = st.columns(4)
        vocab_size = sizes[0].number_input(
            "Vocabulary size V",
            min_value=3,
            max_value=MAX_VOCAB_SIZE,
            step=1_000,
            key=key("vocab_size"),
            help="Words the vectorizer keeps, padding and [UNK] included.",
            **keep,
        )
        embedding_dim = sizes[1].number_input(
            "Embedding size d",
            min_value=1,
            max_value=MAX_WIDTH,
            step=16,
            key=key("embedding_dim"),
            help="Width of each word vector: the recurrent layer's input width.",
            **keep,
        )
        units = sizes[2].number_input(
            "Units n",
            min_value=1,
            max_value=MAX_WIDTH,
            step=16,
            key=key("units"),
            help="Width of the recurrent state, per direction.",
            **keep,
        )
        sequence_length = sizes[3].number_input(
            "Sequence length",
            min_value=1,
            max_value=2_000,
            step=50,
            key=key("sequence_length"),
            help="Tokens read per review. It changes no parameter count.",
            **keep,
        )

        choices = st.columns([1.1, 0.7, 1.5, 0.8], vertical_alignment="bottom")
        cell = choices[0].segmented_control(
            "Cell",
            CELLS,
            format_func=params.CELL_NAMES.get,
            required=True,
            key=key("cell"),
            **keep,
        )
        bidirectional = choices[1].toggle(
            "Bidirectional",
            key=key("bidirectional"),
            help="Read each review forwards and backwards, with separate weights.",
            **keep,
        )
        merge_mode = choices[2].segmented_control(
            "Merge mode",
            MERGE_MODES,
            format_func=params.MERGE_MODE_NAMES.get,
            required=True,
            key=key("merge_mode"),
            disabled=not bidirectional,
            help="How the two directions' final states combine (bidirectional only).",
            **keep,
        )
        reset_after = choices[3].toggle(
            "reset_after",
            key=key("reset_after"),
            disabled=cell != "gru",
            help="Keras' GRU variant: True (the default) keeps two biases per gate.",
            **keep,
        )

        buttons = st.columns([1, 2, 3])
        buttons[0].button("The lab's values", on_click=load_into_controls, args=(LAB,))
        active = active_hyperparameters()
        buttons[1].button(
            "Load the active model's values",
            on_click=load_into_controls,
            args=(active,),
            disabled=active is None,
            help=(
                "The architecture of the model chosen in the sidebar."
                if active is not None
                else "No model is active: train or choose one first."
            ),
        )

    return Hyperparameters(
        vocab_size=int(vocab_size),
        sequence_length=int(sequence_length),
        embedding_dim=int(embedding_dim),
        units=int(units),
        cell=cell,
        bidirectional=bidirectional,
        merge_mode=merge_mode,
        reset_after=reset_after,
    )


# Labels --------------------------------------------------------------------


def layer_label(layer: str, hp: Hyperparameters) -> str:
    if layer == params.RECURRENT:
        return params.recurrent_layer_name(hp)
    return {params.EMBEDDING: "Embedding", params.OUTPUT: "Dense"}.get(layer, layer)


def shape_label(shape: tuple[int, ...]) -> str:
    return " × ".join(f"{size:,}" for size in shape)


def share_label(count: int, total: int) -> str:
    share = 100 * count / total
    digits = 1 if share >= 1 else 2 if share >= 0.01 else 4
    return f"{share:.{digits}f}% of the model"


# Results -------------------------------------------------------------------


def headline(hp: Hyperparameters, counts: dict[str, int]) -> None:
    """Total and per-layer counts, with the change from the lab's model."""
    lab_counts = params.layer_params(LAB)
    columns = st.columns(4)
    for column, (label, layer) in zip(
        columns,
        [
            ("Total parameters", None),
            ("Embedding", params.EMBEDDING),
            (params.recurrent_layer_name(hp), params.RECURRENT),
            ("Dense", params.OUTPUT),
        ],
    ):
        value = sum(counts.values()) if layer is None else counts[layer]
        lab_value = sum(lab_counts.values()) if layer is None else lab_counts[layer]
        change = value - lab_value
        column.metric(
            label,
            f"{value:,}",
            delta=f"{change:+,} vs the lab" if change else None,
            delta_color="off",
            delta_arrow="off",
            border=True,
        )


def in_words(hp: Hyperparameters) -> str:
    """The recurrent layer's arithmetic as one sentence of plain numbers."""
    d, n = hp.embedding_dim, hp.units
    g = params.gate_count(hp.cell)
    beta = params.bias_vectors_per_gate(hp.cell, hp.reset_after)
    one_gate = params.gate_params(d, n, beta)
    one_direction = params.direction_params(d, n, hp.cell, hp.reset_after)
    biases = " + ".join([f"{n:,}"] * beta)
    bias_names = "$b_W + b_U$" if beta == 2 else "$b$"
    block = "one gate" if g > 1 else "the state block"
    sentence = (
        f"**{block.capitalize()}** of one direction: {d * n:,} (W) + {n * n:,} (U) "
        f"+ {biases} ({bias_names}) = **{one_gate:,}**. "
        f"**One direction**: {g} × {one_gate:,} = **{one_direction:,}**."
    )
    if hp.bidirectional:
        sentence += (
            f" **Both directions**: 2 × {one_direction:,} = **{2 * one_direction:,}**."
        )
    return sentence


def sequence_length_note(hp: Hyperparameters) -> str:
    return (
        f"Sequence length {hp.sequence_length:,} appears in no count: the cell "
        f"applies the same W, U and biases at every one of the "
        f"{hp.sequence_length:,} steps, and the Embedding has one row per word "
        "of the vocabulary, not per position. Longer reviews cost time and "
        "memory, not parameters."
    )


def treemap(
    rows: list[params.LedgerRow],
    hp: Hyperparameters,
    root: str,
    title: str,
    subtitle: str = "",
    maxdepth: int = -1,
    height: int = 560,
):
    """The ledger as nested boxes: model > layer > direction > gate > matrix.

    `root` is the node the chart opens on ("model" or "model/recurrent");
    every box can be clicked to zoom in, whatever the root.
    """
    total = sum(row.count for row in rows)
    nodes: dict[str, dict] = {}

    def add(node_id, parent, label, count, colour, detail=""):
        if node_id not in nodes:
            nodes[node_id] = {
                "parent": parent,
                "label": label,
                "value": 0,
                "colour": colour,
                "detail": detail,
            }
        nodes[node_id]["value"] += count

    for row in rows:
        add("model", "", "Whole model", row.count, "#f4f6fa")
        path, parent = f"model/{row.layer}", "model"
        add(
            path,
            parent,
            layer_label(row.layer, hp),
            row.count,
            LAYER_COLOURS.get(row.layer, DIRECTION_COLOUR),
        )
        for part in (row.direction, row.gate):
            if part:
                path, parent = f"{path}/{part}", path
                colour = GATE_COLOURS.get(part, DIRECTION_COLOUR)
                add(path, parent, part, row.count, colour)
        colour = GATE_COLOURS.get(row.gate) or LAYER_COLOURS.get(row.layer)
        add(
            f"{path}/{row.matrix}",
            path,
            f"{row.matrix.split()[-1]} ({shape_label(row.shape)})",
            row.count,
            colour,
            detail=f"{row.matrix}, in Keras {row.keras_slice}",
        )

    ids = list(nodes)
    values = [nodes[node]["value"] for node in ids]
    customdata = [
        [share_label(nodes[node]["value"], total), nodes[node]["detail"]]
        for node in ids
    ]
    treemap_trace = {
        "type": "treemap",
        "ids": ids,
        "labels": [nodes[node]["label"] for node in ids],
        "parents": [nodes[node]["parent"] for node in ids],
        "values": values,
        "branchvalues": "total",
        "level": root,
        "customdata": customdata,
        "marker": {"colors": [nodes[node]["colour"] for node in ids]},
        "texttemplate": "<b>%{label}</b><br>%{value:,}<br>%{customdata[0]}",
        "textposition": "middle center",
        "textfont": {"size": 15},
        "maxdepth": maxdepth,
        "hovertemplate": (
            "<b>%{label}</b><br>%{value:,} parameters<br>%{customdata[0]}"
            "<br>%{customdata[1]}<extra></extra>"
        ),
        "pathbar": {"visible": True},
        "tiling": {"pad": 2},
    }
    layout = {
        "title": {
            "text": (
                f"{title}<br><sup>{subtitle}Each box's area is its parameter "
                "count: click one to zoom in, the bar above it to zoom out.</sup>"
            ),
            "font": {"size": 18},
        },
        "margin": {"t": 90, "l": 8, "r": 8, "b": 8},
        "height": height,
    }
    return common.plain_figure([treemap_trace], layout)


DETAILS = {
    "layer": ["layer"],
    "direction": ["layer", "direction"],
    "gate": ["layer", "direction", "gate"],
    "matrix": ["layer", "direction", "gate", "matrix"],
}


def ledger_table(
    rows: list[params.LedgerRow], hp: Hyperparameters, detail: str
) -> pd.DataFrame:
    """The ledger summed to the chosen detail, with each part's share."""
    frame = pd.DataFrame(rows)
    frame["layer"] = frame["layer"].map(lambda layer: layer_label(layer, hp))
    total = frame["count"].sum()
    if detail == "matrix":
        frame["shape"] = frame["shape"].map(shape_label)
        table = frame.rename(columns={"keras_slice": "in Keras' weight"})
    else:
        table = frame.groupby(DETAILS[detail], sort=False, as_index=False)[
            "count"
        ].sum()
    table["share (%)"] = 100 * table["count"] / total
    return table


@st.cache_resource(show_spinner=False, max_entries=128)
def shared_ledger_table(hp: Hyperparameters, detail: str) -> pd.DataFrame:
    """`ledger_table` of hp's ledger, made once and shared by every session
    (read-only: st.dataframe does not change it)."""
    return ledger_table(params.ledger(hp), hp, detail)


def show_ledger(rows: list[params.LedgerRow], hp: Hyperparameters) -> None:
    st.header("Where the parameters live")
    total = sum(row.count for row in rows)
    recurrent_name = params.recurrent_layer_name(hp)
    recurrent_total = sum(row.count for row in rows if row.layer == params.RECURRENT)
    whole = treemap(
        rows,
        hp,
        "model",
        f"The whole model: {total:,} parameters",
        subtitle=" · ".join(
            f"{layer_label(layer, hp)} {share_label(count, total).split()[0]}"
            for layer, count in params.layer_params(hp).items()
            if count
        )
        + ". ",
        maxdepth=2,
        height=320,
    )
    st.plotly_chart(whole, key=key("treemap.model"))
    inside = treemap(
        rows,
        hp,
        f"model/{params.RECURRENT}",
        f"Inside the {recurrent_name} layer: {recurrent_total:,} parameters, "
        "per direction, gate and matrix",
    )
    st.plotly_chart(inside, key=key("treemap.recurrent"))
    st.markdown(in_words(hp))

    detail = st.segmented_control(
        "Table detail",
        list(DETAILS),
        format_func=lambda level: f"per {level}",
        default="gate",
        required=True,
        key=key("table_detail"),
    )
    table = shared_ledger_table(hp, detail)
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "count": st.column_config.NumberColumn("parameters", format="localized"),
            "share (%)": st.column_config.ProgressColumn(
                "share of the model", format="%.2f%%", min_value=0, max_value=100
            ),
        },
    )
    st.caption(
        "The vectorizer and the Dropout layer hold no parameters: one maps "
        "words to ids with a lookup table, the other zeroes values at random "
        "during training."
    )


def show_formulas(hp: Hyperparameters) -> None:
    st.header("The formulas")
    st.markdown(
        "V vocabulary size, d embedding size (the recurrent layer's input "
        "width), n units, g gates per direction, β bias vectors per gate, "
        "w the width the Dense layer reads."
    )
    formulas = params.count_formulas(hp)
    columns = st.columns(2)
    for index, formula in enumerate(formulas):
        with columns[index % 2]:
            st.latex(formula.latex)


def show_equations(hp: Hyperparameters) -> None:
    st.header("What Keras computes at each step")
    d, n = hp.embedding_dim, hp.units
    g = params.gate_count(hp.cell)
    st.markdown(
        f"Keras multiplies row vectors from the right: $x_t$ is 1 × d "
        f"(1 × {d}), $h_{{t-1}}$ is 1 × n (1 × {n}), so each $W$ is d × n "
        f"({d} × {n}) and each $U$ is n × n ({n} × {n}). It stacks the "
        f"{g} gates' matrices side by side into one `kernel` ({d} × {g * n}) "
        f"and one `recurrent_kernel` ({n} × {g * n}). σ is the sigmoid."
    )
    if hp.cell != "gru":
        st.latex(aligned(params.cell_equations(hp.cell)))
        with st.expander("The GRU's two variants"):
            show_gru_variants(hp)
        return
    show_gru_variants(hp)


def aligned(lines: list[str]) -> str:
    """Equations one under the other, lined up on their first "=" sign."""
    rows = [line.replace(" = ", " &= ", 1) for line in lines]
    return r"\begin{aligned}" + r" \\ ".join(rows) + r"\end{aligned}"


def show_gru_variants(hp: Hyperparameters) -> None:
    n = hp.units
    directions = params.direction_count(hp.bidirectional)
    after = hp.with_changes(cell="gru", reset_after=True)
    before = hp.with_changes(cell="gru", reset_after=False)
    difference = params.recurrent_params(after) - params.recurrent_params(before)
    columns = st.columns(2)
    for column, variant, title in (
        (columns[0], True, "reset_after=True (Keras' default)"),
        (columns[1], False, "reset_after=False"),
    ):
        with column.container(border=True):
            chosen = hp.cell == "gru" and hp.reset_after == variant
            st.markdown(f"**{title}**" + (" ← your settings" if chosen else ""))
            lines = params.cell_equations("gru", variant)
            st.latex(aligned(lines))
    st.markdown(
        "**reset_after=True**: the reset gate multiplies the recurrent part "
        "*after* its matrix product, $r_t \\odot (h_{t-1} U_h + b_{U,h})$. "
        "That recurrent part has its own bias, so every gate has two bias "
        "vectors, $b_W$ and $b_U$, and Keras' `bias` is 2 × 3n. It is the "
        "variant cuDNN runs, and the one PyTorch's GRU uses.\n\n"
        "**reset_after=False**: the reset gate multiplies $h_{t-1}$ *before* the "
        "product, $(r_t \\odot h_{t-1})\\, U_h$. A second bias would only add "
        f"to the first, so there is one per gate: 3n = {3 * n:,} fewer per "
        f"direction, {difference:,} fewer in this layer "
        f"({params.recurrent_params(after):,} → "
        f"{params.recurrent_params(before):,}"
        + (", over both directions)." if directions == 2 else ").")
    )
    st.markdown(
        "**The update rule**, in Keras' convention: "
        "$h_t = z_t \\odot h_{t-1} + (1 - z_t) \\odot \\tilde h_t$. "
        "An update gate near 1 keeps the old state; near 0 it takes the "
        "candidate. Some texts write it the other way round, "
        "$h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot \\tilde h_t$: the same "
        "parameters, the opposite meaning of z."
    )


# Keras check ---------------------------------------------------------------


@st.cache_resource(show_spinner="Building the model with Keras...", max_entries=64)
def keras_count(hp: Hyperparameters):
    """Keras' count for `hp`, cached per architecture and shared by every
    session (read-only: nothing changes the returned object)."""
    from core import keras_check

    return keras_check.count_with_keras(hp)


def show_keras_check(
    rows: list[params.LedgerRow],
    hp: Hyperparameters,
    counts: dict[str, int],
    verdict,
) -> None:
    """Keras' own counts and weight shapes beside the ledger's; never hides a gap."""
    from core import keras_check

    st.header("Checked against Keras")
    result = keras_count(hp)
    problems = keras_check.differences(rows, list(result.rows))

    layer_rows = [
        {
            "layer": name,
            "ledger": counts.get(name),
            "Keras count_params()": keras_value,
            "agree": "✓" if counts.get(name) == keras_value else "✗",
        }
        for name, keras_value in result.layer_params.items()
    ]
    layer_rows.append(
        {
            "layer": "whole model",
            "ledger": sum(counts.values()),
            "Keras count_params()": result.total,
            "agree": "✓" if sum(counts.values()) == result.total else "✗",
        }
    )
    for name in counts.keys() - result.layer_params.keys():
        problems.append(f"Keras' model has no layer named {name!r}.")
    problems += [
        f"Layer {row['layer']}: the ledger says {row['ledger']}, Keras says "
        f"{row['Keras count_params()']}."
        for row in layer_rows
        if row["agree"] == "✗"
    ]

    if problems:
        verdict.error(
            "Keras disagrees with the ledger:\n\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
        st.error(
            "Keras disagrees with the ledger:\n\n"
            + "\n".join(f"- {problem}" for problem in problems)
        )
    else:
        verdict.success(
            f"Keras agrees: `model.count_params()` = {result.total:,}, and all "
            f"{len(result.rows)} weight blocks match in shape and count.",
            icon=":material/check_circle:",
        )

    st.markdown(
        "The page builds the model with `core.model.build_model`, as the Train "
        f"page does, and asks each layer (built in {result.build_seconds:.2f} s)."
    )
    st.dataframe(
        pd.DataFrame(layer_rows),
        hide_index=True,
        column_config={
            "ledger": st.column_config.NumberColumn(format="localized"),
            "Keras count_params()": st.column_config.NumberColumn(format="localized"),
        },
    )

    st.subheader("The recurrent layer's real weights")
    st.markdown(
        "Keras keeps one `kernel`, one `recurrent_kernel` and one `bias` per "
        "direction, the gates side by side along the last axis, in this order: "
        + ", ".join(params.GATES[hp.cell])
        + "."
        + (
            " The GRU's `bias` has two rows: row 0 is added to $x_t W$ "
            "($b_W$), row 1 to $h_{t-1} U$ ($b_U$)."
            if params.bias_vectors_per_gate(hp.cell, hp.reset_after) == 2
            else ""
        )
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "direction": weight.direction,
                    "weight": weight.name,
                    "shape": shape_label(weight.shape),
                    "split into the gates, in Keras' order": "  |  ".join(
                        f"{gate}: {shape_label(shape)}"
                        for gate, shape in weight.gate_shapes
                    ),
                    "Keras path": weight.path,
                }
                for weight in result.recurrent_weights
            ]
        ),
        hide_index=True,
    )


def show_code() -> None:
    from core import keras_check

    common.show_code(
        params.gate_params,
        params.direction_params,
        params.ledger,
        keras_check.count_with_keras,
    )


# Quiz ----------------------------------------------------------------------


def next_question() -> None:
    st.session_state[QUIZ_NUMBER_KEY] += 1


def show_quiz() -> None:
    st.header("Quiz")
    st.session_state.setdefault(QUIZ_NUMBER_KEY, 1)
    number = st.columns([1, 3])[0].number_input(
        "Question number",
        min_value=1,
        max_value=9_999,
        key=QUIZ_NUMBER_KEY,
        help="The same number gives the same question: a class can share one.",
    )
    question = params.quiz_question(int(number))
    st.markdown(f"**Question {number}.** {question.text}")
    with st.columns([2, 3])[0].form(key(f"quiz.{number}")):
        guess = st.number_input(
            "Your answer", min_value=0, value=None, step=1, placeholder="a number"
        )
        committed = st.form_submit_button("Commit to this answer")
    if committed:
        if guess is None:
            st.warning("Type a number first: the answer comes after you commit.")
        else:
            st.session_state[QUIZ_ANSWER_KEY] = (int(number), int(guess))

    answered = st.session_state.get(QUIZ_ANSWER_KEY)
    if answered and answered[0] == number:
        guess = answered[1]
        if guess == question.answer:
            st.success(f"Right: {question.answer:,}. {question.working}")
        else:
            st.error(
                f"You said {guess:,}; the answer is {question.answer:,}. "
                f"{question.working}"
            )
    st.button("Next question", on_click=next_question)


# Page ----------------------------------------------------------------------

st.title("Architecture")
st.markdown(
    "Where every one of the model's parameters lives: per layer, per direction, "
    "per gate and per matrix, with the formulas behind each count.  \n"
    "Change the sizes or the cell and watch every count change - and Keras agree."
)

try:
    hp = controls()
except ValueError as error:
    st.error(str(error))
    st.stop()

counts = params.layer_params(hp)
rows = params.ledger(hp)
headline(hp, counts)
verdict = st.empty()
verdict.caption("Keras is checking these counts...")
st.caption(sequence_length_note(hp))

show_ledger(rows, hp)
show_formulas(hp)
show_equations(hp)
keras_section = st.container()
show_quiz()

with keras_section:
    show_keras_check(rows, hp, counts, verdict)
show_code()
