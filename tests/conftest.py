"""Shared fixtures: a tiny IMDB-shaped dataset the tests make themselves, and
a model trained on it.

The tiny reviews use a small vocabulary in which a handful of words carry the
sentiment, so even a very small model learns something in two epochs.
"""

import os
import pathlib
import tarfile

import numpy as np
import pytest

import core  # noqa: F401  (thread settings before TensorFlow starts)

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED_ARCHIVE = REPO.parent / "shared" / "data" / "aclImdb_v1_labelled.tar.gz"

POSITIVE_WORDS = ["great", "wonderful", "superb", "moving", "brilliant", "loved"]
NEGATIVE_WORDS = ["awful", "boring", "terrible", "dull", "worst", "hated"]
NEUTRAL_WORDS = [
    "the",
    "film",
    "movie",
    "plot",
    "actor",
    "story",
    "scene",
    "director",
    "it",
    "was",
    "and",
    "a",
    "of",
    "to",
    "in",
    "this",
    "that",
    "with",
    "character",
    "music",
    "ending",
    "camera",
    "cast",
    "script",
]


def make_review(rng: np.random.Generator, positive: bool) -> str:
    words = list(rng.choice(NEUTRAL_WORDS, size=rng.integers(8, 60)))
    cues = POSITIVE_WORDS if positive else NEGATIVE_WORDS
    for _ in range(rng.integers(2, 5)):
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(cues)))
    sentence = " ".join(words)
    return sentence.capitalize() + ".<br /><br />" + str(rng.choice(cues)).upper() + "!"


def write_tiny_imdb(root: pathlib.Path, per_class: int = 80, seed: int = 0) -> None:
    """An `aclImdb` folder: train/ and test/, each with neg/ and pos/ files."""
    rng = np.random.default_rng(seed)
    (root / "aclImdb").mkdir(parents=True)
    (root / "aclImdb" / "README").write_text("Tiny test copy.\n")
    for split in ("train", "test"):
        for label, name in ((0, "neg"), (1, "pos")):
            folder = root / "aclImdb" / split / name
            folder.mkdir(parents=True)
            for index in range(per_class):
                rating = int(rng.integers(7, 11) if label else rng.integers(1, 5))
                path = folder / f"{index}_{rating}.txt"
                path.write_text(make_review(rng, bool(label)), encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_imdb_folder(tmp_path_factory) -> pathlib.Path:
    root = tmp_path_factory.mktemp("tiny_imdb")
    write_tiny_imdb(root)
    return root / "aclImdb"


@pytest.fixture(scope="session")
def tiny_imdb_archive(tiny_imdb_folder, tmp_path_factory) -> pathlib.Path:
    archive = tmp_path_factory.mktemp("tiny_archive") / "aclImdb_tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny_imdb_folder, arcname="aclImdb")
    return archive


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Extract archives into a temporary cache, never the user's."""
    cache = tmp_path_factory.mktemp("gru_lab_cache")
    previous = os.environ.get("GRU_LAB_CACHE")
    os.environ["GRU_LAB_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("GRU_LAB_CACHE", None)
    else:
        os.environ["GRU_LAB_CACHE"] = previous


@pytest.fixture(scope="session")
def tiny_imdb(tiny_imdb_folder):
    from core import data

    return data.load_local(tiny_imdb_folder)


@pytest.fixture(scope="session")
def tiny_hyperparameters():
    from core.config import preset

    return preset("tiny").with_changes(epochs=3, patience=3, batch_size=16)


@pytest.fixture(scope="session")
def tiny_vectorized(tiny_imdb, tiny_hyperparameters):
    from core import training

    hp = tiny_hyperparameters
    return training.vectorize_imdb(tiny_imdb, hp.vocab_size, hp.sequence_length)


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory, tiny_vectorized, tiny_hyperparameters):
    """A models folder holding one run, `tiny-run`, trained on the tiny data."""
    from core import cards, registry, training

    models_dir = tmp_path_factory.mktemp("models")
    result = training.train(tiny_hyperparameters, tiny_vectorized)
    test = training.evaluate(
        result.model, tiny_vectorized.test_ids, tiny_vectorized.test_labels
    )
    registry.save_run(
        result.model, cards.make_card(result, test), "tiny-run", models_dir
    )
    return models_dir


@pytest.fixture(scope="session")
def shared_archive() -> pathlib.Path:
    if not SHARED_ARCHIVE.is_file():
        pytest.skip(f"The real IMDB archive is not at {SHARED_ARCHIVE}.")
    return SHARED_ARCHIVE
