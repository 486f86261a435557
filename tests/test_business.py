"""The campaign economics: cost matrix, profit, thresholds, budget, baselines, KPI targets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.business import (
    BASELINE_RULES,
    DEFAULT_COSTS,
    CampaignCosts,
    baseline_contacts,
    best_threshold,
    break_even_threshold,
    budget_threshold,
    confusion_counts,
    contact_share,
    cost_matrix,
    decision_profit,
    expected_profit,
    kpi_targets,
    precision_at_budget,
    profit_curve,
    threshold_grid,
)
from utils.data import TARGET, load_dataset

Y = np.array([1, 1, 0, 0, 0, 1, 0, 0, 0, 0])
S = np.array([0.9, 0.7, 0.6, 0.4, 0.3, 0.25, 0.2, 0.1, 0.05, 0.0])


def test_default_costs_and_matrix() -> None:
    costs = DEFAULT_COSTS
    assert costs.customer_value == pytest.approx(98.0)
    assert costs.churner_gain == pytest.approx(0.35 * 98 - 10)
    matrix = cost_matrix(costs)
    assert matrix.loc["churns", "contact"] == pytest.approx(costs.churner_gain)
    assert matrix.loc["stays", "contact"] == -costs.offer_cost
    assert (matrix["do not contact"] == 0).all()
    assert set(costs.as_dict()) >= {"offer_cost", "save_rate", "customer_value"}


def test_break_even_threshold_is_where_an_offer_pays() -> None:
    p = break_even_threshold()
    assert p == pytest.approx(10 / (0.35 * 98))
    costs = DEFAULT_COSTS
    assert p * costs.save_rate * costs.customer_value == pytest.approx(costs.offer_cost)
    assert break_even_threshold(CampaignCosts(offer_cost=500)) == 1.0


def test_profit_counts_each_outcome() -> None:
    gain, offer = DEFAULT_COSTS.churner_gain, DEFAULT_COSTS.offer_cost
    # threshold 0.5 contacts 0.9 (churner), 0.7 (churner), 0.6 (stays)
    assert expected_profit(Y, S, 0.5) == pytest.approx(2 * gain - offer)
    assert expected_profit(Y, S, 1.0) == 0.0  # nobody reaches 1.0
    assert expected_profit(Y, S, 0.0) == pytest.approx(3 * gain - 7 * offer)
    assert confusion_counts(Y, S >= 0.5) == {"tp": 2, "fp": 1, "fn": 1, "tn": 6}
    assert decision_profit(Y, S >= 0.5) == pytest.approx(expected_profit(Y, S, 0.5))
    # works with lists and Series too
    assert expected_profit(list(Y), pd.Series(S), 0.5) == expected_profit(Y, S, 0.5)


def test_profit_curve_columns_and_budget() -> None:
    curve = profit_curve(Y, S, grid=[0.0, 0.5, 0.8])
    assert list(curve["contacted"]) == [10, 3, 1]
    assert list(curve["within_budget"]) == [False, False, True]  # 15 % of 10 = 1.5
    assert curve.loc[1, "precision"] == pytest.approx(2 / 3)
    assert curve.loc[1, "recall"] == pytest.approx(2 / 3)
    assert len(profit_curve(Y, S)) == 101


def test_best_threshold_respects_the_budget() -> None:
    unconstrained = best_threshold(Y, S, within_budget=False)
    within = best_threshold(Y, S)
    assert contact_share(S, within) <= DEFAULT_COSTS.max_contact_share
    assert expected_profit(Y, S, unconstrained) >= expected_profit(Y, S, within)
    roomy = CampaignCosts(max_contact_share=0.5)
    assert best_threshold(Y, S, roomy) == best_threshold(Y, S, roomy, within_budget=False)
    with pytest.raises(ValueError, match="budget"):
        best_threshold(Y, S, grid=[0.0, 0.1])


def test_best_threshold_on_real_scores_is_near_break_even() -> None:
    """With calibrated probabilities the grid search agrees with the cost-matrix theory."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.8, 20_000)
    y = (rng.uniform(size=p.size) < p).astype(int)
    best = best_threshold(y, p, within_budget=False)
    assert abs(best - break_even_threshold()) < 0.04


def test_budget_threshold_and_precision_at_budget() -> None:
    t = budget_threshold(S, 0.3)
    assert contact_share(S, t) <= 0.3
    assert contact_share(S, t - 0.01) > 0.3
    assert precision_at_budget(Y, S, 0.2) == 1.0  # the two top scores are churners
    assert precision_at_budget(Y, S, 0.3) == pytest.approx(2 / 3)


def test_threshold_grid() -> None:
    grid = threshold_grid(0.05)
    assert len(grid) == 21 and grid[0] == 0 and grid[-1] == 1
    assert 0.35 in grid


def test_baselines_on_the_raw_export() -> None:
    raw = load_dataset("customers_raw")
    decisions = {rule: baseline_contacts(raw, rule) for rule in BASELINE_RULES}
    assert not decisions["nobody"].any() and decisions["everyone"].all()
    # month-to-month in every raw spelling (M2M, monthly, ...): 1,774 canonical + variants
    m2m = decisions["month_to_month"]
    assert m2m.sum() > 1774
    assert raw.loc[m2m, TARGET].mean() > 1.5 * raw[TARGET].mean()
    assert decisions["random"].mean() == pytest.approx(0.15, abs=0.001)
    y = raw[TARGET]
    assert decision_profit(y, decisions["nobody"]) == 0
    assert decision_profit(y, decisions["everyone"]) < 0
    assert decision_profit(y, decisions["month_to_month"]) > 0
    with pytest.raises(ValueError, match="unknown rule"):
        baseline_contacts(raw, "oldest")


def test_kpi_targets() -> None:
    targets = kpi_targets(0.02, 0.18)
    assert targets["contacted_churner_share"] == pytest.approx(0.02 / 0.35)
    assert targets["required_recall"] == pytest.approx(0.02 / 0.35 / 0.18)
    assert targets["required_precision_at_budget"] == pytest.approx(0.02 / 0.35 / 0.15)
    assert targets["achievable"]
    assert not kpi_targets(0.08, 0.18)["achievable"]  # would need more than the budget


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: expected_profit(Y, S[:5], 0.5), ValueError, "y_true has 10 values but scores"),
        (lambda: expected_profit(Y, S * 2, 0.5), ValueError, r"probabilities in \[0, 1\]"),
        (lambda: expected_profit(Y * 2, S, 0.5), ValueError, "0 \\(stays\\) and 1"),
        (lambda: expected_profit(Y, S, 1.5), ValueError, "threshold must be in"),
        (lambda: expected_profit(Y, S, "0.5"), TypeError, "threshold must be a number"),
        (lambda: expected_profit(Y, "scores", 0.5), TypeError, "scores must be a list"),
        (lambda: expected_profit(Y, np.c_[1 - S, S], 0.5), ValueError, r"proba\[:, 1\]"),
        (lambda: expected_profit(Y, S, 0.5, costs={"offer_cost": 1}), TypeError, "CampaignCosts"),
        (lambda: CampaignCosts(save_rate=1.5), ValueError, "save_rate"),
        (lambda: CampaignCosts(offer_cost=-1), ValueError, "offer_cost"),
        (lambda: CampaignCosts(offer_cost="10"), TypeError, "offer_cost must be a number"),
        (lambda: budget_threshold(S, 0), ValueError, "max_share"),
        (lambda: kpi_targets(2, 0.18), ValueError, "0.02 = 2 points"),
        (lambda: baseline_contacts(S, "nobody"), TypeError, "DataFrame"),
        (lambda: baseline_contacts(pd.DataFrame({"a": [1]}), "month_to_month"), KeyError,
         "contract_type"),
    ],
)  # fmt: skip
def test_bad_input_gets_a_clear_message(call, error: type[Exception], message: str) -> None:  # noqa: ANN001
    with pytest.raises(error, match=message):
        call()
