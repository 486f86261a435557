"""MLflow's AWS architecture on this machine: RDS, S3 and a tracking server, at no cost.

On AWS, a shared MLflow deployment is a tracking server (on EC2 or ECS) that keeps its
records in Amazon RDS (PostgreSQL) and its files in Amazon S3; SageMaker serves the
models. :func:`local_aws_stack` starts the same architecture as real processes on
127.0.0.1, with stand-ins that speak the same protocols:

- **RDS** -> a throw-away PostgreSQL server (:func:`utils.servers.postgres_server`);
- **S3** (and the other AWS APIs: SageMaker, IAM, ECR, STS) -> moto's server mode, with
  the artifact bucket created;
- the **tracking server** -> ``mlflow server`` with ``--backend-store-uri`` on that
  database and ``--artifacts-destination s3://<bucket>/mlflow``.

Only the tracking server holds AWS credentials, and fake ones (``testing``): it proxies
the artifacts, so MLflow clients need nothing but the tracking URI. Leaving the ``with``
block stops every part, in reverse order, even when a later part failed to start.
Introduced in notebook 15; lab 07 uses it too.

Command line (``make aws-stack`` runs the same)::

    python -m utils.aws_stack [--bucket NAME] [--port PORT]

starts the stack, prints its endpoints and the environment variables to set in another
terminal (``MLFLOW_TRACKING_URI`` for MLflow, ``AWS_ENDPOINT_URL`` for boto3 and the aws
CLI), and runs until Ctrl+C, which stops every part.

Example:
    >>> with local_aws_stack() as aws:                                  # doctest: +SKIP
    ...     mlflow.set_tracking_uri(aws.tracking_url)
    ...     aws.s3_client().list_objects_v2(Bucket=aws.bucket)
"""

from __future__ import annotations

import argparse
import atexit
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.servers import (
    HOST,
    PostgresNotInstalled,
    Server,
    ServerError,
    free_port,
    is_healthy,
    managed_process,
    postgres_server,
    tracking_server,
)

#: The AWS region the stand-ins pretend to be.
REGION = "us-east-1"
#: Fake credentials: the stand-ins accept any, boto3 insists on some. Never real ones.
FAKE_CREDENTIALS: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
}
#: The folder of the bucket under which the tracking server keeps artifacts.
ARTIFACTS_PREFIX = "mlflow"
#: What each part of the stack stands in for, as error messages name it.
PARTS: dict[str, str] = {
    "database": "the backend store (PostgreSQL, standing in for Amazon RDS)",
    "s3": "the S3 stand-in (moto server)",
    "bucket": "the artifact bucket on the S3 stand-in (moto server)",
    "tracking": "the MLflow tracking server",
}
#: Environment variables the notebook's real-AWS branch reads (see :func:`real_aws`).
REAL_AWS_ENV: dict[str, str] = {
    "tracking_url": "KIT_AWS_TRACKING_URI",
    "bucket": "KIT_AWS_BUCKET",
    "database_uri": "KIT_AWS_DB_URI",
}

_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


class AwsStackError(ServerError):
    """A part of the stack did not start; the message names it and holds its log."""


@dataclass(frozen=True)
class AwsStack:
    """The endpoints of a running stack (local stand-ins, or real AWS).

    Attributes:
        tracking_url: The MLflow tracking server; set ``MLFLOW_TRACKING_URI`` to it.
        bucket: The S3 bucket that holds the artifacts.
        database_uri: The backend store's SQLAlchemy URI, e.g.
            ``postgresql+psycopg://postgres@127.0.0.1:5433/mlflow`` (empty when unknown).
        s3_endpoint: The S3 endpoint URL of the stand-in, or ``None`` for real AWS.
        region: The AWS region.
        servers: The running parts (database, S3, tracking server), in start order.
    """

    tracking_url: str
    bucket: str
    database_uri: str
    s3_endpoint: str | None = None
    region: str = REGION
    servers: tuple[Server, ...] = field(default=())

    @property
    def is_local(self) -> bool:
        """True for the local stand-ins, False for real AWS."""
        return self.s3_endpoint is not None

    @property
    def artifacts_destination(self) -> str:
        """The tracking server's ``--artifacts-destination``: ``s3://<bucket>/mlflow``."""
        return f"s3://{self.bucket}/{ARTIFACTS_PREFIX}"

    @property
    def postgres_dsn(self) -> str:
        """The database URI without the SQLAlchemy driver, as ``psycopg.connect`` takes it."""
        return self.database_uri.replace("+psycopg", "")

    @property
    def aws_env(self) -> dict[str, str]:
        """Environment variables that point boto3 (and the aws CLI) at the stand-ins.

        Returns:
            ``AWS_ENDPOINT_URL``, the fake credentials and the region for the local stack;
            an empty dict for real AWS (credentials come from your environment or profile).
        """
        if not self.is_local:
            return {}
        return {
            "AWS_ENDPOINT_URL": str(self.s3_endpoint),
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
        }

    def boto3_client(self, service: str) -> Any:
        """Return a boto3 client for ``service`` (``"s3"``, ``"sagemaker"``, ``"iam"``, ...).

        Args:
            service: The AWS service name, as boto3 spells it.

        Returns:
            A client of the stand-ins for the local stack, or of real AWS (with the
            credentials of your environment or profile).
        """
        import boto3

        if not self.is_local:
            return boto3.client(service, region_name=self.region)
        return boto3.client(
            service,
            endpoint_url=self.s3_endpoint,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def s3_client(self) -> Any:
        """Return a boto3 S3 client for the stack's bucket."""
        return self.boto3_client("s3")

    def running(self) -> dict[str, bool]:
        """Tell, part by part, whether any of its processes is still running."""
        return {server.name: server.is_running() for server in self.servers}


def check_bucket_name(bucket: str) -> str:
    """Check that ``bucket`` follows S3's naming rules, and return it.

    Args:
        bucket: The bucket name.

    Returns:
        The name, unchanged.

    Raises:
        ValueError: The name breaks a rule; the message says which and gives an example.
    """
    rules = (
        "S3 bucket names are 3-63 characters of lowercase letters, digits, '.' and '-', "
        "start and end with a letter or digit, hold no '..' and are not IP addresses; "
        "for example 'mlflow-artifacts'"
    )
    if not isinstance(bucket, str):
        raise ValueError(f"the bucket name must be a string, not {type(bucket).__name__}: {rules}")
    if not _BUCKET_NAME.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise ValueError(f"{bucket!r} is not a valid S3 bucket name: {rules}")
    return bucket


@contextmanager
def _starting(part: str, progress: Callable[[str], None] | None) -> Iterator[None]:
    """Announce a part, time its start, and turn its failure into an :class:`AwsStackError`."""
    label = PARTS[part]
    if progress:
        progress(f"{'creating' if part == 'bucket' else 'starting'} {label} ...")
    began = time.monotonic()
    try:
        yield
    except PostgresNotInstalled as missing:
        raise PostgresNotInstalled(
            f"the local AWS stack did not start: {label} failed. {missing} Or start the stack "
            "with local_aws_stack(backend='sqlite')."
        ) from missing
    except Exception as error:  # noqa: BLE001 - every failure must name its part
        raise AwsStackError(
            f"the local AWS stack did not start: {label} failed.\n{type(error).__name__}: {error}"
        ) from error
    if progress:
        progress(f"  ready after {time.monotonic() - began:.1f} s")


def _s3_ready(port: int) -> Callable[[], bool]:
    """Return a check that moto's server answers on ``port`` (its dashboard answers 200)."""
    return lambda: is_healthy(f"http://{HOST}:{port}/moto-api/")


def _create_bucket(stack: AwsStack, s3_server: Server) -> None:
    """Create the artifact bucket on the S3 stand-in; on failure, show its log."""
    kwargs: dict[str, Any] = {"Bucket": stack.bucket}
    if stack.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": stack.region}
    try:
        stack.s3_client().create_bucket(**kwargs)
    except Exception as error:
        raise AwsStackError(
            f"{error}\nThe S3 stand-in's log ({s3_server.log_path}) ends with:\n"
            f"{s3_server.log_tail()}"
        ) from error


@contextmanager
def local_aws_stack(
    bucket: str = "mlflow-artifacts",
    *,
    backend: str = "postgres",
    tracking_port: int | None = None,
    s3_port: int | None = None,
    database_port: int | None = None,
    region: str = REGION,
    timeout: float = 90.0,
    progress: Callable[[str], None] | None = None,
) -> Iterator[AwsStack]:
    """Run the AWS-style MLflow stack (database, S3 stand-in, tracking server) in a block.

    The parts start in order (database, S3 with its bucket, tracking server) and stop in
    reverse order when the block ends, whatever happens inside it, and when Python exits
    with the block still open (a notebook kernel restarted). If a part fails to
    start, the parts already running are stopped and the error names the failed part and
    shows the end of its log.

    Args:
        bucket: The S3 bucket to create for the artifacts.
        backend: ``"postgres"`` (the RDS stand-in) or ``"sqlite"`` (a file, for machines
            without PostgreSQL's server programs).
        tracking_port: The tracking server's port; a free one when omitted.
        s3_port: The S3 stand-in's port; a free one when omitted.
        database_port: PostgreSQL's port; a free one when omitted.
        region: The AWS region the stand-ins pretend to be.
        timeout: Seconds each server may take to become ready.
        progress: Called with a line of text as each part starts (e.g. ``print``).

    Yields:
        The running :class:`AwsStack`.

    Raises:
        ValueError: ``bucket`` or ``backend`` is not valid (nothing was started).
        PostgresNotInstalled: ``backend="postgres"`` but PostgreSQL is not installed.
        AwsStackError: A part did not start; the message names it and shows its log.
    """
    check_bucket_name(bucket)
    if backend not in ("postgres", "sqlite"):
        raise ValueError(f"backend must be 'postgres' or 'sqlite', not {backend!r}")
    with ExitStack() as parts:
        # A kernel restart exits Python without leaving the block: stop the parts then too.
        atexit.register(parts.close)
        parts.callback(atexit.unregister, parts.close)
        with _starting("database", progress):
            if backend == "postgres":
                database = parts.enter_context(postgres_server(port=database_port))
                database_uri, servers = database.url, [database]
            else:
                folder = Path(tempfile.mkdtemp(prefix="kit-aws-sqlite-"))
                parts.callback(shutil.rmtree, folder, ignore_errors=True)
                database_uri, servers = f"sqlite:///{folder / 'mlflow.db'}", []
        with _starting("s3", progress):
            s3_port = s3_port or free_port()
            s3_server = parts.enter_context(
                managed_process(
                    "moto-s3",
                    [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(s3_port)],
                    s3_port,
                    ready=_s3_ready(s3_port),
                    timeout=timeout,
                )
            )
            servers.append(s3_server)
        stack = AwsStack(
            tracking_url="",
            bucket=bucket,
            database_uri=database_uri,
            s3_endpoint=s3_server.url,
            region=region,
        )
        with _starting("bucket", progress):
            _create_bucket(stack, s3_server)
        with _starting("tracking", progress):
            tracking = parts.enter_context(
                tracking_server(
                    backend_store_uri=database_uri,
                    artifacts_destination=stack.artifacts_destination,
                    port=tracking_port,
                    env={"MLFLOW_S3_ENDPOINT_URL": s3_server.url, **stack.aws_env},
                    timeout=timeout,
                )
            )
            servers.append(tracking)
        yield AwsStack(
            tracking_url=tracking.url,
            bucket=bucket,
            database_uri=database_uri,
            s3_endpoint=s3_server.url,
            region=region,
            servers=tuple(servers),
        )


def real_aws(environ: dict[str, str] | None = None) -> AwsStack:
    """Describe a stack you run on real AWS, from environment variables.

    Nothing is started: the tracking server, the RDS database and the bucket are yours.
    Credentials are never read here; boto3 finds them in your environment or your AWS
    profile (``aws configure``), and MLflow's in ``MLFLOW_TRACKING_USERNAME/PASSWORD``.

    Args:
        environ: Where to read the variables; ``os.environ`` by default.

    Returns:
        An :class:`AwsStack` with the tracking server's URL (``KIT_AWS_TRACKING_URI``),
        the bucket (``KIT_AWS_BUCKET``), the database URI if given (``KIT_AWS_DB_URI``)
        and the region (``AWS_DEFAULT_REGION``, else us-east-1).

    Raises:
        ValueError: A required variable is missing; the message lists what to set.
    """
    environ = dict(os.environ if environ is None else environ)
    required = [REAL_AWS_ENV["tracking_url"], REAL_AWS_ENV["bucket"]]
    missing = [name for name in required if not environ.get(name)]
    if missing:
        raise ValueError(
            f"to use real AWS, set {' and '.join(missing)} (the URL of your tracking server "
            "and the name of its artifact bucket); KIT_AWS_DB_URI (the RDS database, "
            "postgresql+psycopg://user@host:5432/mlflow) is optional"
        )
    return AwsStack(
        tracking_url=environ[REAL_AWS_ENV["tracking_url"]],
        bucket=check_bucket_name(environ[REAL_AWS_ENV["bucket"]]),
        database_uri=environ.get(REAL_AWS_ENV["database_uri"], ""),
        s3_endpoint=None,
        region=environ.get("AWS_DEFAULT_REGION") or REGION,
    )


def describe(stack: AwsStack) -> str:
    """Return the endpoints of a running stack and the variables a student sets, as text."""
    lines = [
        f"MLflow tracking server   {stack.tracking_url}",
        f"S3 endpoint (moto)       {stack.s3_endpoint}",
        f"artifact bucket          {stack.bucket} (artifacts under {stack.artifacts_destination})",
        f"backend store (RDS)      {stack.database_uri}",
        "",
        "In another terminal, set:",
        f"  export MLFLOW_TRACKING_URI={stack.tracking_url}",
        f"  export AWS_ENDPOINT_URL={stack.s3_endpoint}",
        "MLflow needs only the first. boto3 and the aws CLI need the second, and fake",
        "credentials: AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={stack.region}",
    ]
    return "\n".join(lines)


def _stop_on_signal(signum: int, frame: object) -> None:
    """Treat SIGTERM or SIGHUP like Ctrl+C, so that the stack stops its parts."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Start the stack, print its endpoints, and wait for Ctrl+C."""
    parser = argparse.ArgumentParser(
        description="Run MLflow's AWS architecture locally (PostgreSQL, moto S3, "
        "mlflow server) until Ctrl+C."
    )
    parser.add_argument("--bucket", default="mlflow-artifacts", help="the artifact bucket")
    parser.add_argument("--port", type=int, default=None, help="the tracking server's port")
    parser.add_argument(
        "--backend", choices=["postgres", "sqlite"], default="postgres", help="backend store"
    )
    args = parser.parse_args(argv)
    # Ctrl+C must work even when the shell started this program with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), _stop_on_signal)
    try:
        with local_aws_stack(
            args.bucket, backend=args.backend, tracking_port=args.port, progress=print
        ) as stack:
            print("\nThe local AWS stack is up.\n" + describe(stack), flush=True)
            print("\nPress Ctrl+C to stop it.", flush=True)
            while all(stack.running().values()):
                time.sleep(1)
            stopped = [name for name, alive in stack.running().items() if not alive]
            print(f"{', '.join(stopped)} stopped on its own; stopping the rest.", file=sys.stderr)
            return 1
    except KeyboardInterrupt:
        print("\nStopped the stack: nothing of it is left running.", flush=True)
        return 0
    except (ServerError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
