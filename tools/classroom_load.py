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
- each student's attempts on the next student's work were refused (403): a run logged
  into their experiment, a metric logged into their run, an artifact uploaded into
  their run; and, with ``--private``, reading their experiment (by id and by name),
  which in the default shared mode must succeed (200);
- each student's requests without credentials, or with a wrong password, were refused
  (401), and so were those with a Host header the server does not allow (403);
- none of those refused writes left anything behind (no intruder run, metric,
  experiment or artifact file).

It reports the throughput (answered requests per second), the latency (p50, p95) and
each security check's count. ``make benchmark`` runs it with 30 students and adds the
figures to BENCHMARK.md.
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
#: The security checks each student makes: label -> (expected status, requests each).
OTHERS_EXPERIMENT = "writes into another student's experiment"
OTHERS_RUN = "writes into another student's run"
OTHERS_ARTIFACTS = "artifact uploads into another student's run"
ANONYMOUS = "requests without credentials"
WRONG_PASSWORD = "requests with a wrong password"
BAD_HOST = "requests with a Host header not allowed"
OTHERS_READ = "reads of another student's experiment"
CHECKS: dict[str, tuple[int, int]] = {
    OTHERS_EXPERIMENT: (403, 1),
    OTHERS_RUN: (403, 1),
    OTHERS_ARTIFACTS: (403, 1),
    ANONYMOUS: (401, 2),
    WRONG_PASSWORD: (401, 2),
    BAD_HOST: (403, 2),
    OTHERS_READ: (403, 2),  # 200 in shared mode
}
#: The Host header of the disallowed-host check.
BAD_HOST_NAME = "rebinding.example"
#: Names of what a refused write would have created, looked for afterwards.
INTRUDER = "intruder"


def expected_status(label: str, private: bool) -> int:
    """The status each request of check ``label`` must get in the given mode."""
    return 200 if label == OTHERS_READ and not private else CHECKS[label][0]


@dataclass
class Check:
    """One security check's count: how many requests got the expected status."""

    status: int
    matched: int = 0
    tried: int = 0

    def add(self, status: int) -> None:
        self.tried += 1
        self.matched += status == self.status

    @property
    def passed(self) -> bool:
        return self.tried > 0 and self.matched == self.tried

    def verb(self) -> str:
        return "allowed" if self.status == 200 else "refused"


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
        private: Whether the server ran in private mode (``--private``).
        checks: Each security check (see :data:`CHECKS`) and its count.
        leftovers: What refused writes left behind (intruder runs, metrics, experiments,
            artifact files); 0 when nothing.
        folder: The temporary folder the class server ran in (deleted at the end).
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
    private: bool = False
    checks: dict[str, Check] = field(default_factory=dict)
    leftovers: int = 0
    folder: str = ""

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
        for label in CHECKS:
            check = self.checks.get(label, Check(expected_status(label, self.private)))
            if not check.passed:
                found.append(
                    f"only {check.matched} of {check.tried} {label} were {check.verb()} "
                    f"({check.status})"
                )
        if self.leftovers:
            found.append(f"refused writes left {self.leftovers} intruder records or files behind")
        return found

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems()

    def _check_rows(self) -> list[tuple[str, str]]:
        """``(label with verb and status, "matched of tried")`` for every check."""
        rows = []
        for label in CHECKS:
            check = self.checks.get(label, Check(expected_status(label, self.private)))
            rows.append(
                (f"{label} {check.verb()} ({check.status})", f"{check.matched} of {check.tried}")
            )
        return rows

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
            f"  mode: {'private' if self.private else 'shared'}; security checks:",
            *[f"    {label}: {value}" for label, value in self._check_rows()],
            f"    things left behind by refused writes: {self.leftovers}",
        ]
        problems = self.problems()
        lines.append("  result: ok" if not problems else "  result: FAILED")
        lines += [f"    - {problem}" for problem in problems]
        return "\n".join(lines)

    def markdown(self) -> str:
        """Return the BENCHMARK.md section with the figures."""
        rows = [
            ("students (threads, each with their own account)", f"{self.students}"),
            ("server mode", "private" if self.private else "shared (students read each other's)"),
            (
                "runs per student (params, metric values per run)",
                f"{self.runs} ({self.params}, {self.metrics})",
            ),
            ("requests answered", f"{self.requests}"),
            ("throughput", f"{self.throughput_rps:.1f} requests/s"),
            ("p50 latency", f"{self.percentile_ms(50):.0f} ms"),
            ("p95 latency", f"{self.percentile_ms(95):.0f} ms"),
            ("records lost (runs, params, metric values)", f"{self.records_lost()}"),
            *self._check_rows(),
            ("things left behind by refused writes", f"{self.leftovers}"),
            ("server start (PostgreSQL, basic auth, accounts)", f"{self.startup_s:.1f} s"),
            ("result", "ok" if self.ok else "failed"),
        ]  # fmt: skip
        lines = [
            "## Class server load test",
            "",
            f"`python -m tools.classroom_load --students {self.students}"
            f"{' --private' if self.private else ''}`: the class server",
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


def _security_checks(
    student: _Student, victim: _Student, private: bool, host: str
) -> dict[str, list[int]]:
    """What one student tries on the next student's work and without valid credentials.

    Args:
        student: The one who tries.
        victim: The next student, whose experiment and first run are the targets.
        private: Whether the server runs in private mode (reads must then be refused).
        host: A Host header the server does not allow.

    Returns:
        ``{check label: [status of each request]}``; a request that failed counts as 0.
    """
    api, base = student.api, student.api.rsplit("/api/", 1)[0]
    artifacts = f"{base}/api/2.0/mlflow-artifacts/artifacts"
    intruder = f"{INTRUDER}-{student.user}"
    own_auth = student.session.auth
    wrong_auth = (student.user, "not-the-password-at-all")
    search = ("GET", f"{api}/experiments/search", {"params": {"max_results": 1}})
    create = ("POST", f"{api}/experiments/create", {"json": {"name": intruder}})
    attempts: dict[str, list[tuple[str, str, dict]]] = {
        OTHERS_EXPERIMENT: [
            ("POST", f"{api}/runs/create",
             {"json": {"experiment_id": victim.experiment_id, "run_name": intruder}}),
        ],
        OTHERS_RUN: [
            ("POST", f"{api}/runs/log-metric",
             {"json": {"run_id": victim.first_run_id, "key": intruder, "value": 1.0,
                       "timestamp": 0, "step": 0}}),
        ],
        OTHERS_ARTIFACTS: [
            ("PUT", f"{artifacts}/{victim.experiment_id}/{victim.first_run_id}/artifacts/"
             f"{intruder}.txt", {"data": b"not yours"}),
        ],
        ANONYMOUS: [(m, u, {**k, "auth": None}) for m, u, k in (search, create)],
        WRONG_PASSWORD: [(m, u, {**k, "auth": wrong_auth}) for m, u, k in (search, create)],
        BAD_HOST: [
            (m, u, {**k, "auth": own_auth, "headers": {"Host": host}})
            for m, u, k in (search, create)
        ],
        OTHERS_READ: [
            ("GET", f"{api}/experiments/get", {"params": {"experiment_id": victim.experiment_id}}),
            ("GET", f"{api}/experiments/get-by-name",
             {"params": {"experiment_name": f"{victim.user}/loadtest"}}),
        ],
    }  # fmt: skip
    if not victim.experiment_id or not victim.first_run_id:  # they failed: errors say so
        for label in (OTHERS_EXPERIMENT, OTHERS_RUN, OTHERS_ARTIFACTS, OTHERS_READ):
            del attempts[label]
    statuses: dict[str, list[int]] = {}
    for label, requests_ in attempts.items():
        for method, url, kwargs in requests_:
            try:
                if "auth" in kwargs:  # not the student's session: no credentials of theirs
                    answer = requests.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
                else:
                    answer = student.session.request(method, url, timeout=REQUEST_TIMEOUT, **kwargs)
                status = answer.status_code
                if label == BAD_HOST and "Invalid Host header" not in answer.text:
                    status = 0  # refused, but not by the host check
            except requests.RequestException:
                status = 0
            statuses.setdefault(label, []).append(status)
    return statuses


def _count_leftovers(database_url: str, artifacts: Path) -> int:
    """Count what refused writes would have left: intruder runs, metrics, experiments, files."""
    import psycopg

    pattern = f"{INTRUDER}-%"
    queries = (
        "SELECT count(*) FROM runs WHERE name LIKE %s",
        "SELECT count(*) FROM metrics WHERE key LIKE %s",
        "SELECT count(*) FROM experiments WHERE name LIKE %s",
    )
    with psycopg.connect(database_url.replace("+psycopg", "")) as connection:
        found = sum(connection.execute(query, (pattern,)).fetchone()[0] for query in queries)
    return found + sum(1 for _ in artifacts.rglob(f"{INTRUDER}-*"))


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
    private: bool = False,
) -> LoadResult:
    """Start the class server, let ``students`` log at once, verify, and stop it.

    Args:
        students: Simulated students, 2 to 200 (one thread and one account each).
        runs: Runs each student logs.
        params: Parameters logged per run (one request each).
        metrics: Metric values logged per run (one request each: two metrics, in steps).
        time_limit: Seconds the load phase may last; students stop sending after it.
        workers: MLflow server worker processes.
        private: Run the server in private mode (students cannot read each other's work).

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
    checks = sum(tries for _, tries in CHECKS.values())
    planned = students * (1 + runs * (2 + params + metrics) + checks)
    if planned > MAX_REQUESTS:
        raise ValueError(
            f"{planned} requests planned; the limit is {MAX_REQUESTS}: fewer students or runs"
        )
    result = LoadResult(students, runs, params, metrics, private=private)
    result.checks = {label: Check(expected_status(label, private)) for label in CHECKS}
    names = [f"student{number:02d}" for number in range(1, students + 1)]
    folder = Path(tempfile.mkdtemp(prefix="kit-classroom-load-"))
    result.folder = str(folder)
    began = time.perf_counter()
    try:
        with classroom_server(names, folder, workers=workers, private=private) as room:
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
            host = f"{BAD_HOST_NAME}:{room.server.port}"
            pairs = list(zip(crowd, crowd[1:] + crowd[:1], strict=True))
            with ThreadPoolExecutor(max_workers=students, thread_name_prefix="check") as pool:
                found = list(pool.map(lambda pair: _security_checks(*pair, private, host), pairs))
            for statuses in found:
                for label, codes in statuses.items():
                    for code in codes:
                        result.checks[label].add(code)
            result.stored = _count_stored(room.database.url)
            result.leftovers = _count_leftovers(room.database.url, room.directory / "artifacts")
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
    parser.add_argument("--private", action="store_true",
                        help="private mode: students cannot read each other's work")  # fmt: skip
    args = parser.parse_args(argv)
    print(f"Starting the class server and {args.students} students ...", flush=True)
    result = run_load_test(
        args.students,
        args.runs,
        args.params,
        args.metrics,
        args.time_limit,
        args.workers,
        private=args.private,
    )
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
