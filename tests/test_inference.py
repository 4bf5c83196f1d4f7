"""What the Playground shows a review as: tokens, ids, padding and cutting."""

import numpy as np
import pytest

from core import data, inference, registry, text
from core.inference import Predictor

ODD_REVIEWS = [
    "",
    "!!! ... ???",
    "A <b>bold</b> claim.<br /><br />The END!",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "😀 great 😀movie 日本語のレビュー",
    "ÉCOLE Straße ÄRGER İstanbul ΣΊΣΥΦΟΣ",
    "non\u00a0breaking\u2003em space, next\u0085line\x1cseparator",
    "tab\tand\nnew lines\r\nand   spaces",
]


@pytest.fixture(scope="module")
def tiny_predictor(tiny_models_dir):
    return Predictor(registry.load_model("tiny-run", tiny_models_dir))


def assert_tokens_match_the_vectorizer(predictor, reviews):
    expected = predictor.vectorize(reviews)
    vocabulary = predictor.vocabulary
    known = set(vocabulary[2:])
    for review, row in zip(reviews, expected):
        tokenized = predictor.tokenize(review)
        assert tokenized.sequence.tolist() == row.tolist(), review[:80]
        assert len(tokenized.words) == len(tokenized.ids)
        for word, token_id in zip(tokenized.words, tokenized.ids):
            if token_id == text.UNKNOWN_ID:
                assert word not in known
            else:
                assert vocabulary[token_id] == word


def test_tokens_and_ids_match_the_vectorizer_on_tiny_reviews(tiny_predictor, tiny_imdb):
    assert_tokens_match_the_vectorizer(tiny_predictor, list(tiny_imdb.test.texts[:40]))


def test_tokens_and_ids_match_the_vectorizer_on_odd_text(tiny_predictor):
    assert_tokens_match_the_vectorizer(tiny_predictor, ODD_REVIEWS)


def test_tokens_and_ids_match_the_vectorizer_on_real_reviews(shared_archive):
    if not (registry.default_models_dir() / registry.SHIPPED_MODEL).is_dir():
        pytest.skip("The shipped model has not been trained yet.")
    predictor = Predictor(registry.load_model(registry.SHIPPED_MODEL))
    imdb = data.load_local(shared_archive)
    rng = np.random.default_rng(3)
    reviews = list(imdb.test.texts[rng.choice(len(imdb.test), 150, replace=False)])
    # and the reviews with characters that Python calls whitespace and TF does not
    reviews += [r for r in imdb.test.texts if "\x85" in r or "\xa0" in r][:50]
    assert_tokens_match_the_vectorizer(predictor, reviews)


def test_a_short_review_is_padded(tiny_predictor):
    tokenized = tiny_predictor.tokenize("Great film, superb cast!")
    length = tiny_predictor.sequence_length
    assert tokenized.words == ["great", "film", "superb", "cast"]
    assert tokenized.length == 4
    assert tokenized.padded_slots == length - 4
    assert tokenized.cut_tokens == 0
    assert (tokenized.sequence[4:] == text.PADDING_ID).all()
    assert (tokenized.sequence[:4] != text.PADDING_ID).all()
    kinds = tokenized.slot_kinds()
    assert len(kinds) == length
    assert (kinds[4:] == inference.SLOT_PADDING).all()
    assert (kinds[:4] != inference.SLOT_PADDING).all()


def test_a_long_review_is_cut_and_its_cut_tokens_kept(tiny_predictor):
    length = tiny_predictor.sequence_length
    words = [f"w{i}" if i % 3 else "film" for i in range(length + 7)]
    tokenized = tiny_predictor.tokenize(" ".join(words))
    assert tokenized.words == words
    assert len(tokenized.ids) == length + 7
    assert tokenized.sequence.tolist() == tokenized.ids[:length].tolist()
    assert tokenized.length == length
    assert tokenized.padded_slots == 0
    assert tokenized.cut_tokens == 7
    kinds = tokenized.slot_kinds()
    assert len(kinds) == length + 7
    assert (kinds[length:] == inference.SLOT_CUT).all()
    # unknown made-up words and the known word "film" inside what is read
    assert set(kinds[:length]) == {inference.SLOT_UNKNOWN, inference.SLOT_WORD}
    assert (kinds[:length:3] == inference.SLOT_WORD).all()


def test_a_review_of_exactly_the_sequence_length_is_neither_padded_nor_cut(
    tiny_predictor,
):
    tokenized = tiny_predictor.tokenize("film " * tiny_predictor.sequence_length)
    assert tokenized.padded_slots == 0
    assert tokenized.cut_tokens == 0
    assert (tokenized.slot_kinds() == inference.SLOT_WORD).all()


def test_a_huge_paste_is_cut_before_tokenizing(tiny_predictor):
    tokenized = tiny_predictor.tokenize("great film " * 100_000)
    assert tokenized.text_was_cut
    assert len(tokenized.text) == inference.MAX_TEXT_CHARS
    assert tokenized.length == tiny_predictor.sequence_length
    assert tokenized.cut_tokens == len(tokenized.ids) - tiny_predictor.sequence_length


def test_an_empty_review_is_all_padding(tiny_predictor):
    tokenized = tiny_predictor.tokenize("")
    assert tokenized.words == []
    assert tokenized.length == 0
    assert (tokenized.slot_kinds() == inference.SLOT_PADDING).all()
    probability = tiny_predictor.predict_ids(tokenized.sequence)
    assert probability.shape == (1,) and 0 < probability[0] < 1
