"""Score a saved model on the IMDB test reviews from the command line.

python -m core.evaluate --model lab-bigru --data ../shared/data/aclImdb_v1_labelled.tar.gz
"""

import argparse
import logging
import sys

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import data, registry, text, training
from core import model as model_module


def main(argv=None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=registry.SHIPPED_MODEL)
    parser.add_argument("--data", help=f"default: ${data.DATA_ENV}, else tfds")
    parser.add_argument("--models-dir")
    parser.add_argument("--test-size", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    try:
        model = registry.load_model(args.model, args.models_dir)
        imdb = data.load_imdb(args.data)
    except (FileNotFoundError, ValueError, data.DataUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    test = imdb.test
    if args.test_size < len(test):
        test = test.balanced_sample(args.test_size, args.seed)
    print(f"Vectorizing {len(test):,} test reviews...", file=sys.stderr)
    token_ids = text.vectorize(model_module.vectorizer_of(model), test.texts)
    print("Scoring...", file=sys.stderr)
    result = training.evaluate(model, token_ids, test.labels)
    (tn, fp), (fn, tp) = result.confusion
    print(
        f"{args.model}: accuracy {result.accuracy:.4f}, loss {result.loss:.4f} "
        f"on {result.size:,} test reviews in {result.seconds:.1f} s\n"
        f"confusion: TN {tn:,}  FP {fp:,}  FN {fn:,}  TP {tp:,}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
