"""The churn model as an MLflow ``PythonModel``: clean raw inputs, score them, decide.

Lesson 09 writes this class in the notebook, cell by cell; it is kept here too, as
importable code, for the lessons that serve it from another process (lesson 12). A class
defined in a notebook is pickled by value with the model; this one is pickled by
reference, so whatever loads the model must be able to ``import utils.pyfunc`` (true in
the kit's environment and under ``mlflow models serve --env-manager local``).
Introduced in notebook 09.

Example::

    model = ChurnModel(pipeline, category_vocabulary(X_train))
    mlflow.pyfunc.log_model(name="churn_scorer", python_model=model,
                            model_config={"threshold": 0.3}, ...)
"""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from utils.features import FEATURES

#: The text columns whose spelling varies in raw exports (lower case, stray spaces).
TEXT_COLUMNS: list[str] = ["region", "plan", "contract_type", "payment_method"]
#: The decision for a customer at or above the threshold, and for the others.
CONTACT, NO_ACTION = "contact", "no action"


def category_vocabulary(frame: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Learn the canonical spelling of every category from clean training data.

    Args:
        frame: Clean training features holding every column of :data:`TEXT_COLUMNS`.

    Returns:
        For each text column, a map from the lower-case spelling to the training one,
        e.g. ``{"plan": {"premium": "Premium", ...}, ...}``.

    Raises:
        KeyError: ``frame`` lacks some of :data:`TEXT_COLUMNS`; the message names them.
    """
    missing = [column for column in TEXT_COLUMNS if column not in frame.columns]
    if missing:
        raise KeyError(f"the frame lacks the columns {missing}; pass the clean training features")
    return {
        column: {str(value).lower(): str(value) for value in frame[column].dropna().unique()}
        for column in TEXT_COLUMNS
    }


def normalise_categories(
    frame: pd.DataFrame, vocabulary: dict[str, dict[str, str]]
) -> pd.DataFrame:
    """Return a copy of ``frame`` whose categories are spelled as in training.

    ``" premium"``, ``"PREMIUM"`` and ``"Premium"`` all become ``"Premium"``. A value the
    vocabulary does not know is kept, without its outer spaces; missing values stay missing.

    Args:
        frame: Features whose text columns may be spelled in any case, with stray spaces.
        vocabulary: The output of :func:`category_vocabulary`.

    Returns:
        A new frame; ``frame`` is not modified.
    """
    clean = frame.copy()
    for column, spellings in vocabulary.items():
        if column in clean.columns:
            stripped = clean[column].astype("str").str.strip().where(clean[column].notna())
            clean[column] = stripped.str.lower().map(spellings).fillna(stripped)
    return clean


class ChurnModel(mlflow.pyfunc.PythonModel):
    """A fitted churn pipeline with its preprocessing and its decision rule.

    ``predict`` cleans the spelling of the categories, scores every customer with the
    pipeline and returns two columns: ``churn_probability`` and ``decision``
    (``"contact"`` at or above the threshold, else ``"no action"``). The threshold comes
    from the model's ``model_config`` (``{"threshold": 0.3}``), 0.5 when not set.
    """

    def __init__(self, pipeline: Pipeline, vocabulary: dict[str, dict[str, str]]) -> None:
        """Keep the fitted pipeline and the training spellings.

        Args:
            pipeline: A fitted pipeline with ``predict_proba`` (``utils.features.build_model``).
            vocabulary: The output of :func:`category_vocabulary` on the training features.
        """
        self.pipeline = pipeline
        self.vocabulary = vocabulary
        self.threshold = 0.5

    def load_context(self, context: Any) -> None:
        """Read the decision threshold from the model configuration when MLflow loads it."""
        config = getattr(context, "model_config", None) or {}
        self.threshold = float(config.get("threshold", self.threshold))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Clean, score and decide.

        Args:
            context: MLflow's model context (unused here: ``load_context`` read it).
            model_input: One row per customer with the columns of
                ``utils.features.FEATURES``, categories spelled in any case.
            params: Unused; accepted because MLflow passes it.

        Returns:
            A frame with ``churn_probability`` (float in [0, 1]) and ``decision``, one
            row per input row, on the input's index.
        """
        clean = normalise_categories(model_input, self.vocabulary)
        probability = self.pipeline.predict_proba(clean[FEATURES])[:, 1]
        decision = np.where(probability >= self.threshold, CONTACT, NO_ACTION)
        return pd.DataFrame(
            {"churn_probability": probability, "decision": decision}, index=model_input.index
        )
