"""Samplers: K+1 frames, shapes, sigma sequence, model-call counts, seeds, guidance, eval mode, and
final images pinned to those of the samplers before they took one signature."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from tui_denoiser.core.config import SAMPLER_NAMES, ModelConfig, SamplingConfig
from tui_denoiser.core.errors import ConfigError
from tui_denoiser.core.inference import load_model, prepare_for_inference
from tui_denoiser.core.model import ConditionalDenoiser
from tui_denoiser.core.paths import DEFAULT_MODEL, ORIGINAL_MODEL
from tui_denoiser.core.sampling import SAMPLERS, SampleStep, final_images, sample

PINS = Path(__file__).parent / "data" / "sampling_pins.pt"


def _sample(model, labels, *, seed=0, **settings):
    """``sample`` with the settings of a :class:`SamplingConfig` as keywords."""
    return sample(model, labels, SamplingConfig(**settings), seed=seed)


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return ConditionalDenoiser(ModelConfig(channels=(8, 16, 16))).eval()


@pytest.fixture(scope="module")
def edm_model():
    torch.manual_seed(1)
    return ConditionalDenoiser(ModelConfig(channels=(8, 16, 16), norm="group", parameterization="edm")).eval()


def _calls(sampler, k):
    return 2 * k - 1 if sampler == "heun" else k


def test_sampler_names_have_descriptions():
    assert set(SAMPLERS) == {"seed", "euler", "heun", "stochastic", "dpm2m", "dpm2m-churn", "ipndm", "ipndm-v", "dpm3m",
                             "consistency"}
    assert tuple(SAMPLERS) == SAMPLER_NAMES  # the names config.py offers before torch loads
    assert all(isinstance(s.description, str) and s.description and "\n" not in s.description
               for s in SAMPLERS.values())


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_frames_shapes_sigmas_and_calls(edm_model, sampler, guidance):
    k = 4
    frames = list(_sample(edm_model, [0, 3, 7], sampler=sampler, steps=k, sigma_max=5.0, sigma_min=0.01,
                         seed=0, guidance=guidance))
    assert len(frames) == k + 1
    assert [f.index for f in frames] == list(range(k + 1))
    assert all(isinstance(f, SampleStep) and f.total == k for f in frames)
    for f in frames:
        assert f.images.shape == (3, 1, 28, 28) and f.images.dtype == torch.float32
        assert f.images.device.type == "cpu" and torch.isfinite(f.images).all()
    sigmas = [f.sigma for f in frames]
    assert sigmas[0] == pytest.approx(5.0) and sigmas[-1] == 0.0
    assert all(a > b for a, b in zip(sigmas, sigmas[1:]))
    per_eval = 1 if guidance == 1.0 else 2
    assert frames[0].model_calls == 0
    assert frames[-1].model_calls == per_eval * _calls(sampler, k)
    assert all(a.model_calls <= b.model_calls for a, b in zip(frames, frames[1:]))


def test_original_sampler_visits_t_over_T(model):
    frames = list(_sample(model, [1], sampler="seed", steps=5, sigma_max=1.0, seed=0))
    assert [round(f.sigma, 6) for f in frames] == [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
    assert frames[-1].model_calls == 5


def test_starting_noise_is_sigma_max_times_a_seeded_normal(model):
    first = next(_sample(model, [0, 1], sampler="euler", steps=3, sigma_max=2.0, seed=11))
    expected = torch.randn((2, 1, 28, 28), generator=torch.Generator().manual_seed(11)) * 2.0
    assert torch.equal(first.images, expected)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_a_seed_reproduces_and_different_seeds_differ(model, sampler):
    def run(seed):
        return [f.images for f in _sample(model, [2, 5], sampler=sampler, steps=3, sigma_max=1.0, seed=seed)]

    a, b, c = run(7), run(7), run(8)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[-1], c[-1])
    assert not torch.equal(a[0], c[0])


def test_guidance_one_is_the_plain_conditional_model(model):
    labels = torch.tensor([3, 8])
    steps = 4
    got = final_images(_sample(model, labels, sampler="seed", steps=steps, sigma_max=1.0, seed=5, guidance=1.0))
    x = torch.randn((2, 1, 28, 28), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        for t in range(steps, 0, -1):
            x = model(x, torch.full((1, 1, 1, 1), t / steps), labels)
    assert torch.allclose(got, x, atol=1e-5)


def test_guidance_mixes_conditional_and_null_predictions(model):
    labels = torch.tensor([4, 6])
    w = 3.0
    got = final_images(_sample(model, labels, sampler="seed", steps=2, sigma_max=1.0, seed=9, guidance=w))
    x = torch.randn((2, 1, 28, 28), generator=torch.Generator().manual_seed(9))
    null = torch.full_like(labels, model.null_label)
    with torch.no_grad():
        for t in (2, 1):
            level = torch.full((1, 1, 1, 1), t / 2)
            cond, uncond = model(x, level, labels), model(x, level, null)
            x = uncond + w * (cond - uncond)
    assert torch.allclose(got, x, atol=1e-4)
    plain = final_images(_sample(model, labels, sampler="seed", steps=2, sigma_max=1.0, seed=9))
    assert not torch.allclose(got, plain, atol=1e-3)


def test_autoguidance_pushes_away_from_the_guide_of_the_same_label(model):
    torch.manual_seed(7)
    guide = ConditionalDenoiser(ModelConfig(channels=(4, 8, 8))).eval()
    labels = torch.tensor([2, 5])
    w = 2.0
    config = SamplingConfig(sampler="seed", steps=2, sigma_max=1.0, guidance=w)
    steps = list(sample(model, labels, config, seed=9, guide=guide))
    x = torch.randn((2, 1, 28, 28), generator=torch.Generator().manual_seed(9))
    with torch.no_grad():
        for t in (2, 1):
            level = torch.full((1, 1, 1, 1), t / 2)
            cond, weak = model(x, level, labels), guide(x, level, labels)  # the guide sees the label too
            x = weak + w * (cond - weak)
    assert torch.allclose(steps[-1].images, x, atol=1e-4)
    assert steps[-1].model_calls == 4  # the guide's call counts as one
    # A guide equal to the model guides nowhere: the plain conditional samples.
    same = final_images(sample(model, labels, config, seed=9, guide=model))
    plain = final_images(sample(model, labels, config.replace(guidance=1.0), seed=9))
    assert torch.allclose(same, plain, atol=1e-5)


def test_autoguidance_refuses_a_guide_in_training_mode(model):
    guide = ConditionalDenoiser(ModelConfig(channels=(4, 8, 8))).train()
    with pytest.raises(RuntimeError, match="eval mode"):
        next(iter(sample(model, [1], SamplingConfig(guidance=2.0), guide=guide)))


def test_sampling_refuses_a_model_in_training_mode():
    training = ConditionalDenoiser(ModelConfig(channels=(8, 16, 16))).train()
    with pytest.raises(RuntimeError, match="eval"):
        next(_sample(training, [0], steps=2))


@pytest.mark.parametrize("kwargs, word", [
    ({"sampler": "ddpm"}, "sampler"),
    ({"steps": 0}, "steps"),
    ({"steps": 1001}, "steps"),
    ({"guidance": -1.0}, "guidance"),
    ({"guidance": float("nan")}, "guidance"),
])
def test_bad_sampling_values_are_config_errors(model, kwargs, word):
    with pytest.raises(ConfigError, match=word):
        next(_sample(model, [0], **kwargs))


def test_sampling_does_not_track_gradients(model):
    last = final_images(_sample(model, [0], sampler="heun", steps=2, sigma_max=1.0))
    assert not last.requires_grad


class _GaussianDenoiser(torch.nn.Module):
    """The exact denoiser for data ~ N(0, s^2): D(x, sigma) = s^2 / (s^2 + sigma^2) x."""

    null_label = 10

    def __init__(self, s: float):
        super().__init__()
        self.s = s
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, sigma, labels):
        sigma = torch.as_tensor(sigma).reshape(-1, 1, 1, 1)
        return self.s**2 / (self.s**2 + sigma**2) * x


def test_second_order_samplers_track_the_exact_ode_better_than_euler():
    # For Gaussian data the probability-flow ODE has a closed form: x(sigma) scales with
    # sqrt(s^2 + sigma^2); stop at the last level above zero to compare trajectories.
    s, sigma_max, sigma_min, k = 0.5, 80.0, 0.05, 10
    model = _GaussianDenoiser(s).eval()
    errors = {}
    for name in ("euler", "heun", "dpm2m"):
        frames = list(_sample(model, [0], sampler=name, steps=k, sigma_max=sigma_max, sigma_min=sigma_min, seed=3))
        x_start, x_low = frames[0].images, frames[-2].images
        exact = x_start * math.sqrt(s**2 + frames[-2].sigma**2) / math.sqrt(s**2 + sigma_max**2)
        errors[name] = float((x_low - exact).abs().max() / exact.abs().max())
    # Measured: euler 0.23, heun 0.15, dpm2m 0.037 (relative error at 10 steps).
    assert errors["dpm2m"] < errors["euler"] / 4
    assert errors["heun"] < errors["euler"]


def test_dpm2m_first_step_is_the_euler_step():
    model = _GaussianDenoiser(0.5).eval()
    a = list(_sample(model, [0, 1], sampler="dpm2m", steps=4, sigma_max=10.0, sigma_min=0.1, seed=1))
    b = list(_sample(model, [0, 1], sampler="euler", steps=4, sigma_max=10.0, sigma_min=0.1, seed=1))
    assert torch.equal(a[1].images, b[1].images)
    assert not torch.allclose(a[2].images, b[2].images)


def test_the_configs_churn_reaches_dpm2m_churn(edm_model):
    """churn_gamma 0 is dpm2m exactly; the churned levels are where the config says, and only those."""
    base = SamplingConfig(sampler="dpm2m-churn", steps=6, sigma_max=20.0, sigma_min=0.02, grid="geometric")
    plain = list(sample(edm_model, [1, 2], base.replace(sampler="dpm2m"), seed=3))
    none = list(sample(edm_model, [1, 2], base.replace(churn_gamma=0.0), seed=3))
    assert all(torch.equal(a.images, b.images) for a, b in zip(plain, none))
    low = list(sample(edm_model, [1, 2], base.replace(churn_levels=(0.01, 0.1)), seed=3))
    wide = list(sample(edm_model, [1, 2], base.replace(churn_levels=(0.01, 0.7)), seed=3))
    levels = [f.sigma for f in plain]  # 20, 5.02, 1.26, 0.317, 0.0796, 0.02, 0
    first_churned = {"low": levels.index(next(s for s in levels if s <= 0.1)),
                     "wide": levels.index(next(s for s in levels if s <= 0.7))}
    for frames, name in ((low, "low"), (wide, "wide")):
        k = first_churned[name]  # frame k is the state after step k; step k starts at levels[k]
        assert all(torch.equal(a.images, b.images) for a, b in zip(plain[:k + 1], frames[:k + 1])), name
        assert not torch.equal(plain[k + 1].images, frames[k + 1].images), name


def test_guidance_interval_guides_only_inside_it(edm_model):
    k = 6
    everywhere = list(_sample(edm_model, [1, 2], sampler="dpm2m", steps=k, sigma_max=80.0, sigma_min=0.002,
                             guidance=2.0, seed=5))
    covering = list(_sample(edm_model, [1, 2], sampler="dpm2m", steps=k, sigma_max=80.0, sigma_min=0.002,
                           guidance=2.0, seed=5, guidance_interval=(0.0, 1000.0)))
    assert torch.equal(everywhere[-1].images, covering[-1].images) and everywhere[-1].model_calls == 2 * k
    middle = list(_sample(edm_model, [1, 2], sampler="dpm2m", steps=k, sigma_max=80.0, sigma_min=0.002,
                         guidance=2.0, seed=5, guidance_interval=(0.3, 10.0)))
    inside = sum(1 for f in middle[:-1] if 0.3 <= f.sigma <= 10.0)
    assert 0 < inside < k and middle[-1].model_calls == k + inside
    assert not torch.equal(middle[-1].images, everywhere[-1].images)


def test_sampling_leaves_the_callers_model_layout_alone(model):
    plain = ConditionalDenoiser(ModelConfig(channels=(8, 16, 16))).eval()
    final_images(_sample(plain, [0], steps=2))
    assert all(p.is_contiguous() for p in plain.parameters())


def _pinned_runs():
    """The settings each pinned trajectory was drawn with (tests/core/data/sampling_pins.pt holds the
    final images, levels and call counts that the samplers gave before this module was reshaped)."""
    torch.manual_seed(1)
    edm = prepare_for_inference(ConditionalDenoiser(ModelConfig(channels=(8, 16, 16), norm="group",
                                                                parameterization="edm")))
    torch.manual_seed(0)
    direct = prepare_for_inference(ConditionalDenoiser(ModelConfig(channels=(8, 16, 16))))
    for name in SAMPLER_NAMES:
        yield f"edm-{name}", lambda name=name: _sample(edm, [1, 7], sampler=name, steps=5, sigma_max=80.0,
                                                      sigma_min=0.002, seed=3, guidance=2.0, grid="karras",
                                                      guidance_interval=(0.3, 10.0))
    yield "direct-original-matched", lambda: _sample(direct, [2, 5], sampler="seed", steps=4, sigma_max=1.0,
                                                     sigma_min=0.25, seed=4, grid="linear", start="matched")
    yield "direct-euler-linear-guided", lambda: _sample(direct, [2, 5], sampler="euler", steps=3, sigma_max=1.0,
                                                        sigma_min=0.25, seed=6, grid="linear", guidance=3.0)
    for name, path in (("shipped-edm", DEFAULT_MODEL), ("shipped-original", ORIGINAL_MODEL)):
        yield name, lambda path=path: load_model(path).sample([3, 8], seed=0)


def test_final_images_are_pinned():
    torch.set_num_threads(1)
    pins = torch.load(PINS, weights_only=True)
    runs = dict(_pinned_runs())
    assert set(runs) == set(pins)
    for name, run in runs.items():
        frames = list(run())
        assert [f.sigma for f in frames] == pins[name]["sigmas"], name
        assert [f.model_calls for f in frames] == pins[name]["calls"], name
        # Exact on the machine that drew them; a little slack for other CPUs' convolution kernels.
        torch.testing.assert_close(frames[-1].images, pins[name]["images"], rtol=0, atol=1e-5, msg=name)


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_chunked_sampling_is_bit_identical_to_one_batch(model, edm_model, sampler):
    """Bulk sampling runs in chunks (cache-sized); every frame must equal the one-batch run's, the
    stochastic sampler's per-step noise included (drawn chunk after chunk, in sample order)."""
    labels = list(range(10)) * 2 + [4, 5, 6]
    for net in (model, edm_model):
        config = SamplingConfig(sampler=sampler, steps=3, sigma_max=5.0, sigma_min=0.01, guidance=2.0)
        whole = list(sample(net, labels, config, seed=5, chunk_size=None))
        chunked = list(sample(net, labels, config, seed=5, chunk_size=7))
        assert [f.model_calls for f in whole] == [f.model_calls for f in chunked]
        assert all(torch.equal(a.images, b.images) for a, b in zip(whole, chunked))


def test_chunk_bounds_cover_every_sample_once():
    from tui_denoiser.core.sampling import chunk_bounds

    assert chunk_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds(10, None) == [(0, 10)] == chunk_bounds(10, 0)
    assert chunk_bounds(3, 64) == [(0, 3)]


def test_explicit_levels_replace_the_grid(edm_model):
    levels = (80.0, 6.0, 1.2, 0.25)
    config = SamplingConfig(sampler="dpm3m", steps=4, sigma_max=80.0, sigma_min=0.002, levels=levels)
    frames = list(sample(edm_model, [0, 4], config, seed=2))
    assert [f.sigma for f in frames] == [*levels, 0.0]
    assert frames[-1].model_calls == 4
    assert SamplingConfig.from_dict(config.to_dict()) == config  # checkpoints store them as a list


@pytest.mark.parametrize("levels, word", [
    ((80.0, 1.0), "levels"),  # two levels for three steps
    ((80.0, 1.0, 2.0), "falling"),
    ((80.0, 1.0, 0.0), "positive"),
    ((40.0, 1.0, 0.5), "sigma_max"),
])
def test_bad_levels_are_config_errors(levels, word):
    with pytest.raises(ConfigError, match=word):
        SamplingConfig(sampler="euler", steps=3, sigma_max=80.0, levels=levels).validate()
