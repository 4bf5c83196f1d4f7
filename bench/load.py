"""A classroom on one GRU Lab server: N students reading reviews at once.

    python bench/load.py --clients 30 --seconds 60
    python bench/load.py --clients 30 --seconds 60 --train
    python bench/load.py --url http://127.0.0.1:8501 --clients 10

Without --url the script starts its own server (`streamlit run
streamlit_app.py` on a free port of 127.0.0.1, its models in a temporary copy
of models/ so a training writes nothing into the repository) and stops it at
the end. Only 127.0.0.1 is ever contacted.

The class arrives first: the students open the Playground by its link over
--ramp seconds, and that first page is timed on its own line ("arrival").
Once everyone is in, the clock starts and each student repeats until the
time is up: open the Playground, type a new review and wait until its
prediction is shown; open the Architecture page, change a control (units,
embedding size, one or two directions) and wait for the new ledger; with a
pause of about --think seconds between actions (and a random part of one
before the first, so that they do not all act at once). Every answer is
checked: the prediction caption must be there, the page's token count must
be the review's, the total parameter count must be the one `core.params`
computes, and no exception, error box or "page not found" may appear. The
script prints the errors and, per step, the median and 95th percentile of
the time until the result is on screen.

Why websocket clients rather than N browsers. A real student's browser runs
on the student's own laptop; here every client shares the server's two
cores. Thirty Chromium tabs drawing plotly charts would take most of the CPU
themselves, and the figures would measure the tabs fighting each other, not
the server a class would use. So the students are clients of Streamlit's own
protocol: each opens the app's websocket (/_stcore/stream) and sends the
BackMsg a browser sends when a widget changes (`rerun_script` with the
widget's new value), then reads the ForwardMsg stream the server sends back.
"Prediction on screen" is the moment the delta carrying the prediction
arrives, which is when a browser could draw it. To show what drawing adds, one
real Chromium tab (Playwright, /usr/bin/chromium) does the same actions beside
them and its times are reported on their own lines (--no-browser turns it
off); it measures until the page's numbers have changed in the DOM.

With --train a browser tab presses Train with the classroom preset before the
class comes in, and the measured time starts once its first batch has
trained, so the load's figures are figures under training (the script says
whether the run was still training when the time ended). A few seconds into
the time a second tab presses Train too and must be refused. The training's
times are printed after the load's figures.
"""

import argparse
import asyncio
import collections
import dataclasses
import json
import math
import os
import pathlib
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import websockets  # a dependency of streamlit
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from core import params  # pure Python: the expected counts
from core.config import Hyperparameters

CHROMIUM = "/usr/bin/chromium"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
DEFAULT_DATA = REPO.parent / "shared" / "data" / "aclImdb_v1_labelled.tar.gz"
SERVER_START_SECONDS = 180

PLAYGROUND = "Playground"
ARCHITECTURE = "Architecture"
REVIEW_BOX = "A movie review"
PREDICTION_MARK = "P(positive) ="
ARRIVAL = "arrival: open the Playground by its link"
LAB = Hyperparameters()
# The Architecture controls the students change, and the values they pick:
# about what a student reaches with a few clicks on "+" and "-".
UNITS = (16, 32, 48, 64, 80, 96, 112, 128)
EMBEDDING_SIZES = (32, 64, 128)

# ForwardMsg.ScriptFinishedStatus
FINISHED, COMPILE_ERROR, EARLY_FOR_RERUN, FRAGMENT_FINISHED = 0, 1, 2, 3
ALERT_ERROR = 1  # Alert.Format.ERROR

# Seconds into the measured time at which a second tab presses Train (--train).
SECOND_PRESS_S = 5.0
POSITIVE_WORDS = ["great", "wonderful", "superb", "moving", "brilliant", "loved"]
NEGATIVE_WORDS = ["awful", "boring", "terrible", "dull", "worst", "hated"]
NEUTRAL_TEXT = (
    "the film movie plot actor story scene director it was and a of to in this "
    "that with character music ending camera cast script acting but very"
)
NEUTRAL_WORDS = NEUTRAL_TEXT.split()


# Reviews and architectures ---------------------------------------------------


def make_review(rng: random.Random, avoid_length: int) -> tuple[str, int]:
    """A plain review and its token count (a length unlike the last one)."""
    length = avoid_length
    while length == avoid_length:
        length = rng.randint(8, 60)
    cues = POSITIVE_WORDS if rng.random() < 0.5 else NEGATIVE_WORDS
    words = [
        rng.choice(cues) if rng.random() < 0.15 else rng.choice(NEUTRAL_WORDS)
        for _ in range(length)
    ]
    return " ".join(words).capitalize() + ".", length


def next_architecture(rng: random.Random, current: Hyperparameters):
    """A different architecture: one control changed, as one click changes it."""
    while True:
        control = rng.choice(("units", "embedding_dim", "bidirectional"))
        if control == "units":
            candidate = current.with_changes(units=rng.choice(UNITS))
        elif control == "embedding_dim":
            candidate = current.with_changes(embedding_dim=rng.choice(EMBEDDING_SIZES))
        else:
            candidate = current.with_changes(bidirectional=not current.bidirectional)
        if candidate != current:
            return control, candidate


def total_parameters(hp: Hyperparameters) -> str:
    return f"{sum(params.layer_params(hp).values()):,}"


# Figures -----------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


class Figures:
    """Latencies per measured step, and every error with who met it."""

    def __init__(self):
        self.samples: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: list[str] = []
        self.error_counts: collections.Counter = collections.Counter()
        self.notes: list[str] = []

    def add(self, step: str, seconds: float) -> None:
        self.samples[step].append(seconds)

    def error(self, who: str, action: str, message: str) -> None:
        self.error_counts[action] += 1
        self.errors.append(f"{who} / {action}: {message}")

    def table(self) -> str:
        lines = [
            f"{'step':58} {'count':>6} {'median':>8} {'p95':>8} {'max':>8}",
        ]
        for step, values in self.samples.items():
            lines.append(
                f"{step:58} {len(values):6d} {statistics.median(values):7.3f}s "
                f"{percentile(values, 0.95):7.3f}s {max(values):7.3f}s"
            )
        return "\n".join(lines)


# One student over Streamlit's protocol -------------------------------------------


class ActionFailed(Exception):
    """What the page showed (or failed to show) was wrong."""


@dataclasses.dataclass
class Run:
    """One script run a BackMsg asked for, as its ForwardMsgs arrive."""

    sent: float
    done: asyncio.Event
    started: float | None = None
    finished: float | None = None
    status: int | None = None
    elements: list = dataclasses.field(default_factory=list)  # (arrival, Element)
    problems: list[str] = dataclasses.field(default_factory=list)

    def first(self, kind: str, predicate) -> tuple[float, object] | None:
        for arrival, element in self.elements:
            if element.WhichOneof("type") == kind and predicate(getattr(element, kind)):
                return arrival, element
        return None

    def metric(self, label: str) -> tuple[float, str] | None:
        found = self.first("metric", lambda metric: metric.label == label)
        return (found[0], found[1].metric.body) if found else None


class ProtocolStudent:
    """A browser tab as the server sees it: BackMsgs out, ForwardMsgs in."""

    def __init__(self, base_url: str, name: str):
        self.url = base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.name = name
        self.pages: dict[str, str] = {}  # page title -> page_script_hash
        self.page_hash = ""
        self.widgets: dict[str, str] = {}  # label -> widget id, on this page
        self.states: dict[str, WidgetState] = {}  # what this tab has set
        self.connection = None
        self.closed_because: str | None = None
        self._run: Run | None = None
        self._reader: asyncio.Task | None = None

    async def connect(self, timeout: float) -> None:
        self.connection = await websockets.connect(
            self.url,
            subprotocols=["streamlit"],
            max_size=None,
            ping_interval=None,  # the server pings; a busy client must not hang up
            open_timeout=timeout,
        )
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        try:
            async for frame in self.connection:
                if isinstance(frame, bytes):
                    self._receive(ForwardMsg.FromString(frame), time.perf_counter())
        except websockets.ConnectionClosed as closed:
            self.closed_because = f"connection closed ({closed})"
        except Exception as error:  # noqa: BLE001  (reported, never hidden)
            self.closed_because = f"reader failed: {type(error).__name__}: {error}"
        else:
            self.closed_because = "connection closed by the server"
        if self._run is not None and not self._run.done.is_set():
            self._run.problems.append(self.closed_because)
            self._run.done.set()

    def _receive(self, message: ForwardMsg, now: float) -> None:
        kind = message.WhichOneof("type")
        if kind == "navigation":
            self.pages = {
                page.page_name: page.page_script_hash
                for page in message.navigation.app_pages
            }
            self.page_hash = message.navigation.page_script_hash
        run = self._run
        if run is None or run.done.is_set():
            return
        if kind == "new_session":
            # a run (re)starts: what came before belongs to an older run
            run.started, run.elements = now, []
            self.widgets = {}
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            run.elements.append((now, element))
            self._note(element, run)
        elif kind == "page_not_found":
            run.problems.append(f"page not found: {message.page_not_found.page_name!r}")
        elif kind == "ref_hash":
            run.problems.append("a cached message was referenced (never cached here)")
        elif kind == "script_finished":
            status = message.script_finished
            if status in (FINISHED, COMPILE_ERROR):
                run.status, run.finished = status, now
                if status == COMPILE_ERROR:
                    run.problems.append("the script did not compile")
                run.done.set()

    def _note(self, element, run: Run) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            exception = element.exception
            run.problems.append(f"exception {exception.type}: {exception.message}")
        elif kind == "alert" and element.alert.format == ALERT_ERROR:
            run.problems.append(f"error box: {element.alert.body[:300]}")
        elif kind in ("text_area", "number_input", "checkbox", "button"):
            widget = getattr(element, kind)
            self.widgets[widget.label] = widget.id

    async def rerun(
        self,
        *,
        page: str | None = None,
        states=(),
        timeout: float,
        address: str = "",
    ) -> Run:
        """Ask for a run (another page, new widget values) and wait for its end.

        `address` is a page's URL path, for the first run of a tab opened on
        that page's link (before the app has said which pages it has).
        """
        if self.closed_because:
            raise ActionFailed(self.closed_because)
        if page is not None:
            if page not in self.pages:
                raise ActionFailed(f"no page {page!r} in {sorted(self.pages)}")
            self.page_hash, self.states = self.pages[page], {}
        for state in states:
            self.states[state.id] = state
        message = BackMsg()
        client = message.rerun_script
        client.page_script_hash = self.page_hash
        client.page_name = address
        client.widget_states.widgets.extend(self.states.values())
        client.context_info.timezone = "UTC"
        client.context_info.locale = "en-US"
        run = Run(sent=time.perf_counter(), done=asyncio.Event())
        self._run = run
        await self.connection.send(message.SerializeToString())
        try:
            await asyncio.wait_for(run.done.wait(), timeout)
        except TimeoutError:
            raise ActionFailed(f"no answer within {timeout:.0f} s") from None
        if run.problems:
            raise ActionFailed("; ".join(run.problems))
        return run

    def widget_id(self, label: str) -> str:
        if label not in self.widgets:
            raise ActionFailed(f"no widget {label!r} on the page")
        return self.widgets[label]


class Clock:
    """The class arrives first; the measured time starts once everyone has."""

    def __init__(self, students: int, seconds: float):
        self.waiting_for = students
        self.seconds = seconds
        self.started = asyncio.Event()
        self.start_time = self.stop_at = math.inf

    def arrived(self) -> None:
        """One student has opened the app (or failed to)."""
        self.waiting_for -= 1
        if self.waiting_for <= 0 and not self.started.is_set():
            self.start_time = time.perf_counter()
            self.stop_at = self.start_time + self.seconds
            self.started.set()

    @property
    def running(self) -> bool:
        return time.perf_counter() < self.stop_at


async def protocol_student(
    student: ProtocolStudent, figures: Figures, options, clock: Clock, seed: int
) -> None:
    """Open the app, then alternate Playground and Architecture while the clock runs."""
    rng = random.Random(seed)
    timeout = options.action_timeout
    hp = LAB
    length = 0

    async def pause() -> None:
        await asyncio.sleep(options.think * rng.uniform(0.5, 1.5))

    try:
        await student.connect(timeout)
        run = await student.rerun(address="playground", timeout=timeout)
        figures.add(ARRIVAL, run.finished - run.sent)
    except (ActionFailed, OSError, TimeoutError) as error:
        figures.error(student.name, "open the app", str(error))
        return
    finally:
        clock.arrived()
    await clock.started.wait()
    await asyncio.sleep(rng.uniform(0, options.think))  # not all in the same instant
    on_playground = True

    while clock.running:
        action = "open the Playground"
        try:
            if not on_playground:
                run = await student.rerun(page=PLAYGROUND, timeout=timeout)
                figures.add(
                    "open the Playground (page complete)", run.finished - run.sent
                )
            on_playground = True

            action = "type a review"
            review, length = make_review(rng, length)
            box = WidgetState(id=student.widget_id(REVIEW_BOX), string_value=review)
            run = await student.rerun(states=[box], timeout=timeout)
            prediction = run.first(
                "markdown", lambda markdown: PREDICTION_MARK in markdown.body
            )
            tokens = run.metric("Tokens")
            if prediction is None:
                raise ActionFailed("no prediction was shown")
            if tokens is None or tokens[1] != str(length):
                raise ActionFailed(f"token count {tokens and tokens[1]}, not {length}")
            figures.add(
                "type a review -> prediction on screen", prediction[0] - run.sent
            )
            figures.add("type a review -> page complete", run.finished - run.sent)
            await pause()
            if not clock.running:
                break

            action = "open the Architecture page"
            run = await student.rerun(page=ARCHITECTURE, timeout=timeout)
            on_playground = False
            figures.add("open Architecture (page complete)", run.finished - run.sent)

            action = "change an Architecture control"
            control, wanted = next_architecture(rng, hp)
            states = [
                WidgetState(id=student.widget_id("Units n"), int_value=wanted.units),
                WidgetState(
                    id=student.widget_id("Embedding size d"),
                    int_value=wanted.embedding_dim,
                ),
                WidgetState(
                    id=student.widget_id("Bidirectional"),
                    bool_value=wanted.bidirectional,
                ),
            ]
            run = await student.rerun(states=states, timeout=timeout)
            total = run.metric("Total parameters")
            expected = total_parameters(wanted)
            if total is None or total[1] != expected:
                raise ActionFailed(
                    f"{control}: total {total and total[1]}, expected {expected}"
                )
            keras = run.first("alert", lambda alert: "Keras agrees" in alert.body)
            if keras is None:
                raise ActionFailed(f"{control}: no 'Keras agrees' verdict")
            hp = wanted
            figures.add("change a control -> new ledger on screen", total[0] - run.sent)
            figures.add("change a control -> Keras check shown", keras[0] - run.sent)
            await pause()
        except ActionFailed as error:
            figures.error(student.name, action, str(error))
            await pause()
        except (OSError, websockets.WebSocketException) as error:
            figures.error(student.name, action, f"{type(error).__name__}: {error}")
            return
    await student.close()


# Real browser tabs -------------------------------------------------------------


STATE_IDLE = (
    '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
    '[data-test-script-state="notRunning"]'
)
METRIC_IS = """([label, value]) => {
  for (const metric of document.querySelectorAll('[data-testid="stMetric"]')) {
    const name = metric.querySelector('[data-testid="stMetricLabel"]');
    const shown = metric.querySelector('[data-testid="stMetricValue"]');
    if (name && shown && name.innerText.trim() === label) {
      return shown.innerText.trim() === value;
    }
  }
  return false;
}"""


async def wait_idle(page, timeout: float) -> None:
    await page.wait_for_selector(STATE_IDLE, timeout=timeout * 1000)
    await page.wait_for_selector(
        '[data-testid="stStatusWidget"]', state="detached", timeout=timeout * 1000
    )


async def browser_student(browser, url, figures: Figures, options, clock, seed):
    """The same actions in Chromium, timed until the DOM shows the new numbers."""
    rng = random.Random(seed)
    timeout = options.action_timeout
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    who, hp, length = "browser", LAB, 0
    try:
        await page.goto(f"{url}/playground")
        await page.get_by_test_id("stMetric").first.wait_for(timeout=timeout * 1000)
        await wait_idle(page, timeout)
    except Exception as error:  # noqa: BLE001
        figures.error(who, "open the app", f"{type(error).__name__}: {error}")
        await context.close()
        return
    finally:
        clock.arrived()
    await clock.started.wait()
    await asyncio.sleep(rng.uniform(0, options.think))
    navigation = page.get_by_test_id("stSidebarNav")

    while clock.running:
        action = "type a review"
        try:
            review, length = make_review(rng, length)
            box = page.get_by_role("textbox", name=REVIEW_BOX)
            await box.fill(review)
            started = time.perf_counter()
            await box.press("Control+Enter")
            await page.wait_for_function(
                METRIC_IS,
                arg=["Tokens", str(length)],
                polling=25,
                timeout=timeout * 1000,
            )
            figures.add(
                "browser: type a review -> prediction and tokens drawn",
                time.perf_counter() - started,
            )
            await wait_idle(page, timeout)
            figures.add(
                "browser: type a review -> page complete", time.perf_counter() - started
            )
            await asyncio.sleep(options.think * rng.uniform(0.5, 1.5))

            action = "change an Architecture control"
            await navigation.get_by_role("link", name=ARCHITECTURE).click()
            await page.get_by_role("spinbutton", name="Units n").wait_for(
                timeout=timeout * 1000
            )
            await wait_idle(page, timeout)
            units = rng.choice([value for value in UNITS if value != hp.units])
            hp = hp.with_changes(units=units)
            field = page.get_by_role("spinbutton", name="Units n")
            await field.fill(str(units))
            started = time.perf_counter()
            await field.press("Enter")
            await page.wait_for_function(
                METRIC_IS,
                arg=["Total parameters", total_parameters(hp)],
                polling=25,
                timeout=timeout * 1000,
            )
            figures.add(
                "browser: change a control -> new ledger drawn",
                time.perf_counter() - started,
            )
            await wait_idle(page, timeout)
            await asyncio.sleep(options.think * rng.uniform(0.5, 1.5))

            action = "open the Playground"
            await navigation.get_by_role("link", name=PLAYGROUND).click()
            await page.get_by_role("textbox", name=REVIEW_BOX).wait_for(
                timeout=timeout * 1000
            )
            await wait_idle(page, timeout)
        except Exception as error:  # noqa: BLE001  (counted, then carry on)
            figures.error(who, action, f"{type(error).__name__}: {str(error)[:300]}")
            await asyncio.sleep(1)
    await context.close()


async def press_train(page, url: str, preset: str, timeout: float) -> None:
    await page.goto(f"{url}/train")
    await page.get_by_role("button", name="Train", exact=True).wait_for(
        timeout=timeout * 1000
    )
    await wait_idle(page, timeout)
    await page.locator(f".st-key-train-preset-{preset}").get_by_role("button").click()
    await page.get_by_text(re.compile(rf"Now: (the )?{preset}\b")).wait_for(
        timeout=timeout * 1000
    )
    await wait_idle(page, timeout)
    await page.get_by_role("button", name="Train", exact=True).click()


async def trainer(
    browser, url, figures, options, report: dict, training: asyncio.Event
):
    """One tab presses Train with the preset and waits for its results.

    `training` is set once the first batch has trained, which is when the
    class starts its measured time: the load's figures are figures under
    training.
    """
    timeout = options.action_timeout
    page = await (await browser.new_context()).new_page()
    try:
        started = time.perf_counter()
        await press_train(page, url, options.train_preset, timeout)
        pressed = report["pressed"] = time.perf_counter()
        report["open_and_press_s"] = pressed - started
        await page.get_by_text("Epoch 1 of").first.wait_for(
            timeout=options.train_timeout * 1000
        )
        report["first_batch_s"] = time.perf_counter() - pressed
        training.set()
        heading = page.get_by_role("heading", name="Results:")
        await heading.wait_for(timeout=options.train_timeout * 1000)
        report["results_s"] = time.perf_counter() - pressed
        report["run"] = (await heading.inner_text()).replace("Results:", "").strip()
    except Exception as error:  # noqa: BLE001
        figures.error("trainer", "train the preset", f"{type(error).__name__}: {error}")
    finally:
        training.set()  # never keep the class waiting
        await page.context.close()


async def refused(browser, url, figures, options, clock: Clock, report: dict):
    """A second tab presses Train during the load and must be told why not."""
    timeout = options.action_timeout
    await clock.started.wait()
    # Early in the measured time, while the class's run still trains (the
    # classroom preset takes well under a minute on a quiet machine).
    await asyncio.sleep(min(SECOND_PRESS_S, options.seconds / 4))
    if "results_s" in report:
        report["refusal"] = "not tried: the class's run had already finished"
        return
    page = await (await browser.new_context()).new_page()
    try:
        await page.goto(f"{url}/train")
        await page.get_by_role("button", name="Train", exact=True).wait_for(
            timeout=timeout * 1000
        )
        await wait_idle(page, timeout)
        notice = page.get_by_text("Another run is training")
        report["busy_notice_before_pressing"] = await notice.count() > 0
        preset = page.locator(f".st-key-train-preset-{options.train_preset}")
        await preset.get_by_role("button").click()
        await wait_idle(page, timeout)
        clicked = time.perf_counter()
        await page.get_by_role("button", name="Train", exact=True).click()
        refusal = page.get_by_test_id("stAlertContentWarning").filter(
            has_text="training on this machine"
        )
        await refusal.wait_for(timeout=timeout * 1000)
        report["refusal_shown_s"] = time.perf_counter() - clicked
        report["refusal"] = " ".join((await refusal.inner_text()).split()[1:])
    except Exception as error:  # noqa: BLE001
        figures.error(
            "second trainer", "be refused", f"{type(error).__name__}: {error}"
        )
    finally:
        await page.context.close()


# The server --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:
        return False


def start_server(models_source: pathlib.Path, data: str, home: pathlib.Path):
    """`streamlit run streamlit_app.py` on 127.0.0.1, models copied into `home`."""
    models_dir = home / "models"
    shutil.copytree(models_source, models_dir, ignore=shutil.ignore_patterns(".*"))
    port = free_port()
    env = dict(os.environ, GRU_LAB_MODELS=str(models_dir), GRU_LAB_DATA=data)
    log = home / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "streamlit_app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(process)
            sys.exit(f"The server did not start; its log:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    return process, url, models_dir, log


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# The whole load ---------------------------------------------------------------


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process and its threads (Linux /proc)."""
    if pid is None:
        return None
    try:
        fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    url: str, options, models_dir: pathlib.Path | None, server_pid: int | None
) -> int:
    figures = Figures()
    training: dict = {}

    # One session first, so TensorFlow and the model are loaded before the clock.
    warm = ProtocolStudent(url, "warm-up")
    started = time.perf_counter()
    await warm.connect(options.action_timeout)
    await warm.rerun(address="playground", timeout=SERVER_START_SECONDS)
    await warm.rerun(page=ARCHITECTURE, timeout=SERVER_START_SECONDS)
    await warm.close()
    warm_up = time.perf_counter() - started

    browser = playwright = None
    if not options.no_browser or options.train:
        if not pathlib.Path(CHROMIUM).exists():
            sys.exit(f"No Chromium at {CHROMIUM}: use --no-browser (and no --train).")
        from playwright.async_api import async_playwright

        playwright = await async_playwright().start()
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)

    training_task = None
    if options.train:
        print(
            f"Training the {options.train_preset} preset first; the class comes in "
            "once its first batch has trained."
        )
        training_started = asyncio.Event()
        task = trainer(browser, url, figures, options, training, training_started)
        training_task = asyncio.create_task(task)
        await training_started.wait()

    tasks = []

    cpu_before, load_before = time.process_time(), os.getloadavg()
    server_cpu_before = cpu_seconds(server_pid)
    clock = Clock(options.clients + (0 if options.no_browser else 1), options.seconds)
    for index in range(options.clients):
        student = ProtocolStudent(url, f"student {index + 1}")
        # students arrive over --ramp seconds, not all in one instant
        arrival = options.ramp * index / options.clients
        task = protocol_student(student, figures, options, clock, index)
        tasks.append(asyncio.create_task(delayed(task, arrival)))
    if not options.no_browser:
        task = browser_student(browser, url, figures, options, clock, 10_000)
        tasks.append(asyncio.create_task(task))
    if options.train:
        task = refused(browser, url, figures, options, clock, training)
        tasks.append(asyncio.create_task(task))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - clock.start_time
    cpu_used = time.process_time() - cpu_before
    server_cpu = cpu_seconds(server_pid)
    if server_cpu is not None:
        server_cpu -= server_cpu_before
    load_after = os.getloadavg()
    if training_task is not None:
        await training_task
        if "pressed" in training:
            pressed = training.pop("pressed")
            training["load_began_after_press_s"] = clock.start_time - pressed
            training["load_ended_after_press_s"] = clock.stop_at - pressed

    if browser is not None:
        await browser.close()
        await playwright.stop()

    # The report.
    actions = sum(
        len(values)
        for step, values in figures.samples.items()
        if step.endswith("on screen") or step.startswith("browser:")
    )
    print()
    print(
        f"GRU Lab load: {options.clients} protocol students"
        + ("" if options.no_browser else " + 1 Chromium tab")
        + (f" + training ({options.train_preset} preset)" if options.train else "")
        + f", {options.seconds:.0f} s, think ~{options.think:g} s, {url}"
    )
    print(
        f"machine: {os.cpu_count()} cores; load average before "
        f"{' '.join(f'{value:.2f}' for value in load_before)}, after "
        f"{' '.join(f'{value:.2f}' for value in load_after)}; "
        f"warm-up {warm_up:.1f} s; this script used {cpu_used:.1f} s of CPU "
        f"in {elapsed:.1f} s"
    )
    print()
    print(figures.table())
    print()
    print(f"measured actions: {actions}; errors: {len(figures.errors)}")
    if server_cpu is not None:
        runs = sum(
            len(values)
            for step, values in figures.samples.items()
            if "complete" in step or "Keras" in step or step == ARRIVAL
        )
        print(
            f"server CPU: {server_cpu:.1f} s in {elapsed:.1f} s "
            f"({server_cpu / elapsed:.2f} cores on average"
            + (f", about {server_cpu / runs:.2f} s per script run" if runs else "")
            + ("; training included" if options.train else "")
            + ")"
        )
    for action, count in figures.error_counts.most_common():
        print(f"  {count:5d}  {action}")
    for line in figures.errors[:20]:
        print(f"  - {line}")
    if len(figures.errors) > 20:
        print(f"  ... and {len(figures.errors) - 20} more")

    if options.train:
        print()
        print(json.dumps(describe_training(training, models_dir), indent=2))

    predictions = figures.samples.get("type a review -> prediction on screen", [])
    p95 = percentile(predictions, 0.95) if predictions else math.inf
    verdict = "OK" if not figures.errors and p95 < 2.0 else "NOT MET"
    print()
    print(
        f"criterion (no errors, p95 prediction < 2 s): {verdict} "
        f"(errors {len(figures.errors)}, p95 {p95:.3f} s)"
    )
    return 0 if verdict == "OK" else 1


def describe_training(training: dict, models_dir: pathlib.Path | None) -> dict:
    summary = {
        key: round(value, 1) if isinstance(value, float) else value
        for key, value in training.items()
    }
    name = training.get("run")
    if models_dir is not None and name:
        card_path = models_dir / name / "card.json"
        if card_path.is_file():
            card = json.loads(card_path.read_text())
            summary["card"] = {
                "training_seconds": card.get("training", {}).get("seconds"),
                "epochs_run": card.get("training", {}).get("epochs_run"),
                "test_accuracy": (card.get("test") or {}).get("accuracy"),
                "fit_reviews": card.get("data", {}).get("fit_size"),
            }
    return summary


async def delayed(coroutine, seconds: float):
    await asyncio.sleep(seconds)
    return await coroutine


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=10, help="students (10)")
    parser.add_argument("--seconds", type=float, default=60, help="load time (60)")
    parser.add_argument(
        "--url", help="a running app on 127.0.0.1 (default: start one here)"
    )
    parser.add_argument(
        "--think",
        type=float,
        default=2.0,
        help="mean pause between a student's actions, seconds (2)",
    )
    parser.add_argument(
        "--ramp",
        type=float,
        default=5.0,
        help="seconds over which the students arrive (5)",
    )
    parser.add_argument(
        "--action-timeout",
        type=float,
        default=60.0,
        help="longest wait for one answer before it counts as an error (60)",
    )
    parser.add_argument("--no-browser", action="store_true", help="no Chromium tab")
    parser.add_argument("--train", action="store_true", help="train during the load")
    parser.add_argument("--train-preset", default="classroom")
    parser.add_argument(
        "--train-timeout",
        type=float,
        default=900.0,
        help="longest wait for the training to finish (900)",
    )
    parser.add_argument(
        "--models",
        type=pathlib.Path,
        default=REPO / "models",
        help="models folder the started server copies (models/)",
    )
    parser.add_argument(
        "--data",
        default=os.environ.get("GRU_LAB_DATA", str(DEFAULT_DATA)),
        help="IMDB data for the started server ($GRU_LAB_DATA or ../shared/data)",
    )
    options = parser.parse_args(argv)
    if options.url:
        host = urllib.parse.urlsplit(options.url).hostname
        if host not in LOCAL_HOSTS:
            parser.error(f"--url must be on 127.0.0.1, not {host!r}")
        options.url = options.url.rstrip("/")
    if options.clients < 1 or options.seconds <= 0:
        parser.error("--clients and --seconds must be positive")
    return options


def main(argv=None) -> int:
    options = parse_arguments(argv)
    # Bounded in time, whatever happens: load, warm-up, training, margins.
    budget = options.seconds + 2 * SERVER_START_SECONDS + 120
    if options.train:
        budget += options.train_timeout
    process = models_dir = None
    home = pathlib.Path(tempfile.mkdtemp(prefix="gru-lab-load-"))
    try:
        if options.url:
            url = options.url
        else:
            print(
                f"Starting the app (models from {options.models}, data {options.data})"
            )
            process, url, models_dir, log = start_server(
                options.models, options.data, home
            )
            print(f"Serving at {url}; log {log}")
        server_pid = process.pid if process is not None else None
        running = load(url, options, models_dir, server_pid)
        return asyncio.run(asyncio.wait_for(running, budget))
    except TimeoutError:
        print(f"The load did not end within its {budget:.0f} s budget.")
        return 2
    finally:
        if process is not None:
            stop_server(process)
        # the copied models and any run trained here go; the server log stays
        shutil.rmtree(home / "models", ignore_errors=True)
        if (home / "server.log").exists():
            print(f"Server stopped; its log is {home / 'server.log'}")
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
