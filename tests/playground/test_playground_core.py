"""The playground's core: image IO, SDEdit, RePaint inpainting, morphs (tiny models, numeric checks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tui_denoiser.core import playground as pg
from tui_denoiser.core.config import ModelConfig, SamplingConfig, TrainConfig
from tui_denoiser.core.quality.denoising import psnr
from tui_denoiser.core.imaging import to_uint8
from tui_denoiser.core.inference import LoadedModel, prepare_for_inference
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.sampling import final_images, sample


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    """A tiny untrained EDM model with label dropout (so its sampling is guided, dpm2m, sigma up to 80)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = ModelConfig(channels=(8, 16, 16), norm="group", parameterization="edm")
    model = prepare_for_inference(ConditionalDenoiser(config))
    return LoadedModel(model=model, model_config=config,
                       train_config=TrainConfig(noise="edm", sigma_max=80.0, sigma_min=0.002, label_dropout=0.1),
                       path=Path("tiny.pt"))


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    images, _ = pg.real_digits()
    return images[:4]


def _config(loaded, **changes) -> SamplingConfig:
    return loaded.sampling.replace(steps=6, **changes)


# -- images in -----------------------------------------------------------------------------------------
def test_png_of_any_size_is_resized_with_a_note(tmp_path, digits):
    path = tmp_path / "big.png"
    Image.fromarray(digits[0]).resize((112, 112), Image.Resampling.NEAREST).save(path)
    read = pg.read_images(path)
    assert read.images.shape == (1, 28, 28) and read.images.dtype == np.uint8
    assert any("resized from 112x112 to 28x28" in note for note in read.notes)
    assert np.abs(read.images[0].astype(int) - digits[0]).mean() < 12
    Image.fromarray(digits[0]).save(tmp_path / "exact.png")
    exact = pg.read_images(tmp_path / "exact.png")
    assert np.array_equal(exact.images[0], digits[0]) and exact.notes == []


def test_npy_one_or_many(tmp_path, digits):
    np.save(tmp_path / "one.npy", digits[0])
    np.save(tmp_path / "many.npy", digits)
    assert np.array_equal(pg.read_images(tmp_path / "one.npy").images, digits[:1])
    assert np.array_equal(pg.read_images(tmp_path / "many.npy").images, digits)


@pytest.mark.parametrize("content", ["missing", "garbage.png", "garbage.npy", "float.npy", "shape.npy", "text.txt"])
def test_unreadable_images_are_one_line(tmp_path, content):
    path = tmp_path / content
    if content == "garbage.png" or content == "garbage.npy" or content == "text.txt":
        path.write_bytes(b"not an image at all")
    elif content == "float.npy":
        np.save(path, np.zeros((28, 28), dtype=np.float32))
    elif content == "shape.npy":
        np.save(path, np.zeros((3, 32, 32), dtype=np.uint8))
    with pytest.raises(pg.PlaygroundError) as err:
        pg.read_images(path)
    assert "\n" not in str(err.value) and err.value.field == "image"


def test_masks_must_be_28x28_and_match_the_count(tmp_path, digits):
    Image.fromarray(np.zeros((32, 32), dtype=np.uint8)).save(tmp_path / "big.png")
    with pytest.raises(pg.PlaygroundError, match="32x32; it must be 28x28"):
        pg.read_mask(tmp_path / "big.png", 1)
    np.save(tmp_path / "three.npy", np.zeros((3, 28, 28), dtype=np.uint8))
    with pytest.raises(pg.PlaygroundError, match="3 masks for 4 images"):
        pg.read_mask(tmp_path / "three.npy", 4)
    half = np.zeros((28, 28), dtype=np.uint8)
    half[14:] = 255
    Image.fromarray(half).save(tmp_path / "half.png")
    mask = pg.read_mask(tmp_path / "half.png", 4)
    assert mask.shape == (4, 28, 28) and mask[:, 14:].all() and not mask[:, :14].any()


def test_blank_drawing_says_so():
    assert pg.blank_notes(np.zeros((1, 28, 28), dtype=np.uint8)) == [
        "the drawing is all black: the model starts from noise alone there"]
    some = np.zeros((3, 28, 28), dtype=np.uint8)
    some[0, 10, 10] = 1
    assert "2 of 3 images" in pg.blank_notes(some)[0]
    assert pg.blank_notes(some[:1]) == []


@pytest.mark.parametrize("sigma", [0, -1, 80.5, float("nan"), float("inf"), True])
def test_sigma_out_of_range(loaded, sigma):
    with pytest.raises(pg.PlaygroundError) as err:
        pg.check_sigma(sigma, loaded.sampling)
    assert err.value.field == "sigma" and "sigma_max 80" in str(err.value)


# -- SDEdit --------------------------------------------------------------------------------------------
def test_edit_schedule_is_the_models_below_sigma(loaded):
    config = loaded.sampling
    levels = pg.edit_sigmas(config, 5.0)
    assert levels[0] == 5.0 and levels[-1] == 0.0
    assert all(a > b for a, b in zip(levels, levels[1:]))
    assert 0 < len(levels) - 1 < config.steps
    assert pg.edit_sigmas(config, config.sigma_max)[1:][:3] != [config.sigma_max] * 3


def test_edit_frames_and_a_tiny_sigma_keeps_the_drawing(loaded, digits):
    config = _config(loaded)
    steps = list(pg.edit(loaded, digits, 0.01, [1, 2, 3, 4], seed=3, config=config))
    levels = pg.edit_sigmas(config, 0.01)
    assert len(steps) == len(levels) and [s.sigma for s in steps] == pytest.approx(levels)
    assert steps[0].images.shape == (4, 1, 28, 28)
    # EDM preconditioning carries the input through: an untrained model barely changes a lightly noised digit
    assert psnr(steps[-1].images, pg.to_model(digits)).min() > 30
    again = list(pg.edit(loaded, digits, 0.01, [1, 2, 3, 4], seed=3, config=config))
    assert torch.equal(again[-1].images, steps[-1].images)
    other = list(pg.edit(loaded, digits, 0.01, [1, 2, 3, 4], seed=4, config=config))
    assert not torch.equal(other[0].images, steps[0].images)


def test_edit_first_frame_is_the_drawing_plus_seeded_noise(loaded, digits):
    first = next(iter(pg.edit(loaded, digits[:1], 2.0, 5, seed=7, config=_config(loaded))))
    noise = torch.randn((1, 1, 28, 28), generator=torch.Generator().manual_seed(7))
    assert torch.allclose(first.images, pg.to_model(digits[:1]) + 2.0 * noise)


def test_edit_rejects_bad_digits(loaded, digits):
    with pytest.raises(pg.PlaygroundError):
        list(pg.edit(loaded, digits[:1], 1.0, 10, config=_config(loaded)))
    with pytest.raises(pg.PlaygroundError):
        list(pg.edit(loaded, digits[:2], 1.0, [1], config=_config(loaded)))


# -- inpainting ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["dpm2m", "stochastic", "heun", "euler", "seed"])
def test_inpaint_keeps_known_pixels_bit_identical(loaded, digits, sampler):
    mask = np.zeros((28, 28), dtype=bool)
    mask[14:] = True
    frames = pg.frames_uint8(pg.inpaint(loaded, digits, mask, 3, seed=1, config=_config(loaded, sampler=sampler)))
    assert np.array_equal(frames[-1][:, :14], digits[:, :14])
    assert not np.array_equal(frames[-1][:, 14:], digits[:, 14:])  # the unknown half was regenerated


def test_inpaint_per_image_masks(loaded, digits):
    masks = np.zeros((4, 28, 28), dtype=bool)
    masks[0, :, :14] = True
    masks[2, 5:9, 5:9] = True
    final = pg.frames_uint8(pg.inpaint(loaded, digits, masks, 0, config=_config(loaded)))[-1]
    assert np.array_equal(final[~masks], digits[~masks])
    assert np.array_equal(final[1], digits[1]) and np.array_equal(final[3], digits[3])
    with pytest.raises(pg.PlaygroundError):
        pg.inpaint(loaded, digits, masks[:3], 0)


# -- morphs --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["dpm2m", "stochastic"])
def test_morph_digits_ends_equal_plain_samples(loaded, sampler):
    config = _config(loaded, sampler=sampler)
    steps = list(pg.morph_digits(loaded, 2, 7, 5, seed=11, config=config))
    assert len(steps) == config.steps + 1 and steps[-1].images.shape == (5, 1, 28, 28)
    row = steps[-1].images
    assert torch.equal(row[0], final_images(sample(loaded.model, [2], config, seed=11))[0])
    assert torch.equal(row[-1], final_images(sample(loaded.model, [7], config, seed=11))[0])
    middle = to_uint8(row[2])
    assert not np.array_equal(middle, to_uint8(row[0])) and not np.array_equal(middle, to_uint8(row[-1]))


def test_morph_ends_match_a_batch_of_eight_to_the_grey_level(loaded):
    # A deterministic sampler: a stochastic one (the dpm2m-churn default) draws its fresh noise for the
    # whole batch, so the first of eight gets other noise than a batch of one.
    config = _config(loaded, sampler="dpm2m")
    row = pg.frames_uint8(pg.morph_digits(loaded, 4, 9, 3, seed=2, config=config))[-1]
    batch = to_uint8(final_images(sample(loaded.model, [4] * 8, config, seed=2)))
    assert np.abs(row[0].astype(int) - batch[0]).max() <= 1


def test_morph_seeds_ends_equal_plain_samples(loaded):
    config = _config(loaded)
    row = list(pg.morph_seeds(loaded, 3, 5, 6, 4, config=config))[-1].images
    assert torch.equal(row[0], final_images(sample(loaded.model, [3], config, seed=5))[0])
    assert torch.equal(row[-1], final_images(sample(loaded.model, [3], config, seed=6))[0])


def test_slerp_keeps_the_norm_and_the_ends():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn((1, 1, 28, 28), generator=g), torch.randn((1, 1, 28, 28), generator=g)
    assert torch.equal(pg.slerp(a, b, 0.0), a) and torch.equal(pg.slerp(a, b, 1.0), b)
    mid = pg.slerp(a, b, 0.5)
    assert abs(mid.norm() - (a.norm() + b.norm()) / 2) < 0.05 * a.norm()
    assert (0.5 * (a + b)).norm() < 0.85 * mid.norm()  # a straight line would shrink the noise


def test_morph_rejects_bad_counts_and_digits(loaded):
    for count in (1, pg.MAX_MORPH + 1):
        with pytest.raises(pg.PlaygroundError):
            pg.morph_digits(loaded, 1, 2, count)
    with pytest.raises(pg.PlaygroundError) as err:
        pg.morph_digits(loaded, 1, 12, 4)
    assert err.value.field == "to"


def test_classifier_reads_the_shipped_real_digits():
    images, labels = pg.real_digits()
    probabilities = pg.read_digits(images)
    assert probabilities.shape == (20, 10) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert (probabilities.argmax(1) == labels).all()
