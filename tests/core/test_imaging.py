"""Tensors to uint8 pictures: range, grids, step strips, GIF frames, and saving by suffix."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tui_denoiser.core import imaging


def _frames(b=3, steps=4):
    """Distinct frames: frame j, sample i is filled with value 10*i + 20*j + 5."""
    return [np.stack([np.full((28, 28), 10 * i + 20 * j + 5, dtype=np.uint8) for i in range(b)]) for j in range(steps)]


def test_to_uint8_range_dtype_and_shapes():
    x = torch.tensor([-1.0, 0.0, 1.0, -3.0, 5.0]).reshape(1, 1, 1, 5)
    u = imaging.to_uint8(x)
    assert u.dtype == np.uint8 and u.shape == (1, 1, 5)
    assert u.tolist() == [[[0, 128, 255, 0, 255]]]
    assert imaging.to_uint8(torch.zeros(4, 28, 28)).shape == (4, 28, 28)
    assert imaging.to_uint8(np.zeros((28, 28), dtype=np.float32)).shape == (1, 28, 28)
    rnd = imaging.to_uint8(torch.randn(2, 1, 28, 28) * 3)
    assert rnd.min() >= 0 and rnd.max() <= 255


def test_to_pil_scales():
    pil = imaging.to_pil(np.zeros((28, 28), dtype=np.uint8), scale=3)
    assert pil.size == (84, 84) and pil.mode == "L"


@pytest.mark.parametrize("b, nrow, size", [(10, 10, (302, 32)), (10, 5, (152, 62)), (1, 10, (28, 28)),
                                           (3, 10, (92, 32))])
def test_make_grid_size(b, nrow, size):
    grid = imaging.make_grid(np.zeros((b, 28, 28), dtype=np.uint8), nrow=nrow)
    # (width, height): nrow cells of 28 + 2 padding, plus one padding; one image alone is unpadded
    assert grid.size == size


def test_step_strip_is_one_row_per_sample_one_column_per_step():
    frames = _frames(b=3, steps=4)
    strip = imaging.step_strip(frames)
    assert strip.size == (4 * 30 + 2, 3 * 30 + 2)
    pixels = np.asarray(strip)
    for i in range(3):
        for j in range(4):
            assert pixels[2 + 30 * i + 14, 2 + 30 * j + 14] == 10 * i + 20 * j + 5


def test_save_gif_has_one_frame_per_step(tmp_path):
    frames = _frames(b=2, steps=5)
    path = imaging.save_gif(frames, tmp_path / "t.gif")
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        assert gif.size == ((2 * 30 + 2) * 4, 32 * 4)  # a grid of the batch, scaled 4x


def test_save_images_by_suffix(tmp_path):
    frames = _frames(b=3, steps=4)
    png = imaging.save_images(frames, tmp_path / "a.png")
    with Image.open(png) as im:
        assert im.size == (3 * 30 + 2, 32)  # the final frame's grid
        assert np.asarray(im)[16, 16] == frames[-1][0, 0, 0]
    strip = imaging.save_images(frames, tmp_path / "s.PNG", strip=True)
    with Image.open(strip) as im:
        assert im.size == (4 * 30 + 2, 3 * 30 + 2)
    gif = imaging.save_images(frames, tmp_path / "a.gif")
    with Image.open(gif) as im:
        assert im.n_frames == 4
    npy = imaging.save_images(frames, tmp_path / "a.npy")
    arr = np.load(npy)
    assert arr.dtype == np.uint8 and arr.shape == (3, 28, 28)
    assert np.array_equal(arr, frames[-1])
    with pytest.raises(ValueError, match="suffix"):
        imaging.save_images(frames, tmp_path / "a.bmp")
    assert set(imaging.SUFFIXES) == {".png", ".gif", ".npy"}
