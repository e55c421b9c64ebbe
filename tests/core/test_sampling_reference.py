"""The few-step samplers against reference implementations, on a toy denoiser and fixed sigma lists.

The references below are small test-only transcriptions of published code, in its own form (tensor
sigmas, a ``model(x, sigma * s_in)`` call, the source's variable names), kept apart from the package:

- ``reference_dpmpp_3m``: k-diffusion's ``sample_dpmpp_3m_sde`` (crowsonkb/k-diffusion,
  ``k_diffusion/sampling.py`` at commit 4601bf0, MIT licence), with ``eta = 0`` so that its noise term
  drops out (the progress bar, callback and noise sampler are left out).
- ``reference_ipndm`` and ``reference_ipndm_v``: iPNDM and iPNDM-v from zju-pi/diff-sampler
  (``diff-solvers-main/solvers.py``, Apache-2.0), in the k-diffusion form ComfyUI gives them
  (``comfy/k_diffusion/sampling.py``: ``sample_ipndm``, ``sample_ipndm_v``): the sigma list ends in 0 and
  the step onto 0 returns the denoised image.

Ours (``tui_denoiser.core.sampling``) take float sigmas and yield every step; the final images must
agree to float32 rounding.
"""

from __future__ import annotations

import math

import pytest
import torch

from tui_denoiser.core.sampling import sample_dpm2m, sample_dpm3m, sample_ipndm, sample_ipndm_v


# -- the references (test only) -----------------------------------------------------------------------
@torch.no_grad()
def reference_dpmpp_3m(model, x, sigmas, eta=0.0):
    """k-diffusion ``sample_dpmpp_3m_sde`` (MIT), eta = 0."""
    s_in = x.new_ones([x.shape[0]])
    denoised_1, denoised_2 = None, None
    h_1, h_2 = None, None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        if sigmas[i + 1] == 0:
            # Denoising step
            x = denoised
        else:
            t, s = -sigmas[i].log(), -sigmas[i + 1].log()
            h = s - t
            h_eta = h * (eta + 1)
            x = torch.exp(-h_eta) * x + (-h_eta).expm1().neg() * denoised
            if h_2 is not None:
                r0 = h_1 / h
                r1 = h_2 / h
                d1_0 = (denoised - denoised_1) / r0
                d1_1 = (denoised_1 - denoised_2) / r1
                d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
                d2 = (d1_0 - d1_1) / (r0 + r1)
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                phi_3 = phi_2 / h_eta - 0.5
                x = x + phi_2 * d1 - phi_3 * d2
            elif h_1 is not None:
                r = h_1 / h
                d = (denoised - denoised_1) / r
                phi_2 = h_eta.neg().expm1() / h_eta + 1
                x = x + phi_2 * d
        denoised_1, denoised_2 = denoised, denoised_1
        h_1, h_2 = h, h_1
    return x


@torch.no_grad()
def reference_ipndm(model, x, sigmas, max_order=4):
    """zju-pi/diff-sampler iPNDM (Apache-2.0), as ComfyUI's ``sample_ipndm``."""
    s_in = x.new_ones([x.shape[0]])
    x_next = x
    buffer_model = []
    for i in range(len(sigmas) - 1):
        t_cur = sigmas[i]
        t_next = sigmas[i + 1]
        x_cur = x_next
        denoised = model(x_cur, t_cur * s_in)
        d_cur = (x_cur - denoised) / t_cur
        order = min(max_order, i + 1)
        if t_next == 0:     # Denoising step
            x_next = denoised
        elif order == 1:    # First Euler step.
            x_next = x_cur + (t_next - t_cur) * d_cur
        elif order == 2:    # Use one history point.
            x_next = x_cur + (t_next - t_cur) * (3 * d_cur - buffer_model[-1]) / 2
        elif order == 3:    # Use two history points.
            x_next = x_cur + (t_next - t_cur) * (23 * d_cur - 16 * buffer_model[-1] + 5 * buffer_model[-2]) / 12
        elif order == 4:    # Use three history points.
            x_next = x_cur + (t_next - t_cur) * (55 * d_cur - 59 * buffer_model[-1] + 37 * buffer_model[-2]
                                                 - 9 * buffer_model[-3]) / 24
        if len(buffer_model) == max_order - 1:
            for k in range(max_order - 2):
                buffer_model[k] = buffer_model[k + 1]
            buffer_model[-1] = d_cur
        else:
            buffer_model.append(d_cur)
    return x_next


@torch.no_grad()
def reference_ipndm_v(model, x, sigmas, max_order=4):
    """zju-pi/diff-sampler iPNDM-v (Apache-2.0), as ComfyUI's ``sample_ipndm_v``."""
    s_in = x.new_ones([x.shape[0]])
    x_next = x
    t_steps = sigmas
    buffer_model = []
    for i in range(len(sigmas) - 1):
        t_cur = sigmas[i]
        t_next = sigmas[i + 1]
        x_cur = x_next
        denoised = model(x_cur, t_cur * s_in)
        d_cur = (x_cur - denoised) / t_cur
        order = min(max_order, i + 1)
        if t_next == 0:     # Denoising step
            x_next = denoised
        elif order == 1:    # First Euler step.
            x_next = x_cur + (t_next - t_cur) * d_cur
        elif order == 2:    # Use one history point.
            h_n = (t_next - t_cur)
            h_n_1 = (t_cur - t_steps[i - 1])
            coeff1 = (2 + (h_n / h_n_1)) / 2
            coeff2 = -(h_n / h_n_1) / 2
            x_next = x_cur + (t_next - t_cur) * (coeff1 * d_cur + coeff2 * buffer_model[-1])
        elif order == 3:    # Use two history points.
            h_n = (t_next - t_cur)
            h_n_1 = (t_cur - t_steps[i - 1])
            h_n_2 = (t_steps[i - 1] - t_steps[i - 2])
            temp = (1 - h_n / (3 * (h_n + h_n_1)) * (h_n * (h_n + h_n_1)) / (h_n_1 * (h_n_1 + h_n_2))) / 2
            coeff1 = (2 + (h_n / h_n_1)) / 2 + temp
            coeff2 = -(h_n / h_n_1) / 2 - (1 + h_n_1 / h_n_2) * temp
            coeff3 = temp * h_n_1 / h_n_2
            x_next = x_cur + (t_next - t_cur) * (coeff1 * d_cur + coeff2 * buffer_model[-1]
                                                 + coeff3 * buffer_model[-2])
        elif order == 4:    # Use three history points.
            h_n = (t_next - t_cur)
            h_n_1 = (t_cur - t_steps[i - 1])
            h_n_2 = (t_steps[i - 1] - t_steps[i - 2])
            h_n_3 = (t_steps[i - 2] - t_steps[i - 3])
            temp1 = (1 - h_n / (3 * (h_n + h_n_1)) * (h_n * (h_n + h_n_1)) / (h_n_1 * (h_n_1 + h_n_2))) / 2
            temp2 = ((1 - h_n / (3 * (h_n + h_n_1))) / 2 + (1 - h_n / (2 * (h_n + h_n_1))) * h_n
                     / (6 * (h_n + h_n_1 + h_n_2))) \
                * (h_n * (h_n + h_n_1) * (h_n + h_n_1 + h_n_2)) / (h_n_1 * (h_n_1 + h_n_2) * (h_n_1 + h_n_2 + h_n_3))
            coeff1 = (2 + (h_n / h_n_1)) / 2 + temp1 + temp2
            coeff2 = -(h_n / h_n_1) / 2 - (1 + h_n_1 / h_n_2) * temp1 - (
                1 + (h_n_1 / h_n_2) + (h_n_1 * (h_n_1 + h_n_2) / (h_n_2 * (h_n_2 + h_n_3)))) * temp2
            coeff3 = temp1 * h_n_1 / h_n_2 + ((h_n_1 / h_n_2) + (h_n_1 * (h_n_1 + h_n_2) / (h_n_2 * (h_n_2 + h_n_3)))
                                              * (1 + h_n_2 / h_n_3)) * temp2
            coeff4 = -temp2 * (h_n_1 * (h_n_1 + h_n_2) / (h_n_2 * (h_n_2 + h_n_3))) * h_n_1 / h_n_2
            x_next = x_cur + (t_next - t_cur) * (coeff1 * d_cur + coeff2 * buffer_model[-1]
                                                 + coeff3 * buffer_model[-2] + coeff4 * buffer_model[-3])
        if len(buffer_model) == max_order - 1:
            for k in range(max_order - 2):
                buffer_model[k] = buffer_model[k + 1]
            buffer_model[-1] = d_cur.detach()
        else:
            buffer_model.append(d_cur.detach())
    return x_next


@torch.no_grad()
def reference_dpmpp_2m(model, x, sigmas):
    """k-diffusion ``sample_dpmpp_2m`` (MIT): the check for the toy setup, against our existing dpm2m."""
    s_in = x.new_ones([x.shape[0]])
    sigma_fn = lambda t: t.neg().exp()  # noqa: E731
    t_fn = lambda sigma: sigma.log().neg()  # noqa: E731
    old_denoised = None
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i] * s_in)
        t, t_next = t_fn(sigmas[i]), t_fn(sigmas[i + 1])
        h = t_next - t
        if old_denoised is None or sigmas[i + 1] == 0:
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised
        else:
            h_last = t - t_fn(sigmas[i - 1])
            r = h_last / h
            denoised_d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old_denoised
            x = (sigma_fn(t_next) / sigma_fn(t)) * x - (-h).expm1() * denoised_d
        old_denoised = denoised
    return x


# -- the toy setup ------------------------------------------------------------------------------------
def toy_denoiser(x: torch.Tensor, sigma) -> torch.Tensor:
    """A smooth, nonlinear D(x, sigma) whose history terms all matter: the Gaussian posterior mean
    (s = 0.6) bent by a sigma-dependent tanh and a fixed pattern."""
    sigma = torch.as_tensor(sigma, dtype=x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    s2 = 0.36
    pattern = torch.linspace(-0.5, 0.5, x[0].numel(), dtype=x.dtype).reshape(x.shape[1:])
    bend = 0.3 * torch.tanh(x / (1 + sigma)) * sigma / (1 + sigma)
    return s2 / (s2 + sigma**2) * x + bend + 0.2 * pattern / (1 + sigma)


def _karras(n: int, sigma_min: float, sigma_max: float) -> list[float]:
    lo, hi = sigma_min ** (1 / 7), sigma_max ** (1 / 7)
    return [(hi + i / (n - 1) * (lo - hi)) ** 7 for i in range(n)] + [0.0]


SIGMA_LISTS = {
    "karras-8": _karras(8, 0.002, 80.0),
    "karras-4": _karras(4, 0.1, 80.0),
    "karras-2": _karras(2, 1.5, 80.0),
    "hand-5": [80.0, 9.0, 2.5, 0.7, 0.15, 0.0],  # uneven, as a tuned schedule is
    "one": [80.0, 0.0],
}

PAIRS = {
    "dpm3m": (sample_dpm3m, reference_dpmpp_3m),
    "ipndm": (sample_ipndm, reference_ipndm),
    "ipndm-v": (sample_ipndm_v, reference_ipndm_v),
    "dpm2m": (sample_dpm2m, reference_dpmpp_2m),
}


def _ours(run, x, sigmas):
    calls = []

    def denoise(x, sigma):
        calls.append(sigma)
        return toy_denoiser(x, sigma)

    frames = list(run(denoise, x, sigmas, generator=torch.Generator().manual_seed(0)))
    return frames, calls


@pytest.mark.parametrize("name", sorted(PAIRS))
@pytest.mark.parametrize("schedule", sorted(SIGMA_LISTS))
def test_sampler_matches_its_reference(name, schedule):
    ours, reference = PAIRS[name]
    sigmas = SIGMA_LISTS[schedule]
    if name == "dpm3m" and schedule == "one":
        pytest.skip("k-diffusion's 3M reads h before it is set when the first step lands on 0 (ours: x <- D)")
    x = torch.randn((3, 1, 6, 6), generator=torch.Generator().manual_seed(7), dtype=torch.float64) * sigmas[0]
    frames, calls = _ours(ours, x.clone(), sigmas)
    expected = reference(toy_denoiser, x.clone(), torch.tensor(sigmas, dtype=torch.float64))
    assert len(frames) == len(sigmas) - 1 and calls == sigmas[:-1]  # one call a step, at each level
    torch.testing.assert_close(frames[-1], expected, rtol=1e-10, atol=1e-10)
    # and in float32, as the app runs them
    frames32, _ = _ours(ours, x.float(), sigmas)
    torch.testing.assert_close(frames32[-1], expected.float(), rtol=1e-4, atol=1e-4)


def test_the_references_differ_from_each_other_on_this_setup():
    """The toy denoiser is nonlinear enough that the orders and coefficients show: a check that the
    comparison above could fail."""
    sigmas = torch.tensor(SIGMA_LISTS["hand-5"], dtype=torch.float64)
    x = torch.randn((3, 1, 6, 6), generator=torch.Generator().manual_seed(7), dtype=torch.float64) * 80
    finals = {name: ref(toy_denoiser, x.clone(), sigmas) for name, (_, ref) in PAIRS.items()}
    names = sorted(finals)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert (finals[a] - finals[b]).abs().max() > 1e-4, (a, b)


def test_ipndm_v_equals_ipndm_on_equal_steps():
    """With equal steps the variable coefficients are Adams-Bashforth's fixed ones up to order 3 (the
    source's order-4 term is not AB4's: 57/24 for 55/24), so the first three steps agree."""
    sigmas = [5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    x = torch.randn((2, 1, 4, 4), generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 5
    a, _ = _ours(sample_ipndm, x.clone(), sigmas)
    b, _ = _ours(sample_ipndm_v, x.clone(), sigmas)
    for k in range(3):  # the steps of order 1, 2 and 3
        torch.testing.assert_close(a[k], b[k], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(a[3], b[3], rtol=1e-6, atol=1e-6)  # order 4
    assert math.isfinite(float(b[-1].abs().max()))
