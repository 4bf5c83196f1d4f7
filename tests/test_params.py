"""The parameter ledger: the lab's numbers, and Keras' agreement everywhere."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import keras_check, params
from core import model as model_module
from core.config import CELLS, MERGE_MODES, Hyperparameters

LAB = Hyperparameters()


@st.composite
def architectures(draw, max_vocab_size=400, max_width=24):
    """Any architecture the Architecture page's controls allow, kept small."""
    return Hyperparameters(
        vocab_size=draw(st.integers(3, max_vocab_size)),
        sequence_length=draw(st.integers(1, 50)),
        embedding_dim=draw(st.integers(1, max_width)),
        units=draw(st.integers(1, max_width)),
        cell=draw(st.sampled_from(CELLS)),
        bidirectional=draw(st.booleans()),
        merge_mode=draw(st.sampled_from(MERGE_MODES)),
        reset_after=draw(st.booleans()),
    )


def test_layer_names_match_core_model():
    assert params.VECTORIZER == model_module.VECTORIZER
    assert params.EMBEDDING == model_module.EMBEDDING
    assert params.RECURRENT == model_module.RECURRENT
    assert params.DROPOUT == model_module.DROPOUT
    assert params.OUTPUT == model_module.OUTPUT


def test_lab_ledger_numbers():
    counts = params.layer_params(LAB)
    assert counts[params.EMBEDDING] == 1_280_000
    assert counts[params.RECURRENT] == 74_496
    assert counts[params.OUTPUT] == 129
    assert params.total_params(LAB) == 1_354_625
    assert params.direction_params(128, 64, "gru", reset_after=True) == 37_248

    rows = params.ledger(LAB)
    assert sum(row.count for row in rows) == 1_354_625
    for direction in (params.FORWARD, params.BACKWARD):
        for gate in ("update z", "reset r", "candidate h"):
            parts = [
                row.count
                for row in rows
                if (row.direction, row.gate) == (direction, gate)
            ]
            assert parts == [8_192, 4_096, 64, 64]
            assert sum(parts) == 12_416
    dense_kernel = next(r for r in rows if r.layer == params.OUTPUT)
    assert dense_kernel.shape == (128, 1)


def test_lab_weight_shapes_and_gate_slices():
    shapes = params.recurrent_weight_shapes(128, 64, "gru", reset_after=True)
    assert shapes == {
        "kernel": (128, 192),
        "recurrent_kernel": (64, 192),
        "bias": (2, 192),
    }
    assert params.recurrent_weight_shapes(128, 64, "gru", False)["bias"] == (192,)
    reset = [r for r in params.ledger(LAB) if r.gate == "reset r"][:4]
    assert [r.keras_slice for r in reset] == [
        "kernel[:, 64:128]",
        "recurrent_kernel[:, 64:128]",
        "bias[0, 64:128]",
        "bias[1, 64:128]",
    ]


def test_reset_after_false_has_one_bias_per_gate():
    hp = LAB.with_changes(reset_after=False)
    assert params.recurrent_params(hp) == 74_112
    assert {r.matrix for r in params.ledger(hp) if r.layer == params.RECURRENT} == {
        params.INPUT_KERNEL,
        params.RECURRENT_KERNEL,
        params.BIAS,
    }


@pytest.mark.parametrize(
    ("changes", "dense_width"),
    [
        ({"merge_mode": "concat"}, 128),
        ({"merge_mode": "sum"}, 64),
        ({"merge_mode": "ave"}, 64),
        ({"merge_mode": "mul"}, 64),
        ({"bidirectional": False, "merge_mode": "concat"}, 64),
    ],
)
def test_dense_width_follows_the_merge_mode(changes, dense_width):
    assert params.layer_params(LAB.with_changes(**changes))["dense"] == dense_width + 1


def test_formulas_fill_in_the_labs_numbers():
    formulas = params.count_formulas(LAB)
    assert [f.value for f in formulas] == [
        1_280_000,
        12_416,
        37_248,
        74_496,
        129,
        1_354_625,
    ]
    assert r"8{,}192 + 4{,}096 + 64 + 64" in formulas[1].latex
    assert "b_U" in formulas[1].latex
    one_bias = params.count_formulas(LAB.with_changes(reset_after=False))
    assert one_bias[3].value == 74_112 and "b_U" not in one_bias[1].latex


def test_unknown_cell_is_refused_by_name():
    with pytest.raises(ValueError, match="`cell`.*'transformer'"):
        params.gate_count("transformer")


@settings(max_examples=200, deadline=None)
@given(architectures(max_vocab_size=100_000, max_width=1_024))
def test_ledger_adds_up_and_ignores_sequence_length(hp):
    rows = params.ledger(hp)
    counts = params.layer_params(hp)
    for layer in (params.EMBEDDING, params.RECURRENT, params.OUTPUT):
        assert sum(r.count for r in rows if r.layer == layer) == counts[layer]
    assert params.total_params(hp) == sum(r.count for r in rows)
    assert all(r.count == int(np.prod(r.shape)) for r in rows)
    longer = hp.with_changes(sequence_length=2 * hp.sequence_length)
    assert params.ledger(longer) == rows
    formulas = params.count_formulas(hp)
    assert formulas[-1].value == params.total_params(hp)


@settings(max_examples=30, deadline=None)
@given(architectures())
def test_param_count_matches_keras(hp):
    keras.backend.clear_session()
    result = keras_check.count_with_keras(hp)
    counts = params.layer_params(hp)

    assert result.layer_params == counts
    assert result.total == params.total_params(hp)
    assert keras_check.differences(params.ledger(hp), list(result.rows)) == []
    expected_shapes = params.recurrent_weight_shapes(
        hp.embedding_dim, hp.units, hp.cell, hp.reset_after
    )
    for weight in result.recurrent_weights:
        assert weight.shape == expected_shapes[weight.name]


@pytest.mark.parametrize("reset_after", [True, False])
def test_lab_matches_keras(reset_after):
    hp = LAB.with_changes(reset_after=reset_after)
    result = keras_check.count_with_keras(hp)
    assert result.total == params.total_params(hp)
    assert keras_check.differences(params.ledger(hp), list(result.rows)) == []
    forward = {w.name: w for w in result.recurrent_weights if w.direction == "forward"}
    assert forward["kernel"].shape == (128, 192)
    assert forward["recurrent_kernel"].shape == (64, 192)
    assert forward["bias"].shape == ((2, 192) if reset_after else (192,))
    assert [gate for gate, _ in forward["kernel"].gate_shapes] == list(
        params.GATES["gru"]
    )


def test_differences_names_a_mismatch():
    rows = params.ledger(LAB)
    wrong = list(rows)
    wrong[2] = params.LedgerRow(
        "recurrent", "forward", "update z", params.RECURRENT_KERNEL, (64, 63), 4_032, ""
    )
    found = keras_check.differences(rows, wrong)
    assert len(found) == 1 and "recurrent / forward / update z" in found[0]
    assert keras_check.differences(rows, rows[:-1])


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _gru_by_the_equations(x, kernel, recurrent_kernel, bias, reset_after):
    """One sequence through the GRU as `params.cell_equations` writes it."""
    units = recurrent_kernel.shape[0]
    W_z, W_r, W_h = np.split(kernel, 3, axis=-1)  # Keras' gate order: z, r, h
    U_z, U_r, U_h = np.split(recurrent_kernel, 3, axis=-1)
    if reset_after:
        b_W_z, b_W_r, b_W_h = np.split(bias[0], 3)
        b_U_z, b_U_r, b_U_h = np.split(bias[1], 3)
    else:
        b_W_z, b_W_r, b_W_h = np.split(bias, 3)
        b_U_z = b_U_r = b_U_h = 0
    h = np.zeros(units)
    for x_t in x:
        z = _sigmoid(x_t @ W_z + b_W_z + h @ U_z + b_U_z)
        r = _sigmoid(x_t @ W_r + b_W_r + h @ U_r + b_U_r)
        if reset_after:
            h_candidate = np.tanh(x_t @ W_h + b_W_h + r * (h @ U_h + b_U_h))
        else:
            h_candidate = np.tanh(x_t @ W_h + (r * h) @ U_h + b_W_h)
        h = z * h + (1 - z) * h_candidate
    return h


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru_equations_and_gate_order_match_keras(reset_after):
    """The equations the page shows are the ones Keras computes, gate by gate."""
    rng = np.random.default_rng(0)
    steps, input_dim, units = 5, 3, 4
    x = rng.normal(size=(steps, input_dim)).astype("float32")
    gru = keras.layers.GRU(units, reset_after=reset_after)
    gru.build((1, steps, input_dim))
    bias_shape = (2, 3 * units) if reset_after else (3 * units,)
    weights = [
        rng.normal(size=(input_dim, 3 * units)).astype("float32"),
        rng.normal(size=(units, 3 * units)).astype("float32"),
        rng.normal(size=bias_shape).astype("float32"),
    ]
    gru.set_weights(weights)

    from_keras = np.asarray(gru(x[None]))[0]
    by_hand = _gru_by_the_equations(x, *weights, reset_after=reset_after)
    np.testing.assert_allclose(from_keras, by_hand, atol=1e-5)
    assert len(params.cell_equations("gru", reset_after)) == 4


def test_quiz_questions_are_reproducible_and_consistent():
    for seed in range(1, 120):
        question = params.quiz_question(seed)
        assert question == params.quiz_question(seed)
        assert question.answer >= 0 and question.text.endswith("?")
        if question.answer:
            assert f"{question.answer:,}" in question.working


def test_quiz_gate_question_is_answered_by_the_formula():
    for seed in range(1, 200):
        question = params.quiz_question(seed)
        if "backward reset gate r" in question.text and "32 units" in question.text:
            break
    else:
        pytest.fail("No question about the backward reset gate with 32 units.")
    input_dim = int(question.text.split("reads ")[1].split("-wide")[0])
    bias_vectors = 2 if "reset_after=True" in question.text else 1
    assert question.answer == params.gate_params(input_dim, 32, bias_vectors)
