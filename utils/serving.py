"""Call a served MLflow model the way an application would: a client and a load test.

``mlflow models serve`` (and the container MLflow builds) answers ``POST /invocations``
with ``{"predictions": [...]}``. :func:`predict_churn` sends a DataFrame there as
``dataframe_split`` JSON with a timeout, retries only when retrying is safe, and turns
every failure into a :class:`ServingError` whose message names the HTTP status and the
server's own explanation. :func:`latency_test` measures latency (p50, p95) and throughput
under concurrent requests, with a bounded number of requests and a time limit.
Introduced in notebook 12; used again in lab 05 and the capstone.

Example:
    >>> with model_server("models:/streamco-churn@champion") as server:  # doctest: +SKIP
    ...     scores = predict_churn(server.url, customers)
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import requests

__all__ = [
    "DEFAULT_TIMEOUT",
    "RETRY_STATUSES",
    "ServingError",
    "error_summary",
    "invocations_url",
    "latency_test",
    "predict_churn",
]

#: Seconds a request may take (to connect, and again to receive the answer).
DEFAULT_TIMEOUT: float = 5.0
#: Answers after which the same request may be sent again: a proxy found no healthy
#: server (502) or the server is not ready or overloaded (503). Nothing was computed.
RETRY_STATUSES: frozenset[int] = frozenset({502, 503})
#: Most requests one :func:`latency_test` may send.
MAX_TEST_REQUESTS: int = 10_000
# What to do about an error answer, by HTTP status.
_ADVICE: dict[int, str] = {
    400: "the request does not fit the model: compare its columns and types with the "
    "model's signature",
    404: "nothing answers at that path: send requests to <server>/invocations",
    415: "the server only takes JSON, CSV or Parquet: set the Content-Type header",
    504: "the server gave up on the request: send fewer rows per request",
}


class ServingError(RuntimeError):
    """A model server could not be reached or refused a request.

    Attributes:
        url: The URL the request went to.
        status: The HTTP status of the answer, or ``None`` when there was no answer
            (connection refused, timeout).
        error_code: MLflow's error code (e.g. ``"INVALID_PARAMETER_VALUE"``), when the
            server sent one.
        server_message: The server's full explanation (or what went wrong on the way).
    """

    def __init__(
        self,
        url: str,
        status: int | None,
        server_message: str,
        error_code: str | None = None,
    ) -> None:
        """Build the message from the status, the error code and the server's text.

        Args:
            url: The URL the request went to.
            status: The HTTP status, or ``None`` when no answer came back.
            server_message: What the server said, or what went wrong.
            error_code: MLflow's error code, if any.
        """
        self.url = url
        self.status = status
        self.error_code = error_code
        self.server_message = server_message
        super().__init__(self._describe())

    def _describe(self) -> str:
        text = error_summary(self.server_message)
        if self.status is None:
            return f"no answer from {self.url}: {text}"
        code = f" {self.error_code}" if self.error_code else ""
        advice = _ADVICE.get(self.status) or (
            "the server failed: read its log" if self.status >= 500 else ""
        )
        return f"HTTP {self.status}{code} from {self.url}: {text}" + (
            f" ({advice})" if advice else ""
        )

    def __reduce__(self) -> tuple[type[ServingError], tuple[Any, ...]]:
        """Let the error cross process boundaries (pickle) with its arguments."""
        return (type(self), (self.url, self.status, self.server_message, self.error_code))


def error_summary(message: str, limit: int = 400) -> str:
    """Return the useful part of a model server's error message, on one line.

    MLflow's schema errors repeat the whole request and the schema before the reason,
    e.g. ``Failed to predict data '<rows>' ... Error: Model is missing inputs ['age'].``;
    only the reason after the last ``Error:`` is kept.

    Args:
        message: The ``message`` of the server's JSON error answer.
        limit: The most characters to return.

    Returns:
        The message on one line, cut to ``limit`` characters.
    """
    if message.startswith("Failed to predict data") and "Error: " in message:
        message = message.rsplit("Error: ", 1)[1]
    message = " ".join(message.split())
    return message if len(message) <= limit else message[: limit - 3] + "..."


def invocations_url(url: str) -> str:
    """Return the ``/invocations`` URL of a model server.

    Args:
        url: The server's base URL (``http://127.0.0.1:5001``) or its ``/invocations`` URL.

    Returns:
        The URL to ``POST`` predictions requests to.

    Raises:
        TypeError: If ``url`` is not a string.
        ValueError: If ``url`` is not an ``http://`` or ``https://`` URL.
    """
    if not isinstance(url, str):
        raise TypeError(
            f"url must be a string like 'http://127.0.0.1:5001', not a {type(url).__name__}"
        )
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(
            f"url must start with http:// or https://, got {url!r}; pass the server's "
            "address, e.g. server.url from utils.servers.model_server"
        )
    return base if base.endswith("/invocations") else base + "/invocations"


def _check_frame(frame: object) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"frame must be a pandas DataFrame with one row per customer, not a "
            f"{type(frame).__name__}; a single customer is customers.iloc[[i]]"
        )
    if frame.empty:
        raise ValueError("frame has no rows: send at least one customer")
    return frame


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a number of seconds above 0, got {value!r}")
    return float(value)


def _payload(frame: pd.DataFrame) -> bytes:
    """Encode ``frame`` as MLflow's ``dataframe_split`` JSON (missing values as null)."""
    split = frame.to_json(orient="split", index=False, date_format="iso")
    return ('{"dataframe_split": ' + split + "}").encode("utf-8")


def _error_from(response: requests.Response, url: str) -> ServingError:
    """Turn an error answer into a :class:`ServingError`, JSON body or not."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "message" in body:
        return ServingError(url, response.status_code, str(body["message"]), body.get("error_code"))
    text = response.text.strip() or response.reason or "(empty answer)"
    return ServingError(url, response.status_code, text)


def _predictions(response: requests.Response, url: str, rows: int) -> np.ndarray:
    """Read ``{"predictions": [...]}`` from a 200 answer; one prediction per row."""
    try:
        body = response.json()
    except ValueError:
        raise ServingError(
            url, 200, f"answered with something that is not JSON: {response.text}"
        ) from None
    if not isinstance(body, dict) or "predictions" not in body:
        keys = sorted(body) if isinstance(body, dict) else type(body).__name__
        raise ServingError(url, 200, f"answered without 'predictions' (got {keys})")
    predictions = body["predictions"]
    if isinstance(predictions, list) and predictions and isinstance(predictions[0], dict):
        result = pd.DataFrame(predictions).to_numpy()  # a model that returns a DataFrame
    else:
        result = np.asarray(predictions)
    if result.ndim == 0 or len(result) != rows:
        got = 1 if result.ndim == 0 else len(result)
        raise ServingError(url, 200, f"sent {got} predictions for {rows} rows")
    return result


def predict_churn(
    url: str,
    frame: pd.DataFrame,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
    backoff: float = 0.2,
    session: requests.Session | None = None,
) -> np.ndarray:
    """Score customers with a served model: one ``POST /invocations`` with ``dataframe_split``.

    A prediction changes nothing on the server, so sending it again is harmless; the
    client still retries only when the first attempt cannot have been answered: the
    connection failed or dropped, or the server answered 502/503 (not ready, overloaded).
    It never retries a 4xx (the same request gets the same refusal) nor a timeout (the
    server may still be busy with it, and the caller's time is spent).

    Args:
        url: The model server's base URL (``server.url``) or its ``/invocations`` URL.
        frame: One row per customer, with the columns of the model's signature.
        timeout: Seconds to wait to connect, and again for the answer.
        retries: How many times to try again after a connection failure or a 502/503.
        backoff: Seconds before the first retry; doubled before each further retry.
        session: A ``requests.Session`` to reuse connections across calls (optional).

    Returns:
        The predictions, one per row, as the server sent them: a 1-D array of labels, or
        a 2-D array (one column per class) for a model that serves probabilities.

    Raises:
        TypeError: If ``url`` or ``frame`` has the wrong type.
        ValueError: If ``frame`` is empty or ``timeout``, ``retries`` or ``backoff`` is
            out of range.
        ServingError: The server could not be reached, did not answer in time, or
            refused the request; the message names the HTTP status and the server's
            explanation.
    """
    target = invocations_url(url)
    frame = _check_frame(frame)
    timeout = _check_positive(timeout, "timeout")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a whole number >= 0, got {retries!r}")
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
        raise ValueError(f"backoff must be a number of seconds >= 0, got {backoff!r}")
    body = _payload(frame)
    post = (session or requests).post
    headers = {"Content-Type": "application/json"}
    for attempt in range(retries + 1):
        last = attempt == retries
        try:
            response = post(target, data=body, headers=headers, timeout=(timeout, timeout))
        except requests.ConnectionError as exc:  # includes a connect timeout: safe to retry
            if last:
                raise ServingError(
                    target,
                    None,
                    f"could not connect after {retries + 1} attempt(s) "
                    f"({type(exc).__name__}); is the server running? It answers GET /ping "
                    "when it is ready",
                ) from None
        except requests.Timeout:
            raise ServingError(
                target,
                None,
                f"no answer within {timeout:g} s (not retried: the server may still be "
                "working on it)",
            ) from None
        else:
            if response.status_code == 200:
                return _predictions(response, target, len(frame))
            if response.status_code not in RETRY_STATUSES or last:
                raise _error_from(response, target)
        time.sleep(backoff * 2**attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def latency_test(
    url: str,
    frame: pd.DataFrame,
    n_requests: int = 200,
    concurrency: int = 8,
    timeout: float = DEFAULT_TIMEOUT,
    max_seconds: float = 60.0,
) -> dict[str, float]:
    """Send ``n_requests`` copies of one request from ``concurrency`` threads; time them.

    Each thread sends its requests one after the other (a closed loop, like callers who
    wait for their answer before asking again) over its own keep-alive connection. Two
    untimed requests warm the server up first. The test stops early once ``max_seconds``
    have passed, so it is bounded in count and in time. Requests are not retried.

    Args:
        url: The model server's base URL or its ``/invocations`` URL.
        frame: The rows every request sends (one row: one customer scored online).
        n_requests: How many timed requests to send, 1 to 10,000.
        concurrency: How many requests are in flight at once (threads), 1 to 64.
        timeout: Seconds each request may take.
        max_seconds: Stop sending new requests after this many seconds.

    Returns:
        ``requests`` (answered), ``errors``, ``concurrency``, ``seconds`` (wall time),
        ``p50_ms``, ``p95_ms``, ``mean_ms`` and ``max_ms`` (latency of the answered
        requests) and ``throughput_rps`` (answered requests per second of wall time).

    Raises:
        TypeError: If ``url`` or ``frame`` has the wrong type.
        ValueError: If a count or a time is out of range.
        ServingError: The warm-up failed, or no timed request was answered; the message
            is the first error's.
    """
    target = invocations_url(url)
    frame = _check_frame(frame)
    for name, value, top in (
        ("n_requests", n_requests, MAX_TEST_REQUESTS),
        ("concurrency", concurrency, 64),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise ValueError(f"{name} must be a whole number from 1 to {top}, got {value!r}")
    timeout = _check_positive(timeout, "timeout")
    max_seconds = _check_positive(max_seconds, "max_seconds")

    with requests.Session() as warm:
        for _ in range(2):
            predict_churn(target, frame, timeout=timeout, retries=0, session=warm)

    lock = threading.Lock()
    tickets = iter(range(n_requests))
    latencies: list[float] = []
    errors: list[ServingError] = []
    start = time.perf_counter()
    deadline = start + max_seconds

    def caller() -> None:
        with requests.Session() as session:
            while time.perf_counter() < deadline:
                with lock:
                    if next(tickets, None) is None:
                        return
                began = time.perf_counter()
                try:
                    predict_churn(target, frame, timeout=timeout, retries=0, session=session)
                except ServingError as exc:
                    with lock:
                        errors.append(exc)
                    continue
                took = time.perf_counter() - began
                with lock:
                    latencies.append(took)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="latency") as pool:
        for future in [pool.submit(caller) for _ in range(concurrency)]:
            future.result()
    seconds = time.perf_counter() - start
    if not latencies:
        raise errors[0] if errors else ServingError(target, None, "no request finished in time")
    ms = np.array(latencies) * 1000
    return {
        "requests": float(len(latencies)),
        "errors": float(len(errors)),
        "concurrency": float(concurrency),
        "seconds": seconds,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "max_ms": float(ms.max()),
        "throughput_rps": len(latencies) / seconds,
    }
