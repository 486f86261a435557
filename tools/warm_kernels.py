"""Kernels that start with the course's libraries already imported, for the test runner.

A fresh kernel spends about 2.5 of its 3 s of start-up importing ipykernel, pandas,
scikit-learn and MLflow, and the suite starts about 45 kernels. A warm-kernel server is
one process per test worker that imports those libraries once and then, for every
notebook, forks a child that becomes the kernel. The child is still a new process: no
variable, experiment or open file of another notebook reaches it, it gets the notebook's
own environment and folder, and everything the notebook imports beyond the preloaded
libraries (the kit's ``utils`` among them) is imported by the notebook itself.

What differs from a fresh kernel, and how the runner covers it:

- The preloaded libraries were imported with the server's environment. Only third-party
  libraries are preloaded; MLflow reads the settings the kit gives it
  (:data:`utils.notebook.QUIET_MLFLOW_ENV`) when used, and the server starts with them.
- A warning those imports raise is shown once, in the server. The server records them;
  the runner reports any from MLflow as a deprecation of every notebook.
- ``/proc/<pid>/environ`` of a forked process shows the environment the server started
  with. The server starts with a tag of its own (``KIT_RUN_TAG``), so the runner finds
  the kernel and anything it forks without ``exec`` by that tag, and the programs it
  starts by the run's own tag, as with a fresh kernel.

``make benchmark`` times every notebook in fresh kernels (what a student waits for), so
each notebook also runs there; ``KIT_KERNELS=fresh`` makes the tests do the same.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

#: Imported once by the server; every notebook of the course imports most of them.
PRELOAD: tuple[str, ...] = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "numpy",
    "pandas",
    "scipy.stats",
    "sklearn.base",
    "sklearn.compose",
    "sklearn.ensemble",
    "sklearn.linear_model",
    "sklearn.metrics",
    "sklearn.model_selection",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "mlflow",
    "mlflow.models",
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
)
#: Set it to ``fresh`` to give every notebook a newly started kernel instead.
MODE_ENV = "KIT_KERNELS"


def _preload(modules: tuple[str, ...]) -> list[str]:
    """Import ``modules``; return every warning their imports raised, as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for module in modules:
            __import__(module)
    return [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]


def _become_kernel(request: dict[str, Any]) -> None:
    """In a forked child: take the notebook's environment and folder, run ipykernel, exit."""
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDWR)
        if null != 0:
            os.dup2(null, 0)
            os.close(null)
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 0
    except BaseException:  # noqa: BLE001 - the kernel's own error goes to its stderr
        import traceback

        traceback.print_exc()
    finally:
        # The exit handlers (MLflow ends an active run there) run as in a fresh kernel;
        # the server's own clean-up code does not.
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def serve(socket_path: str, modules: tuple[str, ...]) -> None:
    """Import ``modules``, then fork a kernel for every request on ``socket_path``.

    The server ends when its standard input closes (its owner closed it, or ended).
    """
    # A kernel a notebook starts must not see the launcher's sys.path[0] (this folder).
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    caught = _preload(modules)
    threads = [t.name for t in threading.enumerate() if t is not threading.current_thread()]
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the system
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(8)
    print(json.dumps({"warnings": caught, "threads": threads}), flush=True)
    # From now on what the kernels print outside their cells goes where a fresh kernel's
    # would: to the runner's stderr, not into a pipe nobody reads (it would fill and block).
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # No thread watches stdin: a fork copies only the thread that forks, and a lock another
    # one held would stay locked in the kernel for good.
    while True:
        ready, _, _ = select.select([listener, sys.stdin], [], [])
        if sys.stdin in ready and not os.read(sys.stdin.fileno(), 1024):
            return  # the runner closed stdin (it is done, or it died)
        if listener not in ready:
            continue
        connection, _ = listener.accept()
        with connection:
            request = json.loads(connection.makefile("r").readline())
            pid = os.fork()
            if pid == 0:
                listener.close()
                connection.close()
                _become_kernel(request)
            connection.sendall((json.dumps({"pid": pid}) + "\n").encode())


class WarmKernels:
    """A running warm-kernel server (see the module's docstring)."""

    def __init__(self, env: Mapping[str, str], modules: tuple[str, ...] = PRELOAD) -> None:
        """Start the server with ``env`` and wait until it has imported ``modules``."""
        self.tag = uuid.uuid4().hex
        self._folder = tempfile.mkdtemp(prefix="kit-kernels-")
        self.socket_path = os.path.join(self._folder, "fork.sock")
        root = Path(__file__).resolve().parent.parent
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.warm_kernels", self.socket_path, *modules],
            cwd=root,
            env={**env, "KIT_RUN_TAG": self.tag},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the warm-kernel server ended before it was ready")
        self.process.stdout.close()
        ready = json.loads(line)
        self.warnings: list[str] = ready["warnings"]
        if ready["threads"]:
            self.close()
            raise RuntimeError(f"the preloaded libraries started threads: {ready['threads']}")

    @property
    def pid(self) -> int:
        return self.process.pid

    def fork(self, argv: list[str], env: Mapping[str, str], cwd: str) -> int:
        """Fork a kernel running ``ipykernel_launcher`` with ``argv``; return its pid."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(self.socket_path)
            request = {"argv": argv, "env": dict(env), "cwd": cwd}
            client.sendall((json.dumps(request) + "\n").encode())
            return int(json.loads(client.makefile("r").readline())["pid"])

    def close(self) -> None:
        """Stop the server (kernels it forked are not affected)."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        Path(self.socket_path).unlink(missing_ok=True)
        Path(self._folder).rmdir()


class _ForkedProcess:
    """The part of ``subprocess.Popen`` jupyter_client uses, for a kernel the server forked.

    The server, not this process, is the kernel's parent (the system reaps it), so the exit
    status is not known: a kernel that has ended reports 0.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                self.returncode = 0
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout or 0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class WarmProvisioner(LocalProvisioner):
    """Launches the kernel by asking the current :class:`WarmKernels` server to fork one."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        server = _current
        if server is None:
            raise RuntimeError("no warm-kernel server is running (see tools.warm_kernels.use)")
        # cmd is [python, -m, ipykernel_launcher, -f, <connection file>]
        argv = cmd[cmd.index("ipykernel_launcher") + 1 :]
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = server.fork(argv, kwargs.get("env") or dict(os.environ), cwd)
        self.process = _ForkedProcess(pid)  # type: ignore[assignment]
        self.pid, self.pgid, self.cwd = pid, pid, cwd  # the kernel leads its own group
        return self.connection_info


class WarmKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels are forked by the warm-kernel server."""

    async def _async_pre_start_kernel(self, **kw: Any) -> Any:
        self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
        if self.provisioner is None:
            self.provisioner = WarmProvisioner(
                kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self
            )
        return await super()._async_pre_start_kernel(**kw)


_current: WarmKernels | None = None


def use(env: Mapping[str, str]) -> WarmKernels:
    """Return this process's warm-kernel server, starting it (with ``env``) the first time."""
    global _current
    if _current is None or _current.process.poll() is not None:
        _current = WarmKernels(env)
        atexit.register(_current.close)
    return _current


if __name__ == "__main__":
    serve(sys.argv[1], tuple(sys.argv[2:]))
