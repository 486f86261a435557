"""Checks of lab 03, a tracked hyperparameter search (after notebook 07).

The student chooses configurations of a decision tree (``max_depth``, ``min_samples_leaf``),
runs the search as one parent run with a child run per configuration, finds the best child
with ``mlflow.search_runs`` and records the result on the parent. Every check except the
first reads the student's real MLflow state: the runs of the notebook's current experiment
(the one ``setup_notebook`` selected), starting from the parent run the student names, so
that runs left by earlier executions of the same cells never count. Introduced in lab 03.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from utils.checks import Feedback, task_check

LAB = "lab03"
#: The hyperparameters every configuration sets, as ``DecisionTreeClassifier`` names them.
HYPERPARAMETERS: tuple[str, ...] = ("max_depth", "min_samples_leaf")
#: The validation metric every child run logs.
METRIC = "val_auc"
#: The summary the parent run records in Task 4: a metric and a tag.
BEST_METRIC = "best_val_auc"
BEST_TAG = "best_run_id"
MIN_CONFIGURATIONS, MAX_CONFIGURATIONS = 4, 8
PARENT_TAG = "mlflow.parentRunId"


# --- Reading MLflow state -----------------------------------------------------------------


def _client() -> Any:
    import mlflow

    return mlflow.MlflowClient()


def _current_experiment_id() -> str | None:
    """Return the experiment the notebook selected (``mlflow.set_experiment`` records it)."""
    from mlflow.environment_variables import MLFLOW_EXPERIMENT_ID

    return MLFLOW_EXPERIMENT_ID.get()


def _name(run: Any) -> str:
    """Return ``name (id prefix)``, how a student recognises a run in the UI."""
    return f"'{run.info.run_name}' ({run.info.run_id[:8]})"


def _find_run(run_id: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return _client().get_run(run_id)
    except MlflowException:
        return None


def _children(parent: Any) -> list[Any]:
    """Return the child runs of ``parent``, in its own experiment."""
    return _client().search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.{PARENT_TAG} = '{parent.info.run_id}'",
        max_results=1000,
    )


def _started_since(parent: Any) -> list[Any]:
    """Return the other runs of the parent's experiment started since the parent started."""
    runs = _client().search_runs(
        [parent.info.experiment_id],
        filter_string=f"attributes.start_time >= {parent.info.start_time}",
        max_results=1000,
    )
    return [run for run in runs if run.info.run_id != parent.info.run_id]


def _best_child(children: list[Any]) -> Any | None:
    scored = [child for child in children if METRIC in child.data.metrics]
    return max(scored, key=lambda child: child.data.metrics[METRIC]) if scored else None


def _parent_run(fb: Feedback, parent_run_id: Any) -> Any | None:
    """Check that ``parent_run_id`` names a top-level run of this experiment; return it.

    Records what is wrong in ``fb`` and returns ``None`` when the remaining checks cannot
    run (no such run, another experiment, a child run).
    """
    if not fb.expect_type(parent_run_id, str, "parent_run_id"):
        if hasattr(parent_run_id, "info"):
            fb.problems.append("pass the run's id, not the run: parent.info.run_id")
        return None
    parent = _find_run(parent_run_id)
    if parent is None:
        fb.problems.append(
            f"no run has the id '{parent_run_id}' in this tracking store: "
            "take it from the parent run, `parent.info.run_id`"
        )
        return None
    current = _current_experiment_id()
    if current is not None and parent.info.experiment_id != current:
        client = _client()
        theirs = client.get_experiment(parent.info.experiment_id).name
        ours = client.get_experiment(current).name
        fb.problems.append(
            f"run {_name(parent)} belongs to the experiment '{theirs}', not to this "
            f"notebook's experiment '{ours}': pass the id of the parent run you started here"
        )
        return None
    if PARENT_TAG in parent.data.tags:
        fb.problems.append(
            f"run {_name(parent)} is itself a child run (of {parent.data.tags[PARENT_TAG][:8]}): "
            "pass the id of the parent run of your search"
        )
        return None
    status = parent.info.status
    if status == "FAILED":
        fb.problems.append(
            f"the parent run {_name(parent)} ended FAILED: a cell raised inside its `with` "
            "block; fix the error and run the search again"
        )
    elif status != "FINISHED":
        fb.problems.append(
            f"the parent run {_name(parent)} is {status}, not FINISHED: open it with "
            "`with mlflow.start_run(...) as parent:` so that it ends with the block"
        )
    else:
        fb.good.append(f"the parent run {_name(parent)} is a finished run of this experiment")
    return parent


# --- Task 1 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 1 · Search space",
    points=2,
    hint="A list of dicts such as {'max_depth': 4, 'min_samples_leaf': 20}; "
    "vary both hyperparameters, 4 to 8 configurations in all.",
)
def check_search_space(fb: Feedback, configurations: Any) -> None:
    """The configurations: 4-8 distinct dicts of whole-number ``max_depth``/``min_samples_leaf``."""
    if not fb.expect_type(configurations, list, "configurations"):
        return
    count = len(configurations)
    fb.expect(
        MIN_CONFIGURATIONS <= count <= MAX_CONFIGURATIONS,
        f"{count} configurations: a search that runs in seconds",
        f"there are {count} configurations: keep between {MIN_CONFIGURATIONS} and "
        f"{MAX_CONFIGURATIONS} (each one is a fit and a run)",
    )
    keys = " and ".join(HYPERPARAMETERS)
    seen: dict[tuple, int] = {}
    valid = True
    for number, config in enumerate(configurations, start=1):
        if not isinstance(config, dict):
            fb.problems.append(
                f"configuration {number} is a {type(config).__name__}, not a dict like "
                "{'max_depth': 4, 'min_samples_leaf': 20}"
            )
            return
        missing = [key for key in HYPERPARAMETERS if key not in config]
        unknown = [key for key in config if key not in HYPERPARAMETERS]
        if missing or unknown:
            valid = False
            faults = ([f"lacks {missing}"] if missing else []) + (
                [f"has the unknown keys {unknown}"] if unknown else []
            )
            fb.problems.append(
                f"configuration {number} {' and '.join(faults)}: use exactly the keys {keys}"
            )
            continue
        for key in HYPERPARAMETERS:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                valid = False
                fb.problems.append(
                    f"configuration {number} sets {key} to {value!r}: use a whole number of "
                    "at least 1"
                )
        signature = tuple(config[key] for key in HYPERPARAMETERS)
        if signature in seen:
            valid = False
            fb.problems.append(
                f"configurations {seen[signature]} and {number} are the same ({config}): "
                "each run should try something new"
            )
        seen.setdefault(signature, number)
    if not valid:
        return
    fb.good.append(f"every configuration sets {keys} to whole numbers, and no two are the same")
    for position, key in enumerate(HYPERPARAMETERS):
        values = sorted({signature[position] for signature in seen})
        fb.expect(
            len(values) >= 2,
            f"{key} takes {len(values)} values: {values}",
            f"every configuration uses {key}={values[0]}: vary both hyperparameters",
        )


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 2 · Nested, tracked search",
    points=3,
    hint="with mlflow.start_run(run_name=...) as parent: then, for each configuration, "
    "with mlflow.start_run(run_name=..., nested=True): log_params(config) and "
    "log_metric('val_auc', ...). Afterwards parent_run_id = parent.info.run_id.",
)
def check_nested_search(fb: Feedback, parent_run_id: Any, configurations: Any) -> None:
    """The parent run has one finished child per configuration, each with params and val_auc."""
    parent = _parent_run(fb, parent_run_id)
    if parent is None:
        return
    children = _children(parent)
    if not children:
        loose = [run for run in _started_since(parent) if PARENT_TAG not in run.data.tags]
        fb.problems.append(
            f"found 1 parent run {_name(parent)} with 0 children: start each child run with "
            "mlflow.start_run(..., nested=True) inside the parent's `with` block"
            + (f" ({len(loose)} runs started after it are not linked to it)" if loose else "")
        )
        return
    if isinstance(configurations, list):
        fb.expect(
            len(children) == len(configurations),
            f"the parent has one child run per configuration ({len(children)})",
            f"the parent has {len(children)} child runs for {len(configurations)} "
            "configurations: start exactly one child run per configuration",
        )
    not_finished = [child for child in children if child.info.status != "FINISHED"]
    if not_finished:
        fb.problems.append(
            f"{len(not_finished)} child runs did not finish (e.g. {_name(not_finished[0])} is "
            f"{not_finished[0].info.status}): a cell raised inside the loop; fix it and rerun"
        )
    else:
        fb.good.append("every child run finished")
    lacking = [child for child in children if METRIC not in child.data.metrics]
    if lacking:
        others = sorted({key for child in lacking for key in child.data.metrics})
        fb.problems.append(
            f"{len(lacking)} of {len(children)} child runs lack the metric '{METRIC}'"
            + (f" (they log {others})" if others else "")
            + f": log it with mlflow.log_metric('{METRIC}', ...)"
        )
    else:
        scores = [child.data.metrics[METRIC] for child in children]
        fb.expect(
            all(0.0 <= score <= 1.0 for score in scores),
            f"every child run logs '{METRIC}'",
            f"some '{METRIC}' values are not AUCs (between 0 and 1): {sorted(scores)}",
        )
    logged = [key for key in HYPERPARAMETERS if all(key in c.data.params for c in children)]
    absent = [key for key in HYPERPARAMETERS if key not in logged]
    if not logged:
        fb.problems.append(
            f"the child runs log none of {list(HYPERPARAMETERS)}: log each configuration "
            "with mlflow.log_params(config)"
        )
        return
    if absent:
        short = [c for c in children if any(key not in c.data.params for key in absent)]
        fb.problems.append(
            f"you logged {' and '.join(logged)} but not {' and '.join(absent)} "
            f"({len(short)} of {len(children)} child runs lack it): log the whole "
            "configuration with mlflow.log_params(config)"
        )
        return
    if not (isinstance(configurations, list) and all(isinstance(c, dict) for c in configurations)):
        fb.problems.append("configurations is not a list of dicts: finish Task 1 first")
        return
    tried = {tuple(child.data.params[key] for key in HYPERPARAMETERS) for child in children}
    untried = [
        config
        for config in configurations
        if tuple(str(config.get(key)) for key in HYPERPARAMETERS) not in tried
    ]
    if untried:
        fb.problems.append(
            f"no child run logged the configuration {untried[0]}: log the values you trained with"
        )
    else:
        fb.good.append(f"the child runs log {' and '.join(HYPERPARAMETERS)} of every configuration")


# --- Task 3 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 3 · Best run by search",
    points=3,
    hint="mlflow.search_runs(experiment_ids=[kit.experiment_id], "
    "filter_string=f\"tags.mlflow.parentRunId = '{parent_run_id}'\", "
    "order_by=['metrics.val_auc DESC']); the best run is the first row.",
)
def check_best_run(fb: Feedback, ranked: Any, best_run_id: Any, parent_run_id: Any) -> None:
    """``ranked`` holds exactly the children, best first; ``best_run_id`` is the best one."""
    parent = _parent_run(fb, parent_run_id)
    if parent is None:
        return
    children = {child.info.run_id: child for child in _children(parent)}
    best = _best_child(list(children.values()))
    if best is None:
        fb.problems.append(f"your search has no child run with '{METRIC}' yet: finish Task 2")
        return
    if fb.expect_type(ranked, pd.DataFrame, "ranked (what mlflow.search_runs returns)"):
        if ranked.empty:
            fb.problems.append(
                "ranked is empty: your search matched no run; check the experiment id and "
                f"the filter tags.mlflow.parentRunId = '{parent.info.run_id}' (quotes included)"
            )
        elif "run_id" not in ranked.columns:
            fb.problems.append(
                "ranked has no run_id column: keep the DataFrame mlflow.search_runs returns"
            )
        else:
            _check_ranking(fb, ranked, children, parent)
    if not fb.expect_type(best_run_id, str, "best_run_id"):
        return
    chosen = children.get(best_run_id)
    best_score = best.data.metrics[METRIC]
    if chosen is None:
        other = _find_run(best_run_id)
        fb.problems.append(
            f"run {_name(other)} is not a child of your search {_name(parent)}"
            if other is not None
            else f"no run has the id '{best_run_id}'"
        )
    elif chosen.data.metrics.get(METRIC, float("-inf")) < best_score:
        fb.problems.append(
            f"the run you chose, {_name(chosen)}, is not the best by {METRIC} "
            f"({chosen.data.metrics.get(METRIC, float('nan')):.4f}): run {_name(best)} "
            f"scores {best_score:.4f}"
        )
    else:
        fb.good.append(f"{_name(chosen)} is the best child run, {METRIC} = {best_score:.4f}")


def _check_ranking(fb: Feedback, ranked: pd.DataFrame, children: dict, parent: Any) -> None:
    """Expect ``ranked`` to hold every child of the search and nothing else, best first."""
    ids = [str(run_id) for run_id in ranked["run_id"]]
    extra = [run_id for run_id in ids if run_id not in children]
    missing = [run_id for run_id in children if run_id not in ids]
    if extra:
        if parent.info.run_id in extra:
            which = "including the parent run itself"
        else:
            which = "e.g. runs of an earlier search"
        fb.problems.append(
            f"your search returned {len(ids)} runs, {len(extra)} of which are not children of "
            f"this search ({which}): filter on tags.mlflow.parentRunId = "
            f"'{parent.info.run_id}'"
        )
    elif missing:
        fb.problems.append(
            f"ranked misses {len(missing)} of the {len(children)} child runs: did a filter or "
            "max_results drop them?"
        )
    else:
        fb.good.append(f"ranked holds exactly the {len(children)} child runs of the search")
    column = f"metrics.{METRIC}"
    if column not in ranked.columns:
        fb.problems.append(f"ranked has no column '{column}'")
        return
    scores = ranked[column].tolist()
    if all(a >= b for a, b in zip(scores, scores[1:], strict=False)):
        fb.good.append(f"ranked is sorted by {METRIC}, best first")
    elif all(a <= b for a, b in zip(scores, scores[1:], strict=False)):
        fb.problems.append(
            f"ranked is sorted worst first: order_by=['metrics.{METRIC} DESC'] puts the best first"
        )
    else:
        fb.problems.append(
            f"ranked is not sorted by {METRIC}: pass order_by=['metrics.{METRIC} DESC']"
        )


# --- Task 4 -------------------------------------------------------------------------------


@task_check(
    LAB,
    "Task 4 · Search summary on the parent",
    points=2,
    hint="Reopen the parent with `with mlflow.start_run(run_id=parent_run_id):`, then "
    "mlflow.set_tag('best_run_id', best_run_id) and mlflow.log_metric('best_val_auc', ...).",
)
def check_parent_summary(fb: Feedback, parent_run_id: Any, best_val_auc: Any) -> None:
    """The parent run carries the tag ``best_run_id`` and the metric ``best_val_auc``."""
    if not fb.expect_type(best_val_auc, (float, int), "best_val_auc"):
        return
    parent = _parent_run(fb, parent_run_id)
    if parent is None:
        return
    best = _best_child(_children(parent))
    if best is None:
        fb.problems.append(f"your search has no child run with '{METRIC}' yet: finish Task 2")
        return
    best_score = best.data.metrics[METRIC]
    fb.expect(
        abs(best_val_auc - best_score) < 1e-9,
        f"best_val_auc is the {METRIC} of the best child run ({best_score:.4f})",
        f"best_val_auc = {best_val_auc:.4f} is not the {METRIC} of the best child run "
        f"{_name(best)} ({best_score:.4f})",
    )
    logged = parent.data.metrics.get(BEST_METRIC)
    if logged is None:
        strays = [run for run in _started_since(parent) if BEST_METRIC in run.data.metrics]
        fb.problems.append(
            f"the parent run has no metric '{BEST_METRIC}'"
            + (
                f"; run {_name(strays[0])} has it: mlflow.log_metric outside a `with` block "
                "starts a new run, so reopen the parent with "
                "`with mlflow.start_run(run_id=parent_run_id):`"
                if strays
                else ": log it while the parent run is open"
            )
        )
    else:
        fb.expect(
            abs(logged - best_score) < 1e-9,
            f"the parent run's '{BEST_METRIC}' is {logged:.4f}",
            f"the parent run's '{BEST_METRIC}' is {logged:.4f}, but the best child scores "
            f"{best_score:.4f}",
        )
    tagged = parent.data.tags.get(BEST_TAG)
    if tagged is None:
        fb.problems.append(f"the parent run has no tag '{BEST_TAG}'")
    else:
        fb.expect(
            tagged == best.info.run_id,
            f"the parent's tag '{BEST_TAG}' names the best child run {_name(best)}",
            f"the parent's tag '{BEST_TAG}' is '{tagged}', but the best child run is {_name(best)}",
        )


# --- Grading from MLflow state ------------------------------------------------------------

#: The tasks graded from MLflow state alone, by :func:`grade_state`.
STATE_TASKS: tuple[str, ...] = (
    "Task 1 · Search space",
    "Task 2 · Nested, tracked search",
    "Task 4 · Search summary on the parent",
)


def _searches(experiment_id: str) -> list[tuple[Any, list[dict]]]:
    """Every top-level run of the experiment with children, newest first, with the
    configurations its children logged (as whole numbers where they are)."""
    runs = _client().search_runs(
        [experiment_id], max_results=1000, order_by=["attributes.start_time DESC"]
    )
    found = []
    for run in runs:
        if PARENT_TAG in run.data.tags:
            continue
        children = _children(run)
        if not children:
            continue
        configurations = []
        for child in sorted(children, key=lambda c: c.info.start_time):
            config = {}
            for key in HYPERPARAMETERS:
                value = child.data.params.get(key)
                config[key] = int(value) if value is not None and value.isdigit() else value
            configurations.append({k: v for k, v in config.items() if v is not None})
        found.append((run, configurations))
    return found


def _best_score(parent: Any) -> float:
    """The score the summary should hold: the best child's (0 when there is none)."""
    best = _best_child(_children(parent))
    return float(best.data.metrics[METRIC]) if best is not None else 0.0


def grade_state(experiment_id: str, user: str | None = None) -> list[Feedback]:
    """Grade Tasks 1, 2 and 4 from the runs of the student's experiment alone.

    The evidence is a finished top-level run with nested children: the configurations
    its children logged (Task 1), the children themselves (Task 2) and the summary on the
    parent (Task 4). A variable of the notebook plays no part.
    """
    from utils.grading import best_of

    searches = _searches(experiment_id)
    none = "the experiment holds no parent run with nested child runs: run the search of Task 2"
    space = [lambda fb, c=c: check_search_space.__wrapped__(fb, c) for _, c in searches]
    nested = [
        lambda fb, r=r, c=c: check_nested_search.__wrapped__(fb, r.info.run_id, c)
        for r, c in searches
    ]
    summary = [
        lambda fb, r=r: check_parent_summary.__wrapped__(fb, r.info.run_id, _best_score(r))
        for r, _ in searches
    ]
    return [
        best_of(LAB, STATE_TASKS[0], space, none),
        best_of(LAB, STATE_TASKS[1], nested, none),
        best_of(LAB, STATE_TASKS[2], summary, none),
    ]
