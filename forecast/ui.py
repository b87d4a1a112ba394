"""Start and stop the MLflow UI (``mlflow server``) on a store folder written by the tracker.

The server runs as a subprocess in its own process group (``mlflow server`` starts uvicorn as a
child, so stopping means signalling the whole group). This module never imports mlflow: it runs
the ``mlflow`` command of the current interpreter (``sys.executable -m mlflow``)::

    with serve(Path("mlruns")) as ui:
        print(ui.runs_url(experiment_id(Path("mlruns"), "reims")))
        ui.wait()          # until Ctrl-C; the server is stopped on the way out

Measured on the 2-core reference machine: the server answers ``/health`` about 6.5 s after start
with job execution disabled (about 13 s with MLflow's default GenAI job runner, which also spawns
seven huey consumer processes: we turn it off, the forecasting UI does not use it).
"""
from __future__ import annotations

import atexit
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path
from types import TracebackType

from forecast.errors import ForecastError
from forecast.tracking import DB_NAME, artifacts_uri, experiment_id, tracking_uri

log = logging.getLogger(__name__)

__all__ = ["UiServer", "serve", "free_port", "port_in_use", "experiment_id"]

_LIVE: weakref.WeakSet[UiServer] = weakref.WeakSet()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host`` (for tests; another process may take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if binding ``host:port`` fails because something already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option uvicorn uses: a port in TIME_WAIT after a stop is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return True
            raise ForecastError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return False


class UiServer:
    """A running ``mlflow server``; stop it with :meth:`stop` or use it as a context manager."""

    def __init__(self, process: subprocess.Popen, host: str, port: int, store: Path, log_path: Path) -> None:
        self.process = process
        self.host = host
        self.port = port
        self.store = store
        self.log_path = log_path
        _LIVE.add(self)

    @property
    def url(self) -> str:
        """``http://host:port`` (``127.0.0.1`` when listening on every interface)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    def runs_url(self, experiment_id: str) -> str:
        """The runs table of an experiment (its landing page is MLflow's GenAI overview)."""
        return f"{self.url}/#/experiments/{experiment_id}/runs"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Block until ``GET /health`` answers 200; return the seconds waited.

        Raises ``ForecastError`` (with the end of the server log) if the server exits or does not
        answer within ``timeout``; the server is stopped in both cases.
        """
        started = time.monotonic()
        while True:
            if not self.running:
                code, tail = self.process.returncode, self.log_tail()
                self.stop()
                raise ForecastError(f"the MLflow server exited (code {code}) before answering:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                    if response.status == 200:
                        waited = time.monotonic() - started
                        log.debug("MLflow server ready on %s after %.1f s", self.url, waited)
                        return waited
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() - started > timeout:
                tail = self.log_tail()
                self.stop()
                raise ForecastError(f"the MLflow server did not answer on {self.url} within {timeout:g} s:\n{tail}")
            time.sleep(0.25)

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C: stop it and re-raise); return its exit code."""
        try:
            return self.process.wait()
        except KeyboardInterrupt:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server's whole process group (kill it if still alive after ``timeout``) and
        delete its log file. Safe to call twice."""
        _LIVE.discard(self)
        if self.process.returncode is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.warning("MLflow server did not stop within %g s: killing it", timeout)
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=timeout)
        # uvicorn children may outlive the leader for a moment: make sure the group is gone.
        self._signal(signal.SIGKILL, only_if_alive=True)
        self.log_path.unlink(missing_ok=True)

    def _signal(self, sig: int, only_if_alive: bool = False) -> None:
        try:
            if only_if_alive:
                os.killpg(self.process.pid, 0)
            os.killpg(self.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> UiServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"UiServer(url={self.url!r}, pid={self.process.pid}, running={self.running})"


def _mlflow_command() -> list[str]:
    script = Path(sys.executable).parent / "mlflow"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "mlflow"]


def serve(store: Path, host: str = "127.0.0.1", port: int = 5000, wait: bool = True,
          timeout: float = 60.0, workers: int = 1) -> UiServer:
    """Start ``mlflow server`` on ``store`` (``<store>/mlflow.db`` + ``<store>/artifacts``).

    With ``wait`` (the default) return once the server answers; otherwise return at once (call
    :meth:`UiServer.wait_ready`). Raises ``ForecastError`` if the store is missing, the port is
    taken, or the server fails to start.
    """
    store = Path(store).expanduser().resolve()
    if not (store / DB_NAME).is_file():
        raise ForecastError(f"no MLflow store at {store} (missing {DB_NAME}); run `forecast run EXPERIMENT.toml` "
                            f"first, or point --store at the folder that holds {DB_NAME}")
    if port_in_use(port, host):
        raise ForecastError(f"port {port} is in use; choose another with --port")
    command = _mlflow_command() + [
        "server",
        "--backend-store-uri", tracking_uri(store),
        # Experiments created from the UI land in the store too; the tracker's experiments
        # already have their artifact_location there, so the server reads local files.
        "--default-artifact-root", artifacts_uri(store),
        "--host", host,
        "--port", str(port),
        "--workers", str(workers),
    ]
    env = dict(os.environ)
    env.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    env.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    handle, name = tempfile.mkstemp(prefix=f"forecast-ui-{port}-", suffix=".log")
    log_path = Path(name)
    with os.fdopen(handle, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   env=env, cwd=store, start_new_session=True)
    log.info("starting the MLflow UI on %s:%d (log: %s)", host, port, log_path)
    server = UiServer(process, host, port, store, log_path)
    if wait:
        server.wait_ready(timeout)
    return server


@atexit.register
def _stop_all() -> None:  # pragma: no cover - safety net for servers left running at exit
    for server in list(_LIVE):
        server.stop(timeout=5)
