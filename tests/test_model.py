"""The lab's model: its layer table and its two views (text and token ids)."""

import numpy as np
import pytest
import tensorflow as tf

from core import model as model_module
from core import text
from core.config import Hyperparameters


@pytest.fixture(scope="module")
def small_vectorizer():
    return text.adapt_vectorizer(10_000, 300, ["a good film", "a bad film"])


def test_lab_layer_table(small_vectorizer):
    model = model_module.build_model(Hyperparameters(), small_vectorizer)
    counts = {layer.name: layer.count_params() for layer in model.layers}
    assert counts[model_module.VECTORIZER] == 0
    assert counts[model_module.EMBEDDING] == 1_280_000
    assert counts[model_module.RECURRENT] == 74_496
    assert counts[model_module.DROPOUT] == 0
    assert counts[model_module.OUTPUT] == 129
    assert model.count_params() == 1_354_625


def test_reset_after_false_has_one_bias_per_gate(small_vectorizer):
    hp = Hyperparameters(reset_after=False)
    model = model_module.build_model(hp, small_vectorizer)
    assert model.get_layer(model_module.RECURRENT).count_params() == 74_112


@pytest.mark.parametrize(
    ("changes", "dense_inputs"),
    [
        ({"merge_mode": "sum"}, 64),
        ({"bidirectional": False}, 64),
        ({"cell": "lstm"}, 128),
        ({"cell": "simple_rnn", "units": 8}, 16),
    ],
)
def test_other_cells_and_merges_build(small_vectorizer, changes, dense_inputs):
    hp = Hyperparameters(**changes)
    model = model_module.build_model(hp, small_vectorizer)
    assert model.get_layer(model_module.OUTPUT).count_params() == dense_inputs + 1
    assert model_module.hyperparameters_of_layers(model)["cell"] == hp.cell


def test_token_model_shares_weights_and_predictions(small_vectorizer):
    hp = Hyperparameters(vocab_size=10_000, units=4, embedding_dim=8)
    model = model_module.build_model(hp, small_vectorizer)
    tokens = model_module.token_model(model)
    reviews = ["a good film", "a bad film indeed"]
    from_text = model(tf.constant(reviews), training=False).numpy()
    ids = text.vectorize(small_vectorizer, reviews)
    from_full_ids = tokens(ids, training=False).numpy()
    # Masked padding: cutting the padding away changes nothing.
    from_trimmed_ids = tokens(ids[:, :4], training=False).numpy()
    np.testing.assert_allclose(from_text, from_full_ids, atol=1e-6)
    np.testing.assert_allclose(from_full_ids, from_trimmed_ids, atol=1e-6)
    assert tokens.count_params() == model.count_params()
