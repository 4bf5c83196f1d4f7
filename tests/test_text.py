"""Standardization and vectorization as the model does them."""

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from core import text


def test_line_break_tags_become_spaces_not_the_word_br():
    review = "Great acting.<br /><br />Poor plot<BR>and <br/>ending"
    standardized = text.standardize_review(tf.constant([review])).numpy()[0].decode()
    assert "br" not in standardized.split()
    assert standardized.split() == ["great", "acting", "poor", "plot", "and", "ending"]


def test_python_standardization_matches_the_graph():
    reviews = [
        "It's <br />GREAT!!! 10/10 - would watch again...",
        'Ünïcödé and emoji 🎬 stay; "quotes" & (parens) go',
        "<script>alert(1)</script>",
    ]
    graph = text.standardize_review(tf.constant(reviews)).numpy()
    for review, expected in zip(reviews, graph):
        assert text.standardize_in_python(review) == expected.decode()


def test_vectorize_pads_and_cuts_to_the_sequence_length():
    vectorizer = text.adapt_vectorizer(50, 5, ["a b c d e f g", "a b"])
    ids = text.vectorize(vectorizer, ["a b", "a b c d e f g", "zzz"])
    assert ids.shape == (3, 5)
    assert list(ids[0][2:]) == [0, 0, 0]
    assert text.PADDING_ID not in ids[1]
    assert ids[2][0] == text.UNKNOWN_ID
    np.testing.assert_array_equal(text.sequence_lengths(ids), [2, 5, 1])


def test_sequence_lengths_of_only_padding_is_zero():
    assert list(text.sequence_lengths(np.zeros((2, 4), dtype=np.int32))) == [0, 0]


def test_split_words_matches_the_vectorizer_on_odd_text():
    reviews = ["Ünïcödé\u00a0and\ttabs<br/>ЁЖИК 😀 ok", "", "   ", "<b>bold</b>"]
    vectorizer = text.adapt_vectorizer(100, 20, reviews)
    vocabulary = vectorizer.get_vocabulary()
    for review in reviews:
        _, words = text.split_words(review)
        ids = text.vectorize(vectorizer, [review])[0]
        expected = [vocabulary.index(w) if w in vocabulary else 1 for w in words]
        assert list(ids[: len(words)]) == expected
        assert not ids[len(words) :].any()


def test_words_with_unicode_line_separators_survive_saving(tmp_path):
    import keras

    reviews = ["one\x85two three\u2028four", "five\x1csix seven\u2029eight"]
    vectorizer = text.adapt_vectorizer(100, 10, reviews)
    vocabulary = vectorizer.get_vocabulary()
    assert {"one", "two", "four", "six", "eight"} <= set(vocabulary)
    review = keras.Input(shape=(), dtype="string")
    keras.Model(review, vectorizer(review)).save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.layers[1].get_vocabulary() == vocabulary


def _split_with_tensorflow(review: str) -> tuple[str, list[str]]:
    standardized = text.standardize_review(tf.constant([review]))
    words = tf.strings.split(standardized)[0].numpy()
    return standardized.numpy()[0].decode(), [word.decode() for word in words]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            list("aBz09 \t\n\r<>/bBrR!'\"-.,;:?()[]{}_~`#$%&*+=@\\^|")
            + ["<br />", "<BR/>", "< br >", "don't", "\x0b", "\x0c", "\x1f", "é"]
        ),
        max_size=40,
    ).map("".join)
)
def test_split_words_in_python_equals_tensorflow(review):
    """Plain ASCII takes the Python path, the rest TensorFlow's: same words."""
    assert text.split_words(review) == _split_with_tensorflow(review)


def test_plain_text_takes_the_python_path(monkeypatch):
    def no_tensorflow(_):
        raise AssertionError("TensorFlow ops used for plain text")

    monkeypatch.setattr(text, "standardize_review", no_tensorflow)
    assert text.split_words("It's <br />GREAT, isn't it?") == (
        "its  great isnt it",
        ["its", "great", "isnt", "it"],
    )
    with pytest.raises(AssertionError):  # other text still goes to TensorFlow
        text.split_words("café")
