"""Where the clips of a run are made: here (``local``, the default) or on a Ray cluster (``ray``).

The clip requests, their keys and the cache are the same either way; only the place the backend
runs changes. With Ray (``pip install 'mvtimeline[ray]'``):

- **scheduling is Ray's**: procedural and loop clips are plain tasks (``num_cpus=1``); the
  diffusers backend runs in one actor per GPU (``num_gpus=1``; one actor with ``num_cpus=1`` on a
  cluster without GPUs) that loads its pipeline once and serves many clips, each actor given the
  next clip when it is free (``ray.wait``);
- **data travels by value**: the files a request names (image, video, audio) are read on the
  driver, put in Ray's object store once each and written into a temp folder on the worker; the
  worker returns the encoded clip's bytes and the driver writes the cache (atomically);
- **faults**: a task whose worker dies is retried elsewhere (``max_retries``), an actor whose
  process dies is restarted and reloads its model (``max_restarts``, ``max_task_retries``); a clip
  that still fails is given up (the run makes the others, then says which are missing);
- **Ctrl-C** cancels our tasks and kills our actors, never the cluster; a Ray started for the run
  (no address and no ``RAY_ADDRESS``) is shut down with it.

Public: RayExecutor, make_on_worker, cluster_summary, shared_cluster, EXECUTORS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError, RunError
from ..types import ClipRequest

__all__ = ["RayExecutor", "make_on_worker", "cluster_summary", "shared_cluster", "EXECUTORS"]

log = logging.getLogger(__name__)

#: Executors a run may use.
EXECUTORS = ("local", "ray")
#: Backends whose clips are made by actors that keep a model loaded.
ACTOR_BACKENDS = ("diffusers",)
_FILE_FIELDS = ("image", "video", "audio")
_BACKENDS: dict[str, Any] = {}  # on a worker: the backends built so far, by their settings


def _require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'mvtimeline[ray]'") from None
    return ray


def _backend(name: str, settings: dict[str, Any]) -> Any:
    from .registry import get_backend

    key = json.dumps([name, settings], sort_keys=True, default=str)
    if key not in _BACKENDS:
        _BACKENDS[key] = get_backend(name, **settings)
    return _BACKENDS[key]


def _worker_name() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def make_on_worker(name: str, settings: dict[str, Any], request: ClipRequest, files: dict[str, bytes]
                   ) -> tuple[bytes, dict[str, Any], str, float]:
    """Make one clip where this runs (a Ray worker): the request's files from ``files`` (field →
    bytes), the backend built once per process. Returns (mp4 bytes, meta, worker, seconds)."""
    t0 = time.perf_counter()
    backend = _backend(name, settings)
    with tempfile.TemporaryDirectory(prefix="mvt-worker-") as tmp:
        changes = {}
        for field, data in files.items():
            if not isinstance(data, (bytes, bytearray, memoryview)):  # an object ref, put once by the driver
                import ray

                data = ray.get(data)
            suffix = Path(getattr(request, field) or "").suffix
            p = Path(tmp) / f"{field}{suffix}"
            p.write_bytes(data)
            changes[field] = str(p)
        req = dataclasses.replace(request, **changes)
        out = Path(tmp) / "clip.mp4"
        made = backend.generate(req, out, None)
        return out.read_bytes(), made.to_meta(), _worker_name(), time.perf_counter() - t0


class _Actor:
    """A Ray actor's body: one backend (its model loaded once), many clips."""

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.backend = _backend(name, settings)
        self.name, self.settings, self.served = name, settings, 0

    def make(self, request: ClipRequest, files: dict[str, bytes]) -> tuple[bytes, dict[str, Any], str, float]:
        out = make_on_worker(self.name, self.settings, request, files)
        self.served += 1
        return out

    def stats(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "worker": _worker_name(), "served": self.served,
                "loads": getattr(self.backend, "loads", 0)}


@contextlib.contextmanager
def shared_cluster(config: Any) -> Iterator[Any]:
    """For a batch: a Ray started once for all songs (their worker processes connect to it) when the
    settings ask for Ray without an address; yields the settings with that address."""
    if getattr(config, "executor", "local") != "ray" or config.ray_address or os.environ.get("RAY_ADDRESS"):
        yield config
        return
    ray = _require_ray()
    ray.init(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        yield config.replace(ray_address=ray.get_runtime_context().gcs_address)
    finally:
        _shutdown(ray)


def cluster_summary(address: str | None) -> list[dict[str, Any]]:
    """The nodes of a Ray cluster (``mvtimeline doctor --ray-address``): address, alive, CPUs, GPUs.

    Raises
    ------
    InputError
        Ray is not installed.
    RunError
        The cluster cannot be reached.
    """
    ray = _require_ray()
    started = not ray.is_initialized()
    try:
        if started:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        return [{"node": n.get("NodeManagerAddress"), "alive": bool(n.get("Alive")),
                 "cpus": (n.get("Resources") or {}).get("CPU", 0), "gpus": (n.get("Resources") or {}).get("GPU", 0)}
                for n in ray.nodes()]
    except ConnectionError as exc:
        raise RunError(f"Ray cluster {address}: cannot connect ({exc})") from None
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


class RayExecutor:
    """Clips made on a Ray cluster.

    Parameters
    ----------
    backend : (str, dict)
        The backend's registry name and settings; built on the workers.
    address : str, optional
        ``auto``, ``ray://HOST:10001``, ``HOST:6379``; None: ``RAY_ADDRESS``, else a local Ray is
        started for the run (this machine's CPUs and GPUs).
    retries : int >= 0
        Ray's retries of a clip whose worker or actor died (and of a failed task).
    init_options : dict, optional
        More ``ray.init`` arguments for a Ray started here (tests declare ``num_gpus``).
    """

    name = "ray"

    def __init__(self, backend: tuple[str, dict[str, Any]], *, address: str | None = None, retries: int = 2,
                 init_options: dict[str, Any] | None = None) -> None:
        self.ray = _require_ray()
        self.backend_name, self.settings = backend[0], dict(backend[1])
        self.address = address
        self.retries = retries
        self.init_options = dict(init_options or {})
        self.started = False
        self.actors: list[Any] = []

    def connect(self) -> None:
        ray = self.ray
        if ray.is_initialized():
            return
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                     **({} if address else self.init_options))
        except ConnectionError as exc:
            raise RunError(f"Ray cluster {address}: cannot connect ({exc})") from None
        self.started = address is None
        log.info("Ray: %s", "started here" if self.started else f"connected to {address}")

    def close(self) -> None:
        """Kill our actors; shut a Ray down that was started for the run."""
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self.actors = []
        if self.started and self.ray.is_initialized():
            _shutdown(self.ray)
            self.started = False

    def start_actors(self) -> list[Any]:
        """The actors of an actor backend, started on first use (one per GPU of the cluster)."""
        self.connect()
        ray = self.ray
        if not self.actors:
            gpus = int(ray.cluster_resources().get("GPU", 0))
            opts = {"num_gpus": 1} if gpus else {"num_cpus": 1}
            cls = ray.remote(_Actor).options(max_restarts=self.retries, max_task_retries=self.retries, **opts)
            self.actors = [cls.remote(self.backend_name, self.settings) for _ in range(max(1, gpus))]
        return self.actors

    def worker_stats(self) -> list[dict[str, Any]]:
        """Each actor's process, clips served and model loads (empty for task backends)."""
        return self.ray.get([a.stats.remote() for a in self.actors]) if self.actors else []

    def make(self, requests: Sequence[ClipRequest], *,
             on_made: Callable[[ClipRequest, bytes, dict[str, Any], str, float], None],
             on_failed: Callable[[ClipRequest, str], None]) -> None:
        """Make every request on the cluster; ``on_made(req, mp4_bytes, meta, worker, seconds)`` as
        each arrives (on this thread), ``on_failed(req, message)`` for a clip given up."""
        ray = self.ray
        self.connect()
        refs: dict[str, Any] = {}
        payloads = []
        for req in requests:
            files = {}
            for field in _FILE_FIELDS:
                path = getattr(req, field, None)
                if path:
                    if path not in refs:
                        refs[path] = ray.put(Path(path).read_bytes())
                    files[field] = refs[path]
            payloads.append(files)
        pending: dict[Any, ClipRequest] = {}
        try:
            if self.backend_name in ACTOR_BACKENDS:  # each actor one clip at a time, the next to whoever is free
                todo = list(zip(requests, payloads))
                idle = list(self.start_actors())
                busy: dict[Any, tuple[ClipRequest, Any]] = {}
                while todo or busy:
                    while todo and idle:
                        req, files = todo.pop(0)
                        actor = idle.pop(0)
                        busy[actor.make.remote(req, files)] = (req, actor)
                        pending = {ref: r for ref, (r, _) in busy.items()}
                    done, _ = ray.wait(list(busy), num_returns=1)
                    for ref in done:
                        req, actor = busy.pop(ref)
                        pending.pop(ref, None)
                        try:
                            data, meta, worker, took = ray.get(ref)
                        except ray.exceptions.RayActorError as exc:  # the actor is gone for good
                            on_failed(req, _message(exc))
                            continue
                        except ray.exceptions.RayError as exc:
                            on_failed(req, _message(exc))
                            idle.append(actor)
                            continue
                        idle.append(actor)
                        on_made(req, data, meta, worker, took)
                    if todo and not idle and not busy:
                        for req, _ in todo:
                            on_failed(req, "no worker left to make it (every actor died)")
                        todo = []
                return
            task = ray.remote(make_on_worker).options(num_cpus=1, max_retries=self.retries, retry_exceptions=True)
            for req, files in zip(requests, payloads):
                pending[task.remote(self.backend_name, self.settings, req, files)] = req
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    req = pending.pop(ref)
                    try:
                        data, meta, worker, took = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        on_failed(req, _message(exc))
                        continue
                    on_made(req, data, meta, worker, took)
        except KeyboardInterrupt:
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - finished meanwhile
                    pass
            self.close()
            raise


def _shutdown(ray: Any) -> None:
    """``ray.shutdown()``, with what Ray prints meanwhile (its raylet's farewell) sent to stderr:
    stdout is the user's (``batch --json``)."""
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        ray.shutdown()


def _message(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    last = [ln for ln in text if ln.strip()]
    return f"{type(exc).__name__}: {last[-1] if last else exc}"
