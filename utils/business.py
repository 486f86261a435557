"""The business side of StreamCo's retention campaign: costs, profit and thresholds.

Every month the retention team may send a discount offer to some customers. A churn
model gives each customer a score (the probability of cancelling next month); the team
contacts the customers whose score reaches a **threshold**. This module turns the
campaign's economics into numbers a model can be judged by:

- :class:`CampaignCosts` holds the assumptions (what an offer costs, what a saved
  customer is worth, how often an offer saves a churner, how many customers the team
  can contact a month) and :func:`cost_matrix` shows them as a cost/benefit matrix;
- :func:`expected_profit` and :func:`profit_curve` give the profit of a threshold on
  labelled data, :func:`best_threshold` picks the most profitable one within the budget,
  :func:`break_even_threshold` the score above which an offer pays for itself;
- :func:`baseline_contacts` gives the no-ML rules a model must beat (nobody, everyone,
  month-to-month contracts, a random sample);
- :func:`kpi_targets` converts a business goal (cut churn by so many points) into the ML
  metrics the model must reach (recall, precision at the budget).

Profit is always counted **against doing nothing**: a customer who is not contacted adds
0, whether they churn or not. Introduced in notebook 01; used again in lab 01 and in
notebooks 06, 12 and 14.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "BASELINE_RULES",
    "DEFAULT_COSTS",
    "CampaignCosts",
    "baseline_contacts",
    "best_threshold",
    "break_even_threshold",
    "budget_threshold",
    "confusion_counts",
    "contact_share",
    "cost_matrix",
    "decision_profit",
    "expected_profit",
    "kpi_targets",
    "precision_at_budget",
    "profit_curve",
    "threshold_grid",
]


@dataclass(frozen=True)
class CampaignCosts:
    """The economics of one month of the retention campaign (all money in USD).

    The defaults are the course's assumptions, stated once here and reused everywhere:

    - an offer is a 10 USD credit on the next bill; every contacted customer takes it,
      whether they were going to leave or not (``offer_cost``);
    - a customer pays about 14 USD a month (the datasheet's mean ``monthly_fee`` is
      13-15 USD) and a churner who is saved stays about 7 more months, so a lost customer
      costs 7 months of fee, about 98 USD (``monthly_fee`` x ``months_kept``);
    - an offer keeps 35 % of the churners who receive it (``save_rate``); it changes
      nothing for customers who were staying anyway;
    - the team can handle offers for at most 15 % of the customers a month, about 1,000
      of StreamCo's 6,700 (``max_contact_share``).

    Attributes:
        offer_cost: Cost of one offer, paid for every contacted customer.
        monthly_fee: Average monthly fee of a customer.
        months_kept: Months of fee a saved churner goes on paying.
        save_rate: Share of contacted churners whom the offer keeps (0-1].
        max_contact_share: Largest share of customers that may be contacted in a month.
    """

    offer_cost: float = 10.0
    monthly_fee: float = 14.0
    months_kept: float = 7.0
    save_rate: float = 0.35
    max_contact_share: float = 0.15

    def __post_init__(self) -> None:
        """Refuse assumptions that make no sense, naming the field and the fix."""
        for name in ("offer_cost", "monthly_fee", "months_kept", "save_rate", "max_contact_share"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if self.offer_cost < 0:
            raise ValueError(f"offer_cost must be >= 0 USD, got {self.offer_cost}")
        if self.monthly_fee <= 0 or self.months_kept <= 0:
            raise ValueError("monthly_fee and months_kept must be > 0")
        if not 0 < self.save_rate <= 1:
            raise ValueError(f"save_rate is a share in (0, 1], got {self.save_rate}")
        if not 0 < self.max_contact_share <= 1:
            raise ValueError(
                f"max_contact_share is a share in (0, 1], got {self.max_contact_share}"
            )

    @property
    def customer_value(self) -> float:
        """What a lost customer costs: the fees of the months they would have stayed."""
        return round(self.monthly_fee * self.months_kept, 10)

    @property
    def churner_gain(self) -> float:
        """Expected gain of contacting a churner: the saved value minus the offer."""
        return round(self.save_rate * self.customer_value - self.offer_cost, 10)

    def as_dict(self) -> dict[str, float]:
        """The assumptions and the two derived values, e.g. to log with MLflow."""
        return {
            **asdict(self),
            "customer_value": self.customer_value,
            "churner_gain": self.churner_gain,
        }


#: The course's campaign assumptions (see :class:`CampaignCosts`).
DEFAULT_COSTS = CampaignCosts()

#: The no-ML rules of :func:`baseline_contacts`.
BASELINE_RULES: tuple[str, ...] = ("nobody", "everyone", "month_to_month", "random")

# Spellings of month-to-month found in the raw export (see datasets/answer_key.json).
_MONTH_TO_MONTH = {"month-to-month", "month to month", "m2m", "monthly"}


def _check_costs(costs: object) -> CampaignCosts:
    if not isinstance(costs, CampaignCosts):
        raise TypeError(
            f"costs must be a CampaignCosts, got {type(costs).__name__}; "
            "use DEFAULT_COSTS or CampaignCosts(offer_cost=..., ...)"
        )
    return costs


def _as_array(values: object, name: str) -> np.ndarray:
    """Turn a list, Series or array into a 1-D float array, or say what is wrong."""
    if isinstance(values, str | bytes) or not isinstance(
        values, Sequence | np.ndarray | pd.Series | pd.Index
    ):
        raise TypeError(
            f"{name} must be a list, NumPy array or pandas Series of numbers, "
            f"got {type(values).__name__}"
        )
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold numbers only") from None
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be one-dimensional, got shape {array.shape}; "
            "for predict_proba output take the churn column, e.g. proba[:, 1]"
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    return array


def _labels(y_true: object) -> np.ndarray:
    y = _as_array(y_true, "y_true")
    if not np.isin(y, (0, 1)).all():
        odd = sorted(set(np.unique(y[~np.isin(y, (0, 1))]).tolist()))[:3]
        raise ValueError(f"y_true must hold 0 (stays) and 1 (churns) only; found {odd}")
    return y.astype(int)


def _scores(scores: object, name: str = "scores") -> np.ndarray:
    s = _as_array(scores, name)
    outside = np.isnan(s) | (s < 0) | (s > 1)
    if outside.any():
        example = s[outside][0]
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; {int(outside.sum())} are not "
            f"(e.g. {example}). Use predict_proba(X)[:, 1], not predict or decision_function"
        )
    return s


def _pair(y_true: object, scores: object) -> tuple[np.ndarray, np.ndarray]:
    y, s = _labels(y_true), _scores(scores)
    if len(y) != len(s):
        raise ValueError(
            f"y_true has {len(y)} values but scores has {len(s)}; "
            "they must describe the same customers, in the same order"
        )
    return y, s


def _threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise TypeError(f"threshold must be a number in [0, 1], got {type(threshold).__name__}")
    if not 0 <= float(threshold) <= 1:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    return float(threshold)


def cost_matrix(costs: CampaignCosts = DEFAULT_COSTS) -> pd.DataFrame:
    """Show what each decision is worth per customer, compared with doing nothing.

    Args:
        costs: The campaign's assumptions.

    Returns:
        A 2 x 2 DataFrame in USD per customer: rows ``churns`` and ``stays`` (what the
        customer would do without an offer), columns ``contact`` and ``do not contact``.
        Contacting a churner gains ``save_rate * customer_value - offer_cost``; contacting
        a customer who stays loses the offer; not contacting changes nothing.

    Raises:
        TypeError: If ``costs`` is not a :class:`CampaignCosts`.
    """
    costs = _check_costs(costs)
    return pd.DataFrame(
        {"contact": [costs.churner_gain, -costs.offer_cost], "do not contact": [0.0, 0.0]},
        index=pd.Index(["churns", "stays"], name="customer"),
    )


def break_even_threshold(costs: CampaignCosts = DEFAULT_COSTS) -> float:
    """Return the churn probability above which an offer pays for itself.

    Contacting a customer with churn probability ``p`` is worth
    ``p * save_rate * customer_value - offer_cost`` on average, which is positive when
    ``p > offer_cost / (save_rate * customer_value)``. It holds for calibrated
    probabilities and ignores the budget.

    Args:
        costs: The campaign's assumptions.

    Returns:
        The break-even probability, capped at 1.0 (an offer that never pays).

    Raises:
        TypeError: If ``costs`` is not a :class:`CampaignCosts`.
    """
    costs = _check_costs(costs)
    return min(1.0, costs.offer_cost / (costs.save_rate * costs.customer_value))


def confusion_counts(y_true: object, contacted: object) -> dict[str, int]:
    """Count the four outcomes of a contact decision.

    Args:
        y_true: 1 for customers who churned, 0 for those who stayed.
        contacted: True (or 1) for the customers contacted, aligned with ``y_true``.

    Returns:
        ``{"tp": ..., "fp": ..., "fn": ..., "tn": ...}``: churners contacted, stayers
        contacted, churners missed, stayers left alone.

    Raises:
        TypeError: If an argument is not a list, array or Series of numbers.
        ValueError: If the lengths differ or a value is not 0/1.
    """
    y = _labels(y_true)
    c = _as_array(contacted, "contacted")
    if not np.isin(c, (0, 1)).all():
        raise ValueError("contacted must hold True/False (or 1/0) for each customer")
    if len(c) != len(y):
        raise ValueError(f"y_true has {len(y)} values but contacted has {len(c)}")
    c = c.astype(bool)
    return {
        "tp": int((c & (y == 1)).sum()),
        "fp": int((c & (y == 0)).sum()),
        "fn": int((~c & (y == 1)).sum()),
        "tn": int((~c & (y == 0)).sum()),
    }


def decision_profit(
    y_true: object, contacted: object, costs: CampaignCosts = DEFAULT_COSTS
) -> float:
    """Return the campaign's profit, in USD, for a given set of contacted customers.

    Args:
        y_true: 1 for churners, 0 for customers who stayed.
        contacted: True for each customer contacted (a model's decision or a no-ML rule).
        costs: The campaign's assumptions.

    Returns:
        ``tp * churner_gain - fp * offer_cost``, compared with contacting nobody.

    Raises:
        TypeError: If ``costs`` is not a :class:`CampaignCosts` or an input is not an
            array of numbers.
        ValueError: If the lengths differ or a value is not 0/1.
    """
    costs = _check_costs(costs)
    counts = confusion_counts(y_true, contacted)
    return float(counts["tp"] * costs.churner_gain - counts["fp"] * costs.offer_cost)


def expected_profit(
    y_true: object, scores: object, threshold: float, costs: CampaignCosts = DEFAULT_COSTS
) -> float:
    """Return the profit of contacting every customer whose score reaches ``threshold``.

    Args:
        y_true: 1 for churners, 0 for customers who stayed.
        scores: Churn probabilities in [0, 1], aligned with ``y_true``.
        threshold: Contact a customer when ``score >= threshold``.
        costs: The campaign's assumptions.

    Returns:
        The profit in USD against contacting nobody (the budget is not applied here:
        see :func:`best_threshold`).

    Raises:
        TypeError: If an input has the wrong type.
        ValueError: If scores are not probabilities, labels are not 0/1, the lengths
            differ or the threshold is outside [0, 1].

    Example:
        >>> expected_profit([1, 0, 0], [0.9, 0.8, 0.1], threshold=0.5)  # 24.3 - 10
        14.3
    """
    y, s = _pair(y_true, scores)
    t = _threshold(threshold)
    return round(decision_profit(y, s >= t, costs), 6)


def threshold_grid(step: float = 0.01) -> np.ndarray:
    """Return the thresholds 0, step, 2*step, ..., 1.

    Args:
        step: The spacing, e.g. 0.01 for 101 thresholds.

    Returns:
        The grid, rounded so that 0.29 prints as 0.29.

    Raises:
        ValueError: If ``step`` is not in (0, 0.5].
    """
    if not isinstance(step, int | float) or not 0 < step <= 0.5:
        raise ValueError(f"step must be a number in (0, 0.5], got {step!r}")
    count = int(round(1 / step))
    return np.round(np.linspace(0.0, 1.0, count + 1), 6)


def contact_share(scores: object, threshold: float) -> float:
    """Return the share of customers whose score reaches ``threshold``.

    Args:
        scores: Churn probabilities in [0, 1].
        threshold: The decision threshold.

    Returns:
        The share contacted, 0-1.

    Raises:
        TypeError: If an input has the wrong type.
        ValueError: If scores or threshold are not in [0, 1].
    """
    s = _scores(scores)
    return float((s >= _threshold(threshold)).mean())


def profit_curve(
    y_true: object,
    scores: object,
    costs: CampaignCosts = DEFAULT_COSTS,
    grid: object = None,
) -> pd.DataFrame:
    """Tabulate, for each threshold, who is contacted and what it earns.

    Args:
        y_true: 1 for churners, 0 for customers who stayed.
        scores: Churn probabilities in [0, 1], aligned with ``y_true``.
        costs: The campaign's assumptions.
        grid: Thresholds to try; :func:`threshold_grid` (0.00, 0.01, ..., 1.00) when None.

    Returns:
        One row per threshold with ``threshold``, ``contacted`` (count),
        ``contact_share``, ``tp``, ``fp``, ``precision`` (churners among the contacted,
        NaN when nobody is), ``recall`` (churners reached), ``profit`` (USD) and
        ``within_budget`` (``contact_share <= costs.max_contact_share``).

    Raises:
        TypeError: If an input has the wrong type.
        ValueError: If scores are not probabilities, labels are not 0/1, the lengths
            differ or a threshold is outside [0, 1].
    """
    costs = _check_costs(costs)
    y, s = _pair(y_true, scores)
    thresholds = threshold_grid() if grid is None else _as_array(grid, "grid")
    for t in thresholds:
        _threshold(float(t))
    churners = int(y.sum())
    rows = []
    for t in thresholds:
        contacted = s >= t
        tp = int((contacted & (y == 1)).sum())
        fp = int((contacted & (y == 0)).sum())
        n = tp + fp
        rows.append(
            {
                "threshold": float(t),
                "contacted": n,
                "contact_share": n / len(y),
                "tp": tp,
                "fp": fp,
                "precision": tp / n if n else float("nan"),
                "recall": tp / churners if churners else float("nan"),
                "profit": round(tp * costs.churner_gain - fp * costs.offer_cost, 6),
                "within_budget": n / len(y) <= costs.max_contact_share + 1e-12,
            }
        )
    return pd.DataFrame(rows)


def best_threshold(
    y_true: object,
    scores: object,
    costs: CampaignCosts = DEFAULT_COSTS,
    grid: object = None,
    within_budget: bool = True,
) -> float:
    """Return the most profitable threshold of the grid, within the contact budget.

    Args:
        y_true: 1 for churners, 0 for customers who stayed.
        scores: Churn probabilities in [0, 1], aligned with ``y_true``.
        costs: The campaign's assumptions, including ``max_contact_share``.
        grid: Thresholds to try; 0.00, 0.01, ..., 1.00 when None.
        within_budget: Consider only thresholds that contact at most
            ``costs.max_contact_share`` of the customers. ``False`` ignores the budget.

    Returns:
        The threshold with the highest profit; among equals, the highest threshold
        (the fewest offers for the same money).

    Raises:
        TypeError: If an input has the wrong type.
        ValueError: If the inputs are invalid, or no threshold of the grid respects the
            budget (add higher thresholds to the grid).
    """
    curve = profit_curve(y_true, scores, costs, grid)
    if within_budget:
        curve = curve[curve["within_budget"]]
        if curve.empty:
            raise ValueError(
                "no threshold of the grid keeps the contacts within the budget of "
                f"{costs.max_contact_share:.0%}; include higher thresholds (up to 1.0)"
            )
    best = curve["profit"].max()
    return float(curve.loc[curve["profit"] == best, "threshold"].max())


def budget_threshold(scores: object, max_share: float) -> float:
    """Return the lowest threshold of the 0.01 grid that contacts at most ``max_share``.

    Args:
        scores: Churn probabilities in [0, 1].
        max_share: The largest share of customers that may be contacted, in (0, 1].

    Returns:
        The threshold; contacting ``score >= threshold`` stays within the budget.

    Raises:
        TypeError: If an input has the wrong type.
        ValueError: If scores are not probabilities or ``max_share`` is not in (0, 1].
    """
    s = _scores(scores)
    if isinstance(max_share, bool) or not isinstance(max_share, int | float):
        raise TypeError(f"max_share must be a number, got {type(max_share).__name__}")
    if not 0 < max_share <= 1:
        raise ValueError(f"max_share is a share in (0, 1], got {max_share}")
    for t in threshold_grid():
        if (s >= t).mean() <= max_share + 1e-12:
            return float(t)
    return 1.0


def precision_at_budget(
    y_true: object, scores: object, max_share: float = DEFAULT_COSTS.max_contact_share
) -> float:
    """Return the share of churners among the top-scored customers the budget allows.

    This is the ML metric that matches the campaign: the team contacts the
    ``max_share`` highest scores, so what matters is how many of those are churners
    (precision at k, with k = ``max_share`` of the customers).

    Args:
        y_true: 1 for churners, 0 for customers who stayed.
        scores: Churn probabilities in [0, 1], aligned with ``y_true``.
        max_share: Share of customers contacted, in (0, 1].

    Returns:
        The precision among the top ``ceil(max_share * n)`` scores (ties broken by order).

    Raises:
        TypeError: If an input has the wrong type.
        ValueError: If the inputs are invalid.
    """
    y, s = _pair(y_true, scores)
    if isinstance(max_share, bool) or not isinstance(max_share, int | float):
        raise TypeError(f"max_share must be a number, got {type(max_share).__name__}")
    if not 0 < max_share <= 1:
        raise ValueError(f"max_share is a share in (0, 1], got {max_share}")
    k = max(1, int(np.ceil(max_share * len(y) - 1e-9)))
    top = np.argsort(-s, kind="stable")[:k]
    return float(y[top].mean())


def baseline_contacts(
    frame: pd.DataFrame,
    rule: str,
    costs: CampaignCosts = DEFAULT_COSTS,
    seed: int = 42,
) -> pd.Series:
    """Decide whom to contact without a model: the no-ML baselines a model must beat.

    Args:
        frame: Customers, with a ``contract_type`` column for ``"month_to_month"``
            (raw spellings such as ``M2M`` or ``monthly`` are recognised).
        rule: ``"nobody"``, ``"everyone"``, ``"month_to_month"`` (every customer
            without a long contract) or ``"random"`` (a random
            ``costs.max_contact_share`` of the customers, the budget spent blindly).
        costs: The campaign's assumptions (the budget, for ``"random"``).
        seed: Seed of the random choice.

    Returns:
        A boolean Series aligned with ``frame``: True for the customers contacted.

    Raises:
        TypeError: If ``frame`` is not a DataFrame.
        ValueError: If the rule is unknown.
        KeyError: If ``"month_to_month"`` is asked of a frame without ``contract_type``.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    costs = _check_costs(costs)
    if rule == "nobody":
        return pd.Series(False, index=frame.index, name=rule)
    if rule == "everyone":
        return pd.Series(True, index=frame.index, name=rule)
    if rule == "month_to_month":
        if "contract_type" not in frame.columns:
            raise KeyError("the month_to_month rule needs a contract_type column")
        spelled = frame["contract_type"].astype("string").str.strip().str.lower()
        return spelled.isin(_MONTH_TO_MONTH).fillna(False).astype(bool).rename(rule)
    if rule == "random":
        rng = np.random.default_rng(seed)
        k = int(round(costs.max_contact_share * len(frame)))
        chosen = np.zeros(len(frame), dtype=bool)
        chosen[rng.choice(len(frame), size=k, replace=False)] = True
        return pd.Series(chosen, index=frame.index, name=rule)
    raise ValueError(f"unknown rule {rule!r}; choose one of {list(BASELINE_RULES)}")


def kpi_targets(
    churn_reduction: float,
    churn_rate: float,
    costs: CampaignCosts = DEFAULT_COSTS,
) -> dict[str, Any]:
    """Convert a business KPI target into the ML metrics a model must reach.

    The KPI: cut the monthly churn rate by ``churn_reduction`` (e.g. 0.02 for two
    percentage points). Each saved churner needs ``1 / save_rate`` contacted churners,
    so the campaign must reach ``churn_reduction / save_rate`` of all customers among
    the churners. Divided by the churn rate that is the **recall** needed; divided by
    the budget it is the **precision at the budget** needed.

    Args:
        churn_reduction: Percentage points of monthly churn to remove, as a share
            (0.02 = 2 points).
        churn_rate: Today's monthly churn rate, as a share (e.g. 0.18).
        costs: The campaign's assumptions (save rate and budget).

    Returns:
        ``{"target_churn_rate", "contacted_churner_share", "required_recall",
        "required_precision_at_budget", "break_even_precision", "achievable"}``.
        ``achievable`` is False when the target needs more than the budget allows or
        more churners than exist.

    Raises:
        TypeError: If ``costs`` is not a :class:`CampaignCosts` or a rate not a number.
        ValueError: If a rate is not a share in (0, 1).
    """
    costs = _check_costs(costs)
    for name, value in (("churn_reduction", churn_reduction), ("churn_rate", churn_rate)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not 0 < value < 1:
            raise ValueError(f"{name} is a share in (0, 1) (0.02 = 2 points), got {value}")
    if churn_reduction >= churn_rate:
        raise ValueError("churn_reduction must be smaller than churn_rate")
    reached = churn_reduction / costs.save_rate
    recall = reached / churn_rate
    precision = reached / costs.max_contact_share
    return {
        "target_churn_rate": churn_rate - churn_reduction,
        "contacted_churner_share": reached,
        "required_recall": recall,
        "required_precision_at_budget": precision,
        "break_even_precision": break_even_threshold(costs),
        "achievable": bool(recall <= 1 and precision <= 1),
    }
