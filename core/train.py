"""Train, evaluate and save a model from the command line.

    python -m core.train --preset lab --data ../shared/data/aclImdb_v1_labelled.tar.gz

Progress goes to the terminal; the model and its card are saved under models/.
"""

import argparse
import dataclasses
import logging
import sys
import time

import numpy as np

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import cards, data, registry, training
from core.config import PRESETS, Hyperparameters, preset
from core.progress import TerminalProgress


def _add_hyperparameter_options(parser: argparse.ArgumentParser) -> None:
    for field in dataclasses.fields(Hyperparameters):
        flag = "--" + field.name.replace("_", "-")
        if field.type in (bool, "bool"):
            parser.add_argument(
                flag, dest=field.name, default=None, type=_parse_bool, metavar="BOOL"
            )
        else:
            kind = {"int": int, "float": float, "str": str}.get(
                getattr(field.type, "__name__", field.type), str
            )
            parser.add_argument(flag, dest=field.name, default=None, type=kind)


def _parse_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="lab", choices=sorted(PRESETS))
    parser.add_argument(
        "--data",
        help=f"aclImdb folder or .tar.gz (default: ${data.DATA_ENV}, else tfds)",
    )
    parser.add_argument("--name", help="folder name under models/ (default: a new one)")
    parser.add_argument("--models-dir", help="where models are saved")
    parser.add_argument(
        "--test-size",
        type=int,
        default=25_000,
        help="test reviews to score on (a balanced sample if below 25,000)",
    )
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--note", default="", help="free text stored in the card")
    _add_hyperparameter_options(parser)
    return parser.parse_args(argv)


def hyperparameters_from_args(args: argparse.Namespace) -> Hyperparameters:
    changes = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Hyperparameters)
        if getattr(args, field.name) is not None
    }
    return preset(args.preset).with_changes(**changes)


def test_rows(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    if size >= len(labels):
        return np.arange(len(labels))
    return data.balanced_indices(labels, size, seed)


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = parse_args(argv)
    try:
        hp = hyperparameters_from_args(args)
        name = registry.check_name(args.name) if args.name else registry.new_run_name()
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    try:
        imdb = data.load_imdb(args.data)
    except data.DataUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"Loaded {len(imdb.train):,} training and {len(imdb.test):,} test reviews "
        f"from {imdb.source} in {imdb.load_seconds:.1f} s",
        file=sys.stderr,
    )
    vectorized = training.vectorize_imdb(imdb, hp.vocab_size, hp.sequence_length)
    print(f"Vectorized in {vectorized.seconds:.1f} s", file=sys.stderr)

    result = training.train(hp, vectorized, listener=TerminalProgress())

    rows = test_rows(vectorized.test_labels, args.test_size, hp.seed)
    started = time.perf_counter()
    test = training.evaluate(
        result.model, vectorized.test_ids[rows], vectorized.test_labels[rows]
    )
    print(
        f"Test accuracy {test.accuracy:.4f}, loss {test.loss:.4f} on "
        f"{test.size:,} reviews ({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    card = cards.make_card(
        result,
        test,
        test_sampled=len(rows) < len(vectorized.test_labels),
        note=args.note,
    )
    folder = registry.save_run(
        result.model, card, name, args.models_dir, overwrite=args.overwrite
    )
    print(f"Saved {folder}", file=sys.stderr)
    print(f"test_accuracy={test.accuracy:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
