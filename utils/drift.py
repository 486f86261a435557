"""Data drift statistics: the population stability index (PSI) and the KS test.

MLflow records metrics but computes no drift for classic ML, so the monitoring lessons
compute drift here and log it to MLflow as metrics. Introduced in notebook 13.

Rules of thumb for PSI: below 0.1 the feature is stable, 0.1-0.25 it moved moderately,
above 0.25 it moved a lot and deserves a look.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

PSI_MODERATE: float = 0.1
PSI_MAJOR: float = 0.25
#: Share given to an empty bin so that the logarithm stays finite.
EPSILON: float = 1e-4


def _as_array(values: Sequence[float] | pd.Series | np.ndarray, label: str) -> np.ndarray:
    """Return finite numeric values as a float array, or explain what is wrong."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{label} must hold numbers ({exc})") from None
    array = array[np.isfinite(array)]
    if array.size == 0:
        raise ValueError(f"{label} holds no finite values")
    return array


def psi_from_shares(expected: np.ndarray, actual: np.ndarray) -> float:
    """Return the PSI of two share vectors over the same bins.

    ``PSI = sum((actual - expected) * ln(actual / expected))``, with empty bins given
    :data:`EPSILON` so that the logarithm stays finite.

    Args:
        expected: Shares of the reference data in each bin (summing to 1).
        actual: Shares of the current data in the same bins.

    Returns:
        The index, 0 when the shares are equal.
    """
    expected = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    actual = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi(
    reference: Sequence[float] | pd.Series | np.ndarray,
    current: Sequence[float] | pd.Series | np.ndarray,
    bins: int = 10,
) -> float:
    """Return the PSI of a numeric feature, with bins at the reference's quantiles.

    Args:
        reference: The feature's values in the reference period (e.g. training data).
        current: Its values in the period to check.
        bins: How many quantile bins of the reference to compare.

    Returns:
        The population stability index (0 = same distribution).

    Raises:
        TypeError: A sample holds non-numeric values.
        ValueError: A sample is empty, or ``bins`` is below 2.
    """
    if bins < 2:
        raise ValueError(f"bins must be at least 2, got {bins}")
    ref = _as_array(reference, "reference")
    cur = _as_array(current, "current")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    expected = np.histogram(ref, edges)[0] / ref.size
    actual = np.histogram(cur, edges)[0] / cur.size
    return psi_from_shares(expected, actual)


def psi_categorical(reference: Sequence[object], current: Sequence[object]) -> float:
    """Return the PSI of a categorical feature, one bin per category.

    Args:
        reference: The feature's values in the reference period.
        current: Its values in the period to check; a category unseen in the reference
            gets its own bin.

    Returns:
        The population stability index.
    """
    ref = pd.Series(reference).astype("object")
    cur = pd.Series(current).astype("object")
    if ref.empty or cur.empty:
        raise ValueError("both samples need at least one value")
    categories = sorted(set(ref.dropna()) | set(cur.dropna()), key=str)
    expected = ref.value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
    actual = cur.value_counts(normalize=True).reindex(categories, fill_value=0).to_numpy()
    return psi_from_shares(expected, actual)


def ks_test(
    reference: Sequence[float] | pd.Series | np.ndarray,
    current: Sequence[float] | pd.Series | np.ndarray,
) -> tuple[float, float]:
    """Return the two-sample Kolmogorov-Smirnov statistic and its p-value.

    The statistic is the largest gap between the two empirical distribution functions.
    With thousands of rows even a tiny, harmless shift gets a small p-value, so read the
    statistic (and the PSI) for size, the p-value only for "is it noise?".

    Args:
        reference: The feature's values in the reference period.
        current: Its values in the period to check.

    Returns:
        ``(statistic, p_value)``.
    """
    result = stats.ks_2samp(_as_array(reference, "reference"), _as_array(current, "current"))
    return float(result.statistic), float(result.pvalue)


def drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str] = (),
    threshold: float = PSI_MAJOR,
) -> pd.DataFrame:
    """Compare every feature of two frames.

    Args:
        reference: The reference data (e.g. the training months).
        current: The data to check (e.g. one production month).
        numeric: Numeric columns: PSI and KS.
        categorical: Categorical columns: PSI over categories.
        threshold: PSI above which a feature is flagged as drifted.

    Returns:
        One row per feature: ``feature``, ``kind``, ``psi``, ``ks_statistic``,
        ``ks_p_value`` (missing for categorical features) and ``drifted``.

    Raises:
        KeyError: A column is missing from one of the frames.
    """
    wanted = [*numeric, *categorical]
    for label, frame in (("reference", reference), ("current", current)):
        missing = [c for c in wanted if c not in frame.columns]
        if missing:
            raise KeyError(f"the {label} frame lacks the columns {missing}")
    rows = []
    for column in numeric:
        statistic, p_value = ks_test(reference[column], current[column])
        rows.append({"feature": column, "kind": "numeric",
                     "psi": psi(reference[column], current[column]),
                     "ks_statistic": statistic, "ks_p_value": p_value})  # fmt: skip
    for column in categorical:
        rows.append({"feature": column, "kind": "categorical",
                     "psi": psi_categorical(reference[column], current[column]),
                     "ks_statistic": np.nan, "ks_p_value": np.nan})  # fmt: skip
    report = pd.DataFrame(rows)
    report["drifted"] = report["psi"] > threshold
    return report
