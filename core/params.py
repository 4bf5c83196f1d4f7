"""Where the parameters of the lab's model live: counts, shapes and formulas.

Pure arithmetic, no TensorFlow, so a page can show the ledger at once. The
conventions are Keras' own:

- a kernel multiplies a row vector from the right (`x_t W`), so the input
  kernel W has shape (input width d, gates * units n);
- the gates are stacked along the last axis in Keras' order: GRU [z, r, h],
  LSTM [i, f, c, o]; SimpleRNN has one block, the state itself;
- a GRU with `reset_after=True` (Keras' default) keeps two bias vectors per
  gate, one added to `x_t W` and one to `h_(t-1) U`: its bias has shape
  (2, 3n). With `reset_after=False` it has one, of shape (3n,).

Symbols used in docstrings and formulas: V vocabulary size, d embedding size
(the recurrent layer's input width), n units, g gates per cell, beta bias
vectors per gate, w the Dense layer's input width.

`core.keras_check` builds the real model and compares it with `ledger`.
"""

import dataclasses
import random

from core.config import CELLS, MERGE_MODES, Hyperparameters

# Layer names, as `core.model` gives them (it imports Keras, so they are
# repeated here; tests/test_params.py checks that they agree).
VECTORIZER = "text_vectorization"
EMBEDDING = "embedding"
RECURRENT = "recurrent"
DROPOUT = "dropout"
OUTPUT = "dense"
LAYERS = (VECTORIZER, EMBEDDING, RECURRENT, DROPOUT, OUTPUT)

# Gates in the order Keras stacks them along the last axis of each weight.
GATES: dict[str, tuple[str, ...]] = {
    "gru": ("update z", "reset r", "candidate h"),
    "lstm": ("input i", "forget f", "cell c", "output o"),
    "simple_rnn": ("state",),
}
CELL_NAMES = {"gru": "GRU", "lstm": "LSTM", "simple_rnn": "SimpleRNN"}
MERGE_MODE_NAMES = {
    "concat": "concat",
    "sum": "sum",
    "ave": "average",
    "mul": "multiply",
}
FORWARD = "forward"
BACKWARD = "backward"

# The matrices of one gate, and of the other layers.
INPUT_KERNEL = "kernel W"
RECURRENT_KERNEL = "recurrent kernel U"
BIAS = "bias b"
INPUT_BIAS = "input bias b_W"
RECURRENT_BIAS = "recurrent bias b_U"
EMBEDDINGS = "embeddings E"

# Keras' own names of the recurrent cell's weights.
KERAS_KERNEL = "kernel"
KERAS_RECURRENT_KERNEL = "recurrent_kernel"
KERAS_BIAS = "bias"


@dataclasses.dataclass(frozen=True)
class LedgerRow:
    """One weight block: a whole matrix, or one gate's slice of a Keras weight."""

    layer: str  # Keras layer name: "embedding", "recurrent" or "dense"
    direction: str  # "forward" or "backward" in the recurrent layer, else ""
    gate: str  # e.g. "reset r" in the recurrent layer, else ""
    matrix: str  # e.g. "kernel W", "recurrent bias b_U"
    shape: tuple[int, ...]
    count: int
    keras_slice: str  # where the block sits in Keras' weight, e.g. "kernel[:, 64:128]"


def _check_cell(cell: str) -> None:
    if cell not in CELLS:
        raise ValueError(f"Argument `cell` must be one of {list(CELLS)}, got {cell!r}.")


def _check_merge_mode(merge_mode: str) -> None:
    if merge_mode not in MERGE_MODES:
        raise ValueError(
            f"Argument `merge_mode` must be one of {list(MERGE_MODES)}, "
            f"got {merge_mode!r}."
        )


def gate_count(cell: str) -> int:
    """g: blocks stacked in each weight (GRU 3, LSTM 4, SimpleRNN 1)."""
    _check_cell(cell)
    return len(GATES[cell])


def bias_vectors_per_gate(cell: str, reset_after: bool) -> int:
    """beta: 2 for a GRU with reset_after=True (b_W and b_U), else 1."""
    _check_cell(cell)
    return 2 if cell == "gru" and reset_after else 1


def direction_count(bidirectional: bool) -> int:
    """2 when the review is read forwards and backwards, else 1."""
    return 2 if bidirectional else 1


def embedding_params(vocab_size: int, embedding_dim: int) -> int:
    """V * d: one d-wide vector per word of the vocabulary."""
    return vocab_size * embedding_dim


def gate_params(input_dim: int, units: int, bias_vectors: int) -> int:
    """n * (d + n + beta): W (d x n), U (n x n) and beta bias vectors of n."""
    return units * (input_dim + units + bias_vectors)


def direction_params(input_dim: int, units: int, cell: str, reset_after: bool) -> int:
    """g * n * (d + n + beta): every gate of one direction's cell."""
    bias_vectors = bias_vectors_per_gate(cell, reset_after)
    return gate_count(cell) * gate_params(input_dim, units, bias_vectors)


def recurrent_params(hp: Hyperparameters) -> int:
    """directions * g * n * (d + n + beta); the sequence length is not in it."""
    one_direction = direction_params(
        hp.embedding_dim, hp.units, hp.cell, hp.reset_after
    )
    return direction_count(hp.bidirectional) * one_direction


def recurrent_output_width(units: int, bidirectional: bool, merge_mode: str) -> int:
    """w: 2n for two directions concatenated, else n (sum, ave, mul or one way)."""
    _check_merge_mode(merge_mode)
    if bidirectional and merge_mode == "concat":
        return 2 * units
    return units


def dense_params(input_width: int) -> int:
    """w + 1: one weight per input and one bias for the single output unit."""
    return input_width + 1


def recurrent_weight_shapes(
    input_dim: int, units: int, cell: str, reset_after: bool
) -> dict[str, tuple[int, ...]]:
    """Shapes of one direction's weights, keyed by Keras' names.

    kernel (d, g*n), recurrent_kernel (n, g*n), bias (g*n,) - or (2, g*n) for a
    GRU with reset_after=True, row 0 added to x_t W and row 1 to h_(t-1) U.
    """
    width = gate_count(cell) * units
    bias = (2, width) if bias_vectors_per_gate(cell, reset_after) == 2 else (width,)
    return {
        KERAS_KERNEL: (input_dim, width),
        KERAS_RECURRENT_KERNEL: (units, width),
        KERAS_BIAS: bias,
    }


def layer_params(hp: Hyperparameters) -> dict[str, int]:
    """Parameters per layer of `core.model.build_model`, in the model's order."""
    width = recurrent_output_width(hp.units, hp.bidirectional, hp.merge_mode)
    return {
        VECTORIZER: 0,
        EMBEDDING: embedding_params(hp.vocab_size, hp.embedding_dim),
        RECURRENT: recurrent_params(hp),
        DROPOUT: 0,
        OUTPUT: dense_params(width),
    }


def total_params(hp: Hyperparameters) -> int:
    """V*d + directions * g*n*(d + n + beta) + w + 1."""
    return sum(layer_params(hp).values())


def _gate_rows(direction: str, hp: Hyperparameters) -> list[LedgerRow]:
    input_dim, units = hp.embedding_dim, hp.units
    two_biases = bias_vectors_per_gate(hp.cell, hp.reset_after) == 2
    rows = []
    for index, gate in enumerate(GATES[hp.cell]):
        columns = f"{index * units}:{(index + 1) * units}"
        blocks = [
            (INPUT_KERNEL, (input_dim, units), f"{KERAS_KERNEL}[:, {columns}]"),
            (
                RECURRENT_KERNEL,
                (units, units),
                f"{KERAS_RECURRENT_KERNEL}[:, {columns}]",
            ),
        ]
        if two_biases:
            blocks.append((INPUT_BIAS, (units,), f"{KERAS_BIAS}[0, {columns}]"))
            blocks.append((RECURRENT_BIAS, (units,), f"{KERAS_BIAS}[1, {columns}]"))
        else:
            blocks.append((BIAS, (units,), f"{KERAS_BIAS}[{columns}]"))
        for matrix, shape, keras_slice in blocks:
            count = shape[0] * (shape[1] if len(shape) == 2 else 1)
            rows.append(
                LedgerRow(RECURRENT, direction, gate, matrix, shape, count, keras_slice)
            )
    return rows


def ledger(hp: Hyperparameters) -> list[LedgerRow]:
    """Every weight block of the model, from the Embedding to the Dense bias.

    Embedding: E (V x d). Recurrent layer, per direction and per gate: W (d x n),
    U (n x n) and the gate's bias vector(s) of n. Dense: W (w x 1) and b (1).
    The counts add up to `total_params(hp)`; `pandas.DataFrame(ledger(hp))`
    makes a table of it.
    """
    vocabulary_rows = [
        LedgerRow(
            EMBEDDING,
            "",
            "",
            EMBEDDINGS,
            (hp.vocab_size, hp.embedding_dim),
            embedding_params(hp.vocab_size, hp.embedding_dim),
            "embeddings",
        )
    ]
    directions = [FORWARD, BACKWARD] if hp.bidirectional else [FORWARD]
    recurrent_rows = [row for way in directions for row in _gate_rows(way, hp)]
    width = recurrent_output_width(hp.units, hp.bidirectional, hp.merge_mode)
    output_rows = [
        LedgerRow(OUTPUT, "", "", INPUT_KERNEL, (width, 1), width, "kernel"),
        LedgerRow(OUTPUT, "", "", BIAS, (1,), 1, "bias"),
    ]
    return vocabulary_rows + recurrent_rows + output_rows


def recurrent_layer_name(hp: Hyperparameters) -> str:
    """e.g. "Bidirectional GRU" or "LSTM"."""
    cell = CELL_NAMES[hp.cell]
    return f"Bidirectional {cell}" if hp.bidirectional else cell


# Formulas ------------------------------------------------------------------


def _number(value: int) -> str:
    """An integer with thousands separators, as LaTeX wants them: 1{,}280{,}000."""
    return f"{value:,}".replace(",", "{,}")


@dataclasses.dataclass(frozen=True)
class Formula:
    """A count as LaTeX: the general formula, then with the numbers filled in."""

    name: str
    symbols: str
    numbers: str
    value: int

    @property
    def latex(self) -> str:
        return (
            rf"\begin{{aligned}} \text{{{self.name}}} &= {self.symbols} \\"
            rf" &= {self.numbers} = \mathbf{{{_number(self.value)}}}"
            r"\end{aligned}"
        )


def count_formulas(hp: Hyperparameters) -> list[Formula]:
    """The ledger's arithmetic for `hp`, from the Embedding to the total."""
    d, n, g = hp.embedding_dim, hp.units, gate_count(hp.cell)
    beta = bias_vectors_per_gate(hp.cell, hp.reset_after)
    directions = direction_count(hp.bidirectional)
    width = recurrent_output_width(n, hp.bidirectional, hp.merge_mode)
    one_gate = gate_params(d, n, beta)
    one_direction = direction_params(d, n, hp.cell, hp.reset_after)
    counts = layer_params(hp)

    if beta == 2:
        gate_symbols = (
            r"\underbrace{d \cdot n}_{W} + \underbrace{n \cdot n}_{U}"
            r" + \underbrace{n}_{b_W} + \underbrace{n}_{b_U} = n\,(d + n + 2)"
        )
        gate_numbers = (
            f"{_number(d * n)} + {_number(n * n)} + {_number(n)} + {_number(n)}"
        )
    else:
        gate_symbols = (
            r"\underbrace{d \cdot n}_{W} + \underbrace{n \cdot n}_{U}"
            r" + \underbrace{n}_{b} = n\,(d + n + 1)"
        )
        gate_numbers = f"{_number(d * n)} + {_number(n * n)} + {_number(n)}"
    gate_name = "one gate" if g > 1 else "the state block"

    if hp.bidirectional and hp.merge_mode == "concat":
        width_symbols = r"w + 1, \quad w = 2n \text{ (concat)}"
    elif hp.bidirectional:
        merge = MERGE_MODE_NAMES[hp.merge_mode]
        width_symbols = rf"w + 1, \quad w = n \text{{ ({merge})}}"
    else:
        width_symbols = r"w + 1, \quad w = n \text{ (one direction)}"

    return [
        Formula(
            "Embedding",
            r"V \cdot d",
            rf"{_number(hp.vocab_size)} \cdot {_number(d)}",
            counts[EMBEDDING],
        ),
        Formula(gate_name, gate_symbols, gate_numbers, one_gate),
        Formula(
            "one direction",
            rf"g \cdot n\,(d + n + \beta), \quad g = {g},\ \beta = {beta}",
            rf"{g} \cdot {_number(one_gate)}",
            one_direction,
        ),
        Formula(
            recurrent_layer_name(hp),
            r"\text{directions} \cdot g \cdot n\,(d + n + \beta)",
            rf"{directions} \cdot {_number(one_direction)}",
            counts[RECURRENT],
        ),
        Formula("Dense", width_symbols, rf"{_number(width)} + 1", counts[OUTPUT]),
        Formula(
            "total",
            r"\text{Embedding} + \text{recurrent} + \text{Dense}",
            " + ".join(
                _number(counts[name]) for name in (EMBEDDING, RECURRENT, OUTPUT)
            ),
            total_params(hp),
        ),
    ]


# Keras' equations, one line of LaTeX each, in Keras' row-vector convention.
_GRU_RESET_AFTER = [
    r"z_t = \sigma(x_t W_z + b_{W,z} + h_{t-1} U_z + b_{U,z})",
    r"r_t = \sigma(x_t W_r + b_{W,r} + h_{t-1} U_r + b_{U,r})",
    (
        r"\tilde h_t = \tanh\big(x_t W_h + b_{W,h}"
        r" + r_t \odot (h_{t-1} U_h + b_{U,h})\big)"
    ),
    r"h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t",
]
_GRU_RESET_BEFORE = [
    r"z_t = \sigma(x_t W_z + h_{t-1} U_z + b_z)",
    r"r_t = \sigma(x_t W_r + h_{t-1} U_r + b_r)",
    r"\tilde h_t = \tanh\big(x_t W_h + (r_t \odot h_{t-1})\, U_h + b_h\big)",
    r"h_t = z_t \odot h_{t-1} + (1 - z_t) \odot \tilde h_t",
]
_LSTM = [
    r"i_t = \sigma(x_t W_i + h_{t-1} U_i + b_i)",
    r"f_t = \sigma(x_t W_f + h_{t-1} U_f + b_f)",
    r"\tilde c_t = \tanh(x_t W_c + h_{t-1} U_c + b_c)",
    r"o_t = \sigma(x_t W_o + h_{t-1} U_o + b_o)",
    r"c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t",
    r"h_t = o_t \odot \tanh(c_t)",
]
_SIMPLE_RNN = [r"h_t = \tanh(x_t W + h_{t-1} U + b)"]


def cell_equations(cell: str, reset_after: bool = True) -> list[str]:
    """What Keras' cell computes at each step, as lines of LaTeX.

    x_t is the 1 x d word vector at step t, h_(t-1) the 1 x n previous state;
    sigma is the logistic sigmoid (Keras' default recurrent activation).
    """
    _check_cell(cell)
    if cell == "gru":
        return list(_GRU_RESET_AFTER if reset_after else _GRU_RESET_BEFORE)
    return list(_LSTM if cell == "lstm" else _SIMPLE_RNN)


# Quiz ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class QuizQuestion:
    """A question with one integer answer, and the working that reaches it."""

    text: str
    answer: int
    working: str


def _question_about_gate(rng: random.Random) -> QuizQuestion:
    cell = rng.choice(["gru", "gru", "lstm"])
    reset_after = rng.random() < 0.6
    units, input_dim = rng.choice([16, 32, 64, 128]), rng.choice([32, 64, 100, 128])
    direction = rng.choice([FORWARD, BACKWARD])
    gate = rng.choice(GATES[cell])
    beta = bias_vectors_per_gate(cell, reset_after)
    answer = gate_params(input_dim, units, beta)
    variant = f" (reset_after={reset_after})" if cell == "gru" else ""
    word, symbol = gate.split()
    text = (
        f"A bidirectional {CELL_NAMES[cell]}{variant} with {units} units reads "
        f"{input_dim}-wide word vectors. How many parameters does the {direction} "
        f"{word} gate {symbol} have?"
    )
    bias_terms = " + ".join([f"{units}"] * beta)
    working = (
        f"n (d + n + β) with β = {beta}: {input_dim} × {units} (W) + "
        f"{units} × {units} (U) + {bias_terms} (bias) = {answer:,}. "
        "Every gate of either direction has the same count."
    )
    return QuizQuestion(text, answer, working)


def _question_about_layer(rng: random.Random) -> QuizQuestion:
    cell = rng.choice(CELLS)
    reset_after = rng.random() < 0.5
    units, input_dim = rng.choice([8, 16, 32, 64]), rng.choice([16, 32, 64, 128])
    hp = Hyperparameters(
        cell=cell, units=units, embedding_dim=input_dim, reset_after=reset_after
    )
    answer = recurrent_params(hp)
    variant = f" (reset_after={reset_after})" if cell == "gru" else ""
    g, beta = gate_count(cell), bias_vectors_per_gate(cell, reset_after)
    text = (
        f"How many parameters does a Bidirectional {CELL_NAMES[cell]}{variant} "
        f"layer with {units} units have on {input_dim}-wide word vectors?"
    )
    working = (
        f"2 directions × g × n (d + n + β) = 2 × {g} × {units} × "
        f"({input_dim} + {units} + {beta}) = {answer:,}."
    )
    return QuizQuestion(text, answer, working)


def _question_about_dense(rng: random.Random) -> QuizQuestion:
    merge_mode = rng.choice(MERGE_MODES)
    units = rng.choice([16, 32, 64, 128])
    width = recurrent_output_width(units, True, merge_mode)
    answer = dense_params(width)
    text = (
        f"A Bidirectional GRU with {units} units merges its two directions with "
        f"merge_mode={merge_mode!r}. How many parameters does the Dense layer "
        "(one output unit) have?"
    )
    if merge_mode == "concat":
        why = "concat puts the two n-wide states side by side"
    else:
        why = f"{MERGE_MODE_NAMES[merge_mode]} combines them element by element"
    working = f"w + 1 with w = {width} ({why}): {width} + 1 = {answer:,}."
    return QuizQuestion(text, answer, working)


def _question_about_embedding(rng: random.Random) -> QuizQuestion:
    vocab_size = rng.choice([5_000, 10_000, 20_000])
    embedding_dim = rng.choice([32, 64, 100, 128])
    answer = embedding_params(vocab_size, embedding_dim)
    text = (
        f"How many parameters does an Embedding for {vocab_size:,} words with "
        f"{embedding_dim}-wide vectors have?"
    )
    working = f"V × d = {vocab_size:,} × {embedding_dim} = {answer:,}."
    return QuizQuestion(text, answer, working)


def _question_about_length(rng: random.Random) -> QuizQuestion:
    length = rng.choice([100, 200, 300, 500])
    text = (
        f"The lab's model reads {length} tokens per review. How many parameters "
        f"would it gain if it read {2 * length} instead?"
    )
    working = (
        "None: the same W, U and biases are used at every step, and the "
        "Embedding has one row per word of the vocabulary, not per position. "
        "Longer reviews cost time and memory, not parameters."
    )
    return QuizQuestion(text, 0, working)


_QUESTIONS = [
    _question_about_gate,
    _question_about_gate,
    _question_about_layer,
    _question_about_dense,
    _question_about_embedding,
    _question_about_length,
]


def quiz_question(seed: int) -> QuizQuestion:
    """The quiz question numbered `seed` (the same seed, the same question)."""
    rng = random.Random(seed)
    return rng.choice(_QUESTIONS)(rng)
