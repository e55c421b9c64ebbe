"""The playground's headless half: put your own digit into the model and watch what it does with it.

- :func:`edit` (SDEdit, Meng et al. 2022): noise the images to a level sigma, then denoise them to a
  target digit with the model's own sampler over the levels of its schedule below sigma. A small sigma
  keeps the drawing and cleans it up; a large sigma turns it into the target digit.
- :func:`inpaint` (the RePaint idea, Lugmayr et al. 2022): sample from pure noise, and after every step
  replace the known pixels by the original noised to that step's level, so the unknown region grows to
  fit them. At the last level (0) the known pixels are the original exactly.
- :func:`morph_digits`: a row of samples from one seed whose label conditioning slides from digit A to
  digit B (a mix of the two label embeddings); :func:`morph_seeds`: one digit, the starting noise slid
  from one seed's to another's by spherical interpolation. Each sample of a row is its own batch of one
  and starts like ``sample``, so with the same seed and sampler the ends equal ``sample``'s first image.

Every function yields :class:`SampleStep` frames, like the samplers, so the app and the CLI show and
save them the same way. Images come and go as MNIST stores them: uint8, 0 = background, white digit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from tui_denoiser.core.config import SamplingConfig
from tui_denoiser.core.errors import UserError
from tui_denoiser.core.sampling import SampleStep, drive, sigma_schedule
from tui_denoiser.core.sampling_policy import editing_sampling

MAX_MORPH = 64


class PlaygroundError(UserError):
    """Bad playground input (an unreadable image, a mask of another size, a noise level out of range)."""


# -- images in ----------------------------------------------------------------------------------------
@dataclass
class ImageInput:
    """Images read from a file: uint8 (N, 28, 28), and what was done to them (one line each)."""

    images: np.ndarray
    notes: list[str] = field(default_factory=list)


def read_images(path: str | Path, *, what: str = "image") -> ImageInput:
    """A PNG (any size: resized to 28x28 with a note; read as grey, white digit on black) or a ``.npy``
    of uint8 (28, 28) or (N, 28, 28). Anything else is one :class:`PlaygroundError` line."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise PlaygroundError(f"{what} not found: {path}" if not path.exists() else f"{what} {path} is not a file",
                              field=what, value=str(path))
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return ImageInput(_read_npy(path, what))
    if suffix == ".png":
        return _read_png(path, what)
    raise PlaygroundError(f"{what} {path.name} must be a .png or a .npy", field=what, value=str(path))


def _read_npy(path: Path, what: str) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise PlaygroundError(f"{what} {path} is not a readable .npy array", field=what, value=str(path)) from exc
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8:
        kind = getattr(array, "dtype", type(array).__name__)
        raise PlaygroundError(f"{what} {path.name} holds {kind}, expected uint8 (28,28) or (N,28,28)",
                              field=what, value=str(path))
    shape = array.shape
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or array.shape[1:] != (28, 28) or array.shape[0] == 0:
        raise PlaygroundError(f"{what} {path.name} has shape {shape}, expected (28,28) or (N,28,28)",
                              field=what, value=str(path))
    return np.ascontiguousarray(array)


def _read_png(path: Path, what: str) -> ImageInput:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as picture:
            picture.load()
            grey = picture.convert("L")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PlaygroundError(f"{what} {path} is not a readable PNG", field=what, value=str(path)) from exc
    notes = []
    if grey.size != (28, 28):
        notes.append(f"{path.name}: resized from {grey.width}x{grey.height} to 28x28")
        grey = grey.resize((28, 28), Image.Resampling.LANCZOS if min(grey.size) >= 28 else Image.Resampling.BICUBIC)
    array = np.asarray(grey, dtype=np.uint8)
    if array.mean() > 127:
        notes.append(f"{path.name}: mostly light; the model expects a white digit on black")
    return ImageInput(array[None].copy(), notes)


def read_mask(path: str | Path, count: int) -> np.ndarray:
    """A mask for ``count`` images: (28, 28) for all of them or (count, 28, 28); non-zero = unknown.
    Exactly 28x28: a mask of another size is refused rather than resized."""
    path = Path(path).expanduser()
    if path.suffix.lower() == ".png":
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as picture:
                size = picture.size
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise PlaygroundError(f"mask {path} is not a readable PNG", field="mask", value=str(path)) from exc
        if size != (28, 28):
            raise PlaygroundError(f"mask {path.name} is {size[0]}x{size[1]}; it must be 28x28 like the image",
                                  field="mask", value=str(path))
    mask = read_images(path, what="mask").images != 0
    if mask.shape[0] not in (1, count):
        raise PlaygroundError(f"mask {path.name} holds {mask.shape[0]} masks for {count} images; give one or {count}",
                              field="mask", value=str(path))
    return np.broadcast_to(mask, (count, 28, 28)).copy()


def blank_notes(images: np.ndarray) -> list[str]:
    """A note for every image that is all black (nothing drawn): it still runs, from noise alone."""
    blank = [i for i in range(len(images)) if not images[i].any()]
    if not blank:
        return []
    which = "the drawing is" if len(images) == 1 else f"{len(blank)} of {len(images)} images are"
    return [f"{which} all black: the model starts from noise alone there"]


# -- checks -------------------------------------------------------------------------------------------
def check_sigma(sigma: float, config: SamplingConfig) -> float:
    """A noise level for :func:`edit`: above 0 and at most the model's sigma_max."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not math.isfinite(sigma) \
            or not 0 < sigma <= config.sigma_max:
        raise PlaygroundError(f"noise level {{field}} must be above 0 and at most the model's sigma_max "
                              f"{config.sigma_max:g}, got {sigma!r}", field="sigma", value=sigma)
    return float(sigma)


def check_digit(digit: Any, loaded: Any, what: str = "digit") -> int:
    classes = loaded.model_config.num_classes
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= int(digit) < classes:
        raise PlaygroundError(f"{{field}} must be 0..{classes - 1}, got {digit!r}", field=what, value=digit)
    return int(digit)


def _labels(loaded: Any, digits: int | Sequence[int], count: int) -> torch.Tensor:
    if isinstance(digits, (int, np.integer)) and not isinstance(digits, bool):
        digits = [int(digits)] * count
    digits = [check_digit(d, loaded) for d in digits]
    if len(digits) != count:
        raise PlaygroundError(f"{len(digits)} digits for {count} images", field="digit", value=len(digits))
    return torch.tensor(digits, dtype=torch.long)


def _images(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim == 2:
        images = images[None]
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28) or not len(images):
        raise PlaygroundError(f"images must be uint8 (28,28) or (N,28,28), got {images.dtype} {images.shape}",
                              field="image", value=images.shape)
    return images


def to_model(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) in [-1, 1] (as training saw them)."""
    from tui_denoiser.core.data import to_model_range

    return to_model_range(torch.from_numpy(np.ascontiguousarray(images)))


# -- SDEdit -------------------------------------------------------------------------------------------
def edit_sigmas(config: SamplingConfig, sigma: float) -> list[float]:
    """The levels an edit visits: ``sigma``, then the levels of the model's schedule below it, then 0."""
    return [float(sigma)] + [s for s in sigma_schedule(config) if s < sigma]


def edit(loaded: Any, images: np.ndarray, sigma: float, digits: int | Sequence[int], *, seed: int = 0,
         config: SamplingConfig | None = None) -> Iterator[SampleStep]:
    """SDEdit: ``images`` (uint8) noised to ``sigma`` with a seeded N(0, 1), then denoised to ``digits``
    (one for all, or one per image) by ``config`` (default: the model's sampling with the stochastic
    sampler, ``sampling_policy.editing_sampling``). Frame 0 is the noised input."""
    config = config or editing_sampling(loaded.sampling)
    sigma = check_sigma(sigma, config)
    images = _images(images)
    labels = _labels(loaded, digits, len(images))
    generator = torch.Generator().manual_seed(int(seed))
    clean = to_model(images)
    x = clean + sigma * torch.randn(clean.shape, generator=generator)
    return drive(loaded.model, labels, config, x=x, sigmas=edit_sigmas(config, sigma), generator=generator,
                 guide=_guide(loaded))


# -- inpainting ---------------------------------------------------------------------------------------
def inpaint(loaded: Any, images: np.ndarray, mask: np.ndarray, digits: int | Sequence[int], *, seed: int = 0,
            config: SamplingConfig | None = None) -> Iterator[SampleStep]:
    """Regenerate the pixels where ``mask`` is true (unknown) for ``digits``, keeping the others:
    after every step the known pixels become the original plus fresh noise at the step's level (0 at
    the end, so they come back bit-identical)."""
    config = config or editing_sampling(loaded.sampling)
    images = _images(images)
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim == 2:
        mask = mask[None]
    if mask.shape[1:] != (28, 28) or mask.shape[0] not in (1, len(images)):
        raise PlaygroundError(f"the mask has shape {mask.shape}; it must be (28,28) or ({len(images)},28,28)",
                              field="mask", value=mask.shape)
    labels = _labels(loaded, digits, len(images))
    generator = torch.Generator().manual_seed(int(seed))
    clean = to_model(images)
    unknown = torch.from_numpy(np.broadcast_to(mask, images.shape).copy())[:, None]
    sigmas = sigma_schedule(config)
    start_std = _start_std(config, loaded)
    x = torch.randn(clean.shape, generator=generator) * start_std
    x = torch.where(unknown, x, clean + sigmas[0] * torch.randn(clean.shape, generator=generator))

    def keep_known(k: int, x: torch.Tensor, sigma: float) -> torch.Tensor:
        known = clean.to(x.device) if sigma == 0 else clean.to(x.device) + sigma * torch.randn(
            x.shape, generator=generator).to(x.device)
        return torch.where(unknown.to(x.device), x, known)

    return drive(loaded.model, labels, config, x=x, sigmas=sigmas, generator=generator, hook=keep_known,
                 guide=_guide(loaded))


def _guide(loaded: Any) -> torch.nn.Module | None:
    """The autoguidance model a :class:`LoadedModel` carries (None: guidance uses the null label)."""
    return getattr(loaded, "guide", None)


def _start_std(config: SamplingConfig, loaded: Any) -> float:
    if config.start == "pure":
        return config.sigma_max
    return math.sqrt(config.sigma_max ** 2 + loaded.model_config.sigma_data ** 2)


# -- morphs -------------------------------------------------------------------------------------------
class MixedLabels(torch.nn.Module):
    """The model with labels that index rows of mixing weights over its label embeddings (so the
    samplers, which pass integer labels, can condition on a mix); the last row is the null label."""

    def __init__(self, model: torch.nn.Module, weights: torch.Tensor):
        super().__init__()
        self.model = model
        classes = model.config.num_classes
        null = torch.nn.functional.one_hot(torch.tensor(model.null_label), classes + 1).float()
        self.register_buffer("table", torch.cat([weights.float().reshape(-1, classes + 1), null[None]]),
                             persistent=False)
        self.null_label = self.table.shape[0] - 1
        self.train(model.training)

    def forward(self, noisy: torch.Tensor, noise_level: Any, labels: torch.Tensor) -> torch.Tensor:
        return self.model(noisy, noise_level, self.table.to(noisy.device)[labels.reshape(-1)])


def _check_count(count: int) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 2 <= count <= MAX_MORPH:
        raise PlaygroundError(f"{{field}} must be an integer in 2..{MAX_MORPH}, got {count!r}", field="count",
                              value=count)
    return count


def _in_lockstep(runs: list[Iterator[SampleStep]]) -> Iterator[SampleStep]:
    """Run single-image trajectories side by side; each frame stacks their images."""
    for steps in zip(*runs):
        first = steps[0]
        yield SampleStep(first.index, first.total, first.sigma, torch.cat([s.images for s in steps]),
                         first.model_calls)


def _start_noise(seed: int, config: SamplingConfig, loaded: Any) -> tuple[torch.Tensor, torch.Generator]:
    """The starting noise ``sample`` draws for one image with ``seed``, and its generator after it."""
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn((1, 1, 28, 28), generator=generator) * _start_std(config, loaded), generator


def morph_digits(loaded: Any, digit: int, to: int, count: int, *, seed: int = 0,
                 config: SamplingConfig | None = None) -> Iterator[SampleStep]:
    """``count`` samples from one seed, the label conditioning mixed from ``digit`` to ``to``."""
    config = config or loaded.sampling
    digit, to = check_digit(digit, loaded), check_digit(to, loaded, "to")
    count = _check_count(count)
    classes = loaded.model_config.num_classes
    runs = []
    for i in range(count):
        t = i / (count - 1)
        weights = torch.zeros(1, classes + 1)
        weights[0, digit] += 1 - t
        weights[0, to] += t
        x, generator = _start_noise(seed, config, loaded)
        device = next(loaded.model.parameters()).device
        model = MixedLabels(loaded.model, weights).to(device)
        guide = _guide(loaded)
        guide = MixedLabels(guide, weights).to(device) if guide is not None else None
        runs.append(drive(model, torch.zeros(1, dtype=torch.long), config, x=x, sigmas=sigma_schedule(config),
                          generator=generator, guide=guide))
    return _in_lockstep(runs)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between two noise tensors (exactly ``a`` at 0 and ``b`` at 1), which keeps
    the in-between noise as long as a real draw (a straight line would shrink it)."""
    if t <= 0:
        return a.clone()
    if t >= 1:
        return b.clone()
    af, bf = a.flatten().double(), b.flatten().double()
    cos = torch.clamp(af @ bf / (af.norm() * bf.norm()), -1.0, 1.0)
    theta = torch.arccos(cos)
    if theta.abs() < 1e-6:
        return ((1 - t) * a + t * b).to(a.dtype)
    mixed = (torch.sin((1 - t) * theta) * af + torch.sin(t * theta) * bf) / torch.sin(theta)
    return mixed.reshape(a.shape).to(a.dtype)


def morph_seeds(loaded: Any, digit: int, seed: int, to_seed: int, count: int, *,
                config: SamplingConfig | None = None) -> Iterator[SampleStep]:
    """``count`` samples of ``digit``, the starting noise slid from ``seed``'s to ``to_seed``'s (slerp)."""
    config = config or loaded.sampling
    digit = check_digit(digit, loaded)
    count = _check_count(count)
    a, _ = _start_noise(seed, config, loaded)
    b, _ = _start_noise(to_seed, config, loaded)
    runs = []
    for i in range(count):
        t = i / (count - 1)
        _, generator = _start_noise(seed if t < 0.5 else to_seed, config, loaded)  # the stochastic sampler's noise
        runs.append(drive(loaded.model, torch.tensor([digit]), config, x=slerp(a, b, t),
                          sigmas=sigma_schedule(config), generator=generator, guide=_guide(loaded)))
    return _in_lockstep(runs)


# -- reading digits -----------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def shipped_classifier() -> Any:
    """The shipped MNIST classifier (the evaluation's judge), loaded once."""
    from tui_denoiser.core.quality.classifier import load_classifier
    from tui_denoiser.core.paths import CLASSIFIER_PATH, require_shipped

    return load_classifier(require_shipped(CLASSIFIER_PATH))


def read_digits(images: np.ndarray, classifier: Any = None) -> np.ndarray:
    """Probabilities (N, 10) that the classifier gives each uint8 image."""
    classifier = classifier if classifier is not None else shipped_classifier()
    x = to_model(_images(images)).to(next(classifier.parameters()).device)
    with torch.inference_mode():
        return torch.softmax(classifier(x).float(), dim=1).cpu().numpy()


def real_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 20 real MNIST test digits shipped for the playground (two of each class): images, labels."""
    from tui_denoiser.core.paths import require_shipped, shipped_file

    with np.load(require_shipped(shipped_file("mnist-test-digits.npz")), allow_pickle=False) as data:
        return data["images"].copy(), data["labels"].astype(np.int64)


def frames_uint8(steps: Iterator[SampleStep], on_step: Callable[[SampleStep], None] | None = None) -> list[np.ndarray]:
    """Every frame as uint8 (N, 28, 28) (what ``imaging.save_images`` writes)."""
    from tui_denoiser.core.imaging import to_uint8

    frames = []
    for step in steps:
        frames.append(to_uint8(step.images))
        if on_step is not None:
            on_step(step)
    return frames
