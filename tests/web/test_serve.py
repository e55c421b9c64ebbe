"""``denoiser-tui serve`` without a browser: the page it sends, the Host and Origin checks, Ctrl+C."""

from __future__ import annotations

import http.client
import signal
from urllib.parse import urlsplit

from tui_denoiser.web.serve import app_command, start_lines


def _get(url: str, path: str = "/", **headers: str) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def test_the_page_needs_no_internet_and_follows_the_host_the_browser_used(served):
    url, _ = served
    status, page = _get(url, Host="localhost:9000")  # as through `ssh -L 9000:localhost:PORT`
    assert status == 200
    assert "googleapis" not in page and "https://" not in page
    assert 'data-session-websocket-url="ws://localhost:9000/ws"' in page
    assert "http://localhost:9000/static/fonts/RobotoMono-VariableFont_wght.ttf" in page
    status, font = _get(url, "/static/fonts/RobotoMono-VariableFont_wght.ttf")
    assert status == 200 and len(font) > 10_000


def test_a_foreign_host_or_origin_is_refused(served):
    url, _ = served
    host = urlsplit(url).netloc
    assert _get(url, Host="attacker.example")[0] == 403  # DNS rebinding onto loopback
    assert _get(url, "/ws", Host=host, Origin="http://attacker.example")[0] == 403  # another site's page
    # (the page's own origin gets its websocket: the browser test drives the app through it)


def test_ctrl_c_stops_the_server_cleanly(served):
    _, proc = served
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0
    assert "stopped" in proc.stdout.read()


def test_start_lines_give_the_tunnel_and_warn_when_public():
    lines = start_lines("127.0.0.1", 8000, loopback=True, public=False)
    assert lines[0].startswith("denoiser-tui serving on http://127.0.0.1:8000")
    assert "ssh -L 8000:localhost:8000" in lines[1] and "http://localhost:8000" in lines[1]
    public = start_lines("0.0.0.0", 8080, loopback=False, public=True)
    assert public[0].startswith("warning: --public: anyone who can reach port 8080 can use the app")
    assert not any("warning" in line for line in lines)


def test_each_tab_runs_the_app_in_half_blocks():
    command = app_command(["--checkpoint", "my model.pt"])
    assert "-m tui_denoiser --graphics halfblock --checkpoint 'my model.pt'" in command
