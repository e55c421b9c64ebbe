"""The MNIST download path against a local HTTP server: a good download loads, a corrupt one is one
DataError and leaves nothing behind, and offline is one DataError naming --data-dir."""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading

import pytest
from torchvision import datasets

from helpers.idx import synthetic_digits, write_idx
from tui_denoiser.cli.args import flag_of
from tui_denoiser.core.data import load_split
from tui_denoiser.core.errors import DataError

NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz"]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """Serve tiny .gz MNIST files on 127.0.0.1 and point torchvision's MNIST at them (md5s included)."""
    served = tmp_path / "served"
    write_idx(served, *synthetic_digits(40, seed=1), train=True, gz=True)
    write_idx(served, *synthetic_digits(20, seed=2), train=False, gz=True)
    md5 = {name: hashlib.md5((served / name).read_bytes()).hexdigest() for name in NAMES}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
    monkeypatch.setattr(datasets.MNIST, "resources", [(name, md5[name]) for name in NAMES])
    yield served
    server.shutdown()
    server.server_close()


def test_a_good_download_loads(tmp_path, mirror):
    data_dir = tmp_path / "data"
    images, labels = load_split("mnist", data_dir, train=True)
    assert images.shape == (40, 28, 28) and labels.shape == (40,)
    assert load_split("mnist", data_dir, train=False)[0].shape == (20, 28, 28)
    assert not list(data_dir.glob(".download-*")), "the scratch folder is gone"


def test_a_corrupt_download_is_one_line_and_leaves_nothing(tmp_path, mirror):
    blob = bytearray((mirror / NAMES[2]).read_bytes())
    blob[-10] ^= 0xFF  # the test images no longer match their md5
    (mirror / NAMES[2]).write_bytes(bytes(blob))
    data_dir = tmp_path / "data"
    with pytest.raises(DataError) as info:
        load_split("mnist", data_dir, train=True)
    message = info.value.worded(flag_of)  # as the CLI shows it
    assert "checksum" in message and "--data-dir" in message and "\n" not in message
    assert info.value.field == "data_dir"
    leftovers = [p for p in data_dir.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers
    assert not list(data_dir.glob(".download-*"))


def test_offline_is_one_line_naming_data_dir(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on: connection refused, like no network
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    data_dir = tmp_path / "data"
    with pytest.raises(DataError) as info:
        load_split("mnist", data_dir, train=True)
    message = info.value.worded(flag_of)  # as the CLI shows it
    assert message.startswith("mnist data not found and could not be downloaded")
    assert "--data-dir" in message and "\n" not in message and info.value.field == "data_dir"
    assert [p for p in data_dir.rglob("*") if p.is_file()] == []
