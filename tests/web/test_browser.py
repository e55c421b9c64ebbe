"""``denoiser-tui serve`` in a real browser: Debian's chromium, driven by playwright.

The page must draw the sampling screen, and a key press must reach the app and change the digit. What
the app draws is read from the websocket frames it sends to the page (Textual's output, replayed on a
small grid below), and the page's own pixels must change with the digit too.
"""

from __future__ import annotations

import re
import shutil
import signal
import time
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install -e '.[test]')"),
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)"),
]

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Screen:
    """Replays Textual's output onto a grid of characters: cursor moves and text, styles ignored."""

    CSI = re.compile(r"\x1b\[([0-9;?<>=]*)([ -/]*[@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[PX^_].*?\x1b\\"
                     r"|\x1b[@-Z\\-_]|[\x00-\x1f]")

    def __init__(self, width: int = 200, height: int = 80) -> None:
        self.rows = [[" "] * width for _ in range(height)]
        self.y = self.x = 0

    def feed(self, text: str) -> None:
        pos = 0
        for match in self.CSI.finditer(text):
            self._put(text[pos:match.start()])
            pos = match.end()
            if match.group(2) in ("H", "f"):
                parts = [int(p) if p.isdigit() else 1 for p in (match.group(1) or "1;1").split(";")] + [1]
                self.y, self.x = parts[0] - 1, parts[1] - 1
            elif match.group(0) == "\r":
                self.x = 0
            elif match.group(0) == "\n":
                self.y += 1
        self._put(text[pos:])

    def _put(self, text: str) -> None:
        for ch in text:
            if 0 <= self.y < len(self.rows) and 0 <= self.x < len(self.rows[0]):
                self.rows[self.y][self.x] = ch
            self.x += 1

    def text(self) -> str:
        return "\n".join("".join(row).rstrip() for row in self.rows)


def _wait(predicate, timeout: float, what: str, page=None, detail=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if page is not None:
            page.wait_for_timeout(100)
        else:
            time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f"; the page shows:\n{detail()}" if detail else ""))


def _digit_shown(screen: Screen) -> str | None:
    match = re.search(r"^\s*digit\s+(\d)\b", screen.text(), re.MULTILINE)
    return match.group(1) if match else None


def test_the_page_draws_the_sampling_screen_and_a_key_changes_the_digit(served, tmp_path):
    url, proc = served
    screen = Screen()
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 640})
            page.on("request", lambda request: requests.append(request.url))

            def on_socket(ws):
                ws.on("framereceived", lambda payload: screen.feed(
                    payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""))

            page.on("websocket", on_socket)
            page.goto(url)
            page.wait_for_selector("body.-first-byte", timeout=30_000)
            # the sampling screen, with its model loaded and a digit drawn
            _wait(lambda: "guidance" in screen.text() and "Digit" in screen.text(), 30, "the sampling screen", page, screen.text)
            _wait(lambda: re.search(r"step \d+ of \d+", screen.text()), 40, "a sampled digit", page, screen.text)
            assert _digit_shown(screen) == "7", screen.text()
            page.wait_for_timeout(500)
            before = page.screenshot(path=str(tmp_path / "before.png"))

            page.focus(".xterm-helper-textarea")
            page.keyboard.press("3")
            _wait(lambda: _digit_shown(screen) == "3", 20, "digit 3 after pressing 3", page, screen.text)
            page.wait_for_timeout(1500)
            after = page.screenshot(path=str(tmp_path / "after.png"))
            assert before != after, "the page's pixels did not change with the digit"
        finally:
            browser.close()
    # nothing came from outside (the stock textual-serve page loads a web font from the internet)
    assert requests and all(r.startswith(url.rstrip("/")) or r.startswith(url.replace("127.0.0.1", "localhost")
                                                                            .rstrip("/")) for r in requests), requests
    assert proc.poll() is None, "the server died"


def test_each_tab_gets_its_own_app(served):
    url, proc = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pages = [browser.new_page(viewport={"width": 900, "height": 500}) for _ in range(2)]
            for page in pages:
                page.goto(url)
            for page in pages:
                page.wait_for_selector("body.-first-byte", timeout=30_000)
            children = _app_processes(proc.pid)
            assert len(children) == 2, children
        finally:
            browser.close()
    _wait(lambda: not _app_processes(proc.pid), 20, "the apps to end with their tabs")


def _app_processes(server_pid: int) -> list[int]:
    """The app processes the server started (any depth), found through /proc."""
    if not Path("/proc").is_dir():
        pytest.skip("needs /proc")
    parents: dict[int, int] = {}
    commands: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                commands[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(pid: int) -> bool:
        while pid > 1:
            pid = parents.get(pid, 0)
            if pid == server_pid:
                return True
        return False

    return [pid for pid, cmd in commands.items() if "--graphics halfblock" in cmd and "-c" not in cmd.split()
            and descends(pid)]


def test_ctrl_c_with_a_tab_open_ends_the_server_and_the_tabs_app(served):
    url, proc = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 500})
            page.goto(url)
            page.wait_for_selector("body.-first-byte", timeout=30_000)
            apps = _app_processes(proc.pid)
            assert apps
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=20) == 0  # not aiohttp's minute-long wait for open websockets
            _wait(lambda: not any(Path(f"/proc/{pid}").exists() for pid in apps), 10, "the tab's app to end")
        finally:
            browser.close()
