"""The ComfyUI backend: the user's workflow on the user's ComfyUI server(s), one prompt per clip.

``get_backend("comfyui", servers=("http://gpu1:8188", ...), workflow="still-audio")`` builds a
:class:`ComfyUIBackend`; building it reads the workflow and its binding
(:mod:`.workflow`) and contacts no server. Per clip:

1. **frames**: the clip's ``n_frames`` at the project rate last ``n_frames / fps`` seconds; the
   model makes ``grid.at_least(ceil(seconds * native_fps))`` frames at its own rate (4k+1 at 16 fps,
   5+17k at 24 fps...), so the generated clip is at least as long as the request; the surplus lies
   after the segment's tail handle, never inside the segment.
2. **audio** (workflows with an ``audio`` role): the exact slice of the song (or of the vocal stem,
   when the request's audio is one) from the clip's first frame for ``native_frames / native_fps``
   seconds, at the workflow's ``audio_rate``: audio length = video length by construction. A
   segment without sung lines gets silence, and its prompt says the singer is not singing. The
   slice is written once to ``stems_dir`` (named by its content) and reused.
3. **inputs** are uploaded (``/upload/image``; the image fitted to the generation size) and the
   server's names go into the graph with the prompt, negative prompt, seed (per take), frames, size
   and fps on the bound inputs.
4. **run** on a free server (one prompt in flight per server, :class:`ServerPool`), progress from
   the websocket; a server that drops out (a closed socket, a 5xx) is left for a while and the clip
   is retried on another, up to ``retries`` times; then :class:`~mvtimeline.errors.ClipFailed`. A
   server that cannot be reached at all (connection refused, unknown host) is dead for the rest of
   the run and not tried again; when every server is dead, :class:`ServersGone` (its
   ``backend_down`` tells the clip loop to start no more clips).
5. **conform**: the output video (or image sequence) is decoded, each project frame takes the
   nearest generated frame in time, fitted to the project size and encoded (H.264, like every
   backend). The clip's own audio is dropped: the song is the only audio.

Before a run, :meth:`ComfyUIBackend.check_servers` asks each server for ``/system_stats`` (a
few seconds at most): none answering is one error line, some not answering one warning line.

Retries and per-clip failures are logged at INFO (shown with ``-v``); a warning is one line per
server lost.

Public: ComfyUIBackend, ServerPool, ServersGone, diagnose, BACKEND_VERSION, NOT_SINGING, PROBE_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import math
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from mvtimeline.errors import ClipFailed, InputError
from mvtimeline.fileio import atomic_write
from mvtimeline.media import FrameFitter, decode_frames, fit_image, index_video, open_image
from mvtimeline.progress import Progress, ProgressFn
from mvtimeline.types import ClipRequest, GeneratedClip
from ..base import BackendBase, check_request
from ...grid import fit_size, native_indices
from .client import ComfyClient, NodeFailed, OutputFile, ServerDown
from .workflow import Workflow, load_workflow
from mvtimeline.generate.encode import EncodeSettings, encode_video

__all__ = ["ComfyUIBackend", "ServerPool", "ServersGone", "diagnose", "BACKEND_VERSION", "NOT_SINGING",
           "PROBE_TIMEOUT_S"]

log = logging.getLogger(__name__)

BACKEND_VERSION = "1"
#: Added to the prompt of an audio-driven clip whose segment has no sung line.
NOT_SINGING = "the singer is not singing, mouth closed, listening to the music"
#: Seconds a server that failed is passed over while another one is free.
DOWN_FOR_S = 30.0
#: Seconds of the longest clip kept for the handles (the dissolve after a segment).
HANDLE_ROOM_S = 1.0
#: Seconds each server has to answer ``/system_stats`` before a run (:meth:`ComfyUIBackend.check_servers`).
PROBE_TIMEOUT_S = 5.0


class ServersGone(ClipFailed):
    """Every server of the run is dead (connection refused, unknown host...): no clip can be made
    until one is back.

    ``cause`` is one line naming the servers and why ("ComfyUI http://gpu1:8188: connection
    refused"); ``backend_down`` (True) tells :func:`mvtimeline.generate.executors.local.run` to start no
    more clips.
    """

    backend_down = True

    def __init__(self, message: str, *, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message  # (a default: pickled across processes, it is rebuilt from its message)


def _servers_cause(dead: dict[str, str]) -> str:
    """``ComfyUI URL: cause`` for the dead servers, those with the same cause together.

    Examples
    --------
    >>> _servers_cause({"http://a:8188": "connection refused", "http://b:8188": "connection refused"})
    'ComfyUI http://a:8188, http://b:8188: connection refused'
    """
    by_cause: dict[str, list[str]] = {}
    for url, cause in dead.items():
        by_cause.setdefault(cause, []).append(url)
    return "ComfyUI " + "; ".join(f"{', '.join(urls)}: {cause}" for cause, urls in by_cause.items())


def _url(url: str) -> str:
    u = str(url).strip().rstrip("/")
    if "://" not in u:
        u = "http://" + u
    if not u.startswith(("http://", "https://")):
        raise InputError(f"--comfyui {url!r}: give the server as http://HOST:PORT")
    return u


class ServerPool:
    """The servers, each running at most one of our prompts at a time.

    :meth:`acquire` waits for a free server, preferring one this clip has not tried and that has
    not failed lately; :meth:`release` hands it back (``failed`` marks it down for
    :data:`DOWN_FOR_S` seconds). A server marked dead (:meth:`mark_dead`: it could not be reached
    at all) is never handed out again; once every server is dead, :meth:`acquire` returns None.
    """

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self._busy: set[str] = set()
        self._down_until: dict[str, float] = {}
        self._dead: dict[str, str] = {}  # URL → why ("connection refused")
        self._cond = threading.Condition()

    @property
    def live(self) -> list[str]:
        """The servers not marked dead, in the order given."""
        with self._cond:
            return [u for u in self.urls if u not in self._dead]

    @property
    def dead(self) -> dict[str, str]:
        """The servers marked dead: URL → cause."""
        with self._cond:
            return dict(self._dead)

    def acquire(self, tried: set[str]) -> str | None:
        """A free server for a clip that already tried ``tried``: the best-ranked live server (not
        tried by this clip, then not down lately) when it is free, else wait for one of that rank.
        None when every server is dead."""
        with self._cond:
            while True:
                live = [u for u in self.urls if u not in self._dead]
                if not live:
                    return None
                now = time.monotonic()

                def rank(u: str) -> tuple[bool, bool]:
                    return u in tried, self._down_until.get(u, 0.0) > now
                best = min(rank(u) for u in live)
                free = [u for u in live if u not in self._busy and rank(u) == best]
                if free:
                    self._busy.add(free[0])
                    return free[0]
                self._cond.wait(timeout=1.0)  # a down mark may expire meanwhile

    def release(self, url: str, *, failed: bool = False) -> None:
        with self._cond:
            self._busy.discard(url)
            if failed:
                self._down_until[url] = time.monotonic() + DOWN_FOR_S
            self._cond.notify_all()

    def mark_dead(self, url: str, cause: str, *, quiet: bool = False) -> None:
        """Hand nothing more to ``url`` in this run; unless ``quiet``, say so in one warning line
        when other servers go on (when it was the last, the run's error says it)."""
        with self._cond:
            if url in self._dead:
                return
            self._dead[url] = cause
            live = [u for u in self.urls if u not in self._dead]
            self._cond.notify_all()
        if live and not quiet:
            log.warning("ComfyUI %s: %s; going on with %s", url, cause, ", ".join(live))

    def gone(self) -> str:
        """One line on the dead servers: ``ComfyUI URL: cause``."""
        return _servers_cause(self.dead)


class ComfyUIBackend(BackendBase):
    """Clips from a ComfyUI workflow run on one or more servers.

    Parameters
    ----------
    servers : sequence of str
        Server URLs (``http://host:8188``); requests are spread over all of them.
    workflow : str
        A bundled workflow name (``still``, ``still-audio``, ``wan22-i2v``, ...) or an API-format
        ``FILE.json`` (binding in ``FILE.toml`` beside it, or node titles).
    retries : int >= 0
        How many times a clip whose server failed is tried again (on another server when there is
        one) before it is given up.
    stems_dir : Path, optional
        Where the audio slices are kept (the work folder's ``stems/``); default: a temporary folder.
    idle_timeout_s : float
        Seconds without a message from a server while it runs our prompt before it counts as dead.
    crf, preset, keyint_s
        Encoder settings of the conformed clips.
    keyframe_workflow : str, optional
        An image workflow (``[model] kind = "image"``, e.g. ``sdxl-keyframe``) that makes each
        segment's keyframe from its image prompt, on the same server, when the request has no image.

    Attributes
    ----------
    name, version, model_id, max_seconds, clip_seconds
        As every backend (``clip_seconds`` is ``max_seconds``: a segment is one run of the workflow); ``version`` includes the workflow's and binding's hash, so an edited
        workflow makes new clips.
    parallel : int
        Clips the generate loop may run at once (one per server).
    wants_audio : bool
        The workflow takes each segment's audio (the pipeline then adds the song to the requests).
    """

    name = "comfyui"

    def __init__(self, *, servers: Sequence[str] = (), workflow: str = "still", retries: int = 2,
                 stems_dir: Path | None = None, idle_timeout_s: float = 600.0, crf: int = 18,
                 preset: str = "veryfast", keyint_s: float = 1.0, keyframe_workflow: str | None = None) -> None:
        if isinstance(servers, str):
            servers = [servers]
        if not servers:
            raise InputError("--backend comfyui needs at least one --comfyui URL")
        if not isinstance(retries, int) or retries < 0:
            raise InputError(f"--retries {retries!r} must be an integer >= 0")
        self.servers = tuple(_url(u) for u in servers)
        self.workflow: Workflow = load_workflow(workflow)
        b = self.workflow.binding
        if b.kind != "video":
            raise InputError(f"workflow {self.workflow.name} makes images ([model] kind = \"image\"); "
                             "--workflow needs a video workflow")
        self.keyframe: Workflow | None = load_workflow(keyframe_workflow) if keyframe_workflow else None
        if self.keyframe is not None and self.keyframe.binding.kind != "image":
            raise InputError(f"--keyframe-workflow {self.keyframe.name}: not an image workflow (its binding needs "
                             "[model] kind = \"image\")")
        self.retries = retries
        self.stems_dir = Path(stems_dir) if stems_dir else None
        self.idle_timeout_s = float(idle_timeout_s)
        self.encode = EncodeSettings(crf=crf, preset=preset, keyint_s=keyint_s)
        self.version = f"{BACKEND_VERSION}+{self.workflow.sha256[:16]}" + (
            f"+{self.keyframe.sha256[:16]}" if self.keyframe else "")
        self.model_id = self.workflow.name + (f"+{self.keyframe.name}" if self.keyframe else "")
        # the longest segment: the longest clip less room for the dissolve handle and the grid's step
        self.max_seconds = max(0.5, float(Fraction(b.max_frames - b.grid.step) / b.fps) - HANDLE_ROOM_S)
        self.clip_seconds = self.max_seconds  # one run of the workflow per segment: no chaining
        self.parallel = len(self.servers)
        self.wants_audio = self.workflow.needs_audio
        self.pool = ServerPool(self.servers)
        self._cancel = threading.Event()
        self._running: dict[str, tuple[str, str]] = {}  # clip label → (server, prompt_id)
        self._lock = threading.Lock()
        self._audio: dict[tuple[str, int], np.ndarray] = {}  # the song at the workflow's rate
        self._noted: set[str] = set()  # kinds of conform notes already warned about

    # -- sizes and frames ---------------------------------------------------------------------------
    def native_frames(self, request: ClipRequest) -> int:
        """Frames the model makes for ``request``: its seconds at the model's rate, up on the grid."""
        b = self.workflow.binding
        need = math.ceil(Fraction(request.n_frames) / Fraction(request.fps) * b.fps - Fraction(1, 1000))
        return b.grid.at_least(max(need, b.min_frames))

    def generation_size(self, request: ClipRequest) -> tuple[int, int]:
        return fit_size(request.width, request.height, multiple=self.workflow.binding.multiple, max_area=None)

    @property
    def needs_image(self) -> bool:
        """Every clip starts from a picture the user gives (``--image``, ``--cast``): the workflow
        needs one and no keyframe workflow makes it."""
        return self.workflow.needs_image and self.keyframe is None

    def check(self, request: ClipRequest) -> None:
        """Refuse what the workflow cannot make, before anything is uploaded."""
        check_request(request)
        where = f"segment {request.segment_index}"
        b = self.workflow.binding
        n = self.native_frames(request)
        if n > b.max_frames:
            raise InputError(f"{where}: {float(request.n_frames / request.fps):.2f} s needs {n} frames at "
                             f"{float(b.fps):g} fps ({b.grid}); workflow {self.workflow.name} makes at most "
                             f"{b.max_frames}: lower --max-segment")
        if self.workflow.needs_image and request.image is None and self.keyframe is None:
            raise InputError(f"{where}: workflow {self.workflow.name} starts from an image: pass --image, --cast "
                             "with the singers' pictures, or --keyframe-workflow (e.g. sdxl-keyframe)")
        if self.workflow.needs_audio and request.audio is None:
            raise InputError(f"{where}: workflow {self.workflow.name} takes the segment's audio, but the "
                             "request has none")

    # -- audio --------------------------------------------------------------------------------------
    def stem(self, request: ClipRequest, folder: Path) -> Path:
        """The clip's audio slice as a WAV in ``folder`` (made once, named by its content)."""
        from mvtimeline.audio import probe, wav_window

        b = self.workflow.binding
        seconds = Fraction(self.native_frames(request)) / b.fps
        start_s = max(0.0, request.clip_start_s)
        src = Path(request.audio)  # type: ignore[arg-type]
        rate = b.audio_rate or int(probe(src)[1])
        n_out = int(round(seconds * rate))
        silent = not request.singing and not request.audio_is_vocals
        tag = hashlib.sha256(f"{request.audio_sha256}|{start_s:.6f}|{n_out}|{rate}|{silent}".encode()).hexdigest()[:16]
        out = folder / f"seg{request.segment_index:02d}-{tag}.wav"
        if out.is_file():
            return out
        samples = np.zeros(0, dtype=np.float32) if silent else self._song(src, rate)  # past the end: silence
        folder.mkdir(parents=True, exist_ok=True)
        return atomic_write(out, wav_window(samples, rate, start_s, n_out))

    def _song(self, path: Path, rate: int) -> np.ndarray:
        from mvtimeline.audio import load

        with self._lock:
            key = (str(path), rate)
            if key not in self._audio:
                self._audio.clear()
                self._audio[key] = load(path, sr=rate)[0]
            return self._audio[key]

    def prompt_text(self, request: ClipRequest) -> str:
        text = ", ".join(p for p in (request.image_prompt, request.motion_prompt) if p)
        if self.workflow.needs_audio and not request.singing:
            text = f"{text}, {NOT_SINGING}" if text else NOT_SINGING
        return text

    # -- one clip -----------------------------------------------------------------------------------
    def cancel(self) -> None:
        """Stop: interrupt our prompts that are running (only ours) and start no new ones."""
        self._cancel.set()
        with self._lock:
            running = list(self._running.values())
        for url, prompt_id in running:
            with contextlib.suppress(Exception):
                asyncio.run(self._interrupt(url, prompt_id))

    @property
    def running(self) -> dict[str, tuple[str, str]]:
        """Our prompts running now: clip label → (server URL, prompt id)."""
        with self._lock:
            return dict(self._running)

    async def _interrupt(self, url: str, prompt_id: str) -> None:
        async with ComfyClient(url) as c:
            await c.interrupt(prompt_id)

    # -- servers ------------------------------------------------------------------------------------
    def check_servers(self, *, timeout_s: float = PROBE_TIMEOUT_S) -> list[str]:
        """Ask every server for ``/system_stats`` at once, before any work; go on with those that answer.

        A server that does not answer within ``timeout_s`` (or refuses the connection, or is not
        a ComfyUI) is marked dead for this run: one warning line names those, when others answer.

        Parameters
        ----------
        timeout_s : float > 0
            Seconds each server has to answer.

        Returns
        -------
        list of str
            The servers that answered (``parallel`` becomes their number).

        Raises
        ------
        ServerDown
            None answered: one line, e.g. "ComfyUI http://127.0.0.1:8188: connection refused;
            start it or give another --comfyui".
        """
        async def probe(url: str) -> str | None:
            try:
                async with ComfyClient(url, idle_timeout_s=timeout_s, connect_timeout_s=timeout_s) as c:
                    stats = await asyncio.wait_for(c.system_stats(), timeout_s)
            except asyncio.TimeoutError:
                return f"no answer in {timeout_s:g} s"
            except ServerDown as exc:
                return exc.cause
            except NodeFailed as exc:
                return f"not a ComfyUI ({str(exc).removeprefix(url + ': ')})"
            if not isinstance(stats, dict) or "system" not in stats:
                return "not a ComfyUI (/system_stats answered no system)"
            return None

        urls = self.pool.live

        async def probe_all() -> list[str | None]:
            return await asyncio.gather(*(probe(u) for u in urls))

        causes = asyncio.run(probe_all())
        dead = {u: c for u, c in zip(urls, causes) if c is not None}
        live = [u for u, c in zip(urls, causes) if c is None]
        for url, cause in dead.items():
            log.info("ComfyUI %s: %s", url, cause)
            self.pool.mark_dead(url, cause, quiet=True)
        if not live:
            more = "start it" if len(dead) == 1 else "start one"
            raise ServerDown(f"{_servers_cause(dead)}; {more} or give another --comfyui", cause=_servers_cause(dead),
                             unreachable=True)
        if dead:
            log.warning("%s; going on with %s", _servers_cause(dead), ", ".join(live))
        self.parallel = len(live)
        return live

    def generate(self, request: ClipRequest, out: Path,
                 progress: ProgressFn | None = None) -> GeneratedClip:
        """Make ``request``'s clip on a free server (see the module's step 4 for the retries).

        Raises
        ------
        ClipFailed
            A node failed or the graph was refused, or the servers failed ``retries + 1`` times.
        ServersGone
            Every server is dead (could not be reached): no clip can be made now.
        """
        label = f"segment {request.segment_index:02d} take {request.take}"
        tried: set[str] = set()
        errors: list[str] = []
        while True:  # a dead server costs no retry: the clip goes to the next one
            if self._cancel.is_set():
                raise KeyboardInterrupt
            url = self.pool.acquire(tried)
            if url is None:
                cause = self.pool.gone()
                raise ServersGone(f"{label}: {cause}", cause=cause)
            tried.add(url)
            try:
                made = self._generate_on(url, request, out, progress, label)
            except KeyboardInterrupt:  # Ctrl-C: our prompts on the servers stop too
                self.pool.release(url)
                self.cancel()
                raise
            except ServerDown as exc:
                self.pool.release(url, failed=not exc.unreachable)
                if exc.unreachable:  # not there at all: no use trying it again in this run
                    log.info("%s: %s; not trying %s again", label, exc, url)
                    self.pool.mark_dead(url, exc.cause)
                    continue
                errors.append(str(exc))
                again = len(errors) <= self.retries
                log.info("%s: %s%s", label, exc, "; trying again" if again else "")
                if again:
                    continue
                raise ClipFailed(f"{label}: {errors[-1]} (after {len(errors)} tries)") from None
            except NodeFailed as exc:
                self.pool.release(url)
                raise ClipFailed(f"{label}: {exc}") from None
            self.pool.release(url)
            return made

    def _generate_on(self, url: str, request: ClipRequest, out: Path,
                     progress: ProgressFn | None, label: str) -> GeneratedClip:
        b = self.workflow.binding
        n_native = self.native_frames(request)
        gw, gh = self.generation_size(request)
        with tempfile.TemporaryDirectory(prefix="mvt-comfy-", dir=out.parent) as tmp:
            tmpd = Path(tmp)
            stems = self.stems_dir or tmpd

            async def job() -> tuple[list[OutputFile], list[Path], dict[str, Any]]:
                async with ComfyClient(url, idle_timeout_s=self.idle_timeout_s) as c:
                    values: dict[str, Any] = {
                        "prompt": self.prompt_text(request), "negative": request.negative_prompt,
                        "seed": request.seed % (1 << 53),  # the take's own (requests.take_seed)
                        "frames": n_native, "width": gw, "height": gh,
                        "fps": float(b.fps) if b.fps.denominator != 1 else int(b.fps),
                    }
                    values = {k: v for k, v in values.items() if v != ""}  # keep the workflow's own text
                    info: dict[str, Any] = {}
                    if self.workflow.needs_image:
                        if request.image is None:  # made by the keyframe workflow, on the same server
                            kf = await self._make_keyframe(c, request, values, tmpd)
                            png = self._keyframe(request, gw, gh, tmpd, source=kf)
                            info["keyframe_workflow"] = self.keyframe.name  # type: ignore[union-attr]
                        else:
                            png = self._keyframe(request, gw, gh, tmpd)
                        values["image"] = await c.upload(png)
                        info["image"] = values["image"]
                    if self.workflow.needs_audio:
                        wav = self.stem(request, stems)
                        values["audio"] = await c.upload(wav, name=f"mvt-{wav.stem}.wav")
                        info["audio"] = str(wav)
                    graph = self.workflow.fill(values)

                    def started(pid: str) -> None:
                        info["prompt_id"] = pid
                        with self._lock:
                            self._running[label] = (url, pid)

                    def steps(event: Progress) -> None:  # sampler steps → the clip's frames
                        if progress is not None:
                            done = min(request.n_frames - 1, request.n_frames * int(event.done) // max(int(event.total), 1))
                            progress(Progress("clip", done, request.n_frames))

                    try:
                        files = await c.run(graph, outputs=self.workflow.binding.outputs, progress=steps,
                                            started=started)
                    finally:
                        with self._lock:
                            self._running.pop(label, None)
                    if not files:
                        raise NodeFailed(f"{url}: the workflow's output nodes wrote no file")
                    videos = [f for f in files if f.is_video]
                    chosen = videos[:1] or sorted((f for f in files if not f.is_video), key=lambda f: f.filename)
                    paths = [await c.download(f, tmpd / f"out-{k:05d}{Path(f.filename).suffix}")
                             for k, f in enumerate(chosen)]
                    return chosen, paths, info

            files, paths, info = asyncio.run(job())
            frames, notes, native_got = self._frames(paths, request)
            enc = encode_video(frames, out, width=request.width, height=request.height, fps=request.fps,
                               n_frames=request.n_frames, settings=self.encode, progress=None)
        if progress is not None:
            progress(Progress("clip", request.n_frames, request.n_frames))
        for note in notes:  # each kind of note once on the screen; every clip's in its meta and at -v
            kind = note.split(":")[0] if note.startswith("frames:") else note
            with self._lock:
                first = kind not in self._noted
                self._noted.add(kind)
            log.log(logging.WARNING if first else logging.INFO, "%s: %s", label, note)
        return GeneratedClip(n_frames=request.n_frames, adjusted=tuple(notes), details={
            "mode": "comfyui", "server": url, "workflow": self.workflow.name, "workflow_sha256": self.workflow.sha256,
            "native_fps": str(b.fps), "native_frames": n_native, "frames_received": native_got,
            "generation_size": [gw, gh], "source": [f.filename for f in files][:3], **info,
            "audio_dropped": True, "encoder": enc,
        })

    async def _make_keyframe(self, c: ComfyClient, request: ClipRequest, values: dict[str, Any],
                             folder: Path) -> Path:
        """Run the keyframe (text-to-image) workflow for ``request`` and download its first image."""
        assert self.keyframe is not None
        m = self.keyframe.binding.multiple
        kf_values = {k: v for k, v in values.items() if k in ("negative", "seed")}
        kf_values.update(prompt=request.image_prompt or self.prompt_text(request), frames=1,
                         width=max(m, values["width"] // m * m), height=max(m, values["height"] // m * m))
        kf_values = {k: v for k, v in kf_values.items() if v != ""}
        files = await c.run(self.keyframe.fill(kf_values), outputs=self.keyframe.binding.outputs)
        images = sorted((f for f in files if not f.is_video), key=lambda f: f.filename)
        if not images:
            raise NodeFailed(f"{c.url}: keyframe workflow {self.keyframe.name} wrote no image")
        return await c.download(images[0], folder / f"keyframe{Path(images[0].filename).suffix or '.png'}")

    def _keyframe(self, request: ClipRequest, width: int, height: int, folder: Path, *,
                  source: Path | None = None) -> Path:
        img = fit_image(open_image(source or request.image, where=f"segment {request.segment_index}"), width, height,
                        crop_bottom=0.0 if source else request.crop_bottom)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        data = buf.getvalue()
        return atomic_write(folder / f"mvt-{hashlib.sha256(data).hexdigest()[:16]}.png", data)

    def _frames(self, paths: list[Path], request: ClipRequest) -> tuple[Iterator[np.ndarray], list[str], int]:
        """The project's frames from the downloaded output: nearest generated frame in time."""
        b = self.workflow.binding
        notes: list[str] = []
        if len(paths) == 1 and Path(paths[0]).suffix.lower() not in (".png", ".jpg", ".jpeg"):
            index = index_video(paths[0])
            got = len(index.pts)
            fit = FrameFitter(index.width, index.height, request.width, request.height, 0.0, index.quarter_turns)
            rate = Fraction(index.fps).limit_denominator(1001) if abs(index.fps - float(b.fps)) > 0.01 else b.fps
            if rate != b.fps:
                notes.append(f"the workflow's video runs at {float(rate):g} fps, its binding says {float(b.fps):g}")
            want = native_indices(request.n_frames, request.fps, rate)
            if want[-1] >= got:
                notes.append(f"frames: the server made {got}, the clip needs {want[-1] + 1}; the last is held")
            want = [min(i, got - 1) for i in want]
            decoded = decode_frames(paths[0], index, fit, set(want))
            return (decoded[i] for i in want), notes, got
        got = len(paths)
        want = native_indices(request.n_frames, request.fps, b.fps)
        if want[-1] >= got:
            notes.append(f"frames: the server made {got} images, the clip needs {want[-1] + 1}; the last is held")
        want = [min(i, got - 1) for i in want]
        cache: dict[int, np.ndarray] = {}

        def image(i: int) -> np.ndarray:
            if i not in cache:
                cache.clear()
                cache[i] = np.asarray(fit_image(open_image(paths[i], where="ComfyUI output"), request.width,
                                                request.height).convert("RGB"))
            return cache[i]
        return (image(i) for i in want), notes, got



def _options(spec: Any) -> list[str] | None:
    """The choices of a combo input in ``/object_info`` (``[[...]]`` or ``["COMBO", {"options"}]``)."""
    if isinstance(spec, list) and spec:
        if isinstance(spec[0], list):
            return [str(x) for x in spec[0]]
        if spec[0] == "COMBO" and len(spec) > 1 and isinstance(spec[1], dict):
            return [str(x) for x in spec[1].get("options", [])]
    return None


def diagnose(url: str, workflows: Sequence[str] | None = None) -> list[Any]:
    """``mvtimeline doctor --comfyui URL``: the server's version and devices, and per workflow (the
    bundled ones by default) the node classes it lacks and the model files its loaders cannot see.

    Returns
    -------
    list of :class:`mvtimeline.types.Check`
        ``error`` when the server cannot be reached or a workflow's node class is missing,
        ``missing`` when only model files are missing, else ``ok``.
    """
    from .workflow import bundled_workflows
    from mvtimeline.types import Check

    u = _url(url)

    async def fetch() -> tuple[dict[str, Any], dict[str, Any]]:
        async with ComfyClient(u, idle_timeout_s=30.0) as c:
            return await c.system_stats(), await c.object_info()

    try:
        stats, info = asyncio.run(fetch())
    except (ServerDown, NodeFailed) as exc:
        return [Check("comfyui", "error", str(exc))]
    system = stats.get("system") or {}
    devices = ", ".join(f"{d.get('name', '?')} ({(d.get('vram_total') or 0) / 2**30:.0f} GiB)"
                        for d in stats.get("devices") or []) or "no devices listed"
    rows = [Check("comfyui", "ok", f"{u}: ComfyUI {system.get('comfyui_version', '?')}, "
                                   f"Python {str(system.get('python_version', '?')).split()[0]}; {devices}")]
    for name in workflows or bundled_workflows():
        try:
            wf = load_workflow(name)
        except InputError as exc:
            rows.append(Check(f"workflow {name}", "error", str(exc)))
            continue
        missing = [c for c in wf.class_types if c not in info]
        if missing:
            rows.append(Check(f"workflow {wf.name}", "error", f"node classes missing on the server: {', '.join(missing)} "
                              "(update ComfyUI or install the custom nodes)"))
            continue
        absent = []
        for node in wf.graph.values():
            spec = info[node["class_type"]].get("input") or {}
            for inp, value in (node.get("inputs") or {}).items():
                if not inp.endswith("_name") or not isinstance(value, str):
                    continue
                opts = _options((spec.get("required") or {}).get(inp) or (spec.get("optional") or {}).get(inp))
                if opts is not None and value not in opts:
                    absent.append(f"{value} ({node['class_type']}.{inp})")
        if absent:
            rows.append(Check(f"workflow {wf.name}", "missing", "model files the loaders cannot see: " + ", ".join(absent)))
        else:
            rows.append(Check(f"workflow {wf.name}", "ok", f"all {len(wf.class_types)} node classes present"
                              + ("" if not any(k.endswith("_name") for n in wf.graph.values() for k in n.get("inputs", {}))
                                 else ", model files found")))
    return rows
