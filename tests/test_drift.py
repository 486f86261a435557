"""Drift statistics, checked against values computed by hand and against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from utils.data import load_dataset
from utils.drift import (
    EPSILON,
    drift_report,
    ks_test,
    psi,
    psi_categorical,
    psi_from_shares,
)

# (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
HALF_TO_QUARTER = 0.25 * math.log(2) + 0.25 * math.log(1.5)


def test_psi_from_shares_by_hand() -> None:
    assert psi_from_shares(np.array([0.5, 0.5]), np.array([0.25, 0.75])) == pytest.approx(
        HALF_TO_QUARTER
    )
    assert psi_from_shares(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0


def test_numeric_psi_uses_reference_quantiles() -> None:
    # Two bins split at the reference median 2.5: reference 2|2, current 1|3.
    assert psi([1, 2, 3, 4], [1, 4, 4, 4], bins=2) == pytest.approx(HALF_TO_QUARTER)
    assert psi(np.arange(100), np.arange(100)) == 0


def test_categorical_psi_by_hand_and_with_a_new_category() -> None:
    assert psi_categorical(list("aabb"), list("abbb")) == pytest.approx(HALF_TO_QUARTER)
    new = 0.5 * math.log(2) + (0.5 - EPSILON) * math.log(0.5 / EPSILON)
    assert psi_categorical(["a", "a"], ["a", "c"]) == pytest.approx(new)


def test_ks_by_hand_and_against_scipy() -> None:
    assert ks_test([1, 2, 3], [4, 5, 6])[0] == 1.0
    assert ks_test([1, 2, 3, 4], [3, 4, 5, 6])[0] == 0.5
    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, 500), rng.normal(0.3, 1, 400)
    expected = stats.ks_2samp(a, b)
    assert ks_test(a, b) == pytest.approx((expected.statistic, expected.pvalue))


def test_bad_input_is_explained() -> None:
    with pytest.raises(TypeError, match="reference must hold numbers"):
        psi(["a", "b"], [1.0, 2.0])
    with pytest.raises(ValueError, match="current holds no finite values"):
        psi([1.0, 2.0], [np.nan])
    with pytest.raises(ValueError, match="bins must be at least 2"):
        psi([1.0, 2.0], [1.0], bins=1)
    with pytest.raises(KeyError, match="lacks the columns"):
        drift_report(load_dataset("monthly/2025-01"), load_dataset("monthly/2025-02"), ["nope"])


def test_the_price_change_drifts_the_fee_and_quiet_months_do_not() -> None:
    january = load_dataset("monthly/2025-01")
    quiet = drift_report(january, load_dataset("monthly/2025-02"), ["monthly_fee"], ["plan"])
    after = drift_report(january, load_dataset("monthly/2025-08"), ["monthly_fee"], ["plan"])
    assert not quiet["drifted"].any(), quiet
    fee = after.set_index("feature").loc["monthly_fee"]
    assert fee["drifted"] and fee["psi"] > 0.25 and fee["ks_statistic"] > 0.1
