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
from utils.i18n import N_, _

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
            fb.problems.append(_("pass the run's id, not the run: parent.info.run_id"))
        return None
    parent = _find_run(parent_run_id)
    if parent is None:
        fb.problems.append(
            _(
                "no run has the id '{run_id}' in this tracking store: "
                "take it from the parent run, `parent.info.run_id`"
            ).format(run_id=parent_run_id)
        )
        return None
    current = _current_experiment_id()
    if current is not None and parent.info.experiment_id != current:
        client = _client()
        theirs = client.get_experiment(parent.info.experiment_id).name
        ours = client.get_experiment(current).name
        fb.problems.append(
            _(
                "run {run} belongs to the experiment '{theirs}', not to this notebook's "
                "experiment '{ours}': pass the id of the parent run you started here"
            ).format(run=_name(parent), theirs=theirs, ours=ours)
        )
        return None
    if PARENT_TAG in parent.data.tags:
        fb.problems.append(
            _(
                "run {run} is itself a child run (of {parent}): pass the id of the parent run "
                "of your search"
            ).format(run=_name(parent), parent=parent.data.tags[PARENT_TAG][:8])
        )
        return None
    status = parent.info.status
    if status == "FAILED":
        fb.problems.append(
            _(
                "the parent run {run} ended FAILED: a cell raised inside its `with` block; fix "
                "the error and run the search again"
            ).format(run=_name(parent))
        )
    elif status != "FINISHED":
        fb.problems.append(
            _(
                "the parent run {run} is {status}, not FINISHED: open it with "
                "`with mlflow.start_run(...) as parent:` so that it ends with the block"
            ).format(run=_name(parent), status=status)
        )
    else:
        fb.good.append(
            _("the parent run {run} is a finished run of this experiment").format(run=_name(parent))
        )
    return parent


# --- Task 1 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 1 · Search space"),
    points=2,
    hint=N_(
        "A list of dicts such as {'max_depth': 4, 'min_samples_leaf': 20}; "
        "vary both hyperparameters, 4 to 8 configurations in all."
    ),
)
def check_search_space(fb: Feedback, configurations: Any) -> None:
    """The configurations: 4-8 distinct dicts of whole-number ``max_depth``/``min_samples_leaf``."""
    if not fb.expect_type(configurations, list, "configurations"):
        return
    count = len(configurations)
    fb.expect(
        MIN_CONFIGURATIONS <= count <= MAX_CONFIGURATIONS,
        _("{count} configurations: a search that runs in seconds").format(count=count),
        _(
            "there are {count} configurations: keep between {low} and {high} (each one is a "
            "fit and a run)"
        ).format(count=count, low=MIN_CONFIGURATIONS, high=MAX_CONFIGURATIONS),
    )
    keys = _(" and ").join(HYPERPARAMETERS)
    seen: dict[tuple, int] = {}
    valid = True
    for number, config in enumerate(configurations, start=1):
        if not isinstance(config, dict):
            fb.problems.append(
                _(
                    "configuration {number} is a {type}, not a dict like "
                    "{{'max_depth': 4, 'min_samples_leaf': 20}}"
                ).format(number=number, type=type(config).__name__)
            )
            return
        missing = [key for key in HYPERPARAMETERS if key not in config]
        unknown = [key for key in config if key not in HYPERPARAMETERS]
        if missing or unknown:
            valid = False
            faults = ([_("lacks {missing}").format(missing=missing)] if missing else []) + (
                [_("has the unknown keys {unknown}").format(unknown=unknown)] if unknown else []
            )
            fb.problems.append(
                _("configuration {number} {faults}: use exactly the keys {keys}").format(
                    number=number, faults=_(" and ").join(faults), keys=keys
                )
            )
            continue
        for key in HYPERPARAMETERS:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                valid = False
                fb.problems.append(
                    _(
                        "configuration {number} sets {key} to {value!r}: use a whole number of "
                        "at least 1"
                    ).format(number=number, key=key, value=value)
                )
        signature = tuple(config[key] for key in HYPERPARAMETERS)
        if signature in seen:
            valid = False
            fb.problems.append(
                _(
                    "configurations {first} and {number} are the same ({config}): "
                    "each run should try something new"
                ).format(first=seen[signature], number=number, config=config)
            )
        seen.setdefault(signature, number)
    if not valid:
        return
    fb.good.append(
        _("every configuration sets {keys} to whole numbers, and no two are the same").format(
            keys=keys
        )
    )
    for position, key in enumerate(HYPERPARAMETERS):
        values = sorted({signature[position] for signature in seen})
        fb.expect(
            len(values) >= 2,
            _("{key} takes {count} values: {values}").format(
                key=key, count=len(values), values=values
            ),
            _("every configuration uses {key}={value}: vary both hyperparameters").format(
                key=key, value=values[0]
            ),
        )


# --- Task 2 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 2 · Nested, tracked search"),
    points=3,
    hint=N_(
        "with mlflow.start_run(run_name=...) as parent: then, for each configuration, "
        "with mlflow.start_run(run_name=..., nested=True): log_params(config) and "
        "log_metric('val_auc', ...). Afterwards parent_run_id = parent.info.run_id."
    ),
)
def check_nested_search(fb: Feedback, parent_run_id: Any, configurations: Any) -> None:
    """The parent run has one finished child per configuration, each with params and val_auc."""
    parent = _parent_run(fb, parent_run_id)
    if parent is None:
        return
    children = _children(parent)
    if not children:
        loose = [run for run in _started_since(parent) if PARENT_TAG not in run.data.tags]
        if loose:
            text = _(
                "found 1 parent run {run} with 0 children: start each child run with "
                "mlflow.start_run(..., nested=True) inside the parent's `with` block "
                "({count} runs started after it are not linked to it)"
            )
        else:
            text = _(
                "found 1 parent run {run} with 0 children: start each child run with "
                "mlflow.start_run(..., nested=True) inside the parent's `with` block"
            )
        fb.problems.append(text.format(run=_name(parent), count=len(loose)))
        return
    if isinstance(configurations, list):
        fb.expect(
            len(children) == len(configurations),
            _("the parent has one child run per configuration ({count})").format(
                count=len(children)
            ),
            _(
                "the parent has {children} child runs for {configurations} configurations: "
                "start exactly one child run per configuration"
            ).format(children=len(children), configurations=len(configurations)),
        )
    not_finished = [child for child in children if child.info.status != "FINISHED"]
    if not_finished:
        fb.problems.append(
            _(
                "{count} child runs did not finish (e.g. {run} is {status}): a cell raised "
                "inside the loop; fix it and rerun"
            ).format(
                count=len(not_finished),
                run=_name(not_finished[0]),
                status=not_finished[0].info.status,
            )
        )
    else:
        fb.good.append(_("every child run finished"))
    lacking = [child for child in children if METRIC not in child.data.metrics]
    if lacking:
        others = sorted({key for child in lacking for key in child.data.metrics})
        if others:
            text = _(
                "{count} of {children} child runs lack the metric '{metric}' (they log "
                "{others}): log it with mlflow.log_metric('{metric}', ...)"
            )
        else:
            text = _(
                "{count} of {children} child runs lack the metric '{metric}': log it with "
                "mlflow.log_metric('{metric}', ...)"
            )
        fb.problems.append(
            text.format(count=len(lacking), children=len(children), metric=METRIC, others=others)
        )
    else:
        scores = [child.data.metrics[METRIC] for child in children]
        fb.expect(
            all(0.0 <= score <= 1.0 for score in scores),
            _("every child run logs '{metric}'").format(metric=METRIC),
            _("some '{metric}' values are not AUCs (between 0 and 1): {scores}").format(
                metric=METRIC, scores=sorted(scores)
            ),
        )
    logged = [key for key in HYPERPARAMETERS if all(key in c.data.params for c in children)]
    absent = [key for key in HYPERPARAMETERS if key not in logged]
    if not logged:
        fb.problems.append(
            _(
                "the child runs log none of {names}: log each configuration with "
                "mlflow.log_params(config)"
            ).format(names=list(HYPERPARAMETERS))
        )
        return
    if absent:
        short = [c for c in children if any(key not in c.data.params for key in absent)]
        fb.problems.append(
            _(
                "you logged {logged} but not {absent} ({count} of {children} child runs lack "
                "it): log the whole configuration with mlflow.log_params(config)"
            ).format(
                logged=_(" and ").join(logged),
                absent=_(" and ").join(absent),
                count=len(short),
                children=len(children),
            )
        )
        return
    if not (isinstance(configurations, list) and all(isinstance(c, dict) for c in configurations)):
        fb.problems.append(_("configurations is not a list of dicts: finish Task 1 first"))
        return
    tried = {tuple(child.data.params[key] for key in HYPERPARAMETERS) for child in children}
    untried = [
        config
        for config in configurations
        if tuple(str(config.get(key)) for key in HYPERPARAMETERS) not in tried
    ]
    if untried:
        fb.problems.append(
            _(
                "no child run logged the configuration {config}: log the values you trained with"
            ).format(config=untried[0])
        )
    else:
        fb.good.append(
            _("the child runs log {keys} of every configuration").format(
                keys=_(" and ").join(HYPERPARAMETERS)
            )
        )


# --- Task 3 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 3 · Best run by search"),
    points=3,
    hint=N_(
        "mlflow.search_runs(experiment_ids=[kit.experiment_id], "
        "filter_string=f\"tags.mlflow.parentRunId = '{parent_run_id}'\", "
        "order_by=['metrics.val_auc DESC']); the best run is the first row."
    ),
)
def check_best_run(fb: Feedback, ranked: Any, best_run_id: Any, parent_run_id: Any) -> None:
    """``ranked`` holds exactly the children, best first; ``best_run_id`` is the best one."""
    parent = _parent_run(fb, parent_run_id)
    if parent is None:
        return
    children = {child.info.run_id: child for child in _children(parent)}
    best = _best_child(list(children.values()))
    if best is None:
        fb.problems.append(
            _("your search has no child run with '{metric}' yet: finish Task 2").format(
                metric=METRIC
            )
        )
        return
    if fb.expect_type(ranked, pd.DataFrame, _("ranked (what mlflow.search_runs returns)")):
        if ranked.empty:
            fb.problems.append(
                _(
                    "ranked is empty: your search matched no run; check the experiment id and "
                    "the filter tags.mlflow.parentRunId = '{run_id}' (quotes included)"
                ).format(run_id=parent.info.run_id)
            )
        elif "run_id" not in ranked.columns:
            fb.problems.append(
                _("ranked has no run_id column: keep the DataFrame mlflow.search_runs returns")
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
            _("run {run} is not a child of your search {parent}").format(
                run=_name(other), parent=_name(parent)
            )
            if other is not None
            else _("no run has the id '{run_id}'").format(run_id=best_run_id)
        )
    elif chosen.data.metrics.get(METRIC, float("-inf")) < best_score:
        fb.problems.append(
            _(
                "the run you chose, {chosen}, is not the best by {metric} ({score:.4f}): run "
                "{best} scores {best_score:.4f}"
            ).format(
                chosen=_name(chosen),
                metric=METRIC,
                score=chosen.data.metrics.get(METRIC, float("nan")),
                best=_name(best),
                best_score=best_score,
            )
        )
    else:
        fb.good.append(
            _("{run} is the best child run, {metric} = {score:.4f}").format(
                run=_name(chosen), metric=METRIC, score=best_score
            )
        )


def _check_ranking(fb: Feedback, ranked: pd.DataFrame, children: dict, parent: Any) -> None:
    """Expect ``ranked`` to hold every child of the search and nothing else, best first."""
    ids = [str(run_id) for run_id in ranked["run_id"]]
    extra = [run_id for run_id in ids if run_id not in children]
    missing = [run_id for run_id in children if run_id not in ids]
    if extra:
        if parent.info.run_id in extra:
            which = _("including the parent run itself")
        else:
            which = _("e.g. runs of an earlier search")
        fb.problems.append(
            _(
                "your search returned {count} runs, {extra} of which are not children of "
                "this search ({which}): filter on tags.mlflow.parentRunId = '{run_id}'"
            ).format(count=len(ids), extra=len(extra), which=which, run_id=parent.info.run_id)
        )
    elif missing:
        fb.problems.append(
            _(
                "ranked misses {count} of the {children} child runs: did a filter or "
                "max_results drop them?"
            ).format(count=len(missing), children=len(children))
        )
    else:
        fb.good.append(
            _("ranked holds exactly the {count} child runs of the search").format(
                count=len(children)
            )
        )
    column = f"metrics.{METRIC}"
    if column not in ranked.columns:
        fb.problems.append(_("ranked has no column '{column}'").format(column=column))
        return
    scores = ranked[column].tolist()
    if all(a >= b for a, b in zip(scores, scores[1:], strict=False)):
        fb.good.append(_("ranked is sorted by {metric}, best first").format(metric=METRIC))
    elif all(a <= b for a, b in zip(scores, scores[1:], strict=False)):
        fb.problems.append(
            _(
                "ranked is sorted worst first: order_by=['metrics.{metric} DESC'] puts the "
                "best first"
            ).format(metric=METRIC)
        )
    else:
        fb.problems.append(
            _("ranked is not sorted by {metric}: pass order_by=['metrics.{metric} DESC']").format(
                metric=METRIC
            )
        )


# --- Task 4 -------------------------------------------------------------------------------


@task_check(
    LAB,
    N_("Task 4 · Search summary on the parent"),
    points=2,
    hint=N_(
        "Reopen the parent with `with mlflow.start_run(run_id=parent_run_id):`, then "
        "mlflow.set_tag('best_run_id', best_run_id) and mlflow.log_metric('best_val_auc', ...)."
    ),
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
        fb.problems.append(
            _("your search has no child run with '{metric}' yet: finish Task 2").format(
                metric=METRIC
            )
        )
        return
    best_score = best.data.metrics[METRIC]
    fb.expect(
        abs(best_val_auc - best_score) < 1e-9,
        _("best_val_auc is the {metric} of the best child run ({score:.4f})").format(
            metric=METRIC, score=best_score
        ),
        _(
            "best_val_auc = {value:.4f} is not the {metric} of the best child run {run} "
            "({score:.4f})"
        ).format(value=best_val_auc, metric=METRIC, run=_name(best), score=best_score),
    )
    logged = parent.data.metrics.get(BEST_METRIC)
    if logged is None:
        strays = [run for run in _started_since(parent) if BEST_METRIC in run.data.metrics]
        if strays:
            fb.problems.append(
                _(
                    "the parent run has no metric '{metric}'; run {run} has it: "
                    "mlflow.log_metric outside a `with` block starts a new run, so reopen the "
                    "parent with `with mlflow.start_run(run_id=parent_run_id):`"
                ).format(metric=BEST_METRIC, run=_name(strays[0]))
            )
        else:
            fb.problems.append(
                _(
                    "the parent run has no metric '{metric}': log it while the parent run is open"
                ).format(metric=BEST_METRIC)
            )
    else:
        fb.expect(
            abs(logged - best_score) < 1e-9,
            _("the parent run's '{metric}' is {value:.4f}").format(
                metric=BEST_METRIC, value=logged
            ),
            _(
                "the parent run's '{metric}' is {value:.4f}, but the best child scores {score:.4f}"
            ).format(metric=BEST_METRIC, value=logged, score=best_score),
        )
    tagged = parent.data.tags.get(BEST_TAG)
    if tagged is None:
        fb.problems.append(_("the parent run has no tag '{tag}'").format(tag=BEST_TAG))
    else:
        fb.expect(
            tagged == best.info.run_id,
            _("the parent's tag '{tag}' names the best child run {run}").format(
                tag=BEST_TAG, run=_name(best)
            ),
            _("the parent's tag '{tag}' is '{value}', but the best child run is {run}").format(
                tag=BEST_TAG, value=tagged, run=_name(best)
            ),
        )


# --- Grading from MLflow state ------------------------------------------------------------

#: The tasks graded from MLflow state alone, by :func:`grade_state`.
STATE_TASKS: tuple[str, ...] = (
    N_("Task 1 · Search space"),
    N_("Task 2 · Nested, tracked search"),
    N_("Task 4 · Search summary on the parent"),
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
    none = _("the experiment holds no parent run with nested child runs: run the search of Task 2")
    space = [lambda fb, c=c: check_search_space.__wrapped__(fb, c) for _run, c in searches]
    nested = [
        lambda fb, r=r, c=c: check_nested_search.__wrapped__(fb, r.info.run_id, c)
        for r, c in searches
    ]
    summary = [
        lambda fb, r=r: check_parent_summary.__wrapped__(fb, r.info.run_id, _best_score(r))
        for r, _configs in searches
    ]
    return [
        best_of(LAB, STATE_TASKS[0], space, none),
        best_of(LAB, STATE_TASKS[1], nested, none),
        best_of(LAB, STATE_TASKS[2], summary, none),
    ]
