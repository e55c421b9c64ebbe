"""Bad input to the CLI: each is one line on stderr and exit status 2 (the README table "Bad input and faults")."""

from __future__ import annotations

import errno
import os
import socket

import pytest

from helpers import badfiles
from tui_denoiser.cli.main import main


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return badfiles.make_all(tmp_path_factory.mktemp("bad"))


def one_line_error(capsys, argv) -> str:
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_digit_out_of_range(capsys, tmp_path):
    line = one_line_error(capsys, ["sample", "--digit", "12", "--out", str(tmp_path / "x.png")])
    assert "digit must be 0..9, got 12" in line


@pytest.mark.parametrize("value", ["0", "-3"])
def test_zero_or_negative_steps(capsys, tmp_path, value):
    line = one_line_error(capsys, ["sample", "--digit", "3", "--steps", value, "--out", str(tmp_path / "x.png")])
    assert "expected a positive integer" in line
    line = one_line_error(capsys, ["train", "--steps", value, "--run-dir", str(tmp_path / "r")])
    assert "--steps" in line and "expected a positive integer" in line


def test_non_numeric_arguments(capsys, tmp_path):
    assert "expected a number, got 'fast'" in one_line_error(capsys, ["train", "--lr", "fast"])
    assert "expected a positive integer, got 'ten'" in one_line_error(capsys, ["train", "--epochs", "ten"])


@pytest.mark.parametrize("kind, words", [
    ("other_shape", "do not fit its model config"),
    ("truncated", "truncated or corrupt"),
    ("not_checkpoint", "not a denoiser-tui checkpoint"),
    ("pickle", "could run code; refused"),
])
def test_bad_checkpoint_files(capsys, tmp_path, bad, kind, words):
    for argv in (["info", str(bad[kind])],
                 ["sample", "--digit", "1", "--checkpoint", str(bad[kind]), "--out", str(tmp_path / "x.png")]):
        assert words in one_line_error(capsys, argv)
    assert not (bad["pickle"].parent / "PWNED").exists(), "the pickle's code never ran"


def test_missing_data_offline(capsys, tmp_path, monkeypatch):
    from torchvision import datasets

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(datasets.MNIST, "mirrors", [f"http://127.0.0.1:{port}/"])
    rc = main(["train", "--run-dir", str(tmp_path / "run"), "--data-dir", str(tmp_path / "empty"),
                   "--channels", "8,8,8", "--device", "cpu"])
    err = capsys.readouterr().err
    assert rc == 1  # a run that failed (its folder exists, with the reason in metrics.jsonl)
    assert "mnist data not found and could not be downloaded" in err and "--data-dir" in err


def test_unreadable_run_folder(capsys, tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.pt").write_bytes(b"x")
    real_listdir = os.listdir

    def listdir(path="."):  # root ignores chmod 000, so deny the read the way the kernel would
        if os.fspath(path) == os.fspath(run):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return real_listdir(path)

    monkeypatch.setattr(os, "listdir", listdir)
    assert "permission denied" in one_line_error(capsys, ["watch", str(run)])
    assert "permission denied" in one_line_error(capsys, ["train", "--resume", str(run)])


def test_run_folder_whose_metrics_is_a_folder(capsys, tmp_path):
    (tmp_path / "run" / "metrics.jsonl").mkdir(parents=True)
    assert "metrics.jsonl: it is a folder" in one_line_error(capsys, ["watch", str(tmp_path / "run")])


def test_missing_run_folder(capsys, tmp_path):
    assert "run folder not found" in one_line_error(capsys, ["watch", str(tmp_path / "nope")])


@pytest.mark.skipif(os.geteuid() != 0 or not hasattr(os, "setuid"), reason="needs root to drop to another user")
def test_chmod_000_run_folder_as_another_user(tmp_path):
    """The real thing: a chmod 000 folder read by an ordinary user (root would bypass the mode)."""
    import subprocess
    import sys
    import tempfile

    base = tempfile.mkdtemp(prefix="denoiser-unreadable-")
    os.chmod(base, 0o755)
    run = os.path.join(base, "run")
    os.mkdir(run)
    os.chmod(run, 0o000)
    try:
        code = ("import sys; from tui_denoiser.core.runs.folder import run_folder_problem; "
                f"print(run_folder_problem({run!r}))")
        try:
            proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                                  user=65534, group=65534, extra_groups=[], env={**os.environ, "HOME": base},
                                  cwd=base)
        except OSError as exc:
            pytest.skip(f"cannot run this python as user nobody here ({exc.strerror}); the monkeypatched test covers it")
        if proc.returncode != 0:
            pytest.skip(f"cannot run python as nobody here: {proc.stderr.strip().splitlines()[-1:]}")
        assert "permission denied" in proc.stdout
    finally:
        os.chmod(run, 0o755)
        import shutil

        shutil.rmtree(base, ignore_errors=True)
