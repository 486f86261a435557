"""The serving client against a real model server and against a stub that misbehaves.

The real server serves a logistic regression fitted on 200 rows (it starts in about
5 s, once for the module). The error paths that a real server does not produce on
demand (503, a slow answer, a broken body) come from a small standard-library server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
import requests

from utils.servers import free_port
from utils.serving import ServingError, _payload, invocations_url, latency_test, predict_churn

COLUMNS = ["x1", "x2", "x3"]


# --- A real model server --------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A logistic regression on 200 rows, saved as an MLflow model with a signature."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(200, 3)), columns=COLUMNS)
    y = (X["x1"] + 0.5 * X["x2"] > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    path = tmp_path_factory.mktemp("model") / "tiny"
    mlflow.sklearn.save_model(
        model,
        path,
        signature=infer_signature(X, model.predict_proba(X)),
        pip_requirements=["scikit-learn"],
        pyfunc_predict_fn="predict_proba",
    )
    return path, X


@pytest.fixture(scope="module")
def served(
    tiny_model: tuple[Path, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The tiny model behind ``mlflow models serve``; yields the server's URL."""
    from utils.servers import model_server

    path, _ = tiny_model
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_STORE_DIR", str(tmp_path_factory.mktemp("store")))
        with model_server(str(path)) as server:
            # uvicorn answers from inside the launcher: no idle MLflow process beside it.
            assert requests.get(server.url + "/ping", timeout=5).headers["server"] == "uvicorn"
            main = psutil.Process(server.pid)
            assert not main.children(recursive=True), main.cmdline()
            yield server.url


@pytest.mark.slow
def test_served_predictions_match_the_model(
    served: str, tiny_model: tuple[Path, pd.DataFrame]
) -> None:
    import mlflow

    path, X = tiny_model
    local = mlflow.pyfunc.load_model(str(path)).predict(X.head(20))
    remote = predict_churn(served, X.head(20))
    assert remote.shape == (20, 2)
    np.testing.assert_allclose(remote, local, rtol=1e-9)
    again = predict_churn(served + "/invocations/", X.head(3))  # the full URL works too
    np.testing.assert_allclose(again, local[:3], rtol=1e-9)


@pytest.mark.slow
def test_a_missing_column_is_a_clear_400(
    served: str, tiny_model: tuple[Path, pd.DataFrame]
) -> None:
    _, X = tiny_model
    with pytest.raises(ServingError) as caught:
        predict_churn(served, X.drop(columns="x2").head(2))
    error = caught.value
    assert error.status == 400 and error.error_code == "INVALID_PARAMETER_VALUE"
    assert "HTTP 400 INVALID_PARAMETER_VALUE" in str(error)
    assert "Model is missing inputs ['x2']" in str(error)
    assert "Failed to predict data" not in str(error), "the repeated request is cut"
    assert len(str(error)) < 600


@pytest.mark.slow
def test_a_string_for_a_number_is_a_clear_400(
    served: str, tiny_model: tuple[Path, pd.DataFrame]
) -> None:
    _, X = tiny_model
    bad = X.head(2).astype({"x1": object})
    bad.loc[bad.index[0], "x1"] = "high"
    with pytest.raises(ServingError, match=r"HTTP 400 .*Failed to convert column x1") as caught:
        predict_churn(served, bad)
    assert "signature" in str(caught.value), "the advice names what to compare"


@pytest.mark.slow
def test_latency_test_against_a_real_server(
    served: str, tiny_model: tuple[Path, pd.DataFrame]
) -> None:
    _, X = tiny_model
    result = latency_test(served, X.head(1), n_requests=20, concurrency=4)
    assert result["requests"] == 20 and result["errors"] == 0
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["max_ms"]
    assert result["throughput_rps"] == pytest.approx(20 / result["seconds"])


# --- A stub server for the error paths --------------------------------------------------


class Stub:
    """A scripted HTTP server: each POST gets the next (status, body, delay) answer."""

    def __init__(self, answers: list[tuple[int, str, float]]) -> None:
        self.answers = list(answers)
        self.posts = 0
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, body, delay = stub.answers[min(stub.posts, len(stub.answers) - 1)]
                stub.posts += 1
                time.sleep(delay)
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Stub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


ONE_ROW = pd.DataFrame({"x1": [0.1], "x2": [0.2], "x3": [0.3]})
OK = json.dumps({"predictions": [1]})


def test_503_is_retried_then_succeeds() -> None:
    with Stub([(503, "busy", 0), (503, "busy", 0), (200, OK, 0)]) as stub:
        assert predict_churn(stub.url, ONE_ROW, backoff=0.01).tolist() == [1]
    assert stub.posts == 3


def test_503_gives_up_after_the_retries() -> None:
    with Stub([(503, "model is loading", 0)]) as stub:
        with pytest.raises(ServingError, match="HTTP 503 from .*model is loading"):
            predict_churn(stub.url, ONE_ROW, retries=1, backoff=0.01)
    assert stub.posts == 2


def test_a_4xx_is_not_retried_and_keeps_the_servers_words() -> None:
    body = json.dumps({"error_code": "BAD_REQUEST", "message": "Invalid input. Bad column."})
    with Stub([(400, body, 0), (200, OK, 0)]) as stub:
        with pytest.raises(ServingError) as caught:
            predict_churn(stub.url, ONE_ROW, backoff=0.01)
    assert stub.posts == 1
    error = caught.value
    assert (error.status, error.error_code) == (400, "BAD_REQUEST")
    assert "HTTP 400 BAD_REQUEST" in str(error) and "Invalid input. Bad column." in str(error)


def test_a_500_with_a_plain_body_names_the_status_and_the_text() -> None:
    with Stub([(500, "Internal Server Error: out of memory", 0)]) as stub:
        with pytest.raises(ServingError, match=r"HTTP 500 .*out of memory.*read its log"):
            predict_churn(stub.url, ONE_ROW)
    assert stub.posts == 1


def test_a_slow_answer_times_out_and_is_not_retried() -> None:
    with Stub([(200, OK, 1.0)]) as stub:
        began = time.perf_counter()
        with pytest.raises(ServingError, match=r"no answer within 0.2 s") as caught:
            predict_churn(stub.url, ONE_ROW, timeout=0.2)
        assert time.perf_counter() - began < 0.9
    assert stub.posts == 1 and caught.value.status is None


def test_nobody_listening_is_retried_then_explained() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServingError, match=r"could not connect after 3 attempt.*GET /ping"):
        predict_churn(url, ONE_ROW, retries=2, backoff=0.01)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html>hello</html>", "not JSON"),
        (json.dumps({"outputs": [1]}), "without 'predictions'"),
        (json.dumps({"predictions": [1, 0]}), "sent 2 predictions for 1 rows"),
    ],
)
def test_a_malformed_success_is_an_error(body: str, expected: str) -> None:
    with Stub([(200, body, 0)]) as stub:
        with pytest.raises(ServingError, match=expected):
            predict_churn(stub.url, ONE_ROW)


def test_dataframe_outputs_become_arrays() -> None:
    body = json.dumps({"predictions": [{"p0": 0.9, "p1": 0.1}]})
    with Stub([(200, body, 0)]) as stub:
        assert predict_churn(stub.url, ONE_ROW).tolist() == [[0.9, 0.1]]


def test_the_payload_is_dataframe_split_with_nulls() -> None:
    frame = pd.DataFrame({"x1": [np.nan], "x2": ["a"], "x3": [True]})
    assert json.loads(_payload(frame)) == {
        "dataframe_split": {"columns": COLUMNS, "data": [[None, "a", True]]}
    }


def test_latency_test_counts_errors_and_raises_when_all_fail() -> None:
    with Stub([(200, OK, 0), (200, OK, 0), (400, json.dumps({"message": "no"}), 0)]) as stub:
        with pytest.raises(ServingError, match="HTTP 400"):
            latency_test(stub.url, ONE_ROW, n_requests=5, concurrency=2)
    with Stub([(200, OK, 0)]) as stub:
        result = latency_test(stub.url, ONE_ROW, n_requests=10, concurrency=3)
    assert result["requests"] == 10 and result["errors"] == 0


def test_latency_test_stops_at_the_time_limit() -> None:
    with Stub([(200, OK, 0), (200, OK, 0), (200, OK, 0.2)]) as stub:
        result = latency_test(stub.url, ONE_ROW, n_requests=1000, concurrency=2, max_seconds=0.5)
    assert 2 <= result["requests"] <= 12 and result["seconds"] < 1.5


# --- Bad input to the helpers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "expected"),
    [
        (
            lambda: predict_churn("http://x", [[1, 2]]),
            TypeError,
            "frame must be a pandas DataFrame",
        ),
        (lambda: predict_churn("http://x", ONE_ROW.head(0)), ValueError, "frame has no rows"),
        (lambda: predict_churn("127.0.0.1:5001", ONE_ROW), ValueError, "must start with http"),
        (lambda: predict_churn(5001, ONE_ROW), TypeError, "url must be a string"),
        (lambda: predict_churn("http://x", ONE_ROW, timeout=0), ValueError, "timeout must be"),
        (lambda: predict_churn("http://x", ONE_ROW, retries=-1), ValueError, "retries must be"),
        (lambda: latency_test("http://x", ONE_ROW, n_requests=0), ValueError, "n_requests must"),
        (lambda: latency_test("http://x", ONE_ROW, concurrency=100), ValueError, "concurrency"),
        (lambda: latency_test("http://x", ONE_ROW, max_seconds=-1), ValueError, "max_seconds"),
    ],
)
def test_bad_input_is_explained(call: object, error: type[Exception], expected: str) -> None:
    with pytest.raises(error, match=expected):
        call()  # type: ignore[operator]


def test_invocations_url() -> None:
    assert invocations_url("http://127.0.0.1:5001/") == "http://127.0.0.1:5001/invocations"
    assert invocations_url("http://h:1/invocations") == "http://h:1/invocations"


def test_serving_error_pickles() -> None:
    import pickle

    error = ServingError("http://h/invocations", 400, "bad", "BAD_REQUEST")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.status == 400
