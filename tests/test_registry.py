"""Registered model names: plain on the local store, per student on a class server."""

from __future__ import annotations

import pytest

from utils.registry import model_name_for


def test_local_store_keeps_the_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    assert model_name_for("lesson10-churn") == "lesson10-churn"


def test_class_server_prefixes_the_student(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ana")
    assert model_name_for("lesson10-churn") == "ana.lesson10-churn"


def test_forbidden_characters_in_the_user_name_are_replaced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "team/ana:1")
    assert model_name_for("churn") == "team-ana-1.churn"


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("", "non-empty string"),
        ("   ", "non-empty string"),
        (None, "non-empty string"),
        ("dev/churn", "refuses '/'"),
        ("models:churn", "refuses ':'"),
    ],
)
def test_bad_names_say_what_is_wrong(base: object, expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        model_name_for(base)  # type: ignore[arg-type]


def test_names_it_returns_are_accepted_by_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.utils.validation import _validate_model_name

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "team/ana:1")
    _validate_model_name(model_name_for("lesson10-churn"))
