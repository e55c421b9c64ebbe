"""``denoiser-tui serve``: the app in a browser through textual-serve.

textual-serve runs a web server; every browser tab that opens the page starts its own app process
(``python -m tui_denoiser --graphics halfblock ...``) and talks to it over a websocket. Our page template
(``templates/app_index.html``) replaces textual-serve's, which loads a web font from the internet.

The app reads and writes files with the user's rights and textual-serve has no login, so the server
binds to loopback unless ``--public`` is given, refuses requests whose Host is not a loopback name
(a web page cannot reach it through DNS rebinding), and refuses websockets opened from another origin
(a web page cannot drive it from another site).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import shlex
import signal
import socket
import sys
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from tui_denoiser.core.errors import UserError

TEMPLATES = Path(__file__).resolve().parent / "templates"
PUBLIC_WARNING = ("warning: --public: anyone who can reach {where} can use the app, and read and write "
                  "files, as user {user}; textual-serve has no login")


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def resolve(host: str, port: int) -> list[tuple]:
    """The addresses ``host`` names, or a one-line UserError."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) and exc.strerror else str(exc)
        raise UserError(f"serve: cannot use host {host!r}: {reason}") from None
    if not infos:
        raise UserError(f"serve: cannot use host {host!r}: it names no address")
    return infos


def check_address(host: str, port: int, public: bool) -> bool:
    """Refuse what must not be served (a non-loopback host without --public, a port in use, an address
    this machine does not have), each as one line; returns whether the host is loopback."""
    infos = resolve(host, port)
    loopback = all(_is_loopback(info[4][0]) for info in infos)
    if not loopback and not public:
        raise UserError(f"serve: refusing to serve on {host} (not a loopback address) without --public: "
                        "anyone who could reach it could use the app as this user")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        if sys.platform != "win32":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind(address)
        except OSError as exc:
            raise UserError(_bind_error(host, port, exc)) from None
    return loopback


def _bind_error(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"serve: port {port} on {host} is in use (pick another with --port)"
    if exc.errno == errno.EACCES:
        return f"serve: port {port} needs more rights than this user has (use a port above 1023)"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"serve: cannot use host {host!r}: this machine has no such address"
    return f"serve: cannot listen on {host}:{port}: {exc.strerror or exc}"


def app_command(app_args: Sequence[str]) -> str:
    """The shell command textual-serve runs for each browser tab: half blocks (xterm.js draws cells)."""
    return shlex.join([sys.executable, "-m", "tui_denoiser", "--graphics", "halfblock", *app_args])


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def start_lines(host: str, port: int, loopback: bool, public: bool) -> list[str]:
    """What ``serve`` prints when it starts: where to open it, and the ssh tunnel for a remote box."""
    import getpass

    lines = []
    if public:
        where = f"port {port} on {host}" if host not in ("0.0.0.0", "::", "") else f"port {port}"
        lines.append(PUBLIC_WARNING.format(where=where, user=getpass.getuser()))
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
    lines.append(f"denoiser-tui serving on http://{_url_host(shown)}:{port}  (each browser tab runs its own app)")
    if loopback or host in ("0.0.0.0", "::", ""):
        lines.append(f"From another machine: ssh -L {port}:localhost:{port} USER@THIS-HOST, "
                     f"then open http://localhost:{port}")
    lines.append("Ctrl+C stops the server and its apps.")
    return lines


def make_server(host: str, port: int, app_args: Sequence[str], *, public: bool, loopback: bool):
    """A textual-serve Server with our page, our start lines and the Host and Origin checks."""
    import aiohttp_jinja2
    import textual_serve
    from aiohttp import web
    from textual_serve.server import Server, to_int

    statics = Path(textual_serve.__file__).resolve().parent / "static"

    class DenoiserServer(Server):
        def initialize_logging(self) -> None:
            logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")

        tabs: set[asyncio.Task] = set()

        async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
            task = asyncio.current_task()
            if task is not None:
                self.tabs.add(task)
            try:
                return await super().handle_websocket(request)
            finally:
                self.tabs.discard(task)

        async def on_shutdown(self, app: web.Application) -> None:
            # aiohttp would wait up to a minute for open tabs; end them now: each closes its websocket
            # and sends its app textual-serve's quit, then waits for the app to end.
            tabs = [task for task in self.tabs if not task.done()]
            for task in tabs:
                task.cancel()
            if tabs:
                await asyncio.wait(tabs, timeout=15)

        async def on_startup(self, app: web.Application) -> None:
            pass  # textual-serve prints its logo here, before the port is open; we print once it is

        def serve(self, debug: bool = False) -> None:
            """textual-serve's serve(), with our lines printed once the server listens."""
            self.debug = debug
            self.initialize_logging()
            loop = asyncio.new_event_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, self.request_exit)

            def listening(*_: Any) -> None:
                for line in start_lines(host, port, loopback, public):
                    print(line, flush=True)

            # The loop is left open, as textual-serve does: a tab's app that is still ending when the
            # server stops is reaped through it (closing it printed a traceback for that process).
            web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                        print=listening)

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(guard)
            return app

        @aiohttp_jinja2.template("app_index.html")
        async def handle_index(self, request: web.Request) -> dict[str, Any]:
            # URLs from the Host the browser used, so any `ssh -L LOCAL:localhost:PORT` works.
            base = f"{request.scheme}://{request.host}"
            ws = ("wss:" if request.scheme == "https" else "ws:") + base.split(":", 1)[1]
            return {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": f"{ws}/ws",
                "config": {"static": {"url": f"{base}/static/"}},
                "application": {"name": self.title},
            }

    @web.middleware
    async def guard(request: web.Request, handler):
        hostname = urlsplit(f"//{request.host}").hostname or ""
        if not public and hostname != "localhost" and not hostname.endswith(".localhost") \
                and not _is_loopback(hostname):
            raise web.HTTPForbidden(text="denoiser-tui serve answers loopback names only (see --public)\n")
        origin = request.headers.get("Origin")
        if request.path == "/ws" and origin is not None and urlsplit(origin).netloc != request.host:
            raise web.HTTPForbidden(text="websocket from another origin refused\n")
        return await handler(request)

    return DenoiserServer(app_command(app_args), host=host, port=port, title="denoiser-tui",
                          statics_path=statics, templates_path=TEMPLATES)


def serve(host: str, port: int, app_args: Sequence[str] = (), *, public: bool = False) -> int:
    """Serve until Ctrl+C (SIGINT) or SIGTERM; each tab's app gets a quit message and ends with it."""
    loopback = check_address(host, port, public)
    server = make_server(host, port, app_args, public=public, loopback=loopback)
    try:
        server.serve()
    except OSError as exc:  # lost the race for the port after the check
        raise UserError(_bind_error(host, port, exc)) from None
    print("denoiser-tui serve: stopped", flush=True)
    return 0
