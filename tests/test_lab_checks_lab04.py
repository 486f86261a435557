"""Lab 04's checks give specific feedback on wrong answers and on wrongly logged models.

Tasks 1 and 2 get functions and objects built here. Tasks 3 and 4 read real models and
runs, logged into one empty tracking store shared by this module; the "student's" model
is the kit's own ``utils.pyfunc.ChurnModel``, logged right and in several wrong ways.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature

from utils.data import TARGET, load_dataset
from utils.features import FEATURES, SKOPS_TRUSTED_TYPES, build_model, split_features
from utils.labs import lab04
from utils.pyfunc import ChurnModel, category_vocabulary

REQUIREMENTS = ["scikit-learn==1.9.1", "pandas==3.1.1"]
# MLflow's hints about integer columns and missing input examples: expected here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer:UserWarning"),
    pytest.mark.filterwarnings("ignore:.*An input example was not provided:UserWarning"),
]


@pytest.fixture(scope="module")
def training() -> tuple[pd.DataFrame, pd.Series]:
    return split_features(load_dataset("monthly/2025-01"))


@pytest.fixture(scope="module")
def pipeline(training: tuple[pd.DataFrame, pd.Series]) -> Any:
    X, y = training
    return build_model().fit(X, y)


@pytest.fixture(scope="module")
def vocabulary(training: tuple[pd.DataFrame, pd.Series]) -> dict[str, dict[str, str]]:
    return category_vocabulary(training[0])


def problems(feedback: Any) -> str:
    return " | ".join(feedback.problems)


# --- Task 1 ---------------------------------------------------------------------------------


def good_cleaner(vocabulary: dict[str, dict[str, str]]) -> Any:
    def clean_inputs(frame: pd.DataFrame) -> pd.DataFrame:
        clean = frame.copy()
        for column, spellings in vocabulary.items():
            text = clean[column].str.strip()
            clean[column] = text.str.lower().map(spellings).fillna(text)
        return clean

    return clean_inputs


def test_raw_style_changes_only_the_spelling() -> None:
    clean = lab04.clean_sample()
    messy = lab04.raw_style(clean)
    assert messy.index.equals(clean.index) and list(messy.columns) == list(clean.columns)
    for column in lab04.TEXT_COLUMNS:
        assert (messy[column] != clean[column]).mean() > 0.5
        assert (messy[column].str.strip().str.lower() == clean[column].str.lower()).all()
    others = [c for c in clean.columns if c not in lab04.TEXT_COLUMNS]
    pd.testing.assert_frame_equal(messy[others], clean[others])


def test_a_right_cleaner_passes(vocabulary: dict[str, dict[str, str]]) -> None:
    feedback = lab04.check_clean_inputs(good_cleaner(vocabulary))
    assert feedback.passed, problems(feedback)


def test_a_cleaner_left_as_a_stub_is_unfinished() -> None:
    def clean_inputs(frame: pd.DataFrame) -> Any:
        return ...

    assert lab04.check_clean_inputs(clean_inputs).status == "unfinished"
    assert lab04.check_clean_inputs(...).status == "unfinished"


def test_a_cleaner_that_is_not_a_function_is_named() -> None:
    feedback = lab04.check_clean_inputs("strip and lower")
    assert "should be a function, not a str" in problems(feedback)


def test_a_cleaner_that_returns_nothing_is_named() -> None:
    feedback = lab04.check_clean_inputs(lambda frame: None)
    assert "should be a DataFrame, not a NoneType" in problems(feedback)


def test_lower_case_without_the_vocabulary_names_the_first_wrong_value() -> None:
    def clean_inputs(frame: pd.DataFrame) -> pd.DataFrame:
        clean = frame.copy()
        for column in lab04.TEXT_COLUMNS:
            clean[column] = clean[column].str.strip().str.lower()
        return clean

    feedback = lab04.check_clean_inputs(clean_inputs)
    assert feedback.status == "failed"
    text = problems(feedback)
    assert "region: 'EAST' came back as 'east', expected 'East' (300 of 300 rows wrong)" in text
    assert "plan: ' premium  ' came back as 'premium', expected 'Premium'" in text


def test_editing_the_input_in_place_is_caught(vocabulary: dict[str, dict[str, str]]) -> None:
    def clean_inputs(frame: pd.DataFrame) -> pd.DataFrame:
        for column, spellings in vocabulary.items():
            text = frame[column].str.strip()
            frame[column] = text.str.lower().map(spellings).fillna(text)
        return frame

    feedback = lab04.check_clean_inputs(clean_inputs)
    assert "changed the frame it was given: work on a copy" in problems(feedback)


def test_dropping_unknown_values_is_caught(vocabulary: dict[str, dict[str, str]]) -> None:
    def clean_inputs(frame: pd.DataFrame) -> pd.DataFrame:
        clean = frame.copy()
        for column, spellings in vocabulary.items():
            clean[column] = clean[column].str.strip().str.lower().map(spellings)
        return clean

    feedback = lab04.check_clean_inputs(clean_inputs)
    assert "unknown plans '  Platinum ' and 'Gold' came back as [nan, nan]" in problems(feedback)


def test_touching_other_columns_is_caught(vocabulary: dict[str, dict[str, str]]) -> None:
    cleaner = good_cleaner(vocabulary)

    def clean_inputs(frame: pd.DataFrame) -> pd.DataFrame:
        return cleaner(frame).assign(age=lambda d: d["age"] * 1.0)

    feedback = lab04.check_clean_inputs(clean_inputs)
    assert "changed columns it should leave alone: ['age']" in problems(feedback)


# --- Task 2 ---------------------------------------------------------------------------------


class Scorer(mlflow.pyfunc.PythonModel):
    """A configurable stand-in for the student's class, right by default."""

    def __init__(
        self,
        pipeline: Any,
        vocabulary: dict[str, dict[str, str]],
        clean: bool = True,
        labels: tuple[str, str] = lab04.DECISIONS,
        columns: tuple[str, str] = ("churn_probability", "decision"),
        hard_threshold: float | None = None,
    ) -> None:
        self.pipeline, self.vocabulary, self.clean = pipeline, vocabulary, clean
        self.labels, self.columns, self.hard_threshold = labels, columns, hard_threshold
        self.threshold = 0.5

    def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
        frame = model_input
        if self.clean:
            frame = good_cleaner(self.vocabulary)(model_input)
        probability = self.pipeline.predict_proba(frame[FEATURES])[:, 1]
        threshold = self.hard_threshold if self.hard_threshold is not None else self.threshold
        decision = np.where(probability >= threshold, *self.labels)
        return pd.DataFrame(dict(zip(self.columns, [probability, decision], strict=True)))


def test_a_right_scorer_passes(pipeline: Any, vocabulary: dict[str, dict[str, str]]) -> None:
    feedback = lab04.check_custom_model(Scorer(pipeline, vocabulary), pipeline)
    assert feedback.passed, problems(feedback)
    assert lab04.check_custom_model(ChurnModel(pipeline, vocabulary), pipeline).passed


def test_a_scorer_left_as_a_stub_is_unfinished(pipeline: Any) -> None:
    class Stub(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            return ...

    assert lab04.check_custom_model(Stub(), pipeline).status == "unfinished"


def test_a_scorer_that_is_not_a_python_model_is_named(pipeline: Any) -> None:
    feedback = lab04.check_custom_model(pipeline, pipeline)
    assert "subclasses mlflow.pyfunc.PythonModel; got a Pipeline" in problems(feedback)


def test_a_scorer_without_preprocessing_is_caught(
    pipeline: Any, vocabulary: dict[str, dict[str, str]]
) -> None:
    feedback = lab04.check_custom_model(Scorer(pipeline, vocabulary, clean=False), pipeline)
    assert "raw-style rows get other probabilities" in problems(feedback)


def test_wrong_output_columns_are_named(
    pipeline: Any, vocabulary: dict[str, dict[str, str]]
) -> None:
    scorer = Scorer(pipeline, vocabulary, columns=("probability", "decision"))
    feedback = lab04.check_custom_model(scorer, pipeline)
    assert "(missing ['churn_probability'])" in problems(feedback)


def test_wrong_decision_labels_are_named(
    pipeline: Any, vocabulary: dict[str, dict[str, str]]
) -> None:
    feedback = lab04.check_custom_model(
        Scorer(pipeline, vocabulary, labels=("yes", "no")), pipeline
    )
    assert "decision holds ['no', 'yes']; use exactly 'contact' and 'no action'" in problems(
        feedback
    )


def test_decisions_off_the_threshold_are_counted(
    pipeline: Any, vocabulary: dict[str, dict[str, str]]
) -> None:
    scorer = Scorer(pipeline, vocabulary, hard_threshold=0.1)
    feedback = lab04.check_custom_model(scorer, pipeline)
    assert "decisions disagree with the threshold 0.5" in problems(feedback)


# --- Tasks 3 and 4: real models and runs ------------------------------------------------------


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, template_db: Path, tracking_to: Callable[[str], Any]
) -> Iterator[Path]:
    """An empty tracking store with its own experiment, used by every test below."""
    folder = tmp_path_factory.mktemp("lab04_store")
    db = folder / "mlflow.db"
    shutil.copy(template_db, db)
    with tracking_to(f"sqlite:///{db}"):
        experiment_id = mlflow.create_experiment(
            "lab04_student", artifact_location=(folder / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment_id)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Hint: Inferred schema")
            yield folder
        while mlflow.active_run():
            mlflow.end_run()


def log_scorer(model: Any, example: pd.DataFrame | None, **kwargs: Any) -> str:
    """Log a pyfunc model in a run of its own; return its URI."""
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="churn_scorer",
            python_model=model,
            input_example=example,
            pip_requirements=REQUIREMENTS,
            **kwargs,
        )
    return info.model_uri


@pytest.fixture(scope="module")
def example(training: tuple[pd.DataFrame, pd.Series]) -> pd.DataFrame:
    return training[0].head(3)


@pytest.fixture(scope="module")
def good_uri(
    store: Path, pipeline: Any, vocabulary: dict[str, dict[str, str]], example: pd.DataFrame
) -> str:
    model = ChurnModel(pipeline, vocabulary)
    signature = infer_signature(example, model.predict(None, example))
    return log_scorer(
        model, example, signature=signature, model_config={"threshold": lab04.THRESHOLD}
    )


@pytest.mark.slow
def test_a_right_model_passes(good_uri: str) -> None:
    feedback = lab04.check_logged_model(good_uri)
    assert feedback.passed, problems(feedback)


def test_the_model_info_instead_of_its_uri_is_named(good_uri: str) -> None:
    info = mlflow.models.get_model_info(good_uri)
    feedback = lab04.check_logged_model(info)
    assert "pass the URI string, not the ModelInfo: info.model_uri" in problems(feedback)
    assert lab04.check_logged_model(...).status == "unfinished"


def test_an_unknown_uri_is_named(store: Path) -> None:
    feedback = lab04.check_logged_model("models:/m-0123456789abcdef")
    assert "MLflow finds no model at 'models:/m-0123456789abcdef'" in problems(feedback)


def test_a_model_without_signature_or_example_is_caught(
    store: Path, pipeline: Any, vocabulary: dict[str, dict[str, str]]
) -> None:
    uri = log_scorer(
        ChurnModel(pipeline, vocabulary), None, model_config={"threshold": lab04.THRESHOLD}
    )
    feedback = lab04.check_logged_model(uri)
    text = problems(feedback)
    assert "the model has no signature: pass signature=infer_signature(" in text
    assert "the model has no input example: pass input_example=" in text


def test_a_wrong_column_type_is_named(
    store: Path, pipeline: Any, vocabulary: dict[str, dict[str, str]], example: pd.DataFrame
) -> None:
    model = ChurnModel(pipeline, vocabulary)
    as_int = example.astype({"monthly_fee": "int64"})
    signature = infer_signature(as_int, model.predict(None, example))
    uri = log_scorer(model, None, signature=signature, model_config={"threshold": lab04.THRESHOLD})
    feedback = lab04.check_logged_model(uri)
    assert "the signature's monthly_fee is long, expected double" in problems(feedback)


def test_a_signature_from_the_labels_is_caught(
    store: Path,
    pipeline: Any,
    vocabulary: dict[str, dict[str, str]],
    training: tuple[pd.DataFrame, pd.Series],
) -> None:
    X, y = training
    signature = infer_signature(X.assign(customer_id="C1"), y)
    uri = log_scorer(
        ChurnModel(pipeline, vocabulary),
        None,
        signature=signature,
        model_config={"threshold": lab04.THRESHOLD},
    )
    text = problems(lab04.check_logged_model(uri))
    assert "the signature also requires ['customer_id']" in text
    outputs = "the signature's outputs are ['churned_next_month']; expected ['churn_probability'"
    assert outputs in text


def test_a_missing_threshold_is_traced_to_load_context(
    store: Path, pipeline: Any, vocabulary: dict[str, dict[str, str]], example: pd.DataFrame
) -> None:
    model = ChurnModel(pipeline, vocabulary)
    signature = infer_signature(example, model.predict(None, example))
    uri = log_scorer(model, example, signature=signature)
    text = problems(lab04.check_logged_model(uri))
    assert "the model's config is {}: pass model_config={'threshold': 0.3}" in text
    assert "load_context must read the threshold from context.model_config" in text


@pytest.mark.slow
def test_a_scikit_learn_model_is_not_the_custom_model(store: Path, pipeline: Any) -> None:
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            pipeline,
            name="pipeline",
            pip_requirements=REQUIREMENTS,
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
        )
    feedback = lab04.check_logged_model(info.model_uri)
    assert "loaded by mlflow.sklearn, so it is not your custom model" in problems(feedback)


@pytest.fixture(scope="module")
def april() -> pd.DataFrame:
    X, y = split_features(load_dataset(f"monthly/{lab04.EVALUATION_MONTH}"))
    return X.assign(**{TARGET: y})


def auc_metric() -> Any:
    from mlflow.metrics import MetricValue
    from mlflow.models import make_metric
    from sklearn.metrics import roc_auc_score

    def churn_auc(predictions: pd.Series, targets: pd.Series) -> MetricValue:
        if targets.nunique() < 2:
            return MetricValue(aggregate_results={"value": float("nan")})
        return MetricValue(aggregate_results={"value": roc_auc_score(targets, predictions)})

    return make_metric(eval_fn=churn_auc, greater_is_better=True, name="roc_auc")


@pytest.mark.slow
def test_a_right_evaluation_passes(good_uri: str, april: pd.DataFrame) -> None:
    with mlflow.start_run() as run:
        mlflow.models.evaluate(
            good_uri,
            april,
            targets=TARGET,
            predictions="churn_probability",
            extra_metrics=[auc_metric()],
        )
    feedback = lab04.check_evaluation(run.info.run_id, good_uri)
    assert feedback.passed, problems(feedback)
    assert lab04.check_evaluation(..., good_uri).status == "unfinished"


def test_a_run_without_auc_is_named(good_uri: str) -> None:
    with mlflow.start_run() as run:
        mlflow.log_metric("accuracy", 0.8)
    feedback = lab04.check_evaluation(run.info.run_id, good_uri)
    assert "the run has no roc_auc metric (it has ['accuracy'])" in problems(feedback)


def test_a_low_auc_on_another_model_and_sample_is_caught(good_uri: str) -> None:
    with mlflow.start_run() as run:
        mlflow.log_metric("roc_auc/value", 0.61)
    text = problems(lab04.check_evaluation(run.info.run_id, good_uri))
    assert "ROC AUC 0.610 is below 0.75" in text
    assert "the run evaluated no logged model, not your model" in text
    assert "the evaluation data had no recorded rows" in text


def test_a_wrong_run_id_is_named(good_uri: str) -> None:
    with mlflow.start_run() as run:
        pass
    assert "pass the run's id, not the run" in problems(lab04.check_evaluation(run, good_uri))
    assert "no run has the id 'abc'" in problems(lab04.check_evaluation("abc", good_uri))


def test_expected_types_follow_the_datasheet() -> None:
    assert lab04.expected_type("monthly_fee") == ("double",)
    assert lab04.expected_type("age") == ("long", "double")
    assert lab04.expected_type("autopay") == ("boolean",)
    assert lab04.expected_type("plan") == ("string",)
