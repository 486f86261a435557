"""The local AWS-style stack: it runs, artifacts reach the bucket, runs reach PostgreSQL,
nothing outlives it, and a part that fails is named with its log."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from utils import aws_stack, servers
from utils.aws_stack import AwsStackError, check_bucket_name, local_aws_stack, real_aws


def group_members(pgids: set[int]) -> set[int]:
    """Return the pids of every live process in the given process groups."""
    members = set()
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) in pgids and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.add(proc.pid)
        except (ProcessLookupError, psutil.Error, OSError):
            continue
    return members


def alive(pids: set[int]) -> list[int]:
    """Return the pids of ``pids`` that still run (zombies excluded)."""
    left = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except psutil.NoSuchProcess:
            continue
    return left


@pytest.fixture
def live_children() -> Callable[[], list[psutil.Process]]:
    """Return a function listing this process's running descendants started during the test.

    An earlier test in the same worker may have left a long-lived helper of the standard
    library behind (multiprocessing's resource tracker lives as long as its parent); it is
    not the stack's, so only processes started during the test count as left behind.
    """
    earlier = {child.pid for child in psutil.Process().children(recursive=True)}

    def running_since() -> list[psutil.Process]:
        found = []
        for child in psutil.Process().children(recursive=True):
            try:
                if child.pid not in earlier and child.status() != psutil.STATUS_ZOMBIE:
                    found.append(child)
            except psutil.NoSuchProcess:
                continue
        return found

    return running_since


# --- input checks (nothing starts) --------------------------------------------------------


@pytest.mark.parametrize(
    "bucket", ["My_Bucket", "ab", "-starts-with-dash", "two..dots", "192.168.0.1", "x" * 64]
)
def test_a_bad_bucket_name_is_refused_before_anything_starts(
    bucket: str, live_children: Callable[[], list[psutil.Process]]
) -> None:
    with pytest.raises(ValueError, match="not a valid S3 bucket name") as error:
        with local_aws_stack(bucket):
            pass
    assert repr(bucket) in str(error.value) and "mlflow-artifacts" in str(error.value)
    assert not live_children()


def test_good_bucket_names_pass() -> None:
    for bucket in ["mlflow-artifacts", "kit.artifacts-2025", "abc"]:
        assert check_bucket_name(bucket) == bucket


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="'postgres' or 'sqlite'"):
        with local_aws_stack(backend="mysql"):
            pass


def test_real_aws_reads_the_environment_and_never_credentials() -> None:
    stack = real_aws(
        {
            "KIT_AWS_TRACKING_URI": "https://mlflow.example.com",
            "KIT_AWS_BUCKET": "my-mlflow-bucket",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert stack.tracking_url == "https://mlflow.example.com"
    assert stack.artifacts_destination == "s3://my-mlflow-bucket/mlflow"
    assert stack.region == "eu-west-1" and not stack.is_local
    assert stack.aws_env == {} and stack.database_uri == "" and stack.servers == ()


def test_real_aws_says_which_variables_are_missing() -> None:
    with pytest.raises(ValueError) as error:
        real_aws({"KIT_AWS_BUCKET": "my-mlflow-bucket"})
    message = str(error.value)
    assert "KIT_AWS_TRACKING_URI" in message and "KIT_AWS_BUCKET and" not in message


def test_the_local_environment_holds_only_fake_credentials() -> None:
    stack = aws_stack.AwsStack("http://t", "b", "postgresql+psycopg://p@h:1/m", "http://s3:1")
    env = stack.aws_env
    assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_ENDPOINT_URL"] == "http://s3:1"
    assert stack.postgres_dsn == "postgresql://p@h:1/m"
    text = aws_stack.describe(stack)
    assert "export MLFLOW_TRACKING_URI=http://t" in text
    assert "export AWS_ENDPOINT_URL=http://s3:1" in text


def test_the_command_line_reports_a_bad_bucket(capsys: pytest.CaptureFixture[str]) -> None:
    assert aws_stack.main(["--bucket", "Bad_Bucket"]) == 1
    assert "not a valid S3 bucket name" in capsys.readouterr().err


# --- the running stack ---------------------------------------------------------------------


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_the_stack_stores_runs_in_postgres_and_artifacts_in_the_bucket(
    isolated_store: Path, live_children: Callable[[], list[psutil.Process]]
) -> None:
    import psycopg
    from mlflow import MlflowClient

    lines: list[str] = []
    with local_aws_stack("kit-test-bucket", progress=lines.append) as aws:
        assert [s.name for s in aws.servers] == ["postgres", "moto-s3", "mlflow-server"]
        assert all(aws.running().values())
        members = group_members({server.pid for server in aws.servers})
        client = MlflowClient(tracking_uri=aws.tracking_url)
        experiment_id = client.create_experiment("aws-stack-test")
        run = client.create_run(experiment_id)
        client.log_text(run.info.run_id, "stored in S3", "notes/hello.txt")
        client.set_terminated(run.info.run_id)
        listing = aws.s3_client().list_objects_v2(Bucket=aws.bucket)
        keys = [item["Key"] for item in listing.get("Contents", [])]
        with psycopg.connect(aws.postgres_dsn) as connection:
            rows = connection.execute("SELECT run_uuid, status FROM runs").fetchall()
    expected_key = f"mlflow/{experiment_id}/{run.info.run_id}/artifacts/notes/hello.txt"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert expected_key in keys
    assert (run.info.run_id, "FINISHED") in rows
    assert any("tracking server" in line for line in lines)
    assert not any(aws.running().values())
    assert not alive(members), "a process of the stack outlived it"
    assert not live_children()


@pytest.mark.usefixtures("require_postgres")
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_part_that_cannot_start_is_named_with_its_log(
    isolated_store: Path, live_children: Callable[[], list[psutil.Process]]
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((servers.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(AwsStackError) as error:
            with local_aws_stack(s3_port=port, timeout=30):
                pass
    message = str(error.value)
    assert "the S3 stand-in (moto server) failed" in message
    assert "moto-s3 exited" in message and "in use" in message.lower()
    assert not live_children(), "PostgreSQL, started first, was not stopped"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failure_inside_the_block_still_stops_every_part(
    isolated_store: Path, live_children: Callable[[], list[psutil.Process]]
) -> None:
    with pytest.raises(RuntimeError, match="student error"):
        with local_aws_stack(backend="sqlite") as aws:
            members = group_members({server.pid for server in aws.servers})
            raise RuntimeError("student error")
    assert [s.name for s in aws.servers] == ["moto-s3", "mlflow-server"]
    assert not alive(members) and not live_children()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_python_exiting_with_the_block_open_stops_every_part(isolated_store: Path) -> None:
    """A notebook kernel that restarts exits Python without leaving the block."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from contextlib import ExitStack\n"
        "from utils.aws_stack import local_aws_stack\n"
        "stack = ExitStack()\n"
        "aws = stack.enter_context(local_aws_stack(backend='sqlite'))\n"
        "print(' '.join(str(server.pid) for server in aws.servers), flush=True)\n"
        "sys.exit(0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=240, check=True
    )
    pgids = {int(pid) for pid in done.stdout.split()}
    assert len(pgids) == 2, done.stdout + done.stderr
    assert not group_members(pgids), "a part of the stack outlived the Python that started it"
