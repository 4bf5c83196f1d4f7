"""How fast the lab's model trains on a CPU: the lab's plain recipe against
GRU Lab's own training, side by side on the same reviews.

    python bench/train_speed.py --data ../shared/data/aclImdb_v1_labelled.tar.gz
    python bench/train_speed.py --data ... --mode full   # early stopping, test set
    python bench/train_speed.py --data ... --levers      # one lever at a time

Both ways train the lab's model (vocabulary 10,000, 300 tokens, embedding 128,
bidirectional GRU 64, dropout 0.5, batch 64) on the same 20,000 fit reviews,
`core.data.split_indices(labels, 25_000, 0.2, 42)`, whatever a preset says:

- the lab's plain recipe: every review padded to 300, no mask, `model.fit` on
  the padded arrays, TensorFlow's default thread pools;
- the project's way: `core.training.train` with the "lab" preset and the
  project's defaults (threads, batches cut to their longest review, masking,
  core.fast_gru's loop and fused Adam, and whatever else the preset turns on).

Every way runs in a child process of its own, because TensorFlow fixes its
thread pools once per process. The children take turns: they start together,
each trains a slice of its epoch while the others wait, and they alternate
until all are done. A shared 2-core machine is rarely quiet and its load
changes by the minute; taking turns gives every way the same mix of busy and
quiet moments, so the ratio holds even when the absolute figures drift. A
child's times count its own turns only.
"""

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")

# Turns per epoch: enough that load swings are shared out fairly, few enough
# that switching between children costs nothing measurable.
TURNS_PER_EPOCH = {"speed": 40, "full": 20, "levers": 16}
# The split both ways train on, whatever a preset says: split_indices(labels,
# 25,000, 0.2, 42) leaves 20,000 fit and 5,000 validation reviews.
SPLIT = {"train_size": 25_000, "validation_fraction": 0.2, "seed": 42}
LEVER_REVIEWS = 4_000  # fit reviews per lever run (the first of the 20,000)
XLA_TOLERANCE = 1e-4  # largest output difference allowed between XLA and not


@dataclasses.dataclass(frozen=True)
class Way:
    """One way of training the lab's model, run in a child process.

    runner: "keras" - the lab's model built by hand and fitted directly, with
    the levers below; "project" - `core.training.train`, the project's way.
    threads: (intra-op, inter-op) pools, or None for what the runner gets
    without asking: TensorFlow's defaults ("keras") or core's ("project").
    """

    name: str
    runner: str = "keras"
    threads: tuple[int, int] | None = None
    trim: bool = False  # batches of similar length, cut to their longest review
    mask: bool = False  # Embedding(mask_zero=True): the GRU skips the padding
    xla: bool = False  # compile(jit_compile=True)
    round_widths: int = 0  # with trim: widths rounded up to a multiple of this
    batch_size: int = 64
    pipeline: str = "numpy"  # "numpy" arrays or the project's "pydataset"
    onednn: bool = True  # TensorFlow's oneDNN kernels (TF_ENABLE_ONEDNN_OPTS)
    fast_gru: bool = False  # train through core.fast_gru's loop (same math)
    fused_adam: bool = False  # core.fast_gru.FusedAdam: Adam in one kernel per weight
    reviews: int | None = None  # the first N fit reviews; None: all of them
    mode: str = "speed"  # "speed" (one epoch) or "full" (early stopping + test)


PLAIN = Way("lab plain recipe")
PROJECT = Way("project (core.training)", runner="project")


def lever_groups() -> list[list[tuple[str, Way]]]:
    """Runs of the levers mode, in groups that take turns with a baseline.

    Each group starts with the lab's plain recipe so that every lever is
    compared with a baseline measured under the same load.
    """
    both_threads = (1, 2)
    return [
        [
            ("threads: TF default (intra 2 / inter 2)", PLAIN),
            ("threads: intra 1 / inter 2", Way("t12", threads=(1, 2))),
            ("threads: intra 2 / inter 1", Way("t21", threads=(2, 1))),
            ("oneDNN off (TF_ENABLE_ONEDNN_OPTS=0)", Way("dnn", onednn=False)),
        ],
        [
            ("baseline (plain recipe)", PLAIN),
            ("mask only (fixed 300)", Way("mask", mask=True)),
            ("trim only (bucketed, no mask)", Way("trim", trim=True)),
            ("trim + mask", Way("trim+mask", trim=True, mask=True)),
        ],
        [
            ("baseline (plain recipe)", PLAIN),
            ("XLA (fixed 300, no mask)", Way("xla", xla=True)),
            ("batch 32", Way("b32", batch_size=32)),
            ("batch 128", Way("b128", batch_size=128)),
        ],
        [
            ("baseline (plain recipe)", PLAIN),
            ("fused Adam (fixed 300)", Way("fadam", fused_adam=True)),
            ("fast GRU loop (fixed 300, no mask)", Way("fgru", fast_gru=True)),
            (
                "threads 1/2 + trim + mask (the earlier project way)",
                Way("t+t+m", threads=both_threads, trim=True, mask=True),
            ),
            (
                "threads 1/2 + trim + mask + fast GRU loop",
                Way(
                    "t+t+m+fgru",
                    threads=both_threads,
                    trim=True,
                    mask=True,
                    fast_gru=True,
                ),
            ),
            (
                "threads 1/2 + trim + mask + fast GRU loop + fused Adam",
                Way(
                    "all-fast",
                    threads=both_threads,
                    trim=True,
                    mask=True,
                    fast_gru=True,
                    fused_adam=True,
                ),
            ),
        ],
        [
            ("baseline (plain recipe)", PLAIN),
            ("pipeline: PyDataset (fixed 300)", Way("pyds", pipeline="pydataset")),
            (
                "together: threads 1/2 + trim + mask",
                Way("all", threads=both_threads, trim=True, mask=True),
            ),
            (
                "together, without trim",
                Way("all-trim", threads=both_threads, mask=True),
            ),
            (
                "together, without mask",
                Way("all-mask", threads=both_threads, trim=True),
            ),
            (
                "together + XLA, widths rounded up to 50s",
                Way(
                    "all+xla",
                    threads=both_threads,
                    trim=True,
                    mask=True,
                    xla=True,
                    round_widths=50,
                ),
            ),
        ],
    ]


# The parent: prepares the data once, starts the children, takes the turns --


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].replace("\n", " ")
    )
    parser.add_argument(
        "--data",
        help="aclImdb folder or .tar.gz (default: $GRU_LAB_DATA, else tfds)",
    )
    parser.add_argument(
        "--mode",
        choices=("speed", "full", "levers"),
        default="speed",
        help="speed: one epoch each (default); full: early stopping and the "
        "test set; levers: each lever alone on a 4,000-review slice",
    )
    parser.add_argument(
        "--levers",
        action="store_const",
        dest="mode",
        const="levers",
        help="the same as --mode levers",
    )
    parser.add_argument(
        "--plain-threads",
        metavar="INTRA,INTER",
        help="thread pools for the plain recipe (default: TensorFlow's own)",
    )
    parser.add_argument(
        "--lever-reviews",
        type=int,
        default=LEVER_REVIEWS,
        help=f"fit reviews per lever run (default {LEVER_REVIEWS:,})",
    )
    parser.add_argument(
        "--turns",
        type=int,
        help="turns per epoch each child takes (default: 40 speed, 20 full, 16 levers)",
    )
    parser.add_argument(
        "--groups",
        help="levers mode: only these groups, e.g. 1,3 (default: all)",
    )
    parser.add_argument("--json", help="also write every child's figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(json.loads(args.child))
    # Stopped from outside, still take the children down (see take_turns).
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))

    # Thread settings must reach each child untouched by this process.
    base_environment = {
        key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES
    }
    base_environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    base_environment["KERAS_BACKEND"] = "tensorflow"
    turns = args.turns or TURNS_PER_EPOCH[args.mode]

    with tempfile.TemporaryDirectory(prefix="train_speed-") as scratch:
        scratch = pathlib.Path(scratch)
        print_header(args.mode)
        prepared = prepare(args, base_environment, scratch)

        if args.mode == "levers":
            results = run_levers(args, prepared, base_environment, scratch, turns)
        else:
            plain = dataclasses.replace(
                PLAIN, mode=args.mode, threads=parse_threads(args.plain_threads)
            )
            project = dataclasses.replace(PROJECT, mode=args.mode)
            runs = take_turns(
                [("lab plain recipe", plain), ("project", project)],
                prepared,
                base_environment,
                scratch,
                turns,
            )
            results = {"runs": runs}
            report_two_ways(runs, args.mode)

    if args.json:
        results["prepared"] = prepared
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


def parse_threads(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        intra, inter = (int(part) for part in text.split(","))
    except ValueError:
        raise SystemExit(
            f"--plain-threads expects INTRA,INTER such as 1,2; got {text!r}"
        ) from None
    return intra, inter


def load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def print_header(mode: str) -> None:
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(
        f"train_speed --mode {mode}: {now}, {os.cpu_count()} CPUs, "
        f"load {load_text()} (1 / 5 / 15 min)",
        flush=True,
    )


def prepare(args, environment: dict, scratch: pathlib.Path) -> dict:
    """Vectorize the reviews once (cached on disk) in a child; return its notes."""
    result_path = scratch / "prepare.json"
    spec = {"task": "prepare", "data": args.data, "result": str(result_path)}
    command = [sys.executable, str(pathlib.Path(__file__).resolve())]
    command += ["--child", json.dumps(spec)]
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        check=False,
        env=environment,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"Preparing the data failed (exit {completed.returncode}):\n"
            + completed.stderr[-3000:]
        )
    prepared = json.loads(result_path.read_text())
    print(
        f"Token ids: {prepared['fit_size']:,} fit / {prepared['validation_size']:,} "
        f"validation / {prepared['test_size']:,} test reviews, vocabulary "
        f"{prepared['vocab_size']:,}, length {prepared['sequence_length']} "
        f"({'cached' if prepared['cached'] else 'vectorized'}, "
        f"{time.perf_counter() - started:.0f} s)",
        flush=True,
    )
    return prepared


class Child:
    """A child process that trains one way, in turns the parent hands out."""

    def __init__(self, label, way, prepared, environment, scratch, turns, index):
        self.label = label
        self.way = way
        self.result_path = scratch / f"run-{index}.json"
        self.log_path = scratch / f"run-{index}.log"
        spec = {
            "task": "train",
            "way": dataclasses.asdict(way),
            "ids": prepared["ids_path"],
            "turns": turns,
            "result": str(self.result_path),
        }
        environment = dict(environment)
        if way.threads:
            environment["TF_NUM_INTRAOP_THREADS"] = str(way.threads[0])
            environment["TF_NUM_INTEROP_THREADS"] = str(way.threads[1])
        if not way.onednn:
            environment["TF_ENABLE_ONEDNN_OPTS"] = "0"
        command = [sys.executable, str(pathlib.Path(__file__).resolve())]
        command += ["--child", json.dumps(spec)]
        # The child keeps its own copy of the log's file descriptor.
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command,
                env=environment,
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                bufsize=1,
            )
        self.result = None

    def receive(self) -> str:
        """The child's next message; its notes are printed on the way."""
        while True:
            message = self.process.stdout.readline().strip()
            if not message.startswith("note "):
                return message
            print(f"  {self.label}: {message[len('note ') :]}", flush=True)

    def send(self, message: str) -> None:
        self.process.stdin.write(message + "\n")
        self.process.stdin.flush()

    def finish(self) -> dict:
        """Reap the child; its figures plus the peak memory the kernel saw."""
        _, status, usage = os.wait4(self.process.pid, 0)
        self.process.returncode = os.waitstatus_to_exitcode(status)
        if self.process.returncode != 0 or not self.result_path.exists():
            tail = self.log_path.read_text()[-3000:]
            raise SystemExit(
                f"{self.label} failed (exit {self.process.returncode}):\n{tail}"
            )
        self.result = json.loads(self.result_path.read_text())
        self.result["label"] = self.label
        self.result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
        self.result["child_cpu_seconds"] = usage.ru_utime + usage.ru_stime
        return self.result


def take_turns(runs, prepared, environment, scratch, turns) -> list[dict]:
    """Start one child per way, let them train in turns, return their figures."""
    children = [
        Child(label, way, prepared, environment, scratch, turns, index)
        for index, (label, way) in enumerate(runs)
    ]
    for index, child in enumerate(children):
        if child.receive() != "ready":
            for other in children[index + 1 :]:
                other.process.kill()
            child.finish()  # raises with the child's log
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    active = list(children)
    try:
        while active:
            for child in list(active):
                child.send("go")
                message = child.receive()
                if message != "pause":
                    active.remove(child)
                    result = child.finish()
                    result["load_after"] = os.getloadavg()[0]
                    print(
                        f"  finished {child.label} "
                        f"({time.perf_counter() - started:.0f} s in)",
                        flush=True,
                    )
    finally:
        for child in active:
            child.process.kill()
    for child in children:
        child.result["load_before"] = load_before
    return [child.result for child in children]


def run_levers(args, prepared, environment, scratch, turns) -> dict:
    """Each lever next to a baseline, group by group; print the table."""
    rows = []
    chosen = {int(part) for part in args.groups.split(",")} if args.groups else None
    for group_index, group in enumerate(lever_groups()):
        if chosen and group_index + 1 not in chosen:
            continue
        runs = [
            (label, dataclasses.replace(way, reviews=args.lever_reviews))
            for label, way in group
        ]
        print(f"Group {group_index + 1}: " + ", ".join(label for label, _ in runs))
        group_scratch = scratch / f"group-{group_index}"
        group_scratch.mkdir()
        results = take_turns(runs, prepared, environment, group_scratch, turns)
        baseline = results[0]
        for result in results:
            result["group"] = group_index + 1
            for key in ("wall", "steady_wall", "steady_cpu"):
                result[f"x_{key}"] = _rate(result, key) / _rate(baseline, key)
        rows.extend(results)

    print()
    print(
        f"Levers, one epoch on {args.lever_reviews:,} fit reviews each. x: this "
        "way's reviews per second over its group's baseline (plain recipe), "
        "taking turns with it; 'after 1st' leaves out the first batch (tracing, "
        "XLA compiling). Wall: what a student waits; CPU: the work done."
    )
    header = (
        "| group | lever | s/epoch | x wall | x wall after 1st "
        "| CPU s | x CPU after 1st | 1st batch s | peak RSS MB |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for result in rows:
        epoch = result["epochs"][0]
        print(
            f"| {result['group']} | {result['label']} "
            f"| {epoch['train_seconds']:.1f} | {result['x_wall']:.2f} "
            f"| {result['x_steady_wall']:.2f} | {epoch['cpu_seconds']:.1f} "
            f"| {result['x_steady_cpu']:.2f} | {epoch['first_batch_seconds']:.1f} "
            f"| {result['peak_rss_mb']:.0f} |"
        )
    for result in rows:
        if result.get("xla_check"):
            check = result["xla_check"]
            print(f"XLA check ({result['label']}): {format_xla_check(check)}")
    padding = prepared.get("padding") or []
    if padding:
        print()
        print(
            "Bucket pool (core.training.BUCKET_POOL_BATCHES) - GRU steps per "
            "epoch of the 20,000 fit reviews, batch 64:"
        )
        for row in padding:
            print(
                f"  pool {row['pool_batches']:>6} batches: {row['steps']:,} steps "
                f"(fixed 300 computes {row['speedup']:.2f}x as many), "
                f"padding computed {row['padding_percent']:.1f}%"
            )
    print(f"Load after: {load_text()}")
    return {"levers": rows}


def _rate(result: dict, key: str) -> float:
    """Reviews per second of a run's first epoch: all of it, or after batch 1."""
    epoch = result["epochs"][0]
    if key == "wall":
        return result["reviews"] / epoch["train_seconds"]
    first_reviews = min(result["way"]["batch_size"], result["reviews"])
    if key == "steady_wall":
        seconds = epoch["train_seconds"] - epoch["first_batch_seconds"]
    else:
        seconds = epoch["cpu_seconds"] - epoch["first_batch_cpu_seconds"]
    return (result["reviews"] - first_reviews) / seconds


def format_xla_check(check: dict) -> str:
    verdict = "same" if check["unmasked_output"] <= XLA_TOLERANCE else "DIFFERENT"
    return (
        f"fixed 300, no mask: outputs differ by at most "
        f"{check['unmasked_output']:.1e} ({verdict} within {XLA_TOLERANCE:.0e}), "
        f"gradients by {check['unmasked_gradient']:.1e} relative; "
        f"with mask: outputs {check['masked_output']:.1e}, "
        f"gradients {check['masked_gradient']:.1e} relative"
    )


def report_two_ways(runs: list[dict], mode: str) -> None:
    plain, project = runs
    print()
    for result in runs:
        epochs = result["epochs"]
        first = epochs[0]
        mean_seconds = sum(e["train_seconds"] for e in epochs) / len(epochs)
        print(f"{result['label']}: threads {result['threads']}")
        if "hyperparameters" in result:
            hp = result["hyperparameters"]
            settings = ("length_bucketing", "mask_padding", "weight_averaging")
            print("  " + ", ".join(f"{name}={hp[name]}" for name in settings))
        print(
            f"  seconds per epoch: {first['train_seconds']:.1f} (epoch 1)"
            + (
                f", mean {mean_seconds:.1f} over {len(epochs)}"
                if len(epochs) > 1
                else ""
            )
            + f"; reviews/s: {result['reviews_per_second']:.1f}"
        )
        print(
            f"  CPU seconds in epoch 1: {first['cpu_seconds']:.1f}; first batch "
            f"(tracing) {first['first_batch_seconds']:.1f} s; peak RSS "
            f"{result['peak_rss_mb']:.0f} MB"
        )
        if mode == "full":
            test = result["test"]
            print(
                f"  epochs run {len(epochs)} ({result['stop_reason']}), best "
                f"epoch {result['best_epoch'] + 1}: val_accuracy "
                f"{epochs[result['best_epoch']].get('val_accuracy', math.nan):.4f}; "
                f"test accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f} "
                f"on {test['size']:,} reviews; training {result['fit_seconds']:.0f} s"
            )
    print(f"Load before / after: {plain['load_before']:.1f} / {load_text()}")
    if mode == "full":
        difference = project["test"]["accuracy"] - plain["test"]["accuracy"]
        print(f"test accuracy, project minus plain: {difference:+.4f}")
    cpu_ratio = plain["epochs"][0]["cpu_seconds"] / project["epochs"][0]["cpu_seconds"]
    print(f"CPU seconds in epoch 1, plain over project: {cpu_ratio:.2f}x")
    ratio = project["reviews_per_second"] / plain["reviews_per_second"]
    print(f"ratio: {ratio:.2f}x")


# The children -------------------------------------------------------------


def child_main(spec: dict) -> int:
    # The turn-taking messages use the real stdout; everything else anyone
    # prints (TensorFlow included) goes to stderr, the child's log.
    channel = Channel(sys.stdin, os.fdopen(os.dup(1), "w", buffering=1))
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))

    if spec["task"] == "prepare":
        result = prepare_in_child(spec)
        pathlib.Path(spec["result"]).write_text(json.dumps(result))
        return 0
    else:
        way = Way(**{**spec["way"], "threads": _tuple(spec["way"]["threads"])})
        if way.runner == "project":
            result = train_project_way(way, spec, channel)
        else:
            result = train_keras_way(way, spec, channel)
    import resource

    result["self_peak_rss_mb"] = (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    pathlib.Path(spec["result"]).write_text(json.dumps(result))
    channel.send("done")
    return 0


def _tuple(value):
    return tuple(value) if value else None


class Channel:
    """The child's side of the turn-taking: wait for "go", say "pause"."""

    def __init__(self, incoming, outgoing):
        self.incoming = incoming
        self.outgoing = outgoing
        self.paused_seconds = 0.0

    def send(self, message: str) -> None:
        self.outgoing.write(message + "\n")
        self.outgoing.flush()

    def wait_for_turn(self) -> None:
        started = time.perf_counter()
        message = self.incoming.readline().strip()
        if message != "go":
            raise SystemExit(f"expected 'go' from the parent, got {message!r}")
        self.paused_seconds += time.perf_counter() - started

    def pause(self) -> None:
        self.send("pause")
        self.wait_for_turn()

    def note(self, text: str) -> None:
        """A line of progress for the parent to print."""
        self.send("note " + text)


def prepare_in_child(spec: dict) -> dict:
    """Token ids, labels and the split, vectorized by the project, on disk.

    The arrays land in the data cache (`$GRU_LAB_CACHE`), keyed by the data,
    the text settings and the tokenizer's source, so later runs skip this.
    """
    import numpy as np

    import core  # noqa: F401  (thread settings before TensorFlow starts)
    from core import data, training
    from core.config import preset

    hp = preset("lab").with_changes(**SPLIT)
    source = data.configured_source(spec["data"])
    key_parts = [source, hp.vocab_size, hp.sequence_length, hp.train_size]
    key_parts += [hp.validation_fraction, hp.seed]
    if source != data.TFDS_SOURCE:
        path = pathlib.Path(source).expanduser().resolve()
        stat = path.stat()
        key_parts += [str(path), stat.st_size, stat.st_mtime_ns]
    key_parts.append((REPO / "core" / "text.py").read_bytes())
    digest = hashlib.sha256(repr(key_parts).encode()).hexdigest()[:12]
    ids_path = data.default_cache_dir() / f"train_speed-{digest}.npz"

    cached = ids_path.exists()
    if not cached:
        imdb = data.load_imdb(spec["data"])
        vectorized = training.vectorize_imdb(imdb, hp.vocab_size, hp.sequence_length)
        fit_rows, validation_rows = data.split_indices(
            vectorized.train_labels, hp.train_size, hp.validation_fraction, hp.seed
        )
        ids_path.parent.mkdir(parents=True, exist_ok=True)
        partial = ids_path.with_suffix(".partial.npz")
        np.savez(
            partial,
            train_ids=vectorized.train_ids,
            train_labels=vectorized.train_labels,
            test_ids=vectorized.test_ids,
            test_labels=vectorized.test_labels,
            fit_rows=fit_rows,
            validation_rows=validation_rows,
            vocabulary=np.array(vectorized.vectorizer.get_vocabulary(), dtype=str),
            meta=json.dumps({"source": vectorized.source, "hp": hp.to_dict()}),
        )
        os.replace(partial, ids_path)

    arrays = np.load(ids_path)
    return {
        "ids_path": str(ids_path),
        "cached": cached,
        "fit_size": len(arrays["fit_rows"]),
        "validation_size": len(arrays["validation_rows"]),
        "test_size": len(arrays["test_labels"]),
        "vocab_size": hp.vocab_size,
        "sequence_length": hp.sequence_length,
        "padding": pool_padding(arrays, hp.batch_size, hp.seed),
    }


def pool_padding(arrays, batch_size: int, seed: int) -> list[dict]:
    """GRU steps one epoch computes for several bucket pool sizes (no training)."""
    import numpy as np

    from core import text, training

    token_ids = arrays["train_ids"][arrays["fit_rows"]]
    labels = arrays["train_labels"][arrays["fit_rows"]]
    lengths = np.maximum(text.sequence_lengths(token_ids), 1)
    rows = []
    project_pool = training.BUCKET_POOL_BATCHES
    for pool in (1, 8, project_pool, 128, len(token_ids)):
        # Only this analysis changes the module's pool size, and puts it back.
        training.BUCKET_POOL_BATCHES = pool
        try:
            batches = training.ReviewBatches(
                token_ids, labels, batch_size, shuffle=True, seed=seed
            )
        finally:
            training.BUCKET_POOL_BATCHES = project_pool
        widths = np.array([lengths[b].max() for b in batches._batches])
        sizes = np.array([len(b) for b in batches._batches])
        computed = int((widths * sizes).sum())
        rows.append(
            {
                "pool_batches": pool,
                "steps": int(widths.sum()),
                "speedup": token_ids.shape[1] * len(widths) / widths.sum(),
                "padding_percent": 100 * (1 - lengths.sum() / computed),
            }
        )
    return rows


def _load_arrays(spec: dict, way: Way):
    import numpy as np

    arrays = np.load(spec["ids"])
    meta = json.loads(str(arrays["meta"]))
    fit_rows = arrays["fit_rows"]
    if way.reviews:
        fit_rows = fit_rows[: way.reviews]
    return arrays, meta, fit_rows


def _thread_environment() -> dict:
    return {name: os.environ.get(name) for name in THREAD_VARIABLES}


def _import_core_keeping_threads() -> None:
    """Import `core` but keep the thread settings the parent gave this child.

    Importing the package fills in the project's thread defaults where none
    are set; TensorFlow reads them only when it starts its first op, so
    putting the parent's choice back right after the import is enough.
    """
    if "tensorflow" in sys.modules:
        raise RuntimeError("TensorFlow started before the thread settings were made")
    given = _thread_environment()
    import core  # noqa: F401

    for name, value in given.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def build_lab_model(hp: dict, mask: bool):
    """The lab's classifier over token ids, written out as the lab writes it."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(hp["seed"])
    return keras.Sequential(
        [
            keras.Input(shape=(None,), dtype="int32"),
            layers.Embedding(hp["vocab_size"], hp["embedding_dim"], mask_zero=mask),
            layers.Bidirectional(layers.GRU(hp["units"])),
            layers.Dropout(hp["dropout_rate"]),
            layers.Dense(1, activation="sigmoid"),
        ]
    )


def train_keras_way(way: Way, spec: dict, channel: Channel) -> dict:
    """The lab's recipe, with whichever levers `way` turns on."""
    uses_core = (
        way.trim or way.pipeline == "pydataset" or way.fast_gru or way.fused_adam
    )
    if uses_core:
        _import_core_keeping_threads()
    threads = _thread_environment()
    import keras

    arrays, meta, fit_rows = _load_arrays(spec, way)
    hp = meta["hp"]
    fit_ids = arrays["train_ids"][fit_rows]
    fit_labels = arrays["train_labels"][fit_rows]
    validation_rows = arrays["validation_rows"]

    model = build_lab_model(hp, mask=way.mask)
    fitted = model  # what `fit` runs; its layers and weights are `model`'s
    optimizer_class = keras.optimizers.Adam
    if way.fast_gru or way.fused_adam:
        from core import fast_gru

        if way.fused_adam:
            optimizer_class = fast_gru.FusedAdam
        if way.fast_gru:
            embedding, recurrent, dropout, dense = model.layers
            token_ids = keras.Input(shape=(None,), dtype="int32")
            encoded = fast_gru.FastRecurrentEncoder(embedding, recurrent)(token_ids)
            fitted = keras.Model(token_ids, dense(dropout(encoded)))
    for compiled in {id(m): m for m in (model, fitted)}.values():
        compiled.compile(
            optimizer=optimizer_class(learning_rate=hp["learning_rate"]),
            loss="binary_crossentropy",
            metrics=["accuracy"],
            jit_compile=way.xla,
        )
    if uses_core:
        from core import training

        batches_class = training.ReviewBatches
        if way.round_widths:
            batches_class = rounded_batches_class(training, way.round_widths)
        fit_data = batches_class(
            fit_ids,
            fit_labels,
            way.batch_size,
            bucketing=way.trim,
            shuffle=True,
            seed=hp["seed"],
        )
        fit_options = {}
        validation_data = batches_class(
            arrays["train_ids"][validation_rows],
            arrays["train_labels"][validation_rows],
            max(way.batch_size, 128),
            bucketing=way.trim,
        )
    else:
        fit_data = fit_ids
        fit_options = {"y": fit_labels, "batch_size": way.batch_size, "shuffle": True}
        validation_data = (
            arrays["train_ids"][validation_rows],
            arrays["train_labels"][validation_rows],
        )
    batches = math.ceil(len(fit_rows) / way.batch_size)
    clock = EpochClock(channel, batches, spec["turns"])
    callbacks = [turn_taking_callback(clock)]
    epochs = 1
    if way.mode == "full":
        early_stopping = keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=hp["patience"], restore_best_weights=True
        )
        callbacks.append(early_stopping)
        epochs = hp["epochs"]
        fit_options["validation_data"] = validation_data

    channel.send("ready")
    channel.wait_for_turn()
    paused_before = channel.paused_seconds
    fit_started = time.perf_counter()
    history = fitted.fit(
        fit_data, epochs=epochs, callbacks=callbacks, verbose=0, **fit_options
    )
    paused = channel.paused_seconds - paused_before
    fit_seconds = time.perf_counter() - fit_started - paused

    result = _result(way, threads, len(fit_rows), clock.epochs, history.history)
    result["fit_seconds"] = fit_seconds
    result["params"] = model.count_params()
    if way.mode == "full":
        result["best_epoch"] = int(early_stopping.best_epoch)
        result["stop_reason"] = (
            "early_stopping" if len(clock.epochs) < epochs else "completed"
        )
        scores = model.evaluate(
            arrays["test_ids"],
            arrays["test_labels"],
            batch_size=256,
            verbose=0,
            return_dict=True,
        )
        result["test"] = {
            "accuracy": float(scores["accuracy"]),
            "loss": float(scores["loss"]),
            "size": len(arrays["test_labels"]),
        }
    if way.xla:
        check_rows = validation_rows[:256]
        result["xla_check"] = xla_check(
            model,
            hp,
            arrays["train_ids"][check_rows],
            arrays["train_labels"][check_rows],
        )
    return result


def rounded_batches_class(training, multiple: int):
    """ReviewBatches whose widths are rounded up: XLA compiles once per width."""
    import numpy as np

    class RoundedReviewBatches(training.ReviewBatches):
        def _plan(self):
            # Each review counts as its length rounded up (idempotent), so
            # every batch's width is a multiple of `multiple` or the maximum.
            rounded = -(-self.lengths // multiple) * multiple
            self.lengths = np.minimum(rounded, self.token_ids.shape[1])
            return super()._plan()

    return RoundedReviewBatches


def train_project_way(way: Way, spec: dict, channel: Channel) -> dict:
    """`core.training.train` with the lab preset: the project's own code path."""
    import core  # noqa: F401  (the project's thread settings)

    threads = _thread_environment()
    from core import text, training
    from core.config import preset

    arrays, meta, fit_rows = _load_arrays(spec, way)
    hp = preset("lab").with_changes(**SPLIT)
    if way.mode == "speed":
        hp = hp.with_changes(epochs=1)
    if way.reviews:
        raise ValueError("The project's way always trains on the full split.")
    vectorizer = text.build_vectorizer(hp.vocab_size, hp.sequence_length)
    vectorizer.set_vocabulary(list(arrays["vocabulary"]))
    vectorized = training.VectorizedImdb(
        vectorizer=vectorizer,
        train_ids=arrays["train_ids"],
        train_labels=arrays["train_labels"],
        test_ids=arrays["test_ids"],
        test_labels=arrays["test_labels"],
        source=meta["source"],
        seconds=0.0,
    )
    batches = math.ceil(len(fit_rows) / hp.batch_size)
    clock = EpochClock(channel, batches, spec["turns"])

    channel.send("ready")
    channel.wait_for_turn()
    paused_before = channel.paused_seconds
    outcome = training.train(hp, vectorized, listener=project_listener(clock))
    fit_seconds = outcome.seconds - (channel.paused_seconds - paused_before)
    history = {
        key: [row[key] for row in outcome.history if key in row]
        for key in ("loss", "accuracy", "val_loss", "val_accuracy")
    }
    result = _result(way, threads, outcome.fit_size, clock.epochs, history)
    result["fit_seconds"] = fit_seconds
    result["params"] = training.model_module.token_model(outcome.model).count_params()
    result["best_epoch"] = outcome.best_epoch
    result["stop_reason"] = outcome.stop_reason
    result["hyperparameters"] = hp.to_dict()
    if way.mode == "full":
        test = training.evaluate(
            outcome.model, vectorized.test_ids, vectorized.test_labels
        )
        result["test"] = {
            "accuracy": test.accuracy,
            "loss": test.loss,
            "size": test.size,
        }
    return result


def _result(way, threads, reviews, epochs, history) -> dict:
    for index, epoch in enumerate(epochs):
        for key, values in history.items():
            if index < len(values):
                epoch[key] = float(values[index])
    return {
        "way": dataclasses.asdict(way),
        "threads": ", ".join(
            f"{name}={value if value is not None else 'unset'}"
            for name, value in threads.items()
        ),
        "reviews": reviews,
        "epochs": epochs,
        "reviews_per_second": reviews / epochs[0]["train_seconds"],
    }


class EpochClock:
    """Wall and CPU seconds of each epoch's training, without paused turns.

    An epoch is timed from its start to the end of its last batch, so the
    validation pass that follows is not counted. Every few batches the clock
    hands the turn back to the parent.
    """

    def __init__(self, channel: Channel, batches_per_epoch: int, turns: int):
        self.channel = channel
        self.batches_per_turn = max(1, round(batches_per_epoch / turns))
        self.epochs: list[dict] = []
        self.batches_done = 0
        self.mark_epoch_start()

    def mark_epoch_start(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = time.process_time()
        self._paused = self.channel.paused_seconds

    def batch_ends(self, batch_in_epoch: int) -> None:
        if batch_in_epoch == 0:
            self.epochs.append({})
        current = self.epochs[-1]
        paused = self.channel.paused_seconds - self._paused
        current["train_seconds"] = time.perf_counter() - self._wall - paused
        current["cpu_seconds"] = time.process_time() - self._cpu
        current["batches"] = batch_in_epoch + 1
        if batch_in_epoch == 0:
            current["first_batch_seconds"] = current["train_seconds"]
            current["first_batch_cpu_seconds"] = current["cpu_seconds"]
        self.batches_done += 1
        if self.batches_done % self.batches_per_turn == 0:
            self.channel.pause()

    def epoch_ends(self, epoch: int, logs) -> None:
        if not self.epochs:
            return
        scores = ", ".join(
            f"{name} {float(value):.4f}"
            for name, value in (logs or {}).items()
            if name in ("loss", "val_loss", "val_accuracy")
        )
        seconds = self.epochs[-1]["train_seconds"]
        self.channel.note(f"epoch {epoch + 1}: {seconds:.0f} s training; {scores}")


def turn_taking_callback(clock: EpochClock):
    """A Keras callback that drives `clock` (Keras is imported in children only)."""
    import keras

    class TurnTaking(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            clock.mark_epoch_start()

        def on_train_batch_end(self, batch, logs=None):
            clock.batch_ends(batch)

        def on_epoch_end(self, epoch, logs=None):
            clock.epoch_ends(epoch, logs)

    return TurnTaking()


def project_listener(clock: EpochClock):
    """A `core.training` listener that drives `clock`."""

    def listener(event) -> None:
        if event.kind == "epoch_end":
            clock.epoch_ends(event.epoch, event.logs)
        if event.kind in ("train_begin", "epoch_end"):
            # The next epoch starts now, after this one's validation.
            clock.mark_epoch_start()
        elif event.kind == "batch_end":
            clock.batch_ends(event.step - 1)

    return listener


def xla_check(model, hp: dict, token_ids, labels) -> dict:
    """Largest differences between XLA-compiled and plain graphs, same weights.

    Checks the model as trained (fixed 300, no mask) and a masked copy with
    the same weights, on outputs (inference) and on the loss gradients.
    """
    import keras
    import numpy as np
    import tensorflow as tf

    def differences(checked_model, ids) -> tuple[float, float]:
        x = tf.constant(ids)
        y = tf.constant(labels[:, None])

        def forward(x):
            return checked_model(x, training=False)

        def gradients(x, y):
            with tf.GradientTape() as tape:
                loss = keras.losses.binary_crossentropy(y, forward(x))
                loss = tf.reduce_mean(loss)
            return tape.gradient(loss, checked_model.trainable_variables)

        plain = tf.function(forward)(x).numpy()
        compiled = tf.function(forward, jit_compile=True)(x).numpy()
        output = float(np.max(np.abs(plain - compiled)))
        plain_grads = tf.function(gradients)(x, y)
        compiled_grads = tf.function(gradients, jit_compile=True)(x, y)
        gradient = 0.0
        for plain_grad, compiled_grad in zip(plain_grads, compiled_grads):
            # The embedding's gradient comes as IndexedSlices: make it dense.
            plain_grad = tf.convert_to_tensor(plain_grad).numpy()
            compiled_grad = tf.convert_to_tensor(compiled_grad).numpy()
            scale = np.max(np.abs(plain_grad)) + 1e-12
            difference = np.max(np.abs(plain_grad - compiled_grad)) / scale
            gradient = max(gradient, float(difference))
        return output, gradient

    unmasked_output, unmasked_gradient = differences(model, token_ids)
    masked = build_lab_model(hp, mask=True)
    masked.set_weights(model.get_weights())
    masked_output, masked_gradient = differences(masked, token_ids)
    return {
        "unmasked_output": unmasked_output,
        "unmasked_gradient": unmasked_gradient,
        "masked_output": masked_output,
        "masked_gradient": masked_gradient,
        "rows": len(token_ids),
    }


if __name__ == "__main__":
    sys.exit(main())
