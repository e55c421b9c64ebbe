"""``denoiser-tui serve`` bad input: one line on stderr, exit 2 (README, Bad input and faults)."""

from __future__ import annotations

import socket

import pytest

from tui_denoiser.cli.main import main


def _run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err


def test_a_port_in_use(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        err = _run(capsys, "serve", "--port", str(port))
    assert f"serve: port {port} on 127.0.0.1 is in use" in err


@pytest.mark.parametrize("host", ["no-such-host.invalid", "300.1.1.1"])
def test_a_bad_host(capsys, host):
    assert "serve: cannot use host" in _run(capsys, "serve", "--host", host, "--public")


def test_an_address_this_machine_lacks(capsys):
    assert "this machine has no such address" in _run(capsys, "serve", "--host", "192.0.2.1", "--public")


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1"])
def test_a_non_loopback_host_needs_public(capsys, host):
    err = _run(capsys, "serve", "--host", host)
    assert f"refusing to serve on {host} (not a loopback address) without --public" in err


@pytest.mark.parametrize("port", ["0", "70000", "http"])
def test_a_bad_port(capsys, port):
    assert "argument --port: expected a port in 1..65535" in _run(capsys, "serve", "--port", port)


def test_an_unknown_graphics_mode(capsys):
    assert "argument --graphics: invalid choice: 'ascii'" in _run(capsys, "--graphics", "ascii")
