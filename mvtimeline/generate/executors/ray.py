"""The Ray executor: the clips of a run made on a Ray cluster (``--executor ray``); the requests,
their keys and the cache are the same as in this process (:mod:`.local`), only the place the
backend runs changes. With Ray (``pip install 'mvtimeline[ray]'``):

- **scheduling is Ray's**: procedural and loop clips are plain tasks (``num_cpus=1``, spread over
  the machines); the
  diffusers backend runs in one actor per GPU (``num_gpus=1``; one actor with ``num_cpus=1`` on a
  cluster without GPUs) that loads its pipeline once and serves many clips; the ComfyUI backend
  in one actor per server (each drives only its server); each actor is given the next clip of
  any run (a batch's songs share them) when it is free (``ray.wait``);
- **data travels by value**: the files a request names (image, video, audio) are read on the
  driver, put in Ray's object store once each and written into a temp folder on the worker; the
  worker returns the encoded clip's bytes and the driver writes the cache (atomically). With
  ``--shared-cache DIR`` (one folder every machine mounts at the same path) the worker writes the
  clip there instead and the driver moves it into the cache;
- **faults**: a task whose worker dies is retried elsewhere (``max_retries``), an actor whose
  process dies is restarted and reloads its model (``max_restarts``, ``max_task_retries``); a clip
  that fails on an actor is tried on another (that one rests ``rest_s``: a dead ComfyUI server is
  passed over); a clip that still fails is given up (the run makes the others, then says which are
  missing);
- **Ctrl-C** cancels our tasks and kills our actors, never the cluster; a Ray started for the run
  (no address and no ``RAY_ADDRESS``) is shut down with it;
- **progress**: one ``Progress("clip", n_frames, n_frames, item=LABEL, worker=WORKER)`` as each
  clip is in the cache (``WORKER`` is ``host:pid`` of the process that made it; a cached clip has
  none); the frames of a clip being made are not reported.

A batch's analysis, alignment and renders on the same cluster: :mod:`.cluster`.

Public: RayExecutor, make_on_worker, cluster_summary, shared_cluster, check_address, connect, shutdown,
require_ray, failure_message, ACTOR_BACKENDS.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from mvtimeline.errors import InputError, RunError
from mvtimeline.fileio import ensure_dir
from mvtimeline.progress import Progress, ProgressFn, ignore
from mvtimeline.types import ClipRequest, ClipResult
from ..backends.base import Backend
from ..cache import clip_paths, clip_result, find_clip, store_clip
from .local import clip_label, clips_missing, prepare

__all__ = ["RayExecutor", "check_address", "make_on_worker", "cluster_summary", "shared_cluster", "connect",
           "shutdown", "require_ray", "failure_message", "ACTOR_BACKENDS"]

log = logging.getLogger(__name__)

#: Backends whose clips are made by actors that keep a model loaded.
ACTOR_BACKENDS = ("diffusers", "comfyui")
_FILE_FIELDS = ("image", "video", "audio")
_BACKENDS: dict[str, Any] = {}  # on a worker: the backends built so far, by their settings


def require_ray() -> Any:
    """The ``ray`` module. Raises InputError (in one line) when it is not installed."""
    try:
        import ray
    except ImportError:
        raise InputError("--executor ray needs Ray: pip install 'mvtimeline[ray]'") from None
    return ray


#: Backend settings that name an input file (sent by value, like a request's files).
_SETTING_FILES = ("character",)


def _settings_by_value(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings with each input file they name (``character``) replaced by its name and bytes."""
    out = dict(settings)
    for key in _SETTING_FILES:
        if out.get(key):
            path = Path(out[key])
            out[key] = {"file": path.name, "bytes": path.read_bytes()}
    return out


def _backend(name: str, settings: dict[str, Any]) -> Any:
    from ..backends.registry import get_backend

    key = json.dumps([name, settings], sort_keys=True, default=lambda v: hashlib.sha256(v).hexdigest()
                     if isinstance(v, bytes) else str(v))
    if key not in _BACKENDS:
        local = dict(settings)
        for k in _SETTING_FILES:
            if isinstance(local.get(k), dict):  # sent by value: kept in a folder for this process's life
                folder = Path(tempfile.mkdtemp(prefix="mvt-settings-"))
                path = folder / Path(local[k]["file"]).name
                path.write_bytes(local[k]["bytes"])
                local[k] = str(path)
        _BACKENDS[key] = get_backend(name, **local)
    return _BACKENDS[key]


def _worker_name() -> str:
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def make_on_worker(name: str, settings: dict[str, Any], request: ClipRequest, files: dict[str, bytes],
                   shared_dir: str | None = None) -> tuple[bytes | str, dict[str, Any], str, float]:
    """Make one clip where this runs (a Ray worker): the request's files from ``files`` (field →
    bytes), the backend built once per process. Returns (mp4 bytes, meta, worker, seconds); with
    ``shared_dir`` the MP4 is written there (complete before it gets its name) and its path
    returned instead of the bytes."""
    t0 = time.perf_counter()
    backend = _backend(name, settings)
    files = dict(files)
    keyframe = _fetch(files.pop("keyframe", None))  # a PNG made by a keyframe actor
    with tempfile.TemporaryDirectory(prefix="mvt-worker-") as tmp:
        req = _with_files(request, files, Path(tmp))
        out = Path(tmp) / "clip.mp4"
        if keyframe is not None:
            from PIL import Image

            made = backend.generate(req, out, None, keyframe=Image.open(io.BytesIO(keyframe)))
        else:
            made = backend.generate(req, out, None)
        if shared_dir:
            import uuid

            target = Path(shared_dir) / "incoming" / f"{uuid.uuid4().hex}.mp4"
            target.parent.mkdir(parents=True, exist_ok=True)
            part = target.with_suffix(".part")
            shutil.copyfile(out, part)
            os.replace(part, target)
            return str(target), _meta(made), _worker_name(), time.perf_counter() - t0
        return out.read_bytes(), _meta(made), _worker_name(), time.perf_counter() - t0


def _fetch(data: Any) -> Any:
    """Bytes sent by value: as they are, or from Ray's object store (a ref the driver put once)."""
    if data is None or isinstance(data, (bytes, bytearray, memoryview)):
        return data
    import ray

    return ray.get(data)


def _with_files(request: ClipRequest, files: dict[str, Any], folder: Path) -> ClipRequest:
    """The request with each of its files (field → bytes) written into ``folder`` and named there."""
    changes = {}
    for field, data in files.items():
        suffix = Path(getattr(request, field) or "").suffix
        p = folder / f"{field}{suffix}"
        p.write_bytes(_fetch(data))
        changes[field] = str(p)
    return dataclasses.replace(request, **changes)


def _meta(made: Any) -> dict[str, Any]:
    """The clip's meta, with the Ray node it was made on."""
    meta = made.to_meta()
    with contextlib.suppress(Exception):
        import ray

        if ray.is_initialized():
            meta["node"] = ray.get_runtime_context().get_node_id()
    return meta


class _Actor:
    """A Ray actor's body: one backend (its model loaded once), many clips."""

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.backend = _backend(name, settings)
        self.name, self.settings, self.served = name, settings, 0

    def make(self, request: ClipRequest, files: dict[str, bytes], shared_dir: str | None = None
             ) -> tuple[bytes | str, dict[str, Any], str, float]:
        out = make_on_worker(self.name, self.settings, request, files, shared_dir)
        self.served += 1
        return out

    def keyframe_size(self, request: ClipRequest) -> tuple[int, int] | None:
        """The size of the clip's keyframe (None: it uses none); loads the video model."""
        return self.backend.keyframe_size(request)

    def keyframe(self, request: ClipRequest, files: dict[str, Any], size: tuple[int, int]
                 ) -> tuple[bytes, str, float]:
        """The clip's keyframe as PNG bytes, from the keyframe model only (the video model stays
        unloaded here). Returns (png, worker, seconds)."""
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mvt-keyframe-") as tmp:
            req = _with_files(request, files, Path(tmp))
            img = self.backend.keyframe_image(req, *size)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        self.served += 1
        return buf.getvalue(), _worker_name(), time.perf_counter() - t0

    def cancel(self) -> None:
        """Stop the clip being made where the backend can (ComfyUI: interrupt our prompt on the
        server); runs beside ``make`` (the actor takes two calls at once)."""
        self.backend.cancel()

    def stats(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "worker": _worker_name(), "served": self.served,
                "loads": self.backend.loads, "keyframe_loaded": self.backend.keyframe_loaded}


def check_address(address: str | None) -> None:
    """Something listens at a ``HOST:PORT`` or ``ray://HOST:PORT`` cluster address (``auto`` and
    none: nothing to check). Raises RunError, in one line, when not."""
    import socket
    from urllib.parse import urlsplit

    if not address or address == "auto":
        return
    where = urlsplit(address if "://" in address else f"//{address}")
    if where.hostname and where.port:
        try:
            socket.create_connection((where.hostname, where.port), timeout=10).close()
        except OSError as exc:
            raise RunError(f"Ray cluster {address}: cannot connect ({exc.strerror or exc})") from None


def _init(ray: Any, address: str | None, **options: Any) -> None:
    """``ray.init`` quietly (no dashboard, workers' output kept off this terminal); an unreachable
    cluster is one clear error, found first by a plain connection (``ray.init`` itself waits for
    minutes on a HOST:PORT where nothing listens)."""
    check_address(address)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                 **options)
    except ConnectionError as exc:
        raise RunError(f"Ray cluster {address}: cannot connect ({exc})") from None


def connect(ray: Any, address: str | None, **options: Any) -> bool:
    """Connect to ``address`` (else ``RAY_ADDRESS``, else a Ray started here with ``options``)
    unless this process already is; True when a Ray was started here (to be shut down with it)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    # no address: a Ray of our own ("local"); ray.init() would join whatever Ray this machine last
    # started with `ray start` (another user's, or one being stopped) and die with it
    _init(ray, address or "local", **({} if address else options))
    log.info("Ray: %s", "started here" if address is None else f"connected to {address}")
    return address is None


@contextlib.contextmanager
def shared_cluster(config: Any) -> Iterator[Any]:
    """For a batch: a Ray started once for all songs (their worker processes connect to it) when the
    settings ask for Ray without an address; yields the settings with that address."""
    if config.executor != "ray" or config.ray_address or os.environ.get("RAY_ADDRESS"):
        yield config
        return
    ray = require_ray()
    _init(ray, "local")  # our own Ray, not one this machine started with `ray start`
    try:
        yield config.replace(ray_address=ray.get_runtime_context().gcs_address)
    finally:
        shutdown(ray)


def cluster_summary(address: str | None) -> list[dict[str, Any]]:
    """The nodes of a Ray cluster (``mvtimeline doctor --ray-address``): address, alive, CPUs, GPUs.

    Raises
    ------
    InputError
        Ray is not installed.
    RunError
        The cluster cannot be reached.
    """
    ray = require_ray()
    started = not ray.is_initialized()
    try:
        if started:
            _init(ray, address)
        return [{"node": n.get("NodeManagerAddress"), "alive": bool(n.get("Alive")),
                 "cpus": (n.get("Resources") or {}).get("CPU", 0), "gpus": (n.get("Resources") or {}).get("GPU", 0)}
                for n in ray.nodes()]
    finally:
        if started and ray.is_initialized():
            ray.shutdown()


class RayExecutor:
    """Clips made on a Ray cluster.

    One executor may serve several runs at once (a batch's songs, from threads): the actors of an
    actor backend are shared, each given the next clip of any run when it is free.

    Parameters
    ----------
    backend : (str, dict)
        The backend's registry name and settings; built on the workers.
    address : str, optional
        ``auto``, ``ray://HOST:10001``, ``HOST:6379``; None: ``RAY_ADDRESS``, else a local Ray is
        started for the run (this machine's CPUs and GPUs).
    retries : int >= 0
        Ray's retries of a clip whose worker or actor died (and of a failed task); with actors, a
        clip that failed on one actor is tried on another (at most ``retries`` more times).
    init_options : dict, optional
        More ``ray.init`` arguments for a Ray started here (tests declare ``num_gpus``).
    shared_dir : Path, optional
        A folder every machine of the cluster sees at this same path (``--shared-cache``): workers
        write their clips there instead of sending the bytes back; the driver moves each into the
        cache (atomically).
    rest_s : float
        An actor whose clip failed (its ComfyUI server down) is given no new clip for this long
        while other actors can take it.
    keyframe_gpus : int >= 0
        diffusers with a keyframe model: GPUs given to keyframe actors (the keyframe model only);
        the other GPUs get video actors (the video model only), so the two models never share a
        GPU's memory. 0: each GPU actor holds both (each keyframe made just before its clip).
    """

    name = "ray"

    def __init__(self, backend: tuple[str, dict[str, Any]], *, address: str | None = None, retries: int = 2,
                 init_options: dict[str, Any] | None = None, shared_dir: Path | str | None = None,
                 rest_s: float = 30.0, keyframe_gpus: int = 0) -> None:
        self.ray = require_ray()
        self.backend_name, self.settings = backend[0], _settings_by_value(dict(backend[1]))
        self.keyframe_gpus = int(keyframe_gpus)
        self._roles: list[str] = []  # each actor's role: "clip" (makes clips) or "keyframe"
        self._sizes: dict[tuple[int, int, bool], tuple[int, int] | None] = {}  # keyframe sizes asked
        self.address = address
        self.retries = retries
        self.init_options = dict(init_options or {})
        self.shared_dir = str(shared_dir) if shared_dir else None
        self.rest_s = float(rest_s)
        self.started = False
        self.actors: list[Any] = []
        self._cond = threading.Condition()
        self._idle: list[int] = []  # indices into self.actors, free for a clip
        self._dead: set[int] = set()
        self._rest_until: dict[int, float] = {}
        self._pending: set[Any] = set()  # refs of our clips in flight (all runs)
        self._refs: dict[str, Any] = {}  # input file → its object ref (put once)

    def connect(self) -> None:
        with self._cond:
            if connect(self.ray, self.address, **self.init_options):
                self.started = True

    def close(self) -> None:
        """Kill our actors; shut a Ray down that was started for the run."""
        with self._cond:
            actors, self.actors = self.actors, []
            self._idle, self._dead, self._rest_until, self._refs = [], set(), {}, {}
            self._roles, self._sizes = [], {}
        for a in actors:
            try:
                self.ray.kill(a)
            except Exception:  # noqa: BLE001 - already gone
                pass
        if self.started and self.ray.is_initialized():
            shutdown(self.ray)
            self.started = False

    def cancel(self) -> None:
        """Ctrl-C: cancel our clips in flight (every run's) and kill our actors; the cluster stays."""
        with self._cond:
            pending = list(self._pending)
            self._pending.clear()
        for ref in pending:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - finished meanwhile, or an actor call (killed below)
                pass
        live = [a for i, a in enumerate(self.actors) if i not in self._dead]
        if live:  # a remote server stops our prompts before the actors go
            with contextlib.suppress(Exception):
                self.ray.get([a.cancel.remote() for a in live], timeout=10)
        self.close()

    def _actor_settings(self) -> list[dict[str, Any]]:
        """The settings of each actor: one per GPU (at least one); for ComfyUI, one per server, each
        driving only its own (a failed clip is tried on another actor)."""
        if self.backend_name == "comfyui":
            servers = self.settings.get("servers") or ()
            servers = [servers] if isinstance(servers, str) else list(servers)
            return [{**self.settings, "servers": [url], "retries": 0} for url in servers] or [self.settings]
        gpus = int(self.ray.cluster_resources().get("GPU", 0))
        return [self.settings] * max(1, gpus)

    def _split(self, n_actors: int) -> list[str]:
        """The role of each actor: keyframe actors first when ``keyframe_gpus`` asks for them."""
        k = self.keyframe_gpus
        if k <= 0 or self.backend_name != "diffusers" or not self.settings.get("keyframe_model"):
            return ["clip"] * n_actors
        if n_actors <= k:
            log.warning("--keyframe-gpus %d needs more than %d GPU(s); the cluster has %d: each GPU holds both "
                        "models", k, k, n_actors)
            return ["clip"] * n_actors
        return ["keyframe"] * k + ["clip"] * (n_actors - k)

    def start_actors(self) -> list[Any]:
        """The actors of an actor backend, started on first use: one per GPU of the cluster
        (``num_gpus=1`` and no CPU reserved, so a batch's analyses and renders are never starved of
        CPUs by idle GPU actors; ``num_cpus=1`` on a cluster without GPUs), or one per ComfyUI
        server (``num_cpus=0``: it waits on its server)."""
        self.connect()
        ray = self.ray
        with self._cond:
            if not self.actors:
                res = ray.cluster_resources()
                if self.backend_name == "comfyui":
                    opts: dict[str, Any] = {"num_cpus": 0}
                elif int(res.get("GPU", 0)):  # its GPU, no CPU: the songs' CPU tasks run beside it
                    opts = {"num_gpus": 1, "num_cpus": 0}
                else:  # a CPU actor takes a CPU, unless that would leave no CPU for anything else
                    opts = {"num_cpus": 1 if res.get("CPU", 0) >= 2 else 0}
                cls = ray.remote(_Actor).options(max_restarts=self.retries, max_task_retries=self.retries,
                                                 max_concurrency=2, **opts)  # a clip, and a cancel beside it
                settings = self._actor_settings()
                self._roles = self._split(len(settings))
                self.actors = [cls.remote(self.backend_name, s) for s in settings]
                self._idle = list(range(len(self.actors)))
                self._dead, self._rest_until = set(), {}
            return list(self.actors)

    def worker_stats(self) -> list[dict[str, Any]]:
        """Each actor's process, clips served and model loads (empty for task backends)."""
        live = [a for i, a in enumerate(self.actors) if i not in self._dead]
        return self.ray.get([a.stats.remote() for a in live]) if live else []

    def _inputs(self, req: ClipRequest) -> dict[str, Any]:
        """The request's files as object refs, each file put in the object store once."""
        files = {}
        for field in _FILE_FIELDS:
            path = getattr(req, field, None)
            if path:
                with self._cond:
                    ref = self._refs.get(path)
                if ref is None:
                    ref = self.ray.put(Path(path).read_bytes())
                    with self._cond:
                        self._refs[path] = ref
                files[field] = ref
        return files

    def _arrived(self, out: tuple[Any, ...]) -> tuple[bytes | Path, dict[str, Any], str, float]:
        """A worker's answer: the clip's bytes, or (``--shared-cache``) its path, checked here."""
        data, meta, worker, took = out
        if isinstance(data, str):
            path = Path(data)
            if not path.is_file():
                raise RunError(f"--shared-cache {self.shared_dir}: {worker} wrote {path}, which this machine "
                               "cannot see; the folder must be the same on every machine")
            data = path
        return data, meta, worker, took

    def run(self, requests: Sequence[ClipRequest], *, backend: Backend, cache_dir: Path,
            progress: ProgressFn | None = None) -> list[ClipResult]:
        """Make (or reuse) the clip of every request, in order, on the cluster; the clips come back
        here and are written into the cache (atomically). Same results and errors as
        :func:`mvtimeline.generate.executors.local.run`.

        Parameters
        ----------
        requests : sequence of ClipRequest
            All checked (and their image hashes filled in) before the first is sent.
        backend : Backend
            The backend built here: its name, version and model id make the keys (the workers
            build their own from this executor's settings).
        cache_dir : Path
            The cache folder (created if needed).
        progress : ProgressFn, optional
            ``Progress("clip", n_frames, n_frames, item=LABEL, worker=WORKER)`` as each clip is in
            the cache (no ``worker`` for a clip that was there already).

        Returns
        -------
        list of ClipResult

        Raises
        ------
        InputError
            A bad request (before anything is made).
        ClipsMissing
            Some clips were given up (their worker failed them ``retries + 1`` times, or every
            actor died); the others are in the cache.
        """
        cache_dir = ensure_dir(Path(cache_dir))
        prepared = prepare(requests, backend=backend)
        report = progress or ignore
        who = {"name": backend.name, "version": backend.version, "model_id": backend.model_id}
        t0 = time.perf_counter()
        results: list[ClipResult | None] = [None] * len(prepared)
        failed: list[tuple[ClipRequest, str]] = []
        todo: list[int] = []
        for i, req in enumerate(prepared):
            t1 = time.perf_counter()
            key = req.key(backend.name, backend.version, backend.model_id)
            record = find_clip(cache_dir, key, req.take)
            if record is None:
                todo.append(i)
                continue
            mp4, _ = clip_paths(cache_dir, key, req.take)
            log.info("%s: cached %s", clip_label(req), mp4)
            report(Progress("clip", req.n_frames, req.n_frames, item=clip_label(req)))
            results[i] = clip_result(req, key, mp4, record, cached=True, t0=t1)
        where = {id(prepared[i]): i for i in todo}

        def on_made(req: ClipRequest, data: bytes | Path, meta: dict[str, Any], worker: str, took: float) -> None:
            key = req.key(backend.name, backend.version, backend.model_id)
            mp4, record = store_clip(cache_dir, req, key, data, backend=who, meta={**meta, "worker": worker},
                                     generate_s=took)
            results[where[id(req)]] = clip_result(req, key, mp4, record, cached=False, t0=t0)
            log.info("%s: made on %s in %.1f s", clip_label(req), worker, took)
            report(Progress("clip", req.n_frames, req.n_frames, item=clip_label(req), worker=worker))

        def on_failed(req: ClipRequest, message: str) -> None:
            if not message.startswith(clip_label(req)):
                message = f"{clip_label(req)}: {message}"
            log.info("%s", message)  # the run's error sums the failures up in one line
            failed.append((req, message))

        if todo:
            self.make([prepared[i] for i in todo], on_made=on_made, on_failed=on_failed)
        if failed:
            raise clips_missing(failed, results, len(prepared))
        return [r for r in results if r is not None]

    def make(self, requests: Sequence[ClipRequest], *,
             on_made: Callable[[ClipRequest, bytes | Path, dict[str, Any], str, float], None],
             on_failed: Callable[[ClipRequest, str], None]) -> None:
        """Make every request on the cluster; ``on_made(req, clip, meta, worker, seconds)`` as each
        arrives (on this thread; ``clip`` is the MP4's bytes, or with ``shared_dir`` the path of
        the file the worker wrote there, to be moved into the cache), ``on_failed(req, message)``
        for a clip given up. Safe to call from several threads at once."""
        self.connect()
        todo = [(req, self._inputs(req)) for req in requests]
        try:
            if self.backend_name in ACTOR_BACKENDS:
                self._on_actors(todo, on_made, on_failed)
            else:
                self._as_tasks(todo, on_made, on_failed)
        except KeyboardInterrupt:
            self.cancel()
            raise

    def _settle(self, ref: Any, req: ClipRequest, on_made: Callable, on_failed: Callable) -> None:
        """Hand a finished clip over. Raises Ray's error when the clip failed where it was made."""
        out = self.ray.get(ref)
        try:
            arrived = self._arrived(out)
        except RunError as exc:
            on_failed(req, str(exc))
            return
        on_made(req, *arrived)

    def _as_tasks(self, todo: list[tuple[ClipRequest, dict[str, Any]]], on_made: Callable,
                  on_failed: Callable) -> None:
        ray = self.ray
        # SPREAD: the clips go round the cluster's machines (Ray's default packs them onto one first)
        task = ray.remote(make_on_worker).options(num_cpus=1, max_retries=self.retries, retry_exceptions=True,
                                                  scheduling_strategy="SPREAD")
        pending: dict[Any, ClipRequest] = {}
        for req, files in todo:
            pending[task.remote(self.backend_name, self.settings, req, files, self.shared_dir)] = req
        with self._cond:
            self._pending.update(pending)
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                req = pending.pop(ref)
                with self._cond:
                    self._pending.discard(ref)
                try:
                    self._settle(ref, req, on_made, on_failed)
                except ray.exceptions.RayError as exc:
                    on_failed(req, failure_message(exc))

    def _take(self, tried: set[int], role: str) -> int | None:
        """An idle actor of ``role`` for a clip (under the lock): one not tried for it, not resting
        if another can take it."""
        now = time.monotonic()
        free = [i for i in self._idle if i not in tried and self._roles[i] == role]
        fresh = [i for i in free if self._rest_until.get(i, 0.0) <= now]
        if fresh:
            pick = fresh[0]
        else:
            # a resting actor only when every actor that could take the clip is resting
            others = [i for i in range(len(self.actors))
                      if i not in self._dead and i not in tried and self._roles[i] == role]
            if not free or any(self._rest_until.get(i, 0.0) <= now for i in others):
                return None
            pick = free[0]
        self._idle.remove(pick)
        return pick

    def _keyframe_sizes(self, todo: list[tuple[ClipRequest, dict[str, Any]]]) -> list[tuple[int, int] | None]:
        """With keyframe actors: the size of each clip's keyframe (None: it uses none), asked of a
        video actor once per request shape (its model's constraints decide)."""
        if "keyframe" not in self._roles:
            return [None] * len(todo)
        clip_actors = [a for i, a in enumerate(self.actors) if self._roles[i] == "clip" and i not in self._dead]
        out = []
        for req, _ in todo:
            shape = (req.width, req.height, req.image is None)
            if shape not in self._sizes:
                self._sizes[shape] = self.ray.get(clip_actors[0].keyframe_size.remote(req))
            out.append(self._sizes[shape])
        return out

    def _on_actors(self, todo: list[tuple[ClipRequest, dict[str, Any]]], on_made: Callable,
                   on_failed: Callable) -> None:
        """Each actor one job at a time, the next job to whichever actor is free; with keyframe
        actors a clip is two jobs: its keyframe there, then the clip on a video actor (the
        keyframe's PNG passed on through the object store)."""
        ray = self.ray
        self.start_actors()
        sizes = self._keyframe_sizes(todo)
        stage = ["keyframe" if size is not None else "clip" for size in sizes]
        queue = list(range(len(todo)))
        tried: dict[int, set[int]] = {i: set() for i in queue}
        errors: dict[int, str] = {}
        busy: dict[Any, tuple[int, int]] = {}  # ref → (job, actor)
        while queue or busy:
            given_up = []
            with self._cond:
                for i in list(queue):
                    alive = [a for a in range(len(self.actors)) if a not in self._dead and self._roles[a] == stage[i]]
                    left = [a for a in alive if a not in tried[i]]
                    if not left or len(tried[i]) > self.retries:
                        queue.remove(i)
                        given_up.append(i)
                        continue
                    a = self._take(tried[i], stage[i])
                    if a is None:
                        continue
                    queue.remove(i)
                    req, files = todo[i]
                    if stage[i] == "keyframe":
                        ref = self.actors[a].keyframe.remote(req, files, sizes[i])
                    else:
                        ref = self.actors[a].make.remote(req, files, self.shared_dir)
                    busy[ref] = (i, a)
                    self._pending.add(ref)
                if queue and not busy and not given_up:
                    self._cond.wait(timeout=0.5)  # every actor is busy with another run's clips
                    continue
            for i in given_up:
                on_failed(todo[i][0], errors.get(i) or "no worker left to make it (every actor died)")
            if not busy:
                continue
            done, _ = ray.wait(list(busy), num_returns=1, timeout=0.5)
            for ref in done:
                i, a = busy.pop(ref)
                req = todo[i][0]
                with self._cond:
                    self._pending.discard(ref)
                try:
                    if stage[i] == "keyframe":
                        png, worker, took = ray.get(ref)
                        log.info("segment %02d take %d: keyframe made on %s in %.1f s", req.segment_index, req.take,
                                 worker, took)
                        todo[i][1]["keyframe"] = ray.put(png)  # the video actor fetches it from the object store
                        stage[i], tried[i] = "clip", set()
                        queue.append(i)
                    else:
                        self._settle(ref, req, on_made, on_failed)
                except ray.exceptions.RayError as exc:  # the job failed there: another actor tries it
                    gone = isinstance(exc, ray.exceptions.RayActorError)  # for good: its restarts are used up
                    errors[i] = msg = failure_message(exc)
                    if not gone:
                        label = f"segment {req.segment_index:02d} take {req.take}"
                        log.info("%s%s", msg if msg.startswith(label) else f"{label}: {msg}",
                                 "; trying it on another worker" if len(tried[i]) < self.retries else "")
                    with self._cond:
                        if gone:
                            self._dead.add(a)
                        else:
                            self._rest_until[a] = time.monotonic() + self.rest_s
                            self._idle.append(a)
                        self._cond.notify_all()
                    tried[i].add(a)
                    queue.append(i)
                    continue
                with self._cond:
                    self._rest_until.pop(a, None)
                    self._idle.append(a)
                    self._cond.notify_all()


def shutdown(ray: Any) -> None:
    """``ray.shutdown()``, with what Ray prints meanwhile (its raylet's farewell) sent to stderr:
    stdout is the user's (``batch --json``)."""
    import sys

    with contextlib.redirect_stdout(sys.stderr):
        ray.shutdown()


def failure_message(exc: BaseException) -> str:
    """One line for a clip's failure: our own error's message as it is, else Ray's error, named."""
    from mvtimeline.errors import MvtimelineError

    cause = getattr(exc, "cause", None)
    if isinstance(cause, MvtimelineError):
        return str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
    text = str(exc).strip().splitlines()
    last = [ln for ln in text if ln.strip()]
    return f"{type(exc).__name__}: {last[-1] if last else exc}"
