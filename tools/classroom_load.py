"""Load-test the class tracking server: a whole class logging runs at the same time.

``python -m tools.classroom_load --students 30`` starts the class server of
:mod:`utils.classroom` (PostgreSQL, MLflow's basic authentication) on 127.0.0.1 in a
temporary folder, creates one account per simulated student, and runs one thread per
student. Each student, with their own credentials, creates the experiment
``<user>/loadtest`` and logs runs, parameters and metrics through the server's REST API,
as the MLflow client does. The number of requests is fixed in advance and the test stops
at a time limit. Then it checks that:

- every record a student sent and the server acknowledged is in the database (runs,
  parameters and metric values per student, counted in PostgreSQL);
- each student's attempt to write into another student's experiment was refused (403);
- requests without credentials, or with a wrong password, were refused (401).

It reports the throughput (answered requests per second) and the latency (p50, p95).
``make benchmark`` runs it with 30 students and adds the figures to BENCHMARK.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from utils.classroom import classroom_server

#: Most requests one load test may plan (students x runs x records).
MAX_REQUESTS = 20_000
#: Seconds one request may take before it counts as an error.
REQUEST_TIMEOUT = 60.0
KINDS = ("runs", "params", "metrics")


@dataclass
class LoadResult:
    """What one load test measured and verified.

    Attributes:
        students: Simulated students (threads, accounts).
        runs: Runs each student logs.
        params: Parameters per run.
        metrics: Metric values per run.
        startup_s: Seconds to start PostgreSQL and the MLflow server and make the accounts.
        seconds: Wall time of the load phase.
        latencies_ms: Latency of every answered request of the load phase.
        errors: What went wrong (unexpected answers, timeouts), at most a few of each.
        finished: Whether every student sent everything before the time limit.
        acknowledged: Records the server acknowledged, per student and kind.
        stored: Records found in the database, per student and kind.
        forbidden: ``(refused, tried)`` writes into another student's experiment.
        unauthenticated: ``(refused, tried)`` requests without valid credentials.
    """

    students: int
    runs: int
    params: int
    metrics: int
    startup_s: float = 0.0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    finished: bool = False
    acknowledged: dict[str, Counter] = field(default_factory=dict)
    stored: dict[str, Counter] = field(default_factory=dict)
    forbidden: tuple[int, int] = (0, 0)
    unauthenticated: tuple[int, int] = (0, 0)

    @property
    def requests(self) -> int:
        """Answered requests of the load phase."""
        return len(self.latencies_ms)

    @property
    def throughput_rps(self) -> float:
        """Answered requests per second of the load phase."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        """Return the ``q``-th percentile of the latency in milliseconds."""
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else 0.0

    def expected_records(self) -> int:
        """Records a complete test sends: runs, parameters and metric values."""
        return self.students * self.runs * (1 + self.params + self.metrics)

    def records_lost(self) -> int:
        """Acknowledged records missing from the database (0 when all arrived)."""
        return sum(
            max(0, self.acknowledged.get(user, Counter())[kind] - stored[kind])
            for user, stored in self._stored_for_every_student().items()
            for kind in KINDS
        )

    def _stored_for_every_student(self) -> dict[str, Counter]:
        return {user: self.stored.get(user, Counter()) for user in self.acknowledged}

    def records_stored(self) -> int:
        """Records of the students' load-test experiments found in the database."""
        return sum(sum(counts.values()) for counts in self.stored.values())

    def problems(self) -> list[str]:
        """Return what went wrong; empty when the test passed."""
        found = list(self.errors)
        if not self.finished:
            found.append("the time limit ended the test before every student finished")
        for user, stored in sorted(self._stored_for_every_student().items()):
            sent = self.acknowledged.get(user, Counter())
            if any(stored[kind] != sent[kind] for kind in KINDS):
                found.append(
                    f"{user}: acknowledged {dict(sent)} but the database holds {dict(stored)}"
                )
        if self.records_stored() != self.expected_records():
            found.append(
                f"the database holds {self.records_stored()} records of "
                f"{self.expected_records()} expected"
            )
        for label, (refused, tried) in (
            ("writes into another student's experiment", self.forbidden),
            ("requests without valid credentials", self.unauthenticated),
        ):
            if tried == 0 or refused != tried:
                found.append(f"only {refused} of {tried} {label} were refused")
        return found

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems()

    def summary(self) -> str:
        """Return the report printed at the end of the test."""
        totals = Counter()
        for counts in self.stored.values():
            totals.update(counts)
        per_kind = {
            "runs": self.runs,
            "params": self.runs * self.params,
            "metrics": self.runs * self.metrics,
        }
        stored = ", ".join(
            f"{kind} {totals[kind]}/{self.students * per_kind[kind]}" for kind in KINDS
        )
        lines = [
            f"Class server load test: {self.students} students, {self.runs} runs each "
            f"({self.params} params and {self.metrics} metric values per run)",
            f"  server start: {self.startup_s:.1f} s (PostgreSQL, basic auth, accounts)",
            f"  requests: {self.requests} in {self.seconds:.1f} s: "
            f"{self.throughput_rps:.1f} requests/s; latency p50 {self.percentile_ms(50):.0f} "
            f"ms, p95 {self.percentile_ms(95):.0f} ms",
            f"  records stored: {stored}; lost: {self.records_lost()}",
            f"  writes into another student's experiment refused (403): "
            f"{self.forbidden[0]}/{self.forbidden[1]}",
            f"  requests without valid credentials refused (401): "
            f"{self.unauthenticated[0]}/{self.unauthenticated[1]}",
        ]
        problems = self.problems()
        lines.append("  result: ok" if not problems else "  result: FAILED")
        lines += [f"    - {problem}" for problem in problems]
        return "\n".join(lines)

    def markdown(self) -> str:
        """Return the BENCHMARK.md section with the figures."""
        rows = [
            ("students (threads, each with their own account)", f"{self.students}"),
            (
                "runs per student (params, metric values per run)",
                f"{self.runs} ({self.params}, {self.metrics})",
            ),
            ("requests answered", f"{self.requests}"),
            ("throughput", f"{self.throughput_rps:.1f} requests/s"),
            ("p50 latency", f"{self.percentile_ms(50):.0f} ms"),
            ("p95 latency", f"{self.percentile_ms(95):.0f} ms"),
            ("records lost (runs, params, metric values)", f"{self.records_lost()}"),
            ("writes into another student's experiment refused (403)",
             f"{self.forbidden[0]} of {self.forbidden[1]}"),
            ("requests without valid credentials refused (401)",
             f"{self.unauthenticated[0]} of {self.unauthenticated[1]}"),
            ("server start (PostgreSQL, basic auth, accounts)", f"{self.startup_s:.1f} s"),
            ("result", "ok" if self.ok else "failed"),
        ]  # fmt: skip
        lines = [
            "## Class server load test",
            "",
            f"`python -m tools.classroom_load --students {self.students}`: the class server",
            "(`python -m utils.classroom`: PostgreSQL, MLflow's basic authentication, one",
            "worker) on this machine, with every student logging runs through its REST API at",
            "the same time. Clients and server share the same cores.",
            "",
            "| figure | value |",
            "|---|---:|",
            *[f"| {name} | {value} |" for name, value in rows],
            "",
        ]
        return "\n".join(lines)


class _Student:
    """One simulated student: their own session and credentials, and what they sent."""

    def __init__(self, base: str, user: str, password: str, result: LoadResult) -> None:
        self.api = f"{base}/api/2.0/mlflow"
        self.user = user
        self.session = requests.Session()
        self.session.auth = (user, password)
        self.result = result
        self.sent: Counter = Counter()
        self.experiment_id = ""
        self.first_run_id = ""

    def call(self, path: str, body: dict, lock: threading.Lock) -> dict | None:
        """POST ``body`` to the API, timing it; None when the request failed."""
        began = time.perf_counter()
        try:
            answer = self.session.post(f"{self.api}/{path}", json=body, timeout=REQUEST_TIMEOUT)
        except requests.RequestException as error:
            with lock:
                self.result.errors.append(f"{self.user} {path}: {type(error).__name__}")
            return None
        took = (time.perf_counter() - began) * 1000
        with lock:
            self.result.latencies_ms.append(took)
            if answer.status_code != 200:
                self.result.errors.append(
                    f"{self.user} {path}: HTTP {answer.status_code} {answer.text[:120]}"
                )
                return None
        return answer.json()

    def work(self, deadline: float, lock: threading.Lock) -> bool:
        """Create the experiment and log every run; tell whether it all went through."""
        rng = random.Random(self.user)
        created = self.call("experiments/create", {"name": f"{self.user}/loadtest"}, lock)
        if created is None:
            return False
        self.experiment_id = created["experiment_id"]
        result = self.result
        for number in range(result.runs):
            if time.perf_counter() > deadline:
                return False
            now = int(time.time() * 1000)
            body = {"experiment_id": self.experiment_id, "run_name": f"run-{number}"}
            run = self.call("runs/create", {**body, "start_time": now}, lock)
            if run is None:
                return False
            run_id = run["run"]["info"]["run_id"]
            self.first_run_id = self.first_run_id or run_id
            self.sent["runs"] += 1
            for index in range(result.params):
                body = {"run_id": run_id, "key": f"param_{index}", "value": str(rng.random())}
                if self.call("runs/log-parameter", body, lock) is not None:
                    self.sent["params"] += 1
            for index in range(result.metrics):
                body = {
                    "run_id": run_id,
                    "key": f"metric_{index % 2}",
                    "value": rng.random(),
                    "timestamp": now + index,
                    "step": index // 2,
                }
                if self.call("runs/log-metric", body, lock) is not None:
                    self.sent["metrics"] += 1
            end = {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)}
            self.call("runs/update", end, lock)
        return True


def _forbidden_writes(students: list[_Student]) -> tuple[int, int]:
    """Each student tries to write into the next student's experiment and run."""
    refused = tried = 0
    for student, victim in zip(students, students[1:] + students[:1], strict=True):
        if not victim.experiment_id or not victim.first_run_id:
            continue
        attempts = [
            ("runs/create", {"experiment_id": victim.experiment_id}),
            (
                "runs/log-metric",
                {"run_id": victim.first_run_id, "key": "intruder", "value": 1.0,
                 "timestamp": 0, "step": 0},
            ),
        ]  # fmt: skip
        for path, body in attempts:
            tried += 1
            try:
                answer = student.session.post(f"{student.api}/{path}", json=body, timeout=60)
            except requests.RequestException:
                continue
            refused += answer.status_code == 403
    return refused, tried


def _unauthenticated(base: str, user: str) -> tuple[int, int]:
    """Requests without credentials, and with a wrong password, must get 401."""
    api = f"{base}/api/2.0/mlflow"
    attempts = [
        requests.get(f"{api}/experiments/search", params={"max_results": 1}, timeout=60),
        requests.post(f"{api}/experiments/create", json={"name": "anonymous"}, timeout=60),
        requests.get(
            f"{api}/experiments/search",
            params={"max_results": 1},
            auth=(user, "not-the-password-at-all"),
            timeout=60,
        ),
    ]
    return sum(answer.status_code == 401 for answer in attempts), len(attempts)


def _count_stored(database_url: str) -> dict[str, Counter]:
    """Count runs, params and metric values per ``<user>/loadtest`` experiment."""
    import psycopg

    queries = {
        "runs": "SELECT e.name, count(*) FROM runs r JOIN experiments e "
        "ON r.experiment_id = e.experiment_id WHERE e.name LIKE %s GROUP BY e.name",
        "params": "SELECT e.name, count(*) FROM params p JOIN runs r ON p.run_uuid = r.run_uuid "
        "JOIN experiments e ON r.experiment_id = e.experiment_id WHERE e.name LIKE %s "
        "GROUP BY e.name",
        "metrics": "SELECT e.name, count(*) FROM metrics m JOIN runs r "
        "ON m.run_uuid = r.run_uuid JOIN experiments e ON r.experiment_id = e.experiment_id "
        "WHERE e.name LIKE %s GROUP BY e.name",
    }
    stored: dict[str, Counter] = {}
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        for kind, query in queries.items():
            for name, count in connection.execute(query, ("%/loadtest",)).fetchall():
                stored.setdefault(name.removesuffix("/loadtest"), Counter())[kind] = count
    return stored


def run_load_test(
    students: int = 30,
    runs: int = 5,
    params: int = 3,
    metrics: int = 10,
    time_limit: float = 600.0,
    workers: int = 1,
) -> LoadResult:
    """Start the class server, let ``students`` log at once, verify, and stop it.

    Args:
        students: Simulated students, 2 to 200 (one thread and one account each).
        runs: Runs each student logs.
        params: Parameters logged per run (one request each).
        metrics: Metric values logged per run (one request each: two metrics, in steps).
        time_limit: Seconds the load phase may last; students stop sending after it.
        workers: MLflow server worker processes.

    Returns:
        The :class:`LoadResult`; ``result.ok`` tells whether every check passed.

    Raises:
        ValueError: A count is out of range, or the test would send more than
            ``MAX_REQUESTS`` requests.
    """
    if not 2 <= students <= 200:
        raise ValueError(f"students must be from 2 to 200 (the test needs two); got {students}")
    if min(runs, params, metrics) < 1:
        raise ValueError("runs, params and metrics must each be at least 1")
    planned = students * (1 + runs * (2 + params + metrics))
    if planned > MAX_REQUESTS:
        raise ValueError(
            f"{planned} requests planned; the limit is {MAX_REQUESTS}: fewer students or runs"
        )
    result = LoadResult(students, runs, params, metrics)
    names = [f"student{number:02d}" for number in range(1, students + 1)]
    folder = Path(tempfile.mkdtemp(prefix="kit-classroom-load-"))
    began = time.perf_counter()
    try:
        with classroom_server(names, folder, workers=workers) as room:
            result.startup_s = time.perf_counter() - began
            crowd = [_Student(room.local_url, n, room.passwords[n], result) for n in names]
            lock = threading.Lock()
            start = time.perf_counter()
            deadline = start + time_limit
            with ThreadPoolExecutor(max_workers=students, thread_name_prefix="student") as pool:
                done = list(pool.map(lambda student: student.work(deadline, lock), crowd))
            result.seconds = time.perf_counter() - start
            result.finished = all(done)
            result.acknowledged = {student.user: student.sent for student in crowd}
            result.forbidden = _forbidden_writes(crowd)
            result.unauthenticated = _unauthenticated(room.local_url, names[0])
            result.stored = _count_stored(room.database.url)
            for student in crowd:
                student.session.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.errors = result.errors[:20]
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the load test from the command line and print the report."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.classroom_load",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--runs", type=int, default=5, help="runs per student")
    parser.add_argument("--params", type=int, default=3, help="parameters per run")
    parser.add_argument("--metrics", type=int, default=10, help="metric values per run")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds")
    parser.add_argument("--workers", type=int, default=1, help="MLflow server processes")
    args = parser.parse_args(argv)
    print(f"Starting the class server and {args.students} students ...", flush=True)
    result = run_load_test(
        args.students, args.runs, args.params, args.metrics, args.time_limit, args.workers
    )
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
