# ruff: noqa: RUF002  -- docstrings use Gunther's own Greek symbols; report strings stay ASCII.
"""The Universal Scalability Law, fitted to a run's tiers (used by :mod:`reports.capacity`).

Universal Scalability Law (N. J. Gunther, *Guerrilla Capacity Planning*, Springer 2007, ch. 4-6;
"A General Theory of Computational Scalability Based on Rational Functions", arXiv:0808.1431)::

    X(N) = λN / (1 + σ(N - 1) + κN(N - 1))

λ is the throughput of one unit of load, σ contention (the serial share: queueing on a lock, a pool, a
single Redis), κ coherency (crosstalk: every unit paying for every other). With κ > 0 throughput peaks at
N* = sqrt((1 - σ)/κ) and falls beyond it; with κ = 0 it is Amdahl's law and only approaches λ/σ.

N, the concurrency: by default the *offered* arrival rate (logins/s). Our arrivals are an open model,
so the offered rate is the independent variable we control and know exactly; Little's-law concurrency
(achieved rate x mean latency) grows with latency as the system saturates, which makes N a function of
the response being fitted. With N in logins/s, λ is the achieved/offered ratio at light load (about 1)
and N* is the offered rate beyond which throughput falls, comparable with the tiers directly. Callers
who prefer Little's law pass ``concurrency=`` (see :func:`littles_law_concurrency`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeWarning, curve_fit

FloatArray = NDArray[np.float64]

MIN_FIT_POINTS = 3
"""The USL has three parameters: fewer distinct loads cannot determine them."""

MAX_PEAK_EXTRAPOLATION = 10.0
"""A USL peak further than 10x the largest tested load is not supported by the data: reported as none."""

SIGNIFICANT_SE = 2.0
"""κ must exceed two standard errors before a USL peak is reported."""


@dataclass(frozen=True)
class UslFit:
    """Gunther's USL fitted by bounded least squares; standard errors are None when undetermined."""

    lam: float
    sigma: float
    kappa: float
    lam_se: float | None
    sigma_se: float | None
    kappa_se: float | None
    r_squared: float | None
    peak_concurrency: float | None
    peak_throughput: float | None
    points: int
    concurrency_basis: str
    notes: tuple[str, ...]

    def predict(self, n: float) -> float:
        return float(usl_throughput(np.asarray([n], dtype=float), self.lam, self.sigma, self.kappa)[0])


class UslFitError(ValueError):
    """The USL could not be fitted; the message says why, for the report's notes."""


def usl_throughput(n: FloatArray, lam: float, sigma: float, kappa: float) -> FloatArray:
    """X(N) = λN / (1 + σ(N-1) + κN(N-1)), Gunther's Universal Scalability Law."""
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def littles_law_concurrency(achieved_rps: Sequence[float], mean_latency_s: Sequence[float]) -> FloatArray:
    """L = X W (Little, 1961): journeys in flight, for callers who fit the USL on concurrency."""
    return np.asarray(achieved_rps, dtype=float) * np.asarray(mean_latency_s, dtype=float)


def fit_usl(
    concurrency: Sequence[float] | FloatArray,
    throughput: Sequence[float] | FloatArray,
    *,
    basis: str = "explicit",
) -> UslFit:
    """Fit the USL with σ in [0, 1] and κ, λ >= 0, as Gunther requires; raises :class:`UslFitError`."""
    n, x = _clean_xy(concurrency, throughput)
    p0 = _initial_guess(n, x)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            popt, pcov = curve_fit(
                usl_throughput, n, x, p0=p0, bounds=([0.0, 0.0, 0.0], [np.inf, 1.0, np.inf]), maxfev=20000
            )
    except (RuntimeError, ValueError) as exc:
        raise UslFitError(f"USL fit did not converge: {exc}") from exc
    lam, sigma, kappa = (float(v) for v in popt)
    if not all(math.isfinite(v) for v in (lam, sigma, kappa)):
        raise UslFitError("USL fit returned non-finite parameters")
    ses = _standard_errors(pcov)
    peak_n, peak_x, peak_notes = _usl_peak(lam, sigma, kappa, ses[2], float(n.max()))
    return UslFit(
        lam=lam,
        sigma=sigma,
        kappa=kappa,
        lam_se=ses[0],
        sigma_se=ses[1],
        kappa_se=ses[2],
        r_squared=_r_squared(x, usl_throughput(n, lam, sigma, kappa)),
        peak_concurrency=peak_n,
        peak_throughput=peak_x,
        points=int(n.size),
        concurrency_basis=basis,
        notes=peak_notes,
    )


def _clean_xy(
    concurrency: Sequence[float] | FloatArray, throughput: Sequence[float] | FloatArray
) -> tuple[FloatArray, FloatArray]:
    n = np.asarray(concurrency, dtype=float)
    x = np.asarray(throughput, dtype=float)
    if n.shape != x.shape or n.ndim != 1:
        raise UslFitError(f"concurrency and throughput differ in shape: {n.shape} vs {x.shape}")
    keep = np.isfinite(n) & np.isfinite(x) & (n > 0) & (x >= 0)
    n, x = n[keep], x[keep]
    distinct = np.unique(n).size
    if distinct < MIN_FIT_POINTS:
        raise UslFitError(f"USL fit needs at least {MIN_FIT_POINTS} distinct loads; got {distinct}")
    order = np.argsort(n)
    return n[order], x[order]


def _initial_guess(n: FloatArray, x: FloatArray) -> list[float]:
    """Gunther's linearisation N/C - 1 = σ(N-1) + κN(N-1), C = X/λ, solved by least squares."""
    lam0 = float(x[0] / n[0]) if x[0] > 0 else float(np.max(x / n))
    lam0 = max(lam0, 1e-9)
    deviation = n / np.maximum(x / lam0, 1e-12) - 1.0
    design = np.column_stack([n - 1.0, n * (n - 1.0)])
    (sigma0, kappa0), *_ = np.linalg.lstsq(design, deviation, rcond=None)
    return [lam0, float(np.clip(sigma0, 0.0, 0.99)), float(max(kappa0, 0.0))]


def _usl_peak(
    lam: float, sigma: float, kappa: float, kappa_se: float | None, n_max: float
) -> tuple[float | None, float | None, tuple[str, ...]]:
    """N* = sqrt((1-σ)/κ) and X(N*), or no peak with the reason why."""
    reason = _no_peak_reason(sigma, kappa, kappa_se, n_max)
    if reason is not None:
        return None, None, (reason,)
    peak = math.sqrt((1.0 - sigma) / kappa)
    return peak, float(usl_throughput(np.asarray([peak]), lam, sigma, kappa)[0]), ()


def _no_peak_reason(sigma: float, kappa: float, kappa_se: float | None, n_max: float) -> str | None:
    """A peak is reported only when the data support a retrograde region.

    None when κ is 0 (Amdahl's law), when κ is within two standard errors of 0 (noise alone makes a
    small κ; beyond two it is real with about 95% confidence), when σ = 1, or when N* lies beyond
    ``MAX_PEAK_EXTRAPOLATION`` times the largest tested load.
    """
    if kappa <= 0.0:
        return "USL kappa = 0: throughput approaches lambda/sigma with no peak (Amdahl's law)"
    if kappa_se is not None and kappa < SIGNIFICANT_SE * kappa_se:
        return f"USL kappa = {kappa:.3g} +/- {kappa_se:.2g} is not distinguishable from 0: no peak"
    if sigma >= 1.0:
        return "USL sigma = 1: fully serialised, no scaling beyond one unit of load"
    peak = math.sqrt((1.0 - sigma) / kappa)
    if peak > MAX_PEAK_EXTRAPOLATION * n_max:
        return f"USL peak N* = {peak:.3g} is beyond {MAX_PEAK_EXTRAPOLATION:g}x the largest tested load"
    return None


def _standard_errors(pcov: FloatArray) -> list[float | None]:
    diag = np.diag(np.asarray(pcov, dtype=float))
    return [float(math.sqrt(v)) if math.isfinite(v) and v >= 0 else None for v in diag]


def _r_squared(observed: FloatArray, predicted: FloatArray) -> float | None:
    total = float(np.sum((observed - observed.mean()) ** 2))
    if total == 0.0:
        return None
    return 1.0 - float(np.sum((observed - predicted) ** 2)) / total
