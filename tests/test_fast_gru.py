"""The fast GRU path computes what Keras' layers compute, values and gradients."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

from core import fast_gru, text
from core import model as model_module
from core.config import Hyperparameters

TOLERANCE = 1e-5


def _token_ids(rng, batch, steps, vocab, lengths=None):
    if lengths is None:
        lengths = rng.integers(0, steps + 1, batch)
    ids = rng.integers(1, vocab, (batch, steps)).astype(np.int32)
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    return ids


def _layers(vocab, embedding_dim, units, mask, bidirectional, merge_mode, seed):
    keras.utils.set_random_seed(seed)
    embedding = layers.Embedding(vocab, embedding_dim, mask_zero=mask)
    gru = layers.GRU(units)
    recurrent = (
        layers.Bidirectional(gru, merge_mode=merge_mode) if bidirectional else gru
    )
    return embedding, recurrent


def _compare(embedding, recurrent, ids, seed):
    fast = fast_gru.FastRecurrentEncoder(embedding, recurrent)
    ids = tf.constant(ids)
    fast(ids)  # builds both layers
    # Non-zero biases, so that their gradients and placement are tested too.
    cells = (
        [recurrent.forward_layer.cell, recurrent.backward_layer.cell]
        if isinstance(recurrent, layers.Bidirectional)
        else [recurrent.cell]
    )
    rng = np.random.default_rng(seed)
    for cell in cells:
        cell.bias.assign(rng.normal(0, 0.3, cell.bias.shape))
    variables = embedding.trainable_variables + recurrent.trainable_variables
    weights = None
    results = []
    for compute in (lambda: recurrent(embedding(ids)), lambda: fast(ids)):
        with tf.GradientTape() as tape:
            out = compute()
            if weights is None:
                weights = tf.constant(rng.normal(size=out.shape).astype(np.float32))
            loss = tf.reduce_sum(tf.sin(out) * weights)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, variables)]
        results.append((out.numpy(), [g.numpy() for g in grads]))
    (keras_out, keras_grads), (fast_out, fast_grads) = results
    return keras_out, fast_out, keras_grads, fast_grads


@pytest.mark.parametrize(
    "bidirectional, merge_mode, mask",
    [
        (True, "concat", True),
        (True, "sum", True),
        (True, "mul", False),
        (True, "ave", True),
        (False, None, True),
        (False, None, False),
    ],
)
def test_outputs_and_gradients_equal_keras(bidirectional, merge_mode, mask):
    rng = np.random.default_rng(7)
    ids = _token_ids(rng, batch=6, steps=11, vocab=50)
    ids[0] = _token_ids(rng, 1, 11, 50, lengths=[11])[0]  # one full-length row
    ids[1] = 0  # and one empty review
    embedding, recurrent = _layers(50, 5, 4, mask, bidirectional, merge_mode, seed=3)
    keras_out, fast_out, keras_grads, fast_grads = _compare(
        embedding, recurrent, ids, seed=5
    )
    assert fast_out.shape == keras_out.shape
    np.testing.assert_allclose(fast_out, keras_out, atol=TOLERANCE)
    assert len(fast_grads) == len(keras_grads) == (7 if bidirectional else 4)
    for fast, reference in zip(fast_grads, keras_grads):
        np.testing.assert_allclose(fast, reference, atol=TOLERANCE)
    assert max(np.abs(g).max() for g in keras_grads) > 1e-3  # not all zero


def test_lab_sizes_on_long_reviews_equal_keras():
    """The lab's sizes over 120 steps: errors must not grow along the loop."""
    rng = np.random.default_rng(11)
    ids = _token_ids(rng, 8, 120, 10_000, lengths=rng.integers(60, 121, 8))
    embedding, recurrent = _layers(10_000, 128, 64, True, True, "concat", seed=1)
    keras_out, fast_out, keras_grads, fast_grads = _compare(
        embedding, recurrent, ids, seed=2
    )
    np.testing.assert_allclose(fast_out, keras_out, atol=TOLERANCE)
    for fast, reference in zip(fast_grads, keras_grads):
        scale = max(np.abs(reference).max(), 1.0)
        np.testing.assert_allclose(fast / scale, reference / scale, atol=TOLERANCE)


def test_a_wrong_step_is_caught():
    """The comparison can fail: a recurrent bias moved by 0.01 is seen."""
    rng = np.random.default_rng(7)
    ids = _token_ids(rng, 4, 9, 30, lengths=[9, 5, 3, 7])
    embedding, recurrent = _layers(30, 5, 4, True, True, "concat", seed=3)
    fast = fast_gru.FastRecurrentEncoder(embedding, recurrent)
    reference = recurrent(embedding(tf.constant(ids))).numpy()
    cell = recurrent.backward_layer.cell
    cell.bias.assign(cell.bias + np.array([[0.0] * 12, [0.0] * 8 + [0.01] * 4]))
    assert np.abs(fast(tf.constant(ids)).numpy() - reference).max() > 1e-4


@pytest.mark.parametrize(
    "recurrent",
    [
        layers.LSTM(4),
        layers.SimpleRNN(4),
        layers.GRU(4, reset_after=False),
        layers.GRU(4, dropout=0.1),
        layers.GRU(4, return_sequences=True),
        layers.Bidirectional(layers.LSTM(4)),
        layers.Bidirectional(layers.GRU(4, reset_after=False)),
    ],
    ids=lambda layer: layer.__class__.__name__,
)
def test_other_recurrent_layers_keep_keras(recurrent):
    assert not fast_gru.supports(recurrent)
    with pytest.raises(ValueError, match="no fast path"):
        fast_gru.FastRecurrentEncoder(layers.Embedding(10, 3), recurrent)


def test_training_model_uses_the_fast_path_only_where_supported():
    vectorizer = text.adapt_vectorizer(50, 12, ["a good film", "a bad movie"])
    gru_model = model_module.build_model(Hyperparameters(vocab_size=50), vectorizer)
    fast = model_module.training_model(gru_model)
    assert any(isinstance(x, fast_gru.FastRecurrentEncoder) for x in fast.layers)
    assert fast.count_params() == gru_model.count_params()
    # Same variables, not copies: training the fast model trains the model.
    assert {id(v) for v in fast.trainable_variables} == {
        id(v) for v in gru_model.trainable_variables
    }
    plain = model_module.training_model(gru_model, fast=False)
    assert not any(isinstance(x, fast_gru.FastRecurrentEncoder) for x in plain.layers)
    lstm = model_module.build_model(
        Hyperparameters(vocab_size=50, cell="lstm"), vectorizer
    )
    assert not any(
        isinstance(x, fast_gru.FastRecurrentEncoder)
        for x in model_module.training_model(lstm).layers
    )


@pytest.mark.parametrize("use_ema", [False, True])
def test_fused_adam_steps_like_keras_adam(use_ema):
    rng = np.random.default_rng(3)
    start = [rng.normal(size=(40, 6)).astype(np.float32), rng.normal(size=6)]
    gradients = [
        [rng.normal(size=(40, 6)).astype(np.float32), rng.normal(size=6)]
        for _ in range(5)
    ]
    finals = []
    for optimizer_class in (keras.optimizers.Adam, fast_gru.FusedAdam):
        variables = [keras.Variable(value.astype(np.float32)) for value in start]
        optimizer = optimizer_class(
            learning_rate=0.01, use_ema=use_ema, ema_momentum=0.9
        )
        optimizer.build(variables)

        step = _compiled_step(optimizer, variables)

        for number, grads in enumerate(gradients):
            grads = [tf.constant(g, tf.float32) for g in grads]
            if number == 0:  # as an embedding's gradient arrives
                grads[0] = tf.IndexedSlices(
                    grads[0], tf.range(40), tf.constant([40, 6])
                )
            step(grads)
        values = [v.numpy() for v in variables]
        if use_ema:
            values += [v.numpy() for v in optimizer._model_variables_moving_average]
        finals.append(values)
    for keras_value, fused_value in zip(*finals):
        np.testing.assert_allclose(fused_value, keras_value, rtol=1e-5, atol=1e-6)
    assert np.abs(finals[0][0] - start[0]).max() > 0.01  # the steps moved it


def _compiled_step(optimizer, variables):
    @tf.function
    def step(grads):
        optimizer.apply(grads, variables)

    return step


def test_training_through_the_fast_path_follows_keras(
    tiny_vectorized, tiny_hyperparameters
):
    """Same seed, same batches: both paths end with the same history and weights."""
    from core import training

    hp = tiny_hyperparameters.with_changes(weight_averaging=True)
    runs = [
        training.train(hp.with_changes(fast_gru=fast), tiny_vectorized)
        for fast in (False, True)
    ]
    keras_run, fast_run = runs
    assert len(fast_run.history) == len(keras_run.history) >= 1
    for keras_epoch, fast_epoch in zip(keras_run.history, fast_run.history):
        for metric in ("loss", "val_loss"):
            assert fast_epoch[metric] == pytest.approx(keras_epoch[metric], abs=1e-4)
    for keras_weight, fast_weight in zip(
        keras_run.model.get_weights(), fast_run.model.get_weights()
    ):
        np.testing.assert_allclose(fast_weight, keras_weight, atol=1e-6)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"fast_gru": False},
        {"cell": "lstm"},
        {"cell": "simple_rnn"},
        {"reset_after": False},
        {"bidirectional": False},
        {"merge_mode": "ave"},
    ],
)
def test_the_time_estimate_and_the_training_agree_on_the_path(changes):
    """`used_for` (read by the time estimate) says what `training_model` does."""
    hp = Hyperparameters(vocab_size=50, sequence_length=12).with_changes(**changes)
    vectorizer = text.adapt_vectorizer(50, 12, ["a good film", "a bad movie"])
    trained = model_module.training_model(
        model_module.build_model(hp, vectorizer), fast=hp.fast_gru
    )
    takes_it = any(
        isinstance(layer, fast_gru.FastRecurrentEncoder) for layer in trained.layers
    )
    assert fast_gru.used_for(hp) == takes_it
