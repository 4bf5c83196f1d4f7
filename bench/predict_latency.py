"""How long the Playground makes a student wait, on real reviews.

Loads a saved model (the shipped one by default), draws real test reviews with
a seed and times, per review, what the page computes:

- first, tokens and prediction: `Predictor.tokenize` + `Predictor.predict_ids`;
- then the explanations: word influence (one batch of `predict_ids`) and the
  NumPy re-run of the GRU (`Explainer.read`).

It prints the median and the 95th percentile of each, with the median CPU
time the process spent (which other jobs on a busy machine do not inflate as
much as the wall-clock time) and the load average; nothing is asserted.

    python -m bench.predict_latency [--reviews 300] [--seed 0] [--model NAME]
        [--data PATH_TO_ACLIMDB]
"""

import argparse
import logging
import os
import statistics
import sys
import time

import numpy as np

import core  # noqa: F401  (thread settings before TensorFlow starts)
from core import data, explain, registry
from core.inference import Predictor


def summary(wall: list[float], cpu: list[float]) -> str:
    """Median and 95th percentile of the wall-clock times, median CPU time."""
    wall_ms, cpu_ms = np.asarray(wall) * 1000, np.asarray(cpu) * 1000
    return (
        f"median {statistics.median(wall_ms):7.1f} ms   "
        f"p95 {np.percentile(wall_ms, 95):7.1f} ms   "
        f"(CPU median {statistics.median(cpu_ms):6.1f} ms)"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=300, help="reviews timed")
    parser.add_argument("--seed", type=int, default=0, help="which reviews")
    parser.add_argument("--model", default=registry.SHIPPED_MODEL, help="saved run")
    parser.add_argument("--models-dir", default=None, help="folder of saved runs")
    parser.add_argument("--data", default=None, help="aclImdb folder or .tar.gz")
    parser.add_argument("--warm-up", type=int, default=5, help="untimed reviews")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    started = time.perf_counter()
    model = registry.load_model(args.model, args.models_dir)
    predictor = Predictor(model)
    predictor.warm_up()
    try:
        explainer = explain.Explainer(model)
    except explain.ExplanationUnavailable as reason:
        print(f"No gate view for this model: {reason}")
        explainer = None
    print(
        f"Model {args.model} loaded and traced in {time.perf_counter() - started:.1f} s"
    )

    imdb = data.load_imdb(args.data)
    rng = np.random.default_rng(args.seed)
    chosen = rng.choice(len(imdb.test), args.reviews + args.warm_up, replace=False)
    reviews = [str(review) for review in imdb.test.texts[chosen]]

    # per phase: wall-clock seconds and this process's CPU seconds (all threads)
    phases = ("tokenize", "predict", "influence", "gates")
    wall = {phase: [] for phase in phases}
    cpu = {phase: [] for phase in phases}
    tokens = []
    for index, review in enumerate(reviews):
        clocks = [(time.perf_counter(), time.process_time())]
        tokenized = predictor.tokenize(review)
        clocks.append((time.perf_counter(), time.process_time()))
        predictor.predict_ids(tokenized.sequence)
        clocks.append((time.perf_counter(), time.process_time()))
        explain.word_influence(predictor, tokenized.ids)
        clocks.append((time.perf_counter(), time.process_time()))
        if explainer is not None:
            explainer.read(tokenized.sequence)
        clocks.append((time.perf_counter(), time.process_time()))
        if index < args.warm_up:
            continue
        for phase, before, after in zip(phases, clocks, clocks[1:]):
            wall[phase].append(after[0] - before[0])
            cpu[phase].append(after[1] - before[1])
        tokens.append(len(tokenized.ids))

    tokens = np.asarray(tokens)
    cut = np.mean(tokens > predictor.sequence_length)
    print(
        f"{args.reviews} real test reviews (seed {args.seed}): median "
        f"{np.median(tokens):.0f} tokens, {cut:.0%} longer than "
        f"{predictor.sequence_length} (cut)"
    )
    load = os.getloadavg()[0]
    print(f"Load average during the run: {load:.1f} on {os.cpu_count()} CPUs")

    def both(*names):
        return np.sum([wall[n] for n in names], 0), np.sum([cpu[n] for n in names], 0)

    rows = [
        ("tokenize", both("tokenize")),
        ("predict", both("predict")),
        ("tokens + prediction", both("tokenize", "predict")),
        ("word influence (one batch)", both("influence")),
    ]
    if explainer is not None:
        rows.append(("gates (NumPy GRU re-run)", both("gates")))
    rows.append(("explanations", both("influence", "gates")))
    for name, (wall_seconds, cpu_seconds) in rows:
        print(f"  {name:28} {summary(wall_seconds, cpu_seconds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
