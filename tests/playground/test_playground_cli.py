"""denoiser-tui edit / inpaint / morph: outputs like ``sample``'s, one line and exit 2 for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tui_denoiser.cli.main import main
from tui_denoiser.core.playground import real_digits


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pg-in")
    images, labels = real_digits()
    np.save(folder / "three.npy", images[[0, 6, 14]])  # a 0, a 3 and a 7
    Image.fromarray(images[6]).resize((100, 80)).save(folder / "big.png")
    half = np.zeros((28, 28), dtype=np.uint8)
    half[14:] = 1
    np.save(folder / "half.npy", half)
    Image.fromarray(np.zeros((30, 30), dtype=np.uint8)).save(folder / "mask30.png")
    np.save(folder / "black.npy", np.zeros((28, 28), dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line_exit_2(capsys, out_path, *argv, words=()):
    rc, out, err = _run(capsys, *argv)
    assert rc == 2, (out, err)
    assert len(err.splitlines()) == 1 and err.endswith("\n"), err
    for word in words:
        assert word in err, err
    assert not out_path.exists()
    return err


@pytest.mark.parametrize("suffix", [".png", ".gif", ".npy"])
def test_edit_writes_sample_formats(files, tmp_path, capsys, suffix):
    out = tmp_path / f"edited{suffix}"
    rc, printed, err = _run(capsys, "edit", "--image", str(files / "three.npy"), "--sigma", "0.5", "--digit", "3",
                            "--seed", "1", "--out", str(out))
    assert rc == 0, err
    assert out.is_file() and "wrote" in printed and "sampler stochastic" in printed
    if suffix == ".npy":
        array = np.load(out)
        assert array.shape == (3, 28, 28) and array.dtype == np.uint8
    elif suffix == ".gif":
        assert Image.open(out).n_frames > 2


def test_edit_png_of_another_size_is_resized_with_a_note_and_reads_digits(files, tmp_path, capsys):
    out = tmp_path / "e.npy"
    rc, printed, err = _run(capsys, "edit", "--image", str(files / "big.png"), "--sigma", "0.3", "--out", str(out))
    assert rc == 0, err
    assert "resized from 100x80 to 28x28" in printed
    assert "as the classifier reads each image: 3" in printed
    assert np.load(out).shape == (1, 28, 28)


def test_edit_strip_png_has_every_step(files, tmp_path, capsys):
    out = tmp_path / "strip.png"
    rc, _, err = _run(capsys, "edit", "--image", str(files / "three.npy"), "--sigma", "2", "--digit", "5",
                      "--strip", "--steps", "6", "--out", str(out))
    assert rc == 0, err
    width, height = Image.open(out).size
    assert height > width / 10 and width > 28 * 3


def test_an_all_black_drawing_says_so_and_still_runs(files, tmp_path, capsys):
    out = tmp_path / "black.npy"
    rc, printed, err = _run(capsys, "edit", "--image", str(files / "black.npy"), "--sigma", "10", "--digit", "4",
                            "--out", str(out))
    assert rc == 0, err
    assert "note: the drawing is all black" in printed and np.load(out).any()


def test_inpaint_keeps_the_known_half(files, tmp_path, capsys):
    out = tmp_path / "in.npy"
    rc, printed, err = _run(capsys, "inpaint", "--image", str(files / "three.npy"), "--mask", str(files / "half.npy"),
                            "--digit", "3", "--out", str(out))
    assert rc == 0, err
    result, original = np.load(out), np.load(files / "three.npy")
    assert np.array_equal(result[:, :14], original[:, :14]) and "1176 unknown pixels in all" in printed


def test_morph_ends_equal_sample(tmp_path, capsys):
    ends = {}
    for digit in (2, 6):
        path = tmp_path / f"s{digit}.npy"
        assert _run(capsys, "sample", "--digit", str(digit), "--seed", "9", "--count", "1", "--out", str(path))[0] == 0
        ends[digit] = np.load(path)[0]
    out = tmp_path / "m.npy"
    rc, printed, err = _run(capsys, "morph", "--digit", "2", "--to", "6", "--count", "5", "--seed", "9", "--out", str(out))
    assert rc == 0, err
    row = np.load(out)
    assert row.shape == (5, 28, 28)
    assert np.array_equal(row[0], ends[2]) and np.array_equal(row[-1], ends[6])
    # A batch of eight matches too, with a deterministic sampler (the dpm2m-churn default draws its fresh
    # noise for the whole batch, so the first of eight gets other noise than a batch of one).
    det, eight = tmp_path / "d.npy", tmp_path / "s8.npy"
    assert _run(capsys, "morph", "--digit", "2", "--to", "6", "--count", "3", "--seed", "9", "--sampler", "dpm2m",
                "--out", str(det))[0] == 0
    assert _run(capsys, "sample", "--digit", "2", "--seed", "9", "--sampler", "dpm2m", "--out", str(eight))[0] == 0
    assert np.abs(np.load(det)[0].astype(int) - np.load(eight)[0]).max() <= 1


def test_morph_between_seeds(tmp_path, capsys):
    out, a, b = tmp_path / "ms.npy", tmp_path / "a.npy", tmp_path / "b.npy"
    assert _run(capsys, "sample", "--digit", "4", "--seed", "1", "--count", "1", "--out", str(a))[0] == 0
    assert _run(capsys, "sample", "--digit", "4", "--seed", "2", "--count", "1", "--out", str(b))[0] == 0
    rc, _, err = _run(capsys, "morph", "--digit", "4", "--seed", "1", "--to-seed", "2", "--count", "4", "--out", str(out))
    assert rc == 0, err
    row = np.load(out)
    assert np.array_equal(row[0], np.load(a)[0]) and np.array_equal(row[-1], np.load(b)[0])


def test_bad_input_is_one_line_exit_2_and_writes_nothing(files, tmp_path, capsys):
    out = tmp_path / "never.png"
    image = str(files / "three.npy")
    _one_line_exit_2(capsys, out, "edit", "--image", str(files / "broken.png"), "--sigma", "1", "--out", str(out),
                     words=("not a readable PNG",))
    _one_line_exit_2(capsys, out, "edit", "--image", str(tmp_path / "nope.png"), "--sigma", "1", "--out", str(out),
                     words=("not found",))
    for sigma in ("0", "-2", "80.01", "1e9"):
        _one_line_exit_2(capsys, out, "edit", "--image", image, "--sigma", sigma, "--out", str(out),
                         words=("--sigma", "sigma_max 80"))
    _one_line_exit_2(capsys, out, "inpaint", "--image", image, "--mask", str(files / "mask30.png"), "--digit", "1",
                     "--out", str(out), words=("30x30", "28x28"))
    for argv in (("--to", "12"), ("--to", "-1")):
        _one_line_exit_2(capsys, out, "morph", "--digit", "1", *argv, "--count", "4", "--out", str(out),
                         words=("--to", "0..9"))
    _one_line_exit_2(capsys, out, "morph", "--digit", "1", "--to", "2", "--count", "1", "--out", str(out),
                     words=("--count",))
    _one_line_exit_2(capsys, out, "edit", "--image", image, "--sigma", "1", "--out", str(tmp_path / "x.jpg"))
    _one_line_exit_2(capsys, out, "edit", "--image", image, "--sigma", "1", "--digit", "10", "--out", str(out))
