"""Turning review text into token ids, exactly as the saved model does.

The vectorizer is a Keras `TextVectorization` layer that lives inside the saved
model, so a model always tokenizes the way it did when it was trained.

About `<br />`: IMDB reviews mark their line breaks with HTML `<br />` tags.
Keras' default standardization strips the punctuation around them and leaves
the word "br", which becomes one of the most frequent tokens in the vocabulary
while saying nothing about sentiment. `standardize_review` replaces every
`<br>`-style tag with a space first, then lowercases and strips punctuation the
way Keras' default does. `python -m core.data_report` measures how often
the tag occurs and where "br" would rank otherwise.
"""

import re

import keras
import numpy as np
import tensorflow as tf
from keras import layers

PADDING_ID = 0
UNKNOWN_ID = 1
UNKNOWN_TOKEN = "[UNK]"

# The characters Keras' "lower_and_strip_punctuation" removes.
_PUNCTUATION_PATTERN = r"[!\"#$%&()\*\+,\-\./:;<=>?@\[\\\]^_`{|}~']"
_LINE_BREAK_PATTERN = r"<\s*br\s*/?\s*>"
# Characters Python's `str.splitlines` breaks on but TensorFlow's whitespace
# split does not (NEL, file/group/record separators, Unicode line and
# paragraph separators). A word containing one would split in two when Keras
# reads the saved vocabulary back, so they become spaces.
_LINE_SEPARATOR_PATTERN = "[\x1c\x1d\x1e\x85\u2028\u2029]"


@keras.saving.register_keras_serializable(package="gru_lab")
def standardize_review(text):
    """Lowercase, replace `<br />` tags with spaces, strip punctuation."""
    text = tf.strings.lower(text, encoding="utf-8")
    text = tf.strings.regex_replace(text, "(?i)" + _LINE_BREAK_PATTERN, " ")
    text = tf.strings.regex_replace(text, _LINE_SEPARATOR_PATTERN, " ")
    return tf.strings.regex_replace(text, _PUNCTUATION_PATTERN, "")


def standardize_in_python(text: str) -> str:
    """The same standardization in plain Python, for display and checks.

    Equal to `standardize_review` for ordinary text; `split_words` is the
    exact one, through the same TensorFlow ops the vectorizer runs.
    """
    text = text.lower()
    text = re.sub(_LINE_BREAK_PATTERN, " ", text, flags=re.IGNORECASE)
    text = re.sub(_LINE_SEPARATOR_PATTERN, " ", text)
    return re.sub(_PUNCTUATION_PATTERN, "", text)


# Text made only of printable ASCII, tabs and line breaks: on it, Python's
# `re` and TensorFlow's RE2 agree on every pattern above, and TensorFlow's
# whitespace split is a split on the characters below.
_PLAIN_TEXT = re.compile(r"[\t\n\r\x20-\x7e]*")
_SPLIT_PATTERN = re.compile(r"[ \t\n\r]+")


def split_words(review: str) -> tuple[str, list[str]]:
    """The standardized review and its words, exactly as the vectorizer sees them.

    Plain ASCII text is split in Python (a fraction of a millisecond); any
    other text goes through the same TensorFlow ops the vectorizer runs.
    """
    if _PLAIN_TEXT.fullmatch(review):
        standardized = standardize_in_python(review)
        return standardized, [
            word for word in _SPLIT_PATTERN.split(standardized) if word
        ]
    standardized = standardize_review(tf.constant([review]))
    words = tf.strings.split(standardized)[0].numpy()
    return (
        standardized.numpy()[0].decode("utf-8", errors="replace"),
        [word.decode("utf-8", errors="replace") for word in words],
    )


def build_vectorizer(
    vocab_size: int, sequence_length: int, name: str = "text_vectorization"
) -> layers.TextVectorization:
    """An un-adapted vectorizer: `vocab_size` words, output cut or padded."""
    return layers.TextVectorization(
        max_tokens=vocab_size,
        output_mode="int",
        output_sequence_length=sequence_length,
        standardize=standardize_review,
        name=name,
    )


def adapt_vectorizer(
    vocab_size: int, sequence_length: int, texts, batch_size: int = 1024
) -> layers.TextVectorization:
    """A vectorizer whose vocabulary is learnt from `texts` (training only)."""
    vectorizer = build_vectorizer(vocab_size, sequence_length)
    dataset = tf.data.Dataset.from_tensor_slices(np.asarray(texts, dtype=object))
    vectorizer.adapt(dataset.batch(batch_size))
    return vectorizer


def vectorize(vectorizer: layers.TextVectorization, texts, batch_size: int = 2048):
    """Token ids of `texts` as an int32 array (len(texts), sequence_length)."""
    texts = np.asarray(texts, dtype=object)
    chunks = [
        np.asarray(vectorizer(tf.constant(texts[start : start + batch_size])))
        for start in range(0, len(texts), batch_size)
    ]
    if not chunks:
        length = vectorizer.get_config()["output_sequence_length"]
        return np.zeros((0, length), dtype=np.int32)
    return np.concatenate(chunks).astype(np.int32)


def sequence_lengths(token_ids: np.ndarray) -> np.ndarray:
    """Number of tokens before the padding, per row (post-padded ids)."""
    nonzero = token_ids != PADDING_ID
    # position of the last real token + 1; rows of only padding give 0
    reversed_first = np.argmax(nonzero[:, ::-1], axis=1)
    lengths = token_ids.shape[1] - reversed_first
    return np.where(nonzero.any(axis=1), lengths, 0).astype(np.int32)
