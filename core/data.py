"""The IMDB reviews: from a local copy of the dataset or from tensorflow-datasets.

A local copy is the dataset in its own layout (`aclImdb/train/pos/ID_RATING.txt`
and so on), as a folder or as a `.tar.gz` of that folder. Archives are
extracted once into a cache folder, refusing any member that would land
outside it. Point at a copy with the `GRU_LAB_DATA` environment variable or
the `--data` option of the command line; without one, tensorflow-datasets'
`imdb_reviews` is used (it needs internet access the first time).
"""

import dataclasses
import hashlib
import logging
import os
import pathlib
import shutil
import tarfile
import tempfile
import time

import numpy as np

logger = logging.getLogger(__name__)

DATA_ENV = "GRU_LAB_DATA"
CACHE_ENV = "GRU_LAB_CACHE"
CLASS_NAMES = ("neg", "pos")
TFDS_SOURCE = "tfds"


class DataUnavailableError(RuntimeError):
    """No source of IMDB reviews could be read; the message says what to do."""


def how_to_point_at_a_local_copy() -> str:
    return (
        "Point GRU Lab at a local copy of the IMDB dataset: set the environment "
        f"variable {DATA_ENV} (or pass --data on the command line) to the "
        "`aclImdb` folder or to a .tar.gz of it, for example "
        f"`export {DATA_ENV}=../shared/data/aclImdb_v1_labelled.tar.gz`."
    )


@dataclasses.dataclass(frozen=True)
class Reviews:
    """One split of reviews: texts, labels (0 negative, 1 positive), ratings.

    `ratings` holds the reviewer's stars (1-10) where the source records them,
    and 0 where it does not (tensorflow-datasets drops them).
    """

    texts: np.ndarray
    labels: np.ndarray
    ratings: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices) -> "Reviews":
        indices = np.asarray(indices, dtype=np.int64)
        return Reviews(self.texts[indices], self.labels[indices], self.ratings[indices])

    def balanced_sample(self, size: int, seed: int) -> "Reviews":
        """`size` reviews, as many positive as negative (one more if odd)."""
        return self.take(balanced_indices(self.labels, size, seed))


@dataclasses.dataclass(frozen=True)
class ImdbData:
    train: Reviews
    test: Reviews
    source: str  # where the reviews came from, for model cards
    load_seconds: float = 0.0


def balanced_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """A seeded sample of `size` indices, half from each class, shuffled."""
    labels = np.asarray(labels)
    if size > len(labels):
        raise ValueError(f"Asked for {size:,} reviews; only {len(labels):,} exist.")
    rng = np.random.default_rng(seed)
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    n_positive = (size + 1) // 2
    n_negative = size - n_positive
    if n_positive > len(positives) or n_negative > len(negatives):
        raise ValueError(
            f"Cannot draw a balanced {size:,}: {len(positives):,} positive and "
            f"{len(negatives):,} negative reviews available."
        )
    chosen = np.concatenate(
        [
            rng.choice(positives, n_positive, replace=False),
            rng.choice(negatives, n_negative, replace=False),
        ]
    )
    rng.shuffle(chosen)
    return chosen


def split_indices(
    labels: np.ndarray, train_size: int, validation_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (fit, validation) indices into `labels`, both balanced.

    `train_size` reviews are drawn half from each class; `validation_fraction`
    of them, again half from each class, are held out. The same arguments
    always give the same split.
    """
    indices = balanced_indices(labels, train_size, seed)
    validation_size = round(train_size * validation_fraction)
    drawn_labels = np.asarray(labels)[indices]
    validation_parts = []
    for label in (0, 1):
        of_label = indices[drawn_labels == label]
        share = validation_size // 2 + (validation_size % 2 if label == 1 else 0)
        validation_parts.append(of_label[:share])
    validation = np.concatenate(validation_parts)
    fit = np.setdiff1d(indices, validation, assume_unique=True)
    rng = np.random.default_rng(seed + 1)
    rng.shuffle(validation)
    rng.shuffle(fit)
    return fit, validation


def split_for_training(
    train: Reviews, train_size: int, validation_fraction: float, seed: int
) -> tuple[Reviews, Reviews]:
    """The (fit, validation) reviews of `split_indices`."""
    fit, validation = split_indices(train.labels, train_size, validation_fraction, seed)
    return train.take(fit), train.take(validation)


# Local copies -------------------------------------------------------------


def default_cache_dir() -> pathlib.Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return pathlib.Path(configured).expanduser()
    return pathlib.Path.home() / ".cache" / "gru_lab"


def _unsafe_member_reason(member: tarfile.TarInfo, target: pathlib.Path) -> str:
    """Why `member` must not be extracted into `target`, or "" if it is fine."""
    if member.issym() or member.islnk():
        return "it is a link"
    if not (member.isfile() or member.isdir()):
        return "it is not a regular file or folder"
    name = member.name
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "its path is absolute"
    destination = (target / name).resolve()
    if destination != target and target not in destination.parents:
        return "it would land outside the target folder"
    return ""


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> None:
    """Extract a .tar(.gz) archive into `target`, refusing unsafe members.

    Every member is checked before anything is written: a path that leaves
    the target folder (`../`, absolute), a link or a device raises ValueError
    and leaves `target` untouched.
    """
    target = pathlib.Path(target).resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            reason = _unsafe_member_reason(member, target)
            if reason:
                raise ValueError(
                    f"Refusing to extract {archive}: member {member.name!r} is "
                    f"unsafe ({reason})."
                )
        target.mkdir(parents=True, exist_ok=True)
        # The "data" filter repeats these checks inside tarfile itself.
        tar.extractall(target, members=members, filter="data")


def _archive_key(archive: pathlib.Path) -> str:
    stat = archive.stat()
    text = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def extracted_folder(archive: pathlib.Path, cache_dir: pathlib.Path) -> pathlib.Path:
    """Extract `archive` once into the cache; later calls reuse the folder."""
    stem = archive.name.split(".")[0]
    destination = cache_dir / f"{stem}-{_archive_key(archive)}"
    if (destination / ".complete").exists():
        return destination
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # Extract aside, then move into place: a crash never leaves half a copy.
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{stem}-", dir=cache_dir))
    try:
        safe_extract(archive, staging)
        (staging / ".complete").write_text(str(archive.resolve()))
        try:
            os.replace(staging, destination)
        except OSError:
            # Another process finished the same extraction first.
            if not (destination / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info(
        "Extracted %s into %s in %.1f s",
        archive,
        destination,
        time.perf_counter() - started,
    )
    return destination


def find_dataset_root(folder: pathlib.Path) -> pathlib.Path:
    """The folder that holds `train/` and `test/`: `folder` or its `aclImdb/`."""
    for candidate in (folder, folder / "aclImdb"):
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return candidate
    raise DataUnavailableError(
        f"{folder} does not look like the IMDB dataset: expected train/ and test/ "
        "(with neg/ and pos/ inside) there or in an aclImdb/ folder within it. "
        + how_to_point_at_a_local_copy()
    )


def _rating_from_path(path: str) -> int:
    """Stars from a file name such as `1234_8.txt` (0 if not recorded)."""
    stem = pathlib.PurePath(path).stem
    _, _, rating = stem.rpartition("_")
    return int(rating) if rating.isdigit() else 0


def read_split(split_folder: pathlib.Path) -> Reviews:
    """All reviews of one split folder (`neg/` and `pos/` inside), sorted by file."""
    texts, labels, ratings = [], [], []
    for label, class_name in enumerate(CLASS_NAMES):
        class_folder = split_folder / class_name
        if not class_folder.is_dir():
            raise DataUnavailableError(
                f"{split_folder} has no {class_name}/ folder. "
                + how_to_point_at_a_local_copy()
            )
        for path in sorted(class_folder.glob("*.txt")):
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
            labels.append(label)
            ratings.append(_rating_from_path(path.name))
    return Reviews(
        texts=np.array(texts, dtype=object),
        labels=np.asarray(labels, dtype=np.int8),
        ratings=np.asarray(ratings, dtype=np.int8),
    )


def load_local(path: str | os.PathLike, cache_dir=None) -> ImdbData:
    """Reviews from a local `aclImdb` folder or a .tar.gz of it."""
    started = time.perf_counter()
    path = pathlib.Path(path).expanduser()
    if not path.exists():
        raise DataUnavailableError(
            f"No IMDB data at {path}: the path does not exist. "
            + how_to_point_at_a_local_copy()
        )
    if path.is_file():
        if not tarfile.is_tarfile(path):
            raise DataUnavailableError(
                f"{path} is a file but not a tar archive. "
                + how_to_point_at_a_local_copy()
            )
        folder = extracted_folder(path, pathlib.Path(cache_dir or default_cache_dir()))
    else:
        folder = path
    root = find_dataset_root(folder)
    train = read_split(root / "train")
    test = read_split(root / "test")
    seconds = time.perf_counter() - started
    logger.info(
        "Read %d training and %d test reviews from %s in %.1f s",
        len(train),
        len(test),
        path,
        seconds,
    )
    return ImdbData(train, test, source=str(path), load_seconds=seconds)


def load_tfds() -> ImdbData:
    """Reviews from tensorflow-datasets' `imdb_reviews` (downloads once)."""
    started = time.perf_counter()
    try:
        import tensorflow_datasets as tfds

        train, test = tfds.load(
            "imdb_reviews",
            split=["train", "test"],
            as_supervised=True,
            batch_size=-1,
        )
    except Exception as error:  # tfds raises many kinds when offline
        raise DataUnavailableError(
            "Could not load `imdb_reviews` from tensorflow-datasets "
            f"({type(error).__name__}: {str(error)[:300]}). "
            + how_to_point_at_a_local_copy()
        ) from error

    def to_reviews(split) -> Reviews:
        texts, labels = tfds.as_numpy(split)
        return Reviews(
            texts=np.array([t.decode("utf-8") for t in texts], dtype=object),
            labels=np.asarray(labels, dtype=np.int8),
            ratings=np.zeros(len(labels), dtype=np.int8),
        )

    seconds = time.perf_counter() - started
    return ImdbData(to_reviews(train), to_reviews(test), TFDS_SOURCE, seconds)


def configured_source(path: str | os.PathLike | None = None) -> str:
    """The source to use: `path`, else $GRU_LAB_DATA, else tensorflow-datasets."""
    if path:
        return str(path)
    return os.environ.get(DATA_ENV) or TFDS_SOURCE


def load_imdb(path: str | os.PathLike | None = None) -> ImdbData:
    """All 50,000 labelled reviews from the configured source."""
    source = configured_source(path)
    if source == TFDS_SOURCE:
        return load_tfds()
    return load_local(source)
