"""The NumPy GRU against Keras itself, the logit split and word influence."""

import keras
import numpy as np
import pytest
from keras import layers

from core import data, explain, registry, text
from core import model as model_module
from core.inference import Predictor

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def tiny_model(tiny_models_dir):
    return registry.load_model("tiny-run", tiny_models_dir)


@pytest.fixture(scope="module")
def tiny_ids(tiny_model, tiny_imdb):
    """Tiny test reviews as the model's input, short and long ones mixed."""
    predictor = Predictor(tiny_model)
    return predictor.vectorize(list(tiny_imdb.test.texts[:24]))


@pytest.fixture(scope="module")
def shipped_model():
    if not (registry.default_models_dir() / registry.SHIPPED_MODEL).is_dir():
        pytest.skip("The shipped model has not been trained yet.")
    return registry.load_model(registry.SHIPPED_MODEL)


@pytest.fixture(scope="module")
def real_ids(shipped_model, shared_archive):
    """32 real test reviews, seeded, a quarter of them longer than 300 tokens."""
    imdb = data.load_local(shared_archive)
    predictor = Predictor(shipped_model)
    rng = np.random.default_rng(7)
    chosen = rng.choice(len(imdb.test), 400, replace=False)
    ids = predictor.vectorize(list(imdb.test.texts[chosen]))
    lengths = text.sequence_lengths(ids)
    full = np.flatnonzero(lengths == ids.shape[1])[:8]
    short = np.flatnonzero(lengths < ids.shape[1])[:24]
    return ids[np.concatenate([full, short])]


def keras_sequences(model, gru, token_ids):
    """Keras' own states after every step of `gru` (a copy returning them all)."""
    config = dict(gru.get_config(), return_sequences=True)
    copy = layers.GRU.from_config(config)
    inputs = keras.Input(shape=(None,), dtype="int32")
    outputs = copy(model.get_layer(model_module.EMBEDDING)(inputs))
    copy.set_weights(gru.get_weights())
    states = keras.Model(inputs, outputs).predict(token_ids, verbose=0)
    # a backward GRU returns its states in the order it read them
    return states[:, ::-1] if gru.go_backwards else states


def keras_logits(model, token_ids):
    """The Dense layer's input from Keras, times its weights: the model's logit."""
    inputs = keras.Input(shape=(None,), dtype="int32")
    features = model.get_layer(model_module.RECURRENT)(
        model.get_layer(model_module.EMBEDDING)(inputs)
    )
    merged = keras.Model(inputs, features).predict(token_ids, verbose=0)
    dense = model.get_layer(model_module.OUTPUT)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in dense.weights)
    return merged.astype(np.float64) @ kernel[:, 0] + bias[0]


def numpy_trace(model, gru, token_ids):
    embeddings = keras.ops.convert_to_numpy(
        model.get_layer(model_module.EMBEDDING).embeddings
    )
    mask = token_ids != text.PADDING_ID
    return explain.run_gru(
        embeddings[token_ids], explain.gru_weights(gru), mask, gru.go_backwards
    )


def gru_layers(model):
    recurrent = model.get_layer(model_module.RECURRENT)
    if isinstance(recurrent, layers.Bidirectional):
        return [recurrent.forward_layer, recurrent.backward_layer]
    return [recurrent]


def assert_numpy_gru_matches_keras(model, token_ids):
    for gru in gru_layers(model):
        trace = numpy_trace(model, gru, token_ids)
        expected = keras_sequences(model, gru, token_ids)
        assert np.abs(trace.states - expected).max() <= TOLERANCE, gru.name
        last = expected[:, 0] if gru.go_backwards else expected[:, -1]
        assert np.abs(trace.final_state - last).max() <= TOLERANCE, gru.name


def assert_split_adds_up_to_the_logit(model, token_ids):
    explainer = explain.Explainer(model)
    splits = [explainer.read(row).split for row in token_ids]
    logits = np.array([split.logit for split in splits])
    assert np.abs(logits - keras_logits(model, token_ids)).max() <= TOLERANCE
    probabilities = np.array([split.probability for split in splits])
    expected = Predictor(model).predict_ids(token_ids)
    assert np.abs(probabilities - expected).max() <= TOLERANCE


def randomized(model, seed=0):
    """`model` with every weight drawn at random (biases included), in place."""
    rng = np.random.default_rng(seed)
    model.set_weights(
        [rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()]
    )
    return model


@pytest.fixture(scope="module")
def build(tiny_vectorized, tiny_hyperparameters):
    """Models of other architectures on the tiny vocabulary, weights random."""

    def build_model(**changes):
        hp = tiny_hyperparameters.with_changes(**changes)
        return randomized(model_module.build_model(hp, tiny_vectorized.vectorizer))

    return build_model


# The NumPy GRU is Keras' GRU ----------------------------------------------


def test_numpy_gru_matches_keras_on_the_tiny_model_both_directions(
    tiny_model, tiny_ids
):
    assert_numpy_gru_matches_keras(tiny_model, tiny_ids)


def test_numpy_gru_matches_keras_on_real_reviews_both_directions(
    shipped_model, real_ids
):
    assert_numpy_gru_matches_keras(shipped_model, real_ids)


def test_numpy_gru_matches_keras_without_reset_after(build, tiny_ids):
    model = build(reset_after=False)
    assert explain.gru_weights(gru_layers(model)[0]).recurrent_bias is None
    assert_numpy_gru_matches_keras(model, tiny_ids)
    assert_split_adds_up_to_the_logit(model, tiny_ids)


def test_numpy_gru_matches_keras_one_way(build, tiny_ids):
    model = build(bidirectional=False)
    assert_numpy_gru_matches_keras(model, tiny_ids)
    assert_split_adds_up_to_the_logit(model, tiny_ids)


def test_a_model_without_masking_is_read_as_it_predicts(build, tiny_ids):
    model = build(mask_padding=False)
    explainer, predictor = explain.Explainer(model), Predictor(model)
    for row in tiny_ids[:4]:
        expected = predictor.predict_ids(row)[0]
        assert explainer.read(row).split.probability == pytest.approx(
            expected, abs=TOLERANCE
        )


def test_gates_are_missing_only_on_padding(tiny_model, tiny_ids):
    reading = explain.Explainer(tiny_model).read(tiny_ids[0])
    length = int(text.sequence_lengths(tiny_ids[:1])[0])
    assert reading.length == length
    for trace in (reading.forward, reading.backward):
        gates = np.concatenate([trace.update_gate[0], trace.reset_gate[0]], axis=1)
        assert np.isfinite(gates).all()
        assert ((gates > 0) & (gates < 1)).all()

    # given the padding too, the gates there are NaN and the states carried
    forward = numpy_trace(tiny_model, gru_layers(tiny_model)[0], tiny_ids[:1])
    if length < tiny_ids.shape[1]:
        assert np.isnan(forward.update_gate[0, length:]).all()
        assert (forward.states[0, length:] == forward.states[0, length - 1]).all()


def test_run_gru_refuses_inputs_of_the_wrong_width(tiny_model):
    weights = explain.gru_weights(gru_layers(tiny_model)[0])
    with pytest.raises(ValueError, match="inputs"):
        explain.run_gru(np.zeros((1, 3, weights.kernel.shape[0] + 1)), weights)


# The decision split ---------------------------------------------------------


def test_forward_and_backward_add_up_to_the_logit(tiny_model, tiny_ids):
    assert_split_adds_up_to_the_logit(tiny_model, tiny_ids)


def test_forward_and_backward_add_up_to_the_logit_on_real_reviews(
    shipped_model, real_ids
):
    assert_split_adds_up_to_the_logit(shipped_model, real_ids)


@pytest.mark.parametrize("merge_mode", ["sum", "ave"])
def test_linear_merges_split_exactly(build, tiny_ids, merge_mode):
    assert_split_adds_up_to_the_logit(build(merge_mode=merge_mode), tiny_ids[:8])


def test_a_product_of_the_readings_is_not_split(build):
    with pytest.raises(explain.ExplanationUnavailable, match="mul"):
        explain.Explainer(build(merge_mode="mul"))


def test_other_cells_have_no_gate_view(build):
    with pytest.raises(explain.ExplanationUnavailable, match="LSTMCell"):
        explain.Explainer(build(cell="lstm"))


def test_sentiment_so_far_ends_at_each_readings_final_share(tiny_model, tiny_ids):
    explainer = explain.Explainer(tiny_model)
    reading = explainer.read(tiny_ids[1])
    split = reading.split
    half_bias = split.bias / 2
    sigmoid = lambda x: 1 / (1 + np.exp(-x))
    assert reading.forward_so_far[-1] == pytest.approx(
        sigmoid(split.forward + half_bias)
    )
    # the backward reading ends at the first word
    assert reading.backward_so_far[0] == pytest.approx(
        sigmoid(split.backward + half_bias)
    )


def test_one_way_sentiment_so_far_is_the_prediction_of_the_cut_review(build, tiny_ids):
    model = build(bidirectional=False)
    reading = explain.Explainer(model).read(tiny_ids[2])
    cut_after = [3, reading.length]
    prefixes = np.zeros((2, tiny_ids.shape[1]), dtype=np.int32)
    for row, length in enumerate(cut_after):
        prefixes[row, :length] = tiny_ids[2, :length]
    expected = Predictor(model).predict_ids(prefixes)
    observed = reading.forward_so_far[np.array(cut_after) - 1]
    assert np.abs(observed - expected).max() <= TOLERANCE


# Word influence ------------------------------------------------------------


def test_each_row_deletes_one_word_and_pads():
    rows = explain.without_each_word(np.array([5, 6, 7]), sequence_length=10)
    assert rows.tolist() == [[6, 7, 0], [5, 7, 0], [5, 6, 0]]


def test_deleting_from_a_long_review_slides_the_first_cut_word_in():
    rows = explain.without_each_word(np.array([5, 6, 7, 8, 9]), sequence_length=3)
    assert rows.tolist() == [[6, 7, 8], [5, 7, 8], [5, 6, 8]]


def test_nothing_to_delete_from_an_empty_review():
    assert explain.without_each_word(np.array([], int), 10).shape == (0, 0)


def test_influence_equals_scoring_each_shorter_text(tiny_model):
    predictor = Predictor(tiny_model)
    words = [
        "the",
        "plot",
        "was",
        "great",
        "but",
        "the",
        "ending",
        "awful",
        "and",
        "boring",
    ]
    influence = explain.word_influence(
        predictor, predictor.tokenize(" ".join(words)).ids
    )
    assert len(influence.without) == len(words)
    shorter = [" ".join(words[:i] + words[i + 1 :]) for i in range(len(words))]
    expected = predictor.predict(shorter)
    assert np.abs(influence.without - expected).max() <= TOLERANCE
    assert influence.probability == pytest.approx(
        float(predictor.predict([" ".join(words)])[0]), abs=TOLERANCE
    )
    assert influence.change == pytest.approx(influence.probability - expected, abs=1e-5)


def test_influence_reads_only_the_first_sequence_length_words(tiny_model):
    predictor = Predictor(tiny_model)
    long_review = " ".join(["great film"] * predictor.sequence_length)
    influence = explain.word_influence(predictor, predictor.tokenize(long_review).ids)
    assert len(influence.without) == predictor.sequence_length
