"""The USL fit (reports/usl.py) on data whose parameters are known in advance."""

import math

import numpy as np
import pytest

from reports.usl import UslFitError, fit_usl, usl_throughput

LAM, SIGMA, KAPPA = 100.0, 0.05, 0.0005
LOADS = np.array([1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 80, 100], dtype=float)


def noisy_usl(lam: float, sigma: float, kappa: float, seed: int, noise: float = 0.01) -> np.ndarray:
    rng = np.random.RandomState(seed)
    return usl_throughput(LOADS, lam, sigma, kappa) * (1.0 + rng.normal(0.0, noise, LOADS.size))


def test_fit_recovers_known_usl_parameters() -> None:
    fit = fit_usl(LOADS, noisy_usl(LAM, SIGMA, KAPPA, seed=7))
    assert fit.lam == pytest.approx(LAM, rel=0.05)
    assert fit.sigma == pytest.approx(SIGMA, abs=0.01)
    assert fit.kappa == pytest.approx(KAPPA, rel=0.1)
    assert fit.r_squared is not None and fit.r_squared > 0.99
    assert None not in (fit.lam_se, fit.sigma_se, fit.kappa_se)


def test_fit_reports_the_retrograde_peak() -> None:
    fit = fit_usl(LOADS, noisy_usl(LAM, SIGMA, KAPPA, seed=7))
    true_peak = math.sqrt((1 - SIGMA) / KAPPA)
    assert fit.peak_concurrency == pytest.approx(true_peak, rel=0.1)
    true_x = float(usl_throughput(np.array([true_peak]), LAM, SIGMA, KAPPA)[0])
    assert fit.peak_throughput == pytest.approx(true_x, rel=0.05)
    assert fit.peak_concurrency is not None and fit.peak_throughput is not None
    assert fit.predict(fit.peak_concurrency) == pytest.approx(fit.peak_throughput)
    assert fit.predict(fit.peak_concurrency * 1.5) < fit.peak_throughput


def test_amdahl_data_has_no_peak() -> None:
    fit = fit_usl(LOADS, noisy_usl(LAM, SIGMA, 0.0, seed=7))
    assert fit.peak_concurrency is None
    assert fit.peak_throughput is None
    assert fit.sigma == pytest.approx(SIGMA, abs=0.01)
    assert any("kappa" in note for note in fit.notes)


def test_noise_free_amdahl_has_no_peak() -> None:
    fit = fit_usl(LOADS, usl_throughput(LOADS, LAM, SIGMA, 0.0))
    assert fit.kappa == pytest.approx(0.0, abs=1e-9)
    assert fit.peak_concurrency is None


def test_peak_far_beyond_tested_loads_is_not_reported() -> None:
    """κ = 1e-7 puts N* near 3,100: thirty times the largest load tested, so not claimed."""
    fit = fit_usl(LOADS, usl_throughput(LOADS, LAM, SIGMA, 1e-7))
    assert fit.peak_concurrency is None
    assert any("beyond" in note for note in fit.notes)


def test_fit_with_too_few_distinct_loads_raises_its_own_error() -> None:
    with pytest.raises(UslFitError, match="at least 3"):
        fit_usl([10.0, 10.0, 20.0], [9.0, 9.5, 18.0])
