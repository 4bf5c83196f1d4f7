"""Real-browser fixtures: the app served on localhost, and Debian's Chromium.

One Streamlit server runs for the whole test session, started from the
repository root exactly as the README starts it, but with its models in a
temporary copy of `models/` (so a test training never writes into the repo)
and its data in the tiny IMDB folder of `tests/conftest.py` (so the tiny
preset trains in seconds). Each test gets a fresh browser context, that is a
new Streamlit session, and saves its screenshots to `artifacts/screenshots/`.

Streamlit finishes every script run with a `script_finished` message on its
websocket; `AppPage.run` counts those to know that the run an action started
is over, rather than guessing from how the page looks.
"""

import contextlib
import dataclasses
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = pathlib.Path("/usr/bin/chromium")
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
SHIPPED_MODEL = "lab-bigru"

SERVER_START_SECONDS = 120  # imports TensorFlow; minutes on a busy 2-core box
RUN_TIMEOUT_MS = 90_000  # one script run, loading a model included
EXPECT_TIMEOUT_MS = 15_000  # what is on screen after a run, drawn
VIEWPORT = {"width": 1400, "height": 1000}
# ForwardMsg.ScriptFinishedStatus values that end a whole run of the script.
WHOLE_RUN_ENDS = (0, 1)  # FINISHED_SUCCESSFULLY, FINISHED_WITH_COMPILE_ERROR


# The server ----------------------------------------------------------------


@dataclasses.dataclass
class Server:
    """A running `streamlit run` and where to find what it wrote."""

    url: str
    models_dir: pathlib.Path
    log: pathlib.Path
    process: subprocess.Popen
    # What the very first session saw when it opened a page by its own URL
    # (filled in by the `app` fixture; see test_architecture_browser.py).
    first_contact: dict = dataclasses.field(default_factory=dict)

    def log_tail(self, characters: int = 4_000) -> str:
        try:
            return self.log.read_text(errors="replace")[-characters:]
        except OSError:
            return "(no server log)"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as answer:
            return answer.read().strip() == b"ok"
    except OSError:  # refused, reset, timed out (URLError is one too)
        return False


def _stop_server(process: subprocess.Popen) -> None:
    """End the server's whole process group: SIGTERM, then SIGKILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


def _start_server(env: dict, log: pathlib.Path) -> tuple[subprocess.Popen, str] | None:
    """One attempt on a free port; None if the port was taken meanwhile."""
    port = _free_port()
    command = [
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
    ]
    with log.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended as one
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        if _healthy(url):
            return process, url
        time.sleep(0.5)
    _stop_server(process)
    pytest.fail(
        f"The app did not answer {url}/_stcore/health within "
        f"{SERVER_START_SECONDS} s. Server log:\n{log.read_text(errors='replace')}"
    )


@pytest.fixture(scope="session")
def server(tiny_imdb_folder, tmp_path_factory) -> Server:
    """`streamlit run streamlit_app.py` on a free port, for the whole session."""
    home = tmp_path_factory.mktemp("browser_app")
    models_dir = home / "models"
    shutil.copytree(REPO / "models" / SHIPPED_MODEL, models_dir / SHIPPED_MODEL)
    env = dict(
        os.environ,
        GRU_LAB_MODELS=str(models_dir),
        GRU_LAB_DATA=str(tiny_imdb_folder),
        GRU_LAB_CACHE=str(home / "cache"),
        GRU_LAB_MAX_TRAINING_JOBS="1",
        PYTHONUNBUFFERED="1",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):  # this run's pictures only
        old.unlink()
    log = ARTIFACTS / "browser-server.log"
    log.write_text("")

    started = None
    for _ in range(3):
        started = _start_server(env, log)
        if started is not None:
            break
    if started is None:
        pytest.fail(f"The app would not start. Server log:\n{log.read_text()}")
    process, url = started
    yield Server(url, models_dir, log, process)
    _stop_server(process)


# The browser ---------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"No Chromium at {CHROMIUM}: install it with "
            "`apt-get install -y chromium` (.ci/run does) to run the browser tests."
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    playwright = sync_api.sync_playwright().start()
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
    yield chromium
    chromium.close()
    playwright.stop()


class AppPage:
    """A Playwright page on the app, with the waits a Streamlit page needs."""

    def __init__(self, page, server: Server, name: str):
        self.page = page
        self.server = server
        self.name = name
        self.page_errors: list[str] = []
        self._finished_runs = 0
        self._lock = threading.Lock()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("websocket", self._watch_websocket)

    # Streamlit's own messages tell when a script run is over.
    def _watch_websocket(self, websocket) -> None:
        if "_stcore/stream" not in websocket.url:
            return
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        def received(payload) -> None:
            if not isinstance(payload, (bytes, bytearray)):
                return
            message = ForwardMsg.FromString(bytes(payload))
            # whole-script runs only: not a fragment's, not one cut by a rerun
            if message.WhichOneof("type") == "script_finished" and (
                message.script_finished in WHOLE_RUN_ENDS
            ):
                with self._lock:
                    self._finished_runs += 1

        websocket.on("framereceived", received)

    @property
    def finished_runs(self) -> int:
        with self._lock:
            return self._finished_runs

    def wait_until_idle(self, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Connected, no script running, and the "Running..." widget gone."""
        self.page.wait_for_selector(
            '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'
            '[data-test-script-state="notRunning"]',
            timeout=timeout_ms,
        )
        self.page.wait_for_selector(
            '[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms
        )

    def run(self, action: Callable[[], None], timeout_ms: int = RUN_TIMEOUT_MS):
        """Do `action` (a click, Ctrl+Enter...) and wait for the run it starts."""
        before = self.finished_runs
        action()
        deadline = time.monotonic() + timeout_ms / 1000
        while self.finished_runs <= before:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"No script run finished within {timeout_ms / 1000:.0f} s after "
                    f"the action. Server log:\n{self.server.log_tail()}"
                )
            self.page.wait_for_timeout(50)
        self.wait_until_idle(timeout_ms)

    def open(self, path: str = "") -> None:
        """Load the app at `path` (as typed into the address bar) and wait.

        A first load may take more than one run (a page that reruns itself,
        the browser asking again for the page it was given), so this waits
        until no new run has started for a while.
        """
        self.run(lambda: self.page.goto(f"{self.server.url}/{path}"))
        self.settle()

    def settle(self, quiet_ms: int = 1_000, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Wait until no run has finished or started for `quiet_ms`."""
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            before = self.finished_runs
            self.page.wait_for_timeout(quiet_ms)
            self.wait_until_idle(timeout_ms)
            if self.finished_runs == before:
                return
        raise AssertionError(f"The page kept rerunning for {timeout_ms / 1000:.0f} s.")

    def go_to(self, title: str) -> None:
        """Click a page's link in the sidebar navigation."""
        link = self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=title)
        self.run(link.click)

    def metric(self, label: str):
        """The value element of the metric labelled `label`."""
        metric = self.page.get_by_test_id("stMetric").filter(
            has=self.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)
        )
        return metric.get_by_test_id("stMetricValue")

    def drawn_charts(self, at_least: int, timeout_ms: int = EXPECT_TIMEOUT_MS) -> int:
        """Wait until `at_least` plotly charts have drawn their SVG; their number.

        Plotly draws after the run has ended (its library loads on demand),
        so the count is polled, not read once.
        """
        count = (
            "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
            ".filter(chart => chart.querySelector('svg.main-svg')).length"
        )
        self.page.wait_for_function(f"({count})() >= {at_least}", timeout=timeout_ms)
        return self.page.evaluate(count)

    def navigation(self) -> list[str]:
        """The page titles listed in the sidebar (without their icons' names)."""
        links = self.page.get_by_test_id("stSidebarNavLink").all_inner_texts()
        return [link.strip().split("\n")[-1] for link in links]

    def exceptions(self) -> list[str]:
        """Text of any Python exception the app shows."""
        return self.page.get_by_test_id("stException").all_inner_texts()

    def screenshot(self, name: str, max_height: int = 6_000) -> pathlib.Path:
        """The whole page as `artifacts/screenshots/<name>.png`.

        Streamlit scrolls inside its main container, not the document, so a
        "full page" shot would stop at the window: the window is made as tall
        as the content for the shot instead.
        """
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        height = self.page.evaluate(
            "() => Math.max(...[...document.querySelectorAll("
            "'[data-testid=stMain], [data-testid=stAppViewContainer]')]"
            ".map(element => element.scrollHeight), window.innerHeight)"
        )
        self.page.set_viewport_size({**VIEWPORT, "height": min(height, max_height)})
        self.page.wait_for_timeout(500)  # charts redraw at the new size
        self.page.screenshot(path=path)
        self.page.set_viewport_size(VIEWPORT)
        return path


def _sidebar_of(app_page: AppPage) -> dict:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    active_model = app_page.page.get_by_test_id("stSidebar").get_by_text("Active model")
    with contextlib.suppress(PlaywrightTimeout):  # a missing box is the finding
        active_model.wait_for(timeout=EXPECT_TIMEOUT_MS)
    return {
        "links": app_page.navigation(),
        "active model box": active_model.count() > 0,
    }


@pytest.fixture(scope="session")
def app(browser, server) -> Server:  # no Chromium: skip before starting
    """The server after its first visitors: two students following links.

    The first session opens /architecture directly, as a student following a
    shared link would, and what its sidebar shows is kept in
    `server.first_contact`. The second opens the Playground, which loads
    TensorFlow and the shipped model before any test starts its clock.
    """
    context = browser.new_context(viewport=VIEWPORT)
    try:
        first = AppPage(context.new_page(), server, "first-contact")
        first.open("architecture")
        server.first_contact = _sidebar_of(first)
        first.screenshot("first-contact-deep-link")
        context.close()

        context = browser.new_context(viewport=VIEWPORT)
        warm_up = AppPage(context.new_page(), server, "warm-up")
        warm_up.open("playground")
        warm_up.page.get_by_test_id("stMetric").first.wait_for(timeout=RUN_TIMEOUT_MS)
    finally:
        context.close()
    return server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, for the failure screenshot."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _new_app_page(browser, app, request, suffix: str = "") -> tuple:
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name) + suffix
    return context, AppPage(context.new_page(), app, name)


@pytest.fixture
def app_page(browser, app, request) -> AppPage:
    """A new browser context, so a new Streamlit session, for one test."""
    context, app_page = _new_app_page(browser, app, request)
    yield app_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        app_page.screenshot(f"FAILED-{app_page.name}")
    context.close()


@pytest.fixture
def second_app_page(browser, app, request) -> AppPage:
    """Another student's session, beside `app_page`."""
    context, app_page = _new_app_page(browser, app, request, "-second")
    yield app_page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        app_page.screenshot(f"FAILED-{app_page.name}")
    context.close()
