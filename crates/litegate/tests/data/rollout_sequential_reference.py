"""Reference values for tests/rollout_sequential.rs, computed independently
with SciPy (binomial log-pmfs, numerical integration, Fisher's exact test)
and statsmodels (the pooled z-test), once, into
rollout_sequential_vectors.json.

    python -m venv .cache/e-stats-venv
    .cache/e-stats-venv/bin/pip install scipy statsmodels
    .cache/e-stats-venv/bin/python crates/litegate/tests/data/rollout_sequential_reference.py
"""
import json
import math
import os

import numpy as np
import scipy
import statsmodels
from scipy import integrate, special, stats
from statsmodels.stats.proportion import proportions_ztest

# The odds ratios of the Bernoulli mixture (RATIO_GRID in sequential.rs).
GRID = [1.05, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5, 3.0, 5.0, 10.0, 30.0]


def bernoulli_mixture(x, y, p0, side):
    """ln of the mean over the grid of binom.pmf(x; x+y, p1) / binom.pmf(x; x+y, p0)."""
    odds0 = p0 / (1 - p0)
    terms = []
    for r in GRID:
        odds1 = odds0 * r if side == "greater" else odds0 / r
        p1 = odds1 / (1 + odds1)
        terms.append(stats.binom.logpmf(x, x + y, p1) - stats.binom.logpmf(x, x + y, p0))
    return float(special.logsumexp(terms) - math.log(len(GRID)))


def normal_mixture(d, v, tau, side):
    """ln of the integral over theta > 0 of the half-normal(tau) prior times
    the likelihood ratio exp((theta*s - theta^2/2)/v), by quadrature."""
    s = d if side == "greater" else -d
    def log_f(t):
        return math.log(2) + stats.norm.logpdf(t, 0, tau) + (t * s - t * t / 2) / v
    # Scale by the integrand's peak so that quad sees values near 1.
    peak_t = max(s / (1 + v / tau**2), 0.0)
    m = log_f(peak_t)
    val, _ = integrate.quad(lambda t: math.exp(log_f(t) - m), 0, np.inf, limit=500,
                            epsabs=0, epsrel=1e-12, points=None)
    return float(m + math.log(val))


out = {
    "generator": f"scipy {scipy.__version__}, statsmodels {statsmodels.__version__}, numpy {np.__version__}",
    "bernoulli_mixture": [],
    "normal_mixture": [],
    "log_normal_cdf": [],
    "tiny_counts": {},
}
for x, y, p0, side in [
    (0, 1000, 0.05, "greater"), (80, 920, 0.05, "greater"), (55, 945, 0.05, "greater"),
    (1, 0, 0.1, "greater"), (1, 0, 1 / 91, "greater"), (12, 88, 0.1, "greater"),
    (3, 97, 0.1, "less"), (400, 4600, 0.1, "greater"), (5, 5, 0.5, "less"),
    (800, 4500, 0.1, "greater"), (0, 50, 0.02, "greater"), (30, 5, 0.1, "greater"),
]:
    out["bernoulli_mixture"].append({"x": x, "y": y, "p0": p0, "side": side,
                                     "log_lr": bernoulli_mixture(x, y, p0, side)})
for d, v, tau, side in [
    (0.0, 1e-3, 0.1, "greater"), (0.05, 1e-3, 0.1, "greater"), (0.18, 4e-3, 0.1, "greater"),
    (-0.05, 1e-3, 0.1, "greater"), (-0.05, 1e-3, 0.1, "less"), (0.02, 1e-4, 0.1, "greater"),
    (0.3, 0.01, 0.2, "greater"), (-0.1, 2e-4, 0.05, "greater"),
]:
    out["normal_mixture"].append({"d": d, "v": v, "tau": tau, "side": side,
                                  "log_lr": normal_mixture(d, v, tau, side)})
for z in [3.0, 0.0, -5.0, -20.0, -29.0, -31.0, -40.0]:
    out["log_normal_cdf"].append({"z": z, "value": float(special.log_ndtr(z))})

# The issue's tiny-count case: 1 error in 10,000 treatment runs, 0 in 90,000.
z, p_z = proportions_ztest([1, 0], [10_000, 90_000], alternative="larger")
_, p_fisher = stats.fisher_exact([[1, 9_999], [0, 90_000]], alternative="greater")
p_cond = stats.binomtest(1, 1, 10_000 / 100_000, alternative="greater").pvalue
out["tiny_counts"] = {"z": float(z), "p_z": float(p_z), "p_fisher": float(p_fisher),
                      "p_conditional_binomial": float(p_cond)}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rollout_sequential_vectors.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(json.dumps(out["tiny_counts"]))
