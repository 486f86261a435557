"""Lab 03's checks give specific feedback on wrong answers and on wrong MLflow state.

Each test logs small runs (no model is trained) into its own copy of an empty tracking
store, selects an experiment as ``setup_notebook`` would, and calls a check.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest

from utils import checks
from utils.labs import lab03

CONFIGS = [{"max_depth": d, "min_samples_leaf": leaf} for d in (3, 6) for leaf in (1, 50)]
SCORES = [0.70, 0.75, 0.81, 0.72]  # the third configuration wins


@pytest.fixture
def experiment(
    tmp_path: Path, template_db: Path, tracking_to: Callable[[str], Any]
) -> Iterator[str]:
    """A fresh store with the experiment ``lab03_student`` selected; restored afterwards."""
    db = tmp_path / "mlflow.db"
    shutil.copy(template_db, db)
    with tracking_to(f"sqlite:///{db}"):
        experiment_id = mlflow.create_experiment(
            "lab03_student", artifact_location=(tmp_path / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment_id)
        yield experiment_id
        while mlflow.active_run():
            mlflow.end_run()


def log_search(
    configs: list[dict] = CONFIGS,
    scores: list[float] = SCORES,
    nested: bool = True,
    params: tuple[str, ...] = lab03.HYPERPARAMETERS,
    metric: str = "val_auc",
) -> tuple[str, list[str]]:
    """Log a search as the student would; return the parent's id and the children's ids."""
    children = []

    def log_children() -> None:
        for config, score in zip(configs, scores, strict=True):
            with mlflow.start_run(run_name=str(config), nested=nested) as child:
                mlflow.log_params({key: config[key] for key in params})
                mlflow.log_metric(metric, score)
            children.append(child.info.run_id)

    with mlflow.start_run(run_name="tree-search") as parent:
        if nested:
            log_children()
    if not nested:
        log_children()
    return parent.info.run_id, children


def ranking(parent_id: str) -> pd.DataFrame:
    return mlflow.search_runs(
        filter_string=f"tags.mlflow.parentRunId = '{parent_id}'",
        order_by=["metrics.val_auc DESC"],
    )


def only_problem(feedback: checks.Feedback) -> str:
    assert feedback.status == "failed", str(feedback)
    return " | ".join(feedback.problems)


# --- Every check -------------------------------------------------------------------------


def test_every_check_reports_an_answer_left_as_ellipsis_as_unfinished() -> None:
    assert lab03.check_search_space(...).status == "unfinished"
    assert lab03.check_nested_search(..., CONFIGS).status == "unfinished"
    assert lab03.check_best_run(..., ..., ...).status == "unfinished"
    assert lab03.check_parent_summary(..., ...).status == "unfinished"


def test_the_lab_declares_four_tasks() -> None:
    assert len(checks.TASKS["lab03"]) == 4


# --- Task 1 -------------------------------------------------------------------------------


def test_search_space_passes_a_good_grid() -> None:
    feedback = lab03.check_search_space(CONFIGS)
    assert feedback.passed, str(feedback)


@pytest.mark.parametrize(
    ("configurations", "expected"),
    [
        ({"max_depth": 3}, "configurations should be a list, not a dict"),
        (CONFIGS * 3, "there are 12 configurations: keep between 4 and 8"),
        ([*CONFIGS, {"max_depth": 9}], "configuration 5 lacks ['min_samples_leaf']"),
        ([*CONFIGS, {"depth": 9, "min_samples_leaf": 1}], "has the unknown keys ['depth']"),
        ([*CONFIGS, {"max_depth": 2.5, "min_samples_leaf": 1}], "sets max_depth to 2.5"),
        ([*CONFIGS, {"max_depth": 4, "min_samples_leaf": 0}], "sets min_samples_leaf to 0"),
        ([*CONFIGS, (4, 1)], "configuration 5 is a tuple, not a dict"),
        ([*CONFIGS, CONFIGS[1]], "configurations 2 and 5 are the same"),
        (
            [{"max_depth": d, "min_samples_leaf": 1} for d in (2, 4, 6, 8)],
            "every configuration uses min_samples_leaf=1: vary both hyperparameters",
        ),
    ],
)
def test_search_space_names_what_is_wrong(configurations: object, expected: str) -> None:
    assert expected in only_problem(lab03.check_search_space(configurations))


# --- Task 2 -------------------------------------------------------------------------------


def test_nested_search_passes_a_correct_search(experiment: str) -> None:
    parent_id, _ = log_search()
    feedback = lab03.check_nested_search(parent_id, CONFIGS)
    assert feedback.passed, str(feedback)


def test_children_that_are_not_nested_are_reported(experiment: str) -> None:
    parent_id, _ = log_search(nested=False)
    problem = only_problem(lab03.check_nested_search(parent_id, CONFIGS))
    assert "found 1 parent run 'tree-search'" in problem and "with 0 children" in problem
    assert "nested=True" in problem and "4 runs started after it are not linked" in problem


def test_a_missing_metric_is_named_with_what_was_logged_instead(experiment: str) -> None:
    parent_id, _ = log_search(metric="auc")
    problem = only_problem(lab03.check_nested_search(parent_id, CONFIGS))
    assert "4 of 4 child runs lack the metric 'val_auc' (they log ['auc'])" in problem


def test_a_missing_parameter_is_named(experiment: str) -> None:
    parent_id, _ = log_search(params=("max_depth",))
    problem = only_problem(lab03.check_nested_search(parent_id, CONFIGS))
    assert "you logged max_depth but not min_samples_leaf" in problem


def test_logged_values_must_match_the_configurations(experiment: str) -> None:
    parent_id, _ = log_search()
    other = [*CONFIGS[:3], {"max_depth": 9, "min_samples_leaf": 9}]
    problem = only_problem(lab03.check_nested_search(parent_id, other))
    assert (
        "no child run logged the configuration {'max_depth': 9, 'min_samples_leaf': 9}" in problem
    )


def test_a_search_with_fewer_children_than_configurations_is_reported(experiment: str) -> None:
    parent_id, _ = log_search(CONFIGS[:3], SCORES[:3])
    problem = only_problem(lab03.check_nested_search(parent_id, CONFIGS))
    assert "the parent has 3 child runs for 4 configurations" in problem


def test_a_child_id_is_not_a_parent_id(experiment: str) -> None:
    parent_id, children = log_search()
    problem = only_problem(lab03.check_nested_search(children[0], CONFIGS))
    assert f"is itself a child run (of {parent_id[:8]})" in problem


def test_a_failed_parent_run_is_reported(experiment: str) -> None:
    with pytest.raises(ZeroDivisionError), mlflow.start_run(run_name="tree-search") as parent:
        1 / 0  # noqa: B018 - the student's cell raises inside the with block
    problem = only_problem(lab03.check_nested_search(parent.info.run_id, CONFIGS))
    assert "ended FAILED" in problem and "with 0 children" in problem


def test_wrong_ids_get_specific_messages(experiment: str) -> None:
    with mlflow.start_run() as run:
        pass
    assert "pass the run's id, not the run" in only_problem(lab03.check_nested_search(run, CONFIGS))
    assert "no run has the id 'abc'" in only_problem(lab03.check_nested_search("abc", CONFIGS))


def test_a_run_of_another_experiment_is_refused(experiment: str) -> None:
    other = mlflow.create_experiment("07_mlflow_tracking")
    with mlflow.start_run(experiment_id=other) as run:
        pass
    problem = only_problem(lab03.check_nested_search(run.info.run_id, CONFIGS))
    assert "belongs to the experiment '07_mlflow_tracking', not to this notebook's" in problem


# --- Task 3 -------------------------------------------------------------------------------


def test_best_run_passes_the_right_search(experiment: str) -> None:
    parent_id, children = log_search()
    feedback = lab03.check_best_run(ranking(parent_id), children[2], parent_id)
    assert feedback.passed, str(feedback)


def test_a_run_that_is_not_the_best_is_refused_with_the_best_score(experiment: str) -> None:
    parent_id, children = log_search()
    problem = only_problem(lab03.check_best_run(ranking(parent_id), children[1], parent_id))
    assert "is not the best by val_auc (0.7500)" in problem
    assert f"({children[2][:8]}) scores 0.8100" in problem


def test_a_search_without_the_parent_filter_is_reported(experiment: str) -> None:
    log_search()  # an earlier execution of the search cell
    parent_id, children = log_search()
    everything = mlflow.search_runs(order_by=["metrics.val_auc DESC"])
    problem = only_problem(lab03.check_best_run(everything, children[2], parent_id))
    assert "your search returned 10 runs, 6 of which are not children" in problem
    assert "including the parent run itself" in problem
    assert f"tags.mlflow.parentRunId = '{parent_id}'" in problem


def test_an_ascending_order_is_reported(experiment: str) -> None:
    parent_id, children = log_search()
    worst_first = ranking(parent_id).iloc[::-1]
    problem = only_problem(lab03.check_best_run(worst_first, children[2], parent_id))
    assert "ranked is sorted worst first" in problem


def test_a_search_that_matched_nothing_is_reported(experiment: str) -> None:
    parent_id, children = log_search()
    nothing = mlflow.search_runs(filter_string="tags.mlflow.parentRunId = 'parent_run_id'")
    problem = only_problem(lab03.check_best_run(nothing, children[2], parent_id))
    assert "ranked is empty: your search matched no run" in problem


def test_ranked_must_be_the_dataframe_of_search_runs(experiment: str) -> None:
    parent_id, children = log_search()
    as_list = mlflow.search_runs(output_format="list")
    problem = only_problem(lab03.check_best_run(as_list, children[2], parent_id))
    assert "should be a DataFrame, not a list" in problem


# --- Task 4 -------------------------------------------------------------------------------


def test_summary_passes_when_logged_on_the_parent(experiment: str) -> None:
    parent_id, children = log_search()
    with mlflow.start_run(run_id=parent_id):
        mlflow.log_metric("best_val_auc", 0.81)
        mlflow.set_tag("best_run_id", children[2])
    feedback = lab03.check_parent_summary(parent_id, 0.81)
    assert feedback.passed, str(feedback)


def test_a_summary_logged_outside_the_parent_is_found(experiment: str) -> None:
    parent_id, _ = log_search()
    mlflow.log_metric("best_val_auc", 0.81)  # no run open: MLflow starts a new one
    mlflow.end_run()
    problem = only_problem(lab03.check_parent_summary(parent_id, 0.81))
    assert "the parent run has no metric 'best_val_auc'" in problem
    assert "mlflow.log_metric outside a `with` block starts a new run" in problem
    assert "the parent run has no tag 'best_run_id'" in problem


def test_a_wrong_summary_is_reported(experiment: str) -> None:
    parent_id, children = log_search()
    with mlflow.start_run(run_id=parent_id):
        mlflow.log_metric("best_val_auc", 0.75)
        mlflow.set_tag("best_run_id", children[1])
    problem = only_problem(lab03.check_parent_summary(parent_id, 0.75))
    assert "best_val_auc = 0.7500 is not the val_auc of the best child run" in problem
    assert "the parent run's 'best_val_auc' is 0.7500, but the best child scores 0.8100" in problem
    assert f"is '{children[1]}', but the best child run is" in problem


def test_summary_value_must_be_a_number(experiment: str) -> None:
    problem = only_problem(lab03.check_parent_summary("abc", "0.81"))
    assert "best_val_auc should be a float or int, not a str" in problem
