"""Fast predictions for a handful of reviews at a time.

`Predictor` traces the model once for token ids of any length, so a single
review costs milliseconds instead of the ~100 ms set-up of `model.predict` or
the seconds of an eager call. It is safe to share between threads.
"""

import dataclasses
import threading

import keras
import numpy as np
import tensorflow as tf

from core import model as model_module
from core import text

# The longest text handed to the vectorizer. Beyond this nothing the model
# could read remains (the sequence is cut long before), and cutting first keeps
# a pasted book from stalling the page.
MAX_TEXT_CHARS = 100_000

# What fills a slot of `Tokenized.slot_kinds`.
SLOT_PADDING = 0  # a padding 0 after the review's last token
SLOT_UNKNOWN = 1  # a word outside the vocabulary: [UNK], id 1
SLOT_WORD = 2  # a word of the vocabulary
SLOT_CUT = 3  # a token after the first sequence_length: never read


@dataclasses.dataclass(frozen=True)
class Tokenized:
    """A review as the model sees it."""

    text: str  # what was given (after cutting to MAX_TEXT_CHARS)
    standardized: str  # after lowercasing, <br /> removal, punctuation stripping
    words: list[str]  # every token of the standardized text, in order
    ids: np.ndarray  # id of every word (1 = [UNK]), even beyond sequence_length
    sequence: np.ndarray  # the model's input: ids cut or padded to sequence_length
    text_was_cut: bool

    @property
    def length(self) -> int:
        """Tokens the model reads (at most sequence_length)."""
        return int(min(len(self.ids), len(self.sequence)))

    @property
    def padded_slots(self) -> int:
        """Slots of the sequence filled with padding zeros."""
        return len(self.sequence) - self.length

    @property
    def cut_tokens(self) -> int:
        """Tokens after the first sequence_length, which the model never reads."""
        return max(len(self.ids) - len(self.sequence), 0)

    def slot_kinds(self) -> np.ndarray:
        """SLOT_* of every slot of the sequence, then of every token cut."""
        kinds = np.full(len(self.sequence) + self.cut_tokens, SLOT_PADDING)
        read = self.ids[: self.length]
        kinds[: self.length] = np.where(
            read == text.UNKNOWN_ID, SLOT_UNKNOWN, SLOT_WORD
        )
        kinds[len(self.sequence) :] = SLOT_CUT
        return kinds


class Predictor:
    """Probabilities and tokens from an end-to-end model, quickly."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.vectorizer = model_module.vectorizer_of(model)
        self.sequence_length = self.vectorizer.get_config()["output_sequence_length"]
        self.vocabulary = self.vectorizer.get_vocabulary()
        self._index = {word: i for i, word in enumerate(self.vocabulary)}
        self.token_model = model_module.token_model(model)
        self._probability = tf.function(
            lambda ids: self.token_model(ids, training=False)[:, 0],
            input_signature=[tf.TensorSpec((None, None), tf.int32)],
        )
        self._lock = threading.Lock()
        self._warm = False

    def warm_up(self) -> None:
        """Trace the graph now rather than on a user's first request."""
        with self._lock:
            if not self._warm:
                self._probability(tf.constant([[2, 3]], dtype=tf.int32))
                self._warm = True

    def tokenize(self, review: str) -> Tokenized:
        """Standardize and look up every word as the model's vectorizer does."""
        was_cut = len(review) > MAX_TEXT_CHARS
        review = review[:MAX_TEXT_CHARS]
        standardized, words = text.split_words(review)
        ids = np.array(
            [self._index.get(word, text.UNKNOWN_ID) for word in words], dtype=np.int32
        )
        sequence = np.zeros(self.sequence_length, dtype=np.int32)
        sequence[: min(len(ids), self.sequence_length)] = ids[: self.sequence_length]
        return Tokenized(review, standardized, words, ids, sequence, was_cut)

    def vectorize(self, reviews: list[str]) -> np.ndarray:
        """The model's own vectorizer on `reviews` (cut to MAX_TEXT_CHARS)."""
        cut = [review[:MAX_TEXT_CHARS] for review in reviews]
        return text.vectorize(self.vectorizer, cut)

    def predict_ids(self, token_ids: np.ndarray) -> np.ndarray:
        """P(positive) per row of (post-padded or trimmed) token ids."""
        token_ids = np.asarray(token_ids, dtype=np.int32)
        if token_ids.ndim == 1:
            token_ids = token_ids[None, :]
        width = max(int(text.sequence_lengths(token_ids).max(initial=0)), 1)
        self._warm = True
        return self._probability(tf.constant(token_ids[:, :width])).numpy()

    def predict(self, reviews: list[str]) -> np.ndarray:
        """P(positive) for each review text."""
        return self.predict_ids(self.vectorize(reviews))
