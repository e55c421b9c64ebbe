"""Speck rate and ink on hand-made images, where the right answer can be counted by eye."""

from __future__ import annotations

import pytest
import torch

from tui_denoiser.core.quality import artefacts as art


def blank(n: int = 1) -> torch.Tensor:
    return torch.zeros(n, 28, 28, dtype=torch.uint8)


def with_stroke(img: torch.Tensor) -> torch.Tensor:
    img[5:22, 12:15] = 255  # a thick vertical stroke: 51 pixels, one component
    return img


def test_components_are_8_connected_and_counted_by_size():
    mask = torch.zeros(1, 28, 28, dtype=torch.bool)
    mask[0, 2, 2] = mask[0, 3, 3] = True  # diagonal neighbours: one blob of 2
    mask[0, 10, 10:15] = True  # a bar of 5
    mask[0, 20, 20] = True  # a lone pixel
    mask[0, 27, 0] = True  # a corner pixel, not joined to anything
    assert art.component_sizes(mask) == [[1, 1, 2, 5]]
    # A winding snake is one component however long it is (propagation runs until it stops changing).
    snake = torch.zeros(1, 28, 28, dtype=torch.bool)
    for r in range(0, 28, 4):
        snake[0, r, :] = True
        if r + 4 < 28:
            col = 27 if (r // 4) % 2 == 0 else 0
            snake[0, r:r + 4, col] = True
    assert art.component_sizes(snake) == [[int(snake.sum())]]


def test_speck_needs_an_isolated_small_bright_blob():
    imgs = torch.stack([
        with_stroke(blank()[0]),  # a clean digit-like stroke
        with_stroke(blank()[0]),  # + a 3-pixel speck away from it: a speck
        with_stroke(blank()[0]),  # + a 4-pixel blob: too big to be a speck
        with_stroke(blank()[0]),  # + a dim dot (exactly 100): not above the threshold
        with_stroke(blank()[0]),  # + a bright dot touching the stroke diagonally: part of the stroke
        blank()[0],  # nothing at all
    ])
    imgs[1, 2, 2:5] = 200
    imgs[2, 2, 2:6] = 200
    imgs[3, 2, 2] = 100
    imgs[4, 4, 15] = 255  # (4, 15) touches (5, 14) diagonally
    flags = art.has_speck(imgs)
    assert flags.tolist() == [False, True, False, False, False, False]
    assert art.speck_rate(imgs) == pytest.approx(1 / 6)
    imgs[3, 2, 2] = 101
    assert art.has_speck(imgs)[3]
    assert art.has_speck(imgs, max_pixels=4)[2]


def test_speck_rate_reads_only_uint8_and_accepts_a_channel_axis():
    with pytest.raises(TypeError):
        art.speck_rate(torch.zeros(2, 28, 28))
    imgs = blank(2)
    imgs[0, 3, 3] = 255
    assert art.speck_rate(imgs.unsqueeze(1)) == pytest.approx(0.5)
    assert art.speck_rate(blank(0)) == 0.0


def test_ink_is_total_intensity_and_the_ratio_is_class_balanced():
    imgs = blank(3)
    imgs[0, :2, :] = 255  # 56 full pixels
    imgs[1, 0, :10] = 51  # 10 pixels at 0.2: 2.0
    assert art.ink(imgs).tolist() == pytest.approx([56.0, 2.0, 0.0])
    assert art.mean_ink(imgs) == pytest.approx(58 / 3)
    # Class 0 has ink 10 in both sets, class 1 ink 20 in both; the sets hold the classes in another mix,
    # so the plain means differ but the class-balanced ratio is exactly 1.
    def of_ink(values):
        out = blank(len(values))
        for i, v in enumerate(values):
            out[i].view(-1)[:v] = 255
        return out
    samples, s_labels = of_ink([10, 20, 20, 20]), torch.tensor([0, 1, 1, 1])
    real, r_labels = of_ink([10, 10, 10, 20]), torch.tensor([0, 0, 0, 1])
    assert art.ink_ratio(samples, real, s_labels, r_labels) == pytest.approx(1.0)
    assert art.ink_ratio(samples, real) == pytest.approx((70 / 4) / (50 / 4))
    assert art.ink_ratio(of_ink([21]), of_ink([20])) == pytest.approx(1.05)
