"""Adams-Bashforth coefficients for the iPNDM samplers (core/sampling.py): the multistep rule that
combines this step's slope with up to three earlier ones. Plain arithmetic, no torch."""

from __future__ import annotations

# Adams-Bashforth coefficients for equal steps, newest slope first: iPNDM's multistep rule of order 1..4.
EQUAL_STEP_COEFFS = ((1.0,), (3 / 2, -1 / 2), (23 / 12, -16 / 12, 5 / 12), (55 / 24, -59 / 24, 37 / 24, -9 / 24))


def variable_step_coeffs(sigmas: list[float], k: int, order: int) -> tuple[float, ...]:
    """Adams-Bashforth coefficients of the step from ``sigmas[k]`` to ``sigmas[k + 1]`` for unequal
    steps (iPNDM-v, as zju-pi/diff-sampler writes it), newest slope first. On equal steps orders 1-3 are
    Adams-Bashforth's; that source's order 4 is not quite (57/24 where AB4 has 55/24), kept as written."""
    h = sigmas[k + 1] - sigmas[k]
    if order == 1:
        return (1.0,)
    h1 = sigmas[k] - sigmas[k - 1]
    c1, c2 = (2 + h / h1) / 2, -(h / h1) / 2
    if order == 2:
        return (c1, c2)
    h2 = sigmas[k - 1] - sigmas[k - 2]
    t1 = (1 - h / (3 * (h + h1)) * (h * (h + h1)) / (h1 * (h1 + h2))) / 2
    if order == 3:
        return (c1 + t1, c2 - (1 + h1 / h2) * t1, t1 * h1 / h2)
    h3 = sigmas[k - 2] - sigmas[k - 3]
    t2 = (((1 - h / (3 * (h + h1))) / 2 + (1 - h / (2 * (h + h1))) * h / (6 * (h + h1 + h2)))
          * (h * (h + h1) * (h + h1 + h2)) / (h1 * (h1 + h2) * (h1 + h2 + h3)))
    q = h1 * (h1 + h2) / (h2 * (h2 + h3))
    return (c1 + t1 + t2, c2 - (1 + h1 / h2) * t1 - (1 + h1 / h2 + q) * t2,
            t1 * h1 / h2 + (h1 / h2 + q * (1 + h2 / h3)) * t2, -t2 * q * h1 / h2)
