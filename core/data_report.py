"""Facts about the IMDB reviews: sizes, balance, load time, lengths, `<br />`.

python -m core.data_report --data ../shared/data/aclImdb_v1_labelled.tar.gz
"""

import argparse
import re
import sys
import time

import numpy as np

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import data, text

_TAG = re.compile(text._LINE_BREAK_PATTERN, flags=re.IGNORECASE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help=f"default: ${data.DATA_ENV}, else tfds")
    parser.add_argument("--vocab-size", type=int, default=10_000)
    parser.add_argument("--sequence-length", type=int, default=300)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    try:
        imdb = data.load_imdb(args.data)
    except data.DataUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"source: {imdb.source}")
    print(f"loaded in {time.perf_counter() - started:.1f} s")
    for name, split in (("train", imdb.train), ("test", imdb.test)):
        print(f"{name}: {len(split):,} reviews, {int(split.labels.sum()):,} positive")

    train_texts = imdb.train.texts
    tags = [len(_TAG.findall(review)) for review in train_texts]
    print(
        f"<br /> tags: in {np.mean(np.array(tags) > 0):.1%} of training reviews, "
        f"{sum(tags):,} in all ({np.mean(tags):.1f} per review)"
    )

    import keras
    import tensorflow as tf

    default = keras.layers.TextVectorization(max_tokens=args.vocab_size)
    default.adapt(tf.data.Dataset.from_tensor_slices(list(train_texts)).batch(2048))
    vocabulary = default.get_vocabulary()
    rank = vocabulary.index("br") if "br" in vocabulary else None
    print(f"Keras' default standardization makes 'br' token id {rank}")

    vectorizer = text.adapt_vectorizer(
        args.vocab_size, args.sequence_length, train_texts
    )
    print(f"'br' in GRU Lab's vocabulary: {'br' in vectorizer.get_vocabulary()}")
    full = text.adapt_vectorizer(args.vocab_size, 5_000, train_texts)
    lengths = text.sequence_lengths(text.vectorize(full, train_texts))
    print(
        f"tokens per review: mean {lengths.mean():.0f}, median "
        f"{np.median(lengths):.0f}; longer than {args.sequence_length}: "
        f"{np.mean(lengths > args.sequence_length):.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
