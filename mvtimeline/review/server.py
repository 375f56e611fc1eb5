"""The review page's web server (aiohttp) over one work folder.

Safe by default: it listens on 127.0.0.1; every request that reads the folder's media or data or
changes anything must carry the token the page was opened with (``?t=`` or the
``X-Mvt-Token`` header); files are served only from inside the work folder
(:func:`mvtimeline.fileio.inside_folder`: no absolute path, no ``..``, no link out); every change
goes through the same functions as the CLI (:mod:`mvtimeline.pipeline`: ``pick``, ``import_clips``...),
one at a time, holding the folder's lock, so while ``mvtimeline run`` or ``generate`` works on it the
page says so and refuses writes (409, with who holds it). Bad requests get a one-line JSON error
and a 4xx; an unexpected failure a 500 with its one-line reason (the trace goes to the log).

Public: Review, make_app, serve.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import webbrowser
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from aiohttp import web

from ..errors import InputError, MvtimelineError, RunError
from ..fileio import atomic_write, ensure_dir, inside_folder
from ..workfolder import CLIPS_DIR, KEYFRAMES_DIR, REVIEW_DIR, WorkFolder, held_here, lock_holder

__all__ = ["Review", "make_app", "serve"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
_STATIC = {"app.js": "text/javascript", "app.css": "text/css"}
_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
_THUMB_WIDTH = 240
_MAX_UPLOAD_BYTES = 8 << 30


class HTTPProblem(Exception):
    """A request the server refuses: its HTTP status and a one-line reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Review:
    """The state of one review session: the work folder, its token, the re-roll queue, the
    page's event listeners.

    Parameters
    ----------
    folder : Path
        A work folder (``mvtimeline run`` made it).
    token : str, optional
        Default: a new random one.
    gpu_price_per_hour : float, optional
        Overrides the folder's setting for the prices shown.
    """

    def __init__(self, folder: Path, *, token: str | None = None, gpu_price_per_hour: float | None = None) -> None:
        from .. import pipeline
        from .jobs import JobQueue

        self.project: WorkFolder = pipeline.open_folder(Path(folder))
        self.project.load_plan()  # a folder without a plan is refused before the server starts
        self.folder = self.project.folder
        self.token = token or secrets.token_urlsafe(24)
        self.gpu_price_per_hour = gpu_price_per_hour
        self.write_lock = threading.Lock()  # one change at a time inside this process
        self.pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mvtimeline-review")
        self.loop: asyncio.AbstractEventLoop | None = None
        self.listeners: set[asyncio.Queue[str]] = set()
        self._wave: list[float] | None = None
        self._thumb_lock = threading.Lock()
        self._lock_text: str | None = None
        self._wave_lock = threading.Lock()
        self.jobs = JobQueue(self.folder, notify=self._job_event, finish=self._finish_take)
        # the first page opens at once: the imports, the waveform and the thumbnails are made meanwhile
        threading.Thread(target=self._warm_up, name="mvtimeline-review-warm-up", daemon=True).start()

    def _warm_up(self) -> None:
        try:
            state = self.state()
            for seg in state["segments"]:
                for take in seg["takes"]:
                    key, number = take["thumb"].split("?")[0].split("/")[2:4]
                    self.thumbnail(key, int(number))
        except Exception as exc:  # noqa: BLE001 — only a head start: the page says what fails when it asks
            log.debug("review warm-up: %s", exc)

    # ------------------------------------------------------------------------------- helpers
    def holder(self) -> str | None:
        """Which other command holds the folder (``mvtimeline generate (pid …)``), or None."""
        for _ in range(5):
            text = lock_holder(self.folder)
            if text is None or f"(pid {os.getpid()}," in text or held_here(self.folder):
                return None
            if text.startswith("mvtimeline "):
                return text
            time.sleep(0.05)  # taken or left this instant (its text not written yet): look again
        return text

    def broadcast(self, event: dict[str, Any]) -> None:
        """Send an event to every open page (safe from any thread)."""
        if self.loop is None:
            return
        data = json.dumps(event)

        def put() -> None:
            for q in list(self.listeners):
                q.put_nowait(data)

        try:
            self.loop.call_soon_threadsafe(put)
        except RuntimeError:  # the server is stopping: no page to tell
            pass

    def _job_event(self, job: dict[str, Any]) -> None:
        self.broadcast({"type": "job", "job": job})

    def _finish_take(self, new: Any) -> None:
        from .. import pipeline

        with self.write_lock:
            pipeline.place_take(self.folder, new)
        self.broadcast({"type": "changed", "why": f"segment {new.segment}: take {new.take} made"})

    def state(self) -> dict[str, Any]:
        """The page's data (:func:`mvtimeline.review.state.page_state`), the jobs and the lock."""
        from .. import pipeline
        from .state import page_state, waveform

        project = pipeline.open_folder(self.folder)
        backend = pipeline.project_backend(project)
        with self._wave_lock:  # the warm-up and a first page may ask at once: computed once
            if self._wave is None:
                self._wave = waveform(project.song, cache_dir=self.folder / REVIEW_DIR)
        out = page_state(project, token=self.token, backend=backend, gpu_price_per_hour=self.gpu_price_per_hour)
        out.update(waveform=self._wave, jobs=self.jobs.jobs(), lock=self.holder())
        return out

    def check_free(self) -> None:
        """Refuse a change (409) while another command holds the folder."""
        holder = self.holder()
        if holder:
            raise HTTPProblem(409, f"the work folder is in use by {holder}; the page makes no changes until it ends")

    def write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a change (a :mod:`mvtimeline.pipeline` function) with the folder to ourselves."""
        self.check_free()
        with self.write_lock:
            return fn(*args, **kwargs)

    def thumbnail(self, key: str, take: int) -> Path:
        """A JPEG of the middle of a take (made once, kept in ``.review/thumbs``)."""
        from fractions import Fraction

        from PIL import Image

        from ..generate import clip_paths, find_clip
        from ..media import frame_at
        from ..outputs.storyboard import middle_index

        if not re.fullmatch(r"[0-9a-f]{8,64}", key) or take < 1:
            raise HTTPProblem(404, "no such take")
        out = self.folder / REVIEW_DIR / "thumbs" / f"{key}-{take}.jpg"
        if out.is_file():
            return out
        record = find_clip(self.folder / CLIPS_DIR, key, take)
        if record is None:
            raise HTTPProblem(404, f"no take {take} of clip {key} in the cache")
        mp4, _ = clip_paths(self.folder / CLIPS_DIR, key, take)
        req = record.get("request", {})
        fps = Fraction(str(req.get("fps", "25")))
        middle = middle_index(int(req.get("n_frames", 1)), int(req.get("head_frames", 0)), int(req.get("tail_frames", 0)))
        rgb = frame_at(mp4, float(Fraction(middle) / fps), fps=fps, width=_THUMB_WIDTH)
        with self._thumb_lock:
            ensure_dir(out.parent)
            from io import BytesIO

            buf = BytesIO()
            Image.fromarray(rgb).save(buf, format="JPEG", quality=80)
            atomic_write(out, buf.getvalue())
        return out

    def close(self) -> None:
        self.jobs.close()
        self.pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------------------------------- the app
def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def make_app(review: Review) -> web.Application:
    """The aiohttp application of a review session.

    Parameters
    ----------
    review : Review

    Returns
    -------
    aiohttp.web.Application
    """
    app = web.Application(client_max_size=_MAX_UPLOAD_BYTES, middlewares=[_guard(review)])
    r = app.router
    r.add_get("/", _page(review))
    r.add_get("/static/{name}", _static)
    r.add_get("/api/state", _call(review, lambda req: review.state()))
    r.add_get("/api/events", _events(review))
    r.add_get("/api/cuts", _call(review, lambda req: _cuts(review, req)))
    r.add_get("/media/{path:.*}", _media(review))
    r.add_get("/thumb/{key}/{take}", _thumb(review))
    r.add_post("/api/pick", _post(review, _pick))
    r.add_post("/api/restore", _post(review, _restore))
    r.add_post("/api/edit", _post(review, _edit))
    r.add_post("/api/cut", _post(review, _cut))
    r.add_post("/api/reroll", _post(review, _reroll))
    r.add_post("/api/cancel", _post(review, _cancel))
    r.add_post("/api/import", _upload(review, "import"))
    r.add_post("/api/keyframe", _upload(review, "keyframe"))

    async def started(app: web.Application) -> None:
        review.loop = asyncio.get_running_loop()
        app["lock_watch"] = asyncio.create_task(_watch_lock(review))

    async def stopped(app: web.Application) -> None:
        app["lock_watch"].cancel()
        for q in list(review.listeners):
            q.put_nowait("")
        review.close()

    app.on_startup.append(started)
    app.on_shutdown.append(stopped)
    return app


def _guard(review: Review) -> Any:
    """Every request but the page's own static files must carry the token; errors become one line."""

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        if request.path == "/favicon.ico":
            return web.Response(status=204)
        if not request.path.startswith("/static/"):
            given = request.query.get("t") or request.headers.get("X-Mvt-Token", "")
            if not secrets.compare_digest(given.encode(), review.token.encode()):
                return _json({"error": "no or wrong token: open the page with the address 'mvtimeline review' "
                                       "printed (it holds the token)"}, 403)
        try:
            return await handler(request)
        except HTTPProblem as exc:
            return _json({"error": str(exc)}, exc.status)
        except web.HTTPException as exc:
            if exc.status >= 400:
                return _json({"error": exc.reason}, exc.status)
            raise
        except RunError as exc:
            return _json({"error": str(exc)}, 409 if "in use by" in str(exc) else 500)
        except MvtimelineError as exc:
            return _json({"error": str(exc)}, 400)
        except Exception as exc:  # noqa: BLE001 — never a traceback to the page; the log has it
            log.exception("review: %s %s failed", request.method, request.path)
            return _json({"error": f"internal error: {type(exc).__name__}: {exc}"}, 500)

    return guard


def _page(review: Review) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(request: web.Request) -> web.Response:
        html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})
    return page


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in _STATIC:
        raise HTTPProblem(404, f"no such file {name!r}")
    return web.FileResponse(STATIC_DIR / name, headers={"Content-Type": _STATIC[name], "Cache-Control": "no-cache"})


def _call(review: Review, fn: Callable[[web.Request], Any]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        loop = asyncio.get_running_loop()
        return _json(await loop.run_in_executor(review.pool, fn, request))
    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise HTTPProblem(400, "the request body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPProblem(400, "the request body must be a JSON object")
    return data


def _int(data: dict[str, Any], name: str) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise HTTPProblem(400, f"{name!r} must be a whole number, not {value!r}")
    return value


def _post(review: Review, fn: Callable[[Review, dict[str, Any]], Any]
          ) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        data = await _body(request)
        loop = asyncio.get_running_loop()
        out = await loop.run_in_executor(review.pool, fn, review, data)
        return _json(out)
    return handler


def _pick(review: Review, data: dict[str, Any]) -> dict[str, Any]:
    from .. import pipeline

    segment, take = _int(data, "segment"), _int(data, "take")
    exported = review.write(pipeline.pick, review.folder, segment, take)
    review.broadcast({"type": "changed", "why": f"segment {segment}: take {take} picked"})
    return {"ok": True, "written": [p.name for p in exported.written], "backups": [p.name for p in exported.backups]}


def _restore(review: Review, data: dict[str, Any]) -> dict[str, Any]:
    from .. import pipeline

    segment, take, key = _int(data, "segment"), _int(data, "take"), data.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"[0-9a-f]{8,64}", key):
        raise HTTPProblem(400, f"'key' must be a clip's key, not {key!r}")
    exported = review.write(pipeline.restore_take, review.folder, segment, key, take)
    review.broadcast({"type": "changed", "why": f"segment {segment}: an earlier take {take} brought back"})
    return {"ok": True, "written": [p.name for p in exported.written], "backups": [p.name for p in exported.backups]}


def _edits(data: dict[str, Any]) -> dict[str, Any]:
    from ..plan.edit import EDITABLE

    fields = data.get("fields", {})
    if not isinstance(fields, dict):
        raise HTTPProblem(400, "'fields' must be an object")
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise HTTPProblem(400, f"cannot edit {', '.join(unknown)}; editable: {', '.join(EDITABLE)}")
    return dict(fields)


def _edit(review: Review, data: dict[str, Any]) -> dict[str, Any]:
    from .. import pipeline

    segment, fields = _int(data, "segment"), _edits(data)
    if not fields:
        raise HTTPProblem(400, "nothing to change: give 'fields'")
    review.write(pipeline.edit_segment, review.folder, segment, **fields)
    review.broadcast({"type": "changed", "why": f"segment {segment} edited"})
    return {"ok": True}


def _cut(review: Review, data: dict[str, Any]) -> dict[str, Any]:
    from .. import pipeline

    segment = _int(data, "segment")
    time_s = data.get("time_s")
    if isinstance(time_s, bool) or not isinstance(time_s, (int, float)):
        raise HTTPProblem(400, f"'time_s' must be a number of seconds, not {time_s!r}")
    _, placed, invalid = review.write(pipeline.move_cut, review.folder, segment, float(time_s))
    review.broadcast({"type": "changed", "why": f"cut before segment {segment} moved"})
    return {"ok": True, "time_s": placed, "invalidated": invalid}


def _cuts(review: Review, request: web.Request) -> dict[str, Any]:
    """The gaps the cut before a segment may move to (the page shows them while moving it)."""
    from .. import pipeline

    try:
        segment = int(request.query.get("segment", ""))
    except ValueError:
        raise HTTPProblem(400, "give ?segment=N") from None
    choices = pipeline.cut_choices(review.folder, segment)
    return {"segment": segment, "choices": [{"time_s": c.time_s, "reason": c.reason} for c in choices]}


def _reroll(review: Review, data: dict[str, Any]) -> dict[str, Any]:
    from .. import pipeline
    from ..config import check_segments

    segment, edits = _int(data, "segment"), _edits(data)
    review.check_free()
    check_segments([segment], pipeline.open_folder(review.folder).load_plan())
    if edits:
        from ..plan.edit import edit_segment

        edit_segment(pipeline.open_folder(review.folder).load_plan(), segment, **edits)  # a bad value is refused now, not later
    job = review.jobs.submit(segment, edits)
    return {"ok": True, "job": job.to_dict()}


def _cancel(review: Review, data: dict[str, Any]) -> dict[str, Any]:
    job = review.jobs.cancel(_int(data, "job"))
    if job is None:
        raise HTTPProblem(404, f"no re-roll {data.get('job')!r}")
    return {"ok": True, "job": job.to_dict()}


def _media(review: Review) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def media(request: web.Request) -> web.StreamResponse:
        try:
            path = inside_folder(review.folder, request.match_info["path"])
        except InputError as exc:
            raise HTTPProblem(403, str(exc)) from None
        if not path.is_file():
            raise HTTPProblem(404, f"{request.match_info['path']!r}: no such file in the work folder")
        return web.FileResponse(path)
    return media


def _thumb(review: Review) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def thumb(request: web.Request) -> web.StreamResponse:
        try:
            take = int(request.match_info["take"])
        except ValueError:
            raise HTTPProblem(404, "no such take") from None
        loop = asyncio.get_running_loop()
        path = await loop.run_in_executor(review.pool, review.thumbnail, request.match_info["key"], take)
        return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})
    return thumb


def _events(review: Review) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q: asyncio.Queue[str] = asyncio.Queue()
        review.listeners.add(q)
        try:
            await resp.write(f"data: {json.dumps({'type': 'hello', 'lock': review._lock_text})}\n\n".encode())
            while True:
                try:
                    data = await asyncio.wait_for(q.get(), timeout=15)
                except asyncio.TimeoutError:
                    await resp.write(b": keep-alive\n\n")
                    continue
                if not data:
                    break
                await resp.write(f"data: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            review.listeners.discard(q)
        return resp
    return events


async def _watch_lock(review: Review) -> None:
    """Tell the pages when another command takes or leaves the folder."""
    loop = asyncio.get_running_loop()
    while True:
        text = await loop.run_in_executor(None, review.holder)
        if text != review._lock_text:
            review._lock_text = text
            review.broadcast({"type": "lock", "lock": text})
            if text is None:
                review.broadcast({"type": "changed", "why": "the other command ended"})
        await asyncio.sleep(1.0)


_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def _upload(review: Review, kind: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Files dropped on the page: clips to import (``import``) or a segment's keyframe image (``keyframe``)."""

    async def upload(request: web.Request) -> web.Response:
        review.check_free()
        try:
            reader = await request.multipart()
        except (AssertionError, ValueError, KeyError):
            raise HTTPProblem(400, "send the files as multipart/form-data") from None
        segment: int | None = None
        incoming = ensure_dir(review.folder / REVIEW_DIR / "uploads" / secrets.token_hex(6))
        files: list[Path] = []
        try:
            while (part := await reader.next()) is not None:
                if part.name == "segment":
                    text = (await part.text()).strip()
                    if text:
                        try:
                            segment = int(text)
                        except ValueError:
                            raise HTTPProblem(400, f"segment {text!r} is not a number") from None
                    continue
                if part.name != "file" or not part.filename:
                    continue
                name = _SAFE_NAME.sub("_", Path(part.filename).name)[-120:] or "clip"
                suffix = Path(name).suffix.lower()
                allowed = _VIDEO_SUFFIXES if kind == "import" else _IMAGE_SUFFIXES
                if suffix not in allowed:
                    raise HTTPProblem(400, f"{part.filename}: not a {'video' if kind == 'import' else 'image'} "
                                           f"({', '.join(allowed)})")
                dest = incoming / name
                with open(dest, "wb") as fh:
                    while chunk := await part.read_chunk(1 << 20):
                        fh.write(chunk)
                files.append(dest)
            if not files:
                raise HTTPProblem(400, "no file in the request")
            loop = asyncio.get_running_loop()
            fn = _do_import if kind == "import" else _do_keyframe
            out = await loop.run_in_executor(review.pool, fn, review, files, segment)
        finally:
            if kind == "import":
                shutil.rmtree(incoming, ignore_errors=True)
        return _json(out)

    return upload


def _do_import(review: Review, files: list[Path], segment: int | None) -> dict[str, Any]:
    from .. import pipeline

    rows = review.write(pipeline.import_clips, review.folder, files, segment=segment)
    review.broadcast({"type": "changed", "why": f"{sum(r.ok for r in rows)} clip(s) imported"})
    return {"ok": True, "rows": [{
        "clip": r.clip.name, "segment": r.segment, "take": r.take, "offset_s": r.offset_s,
        "head_trim_s": r.head_trim_s, "tail_trim_s": r.tail_trim_s, "confidence": r.confidence,
        "match": r.match, "coverage": r.coverage, "result": r.result, "flags": list(r.flags)} for r in rows]}


def _do_keyframe(review: Review, files: list[Path], segment: int | None) -> dict[str, Any]:
    """Keep a dropped image in ``keyframes/`` of the work folder for a re-roll of ``segment``."""
    from ..fileio import file_sha256
    from ..media import check_image

    if segment is None or len(files) != 1:
        raise HTTPProblem(400, "send one image and the segment it is for")
    src = files[0]
    check_image(src, where="keyframe", decode=True)
    dest = review.folder / KEYFRAMES_DIR / f"{segment:02d}-{file_sha256(src)[:12]}{src.suffix.lower()}"
    ensure_dir(dest.parent)
    if not dest.exists():
        os.replace(src, dest)
    shutil.rmtree(src.parent, ignore_errors=True)
    return {"ok": True, "image": f"{KEYFRAMES_DIR}/{dest.name}"}


# ---------------------------------------------------------------------------------------- serving
def serve(folder: Path, *, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          gpu_price_per_hour: float | None = None, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the review page of ``folder`` until interrupted (Ctrl-C).

    Parameters
    ----------
    folder : Path
        A work folder.
    host : str
        The address to listen on (``127.0.0.1``: this machine only).
    port : int
        0: any free port.
    open_browser : bool
        Open the page's address (with its token) in the default browser.
    gpu_price_per_hour : float, optional
        The price shown (default: the folder's setting).
    on_ready : callable, optional
        Called with the page's address (token included) once the server listens.

    Raises
    ------
    InputError
        Not a work folder (or no plan yet).
    RunError
        The port is taken.
    """
    review = Review(folder, gpu_price_per_hour=gpu_price_per_hour)
    app = make_app(review)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise RunError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); give another --port") from None
        bound = runner.addresses[0][1] if runner.addresses else port
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        url = f"http://{shown}:{bound}/?t={review.token}"
        if on_ready is not None:
            on_ready(url)
        if open_browser:
            webbrowser.open(url)
        try:
            while True:
                await asyncio.sleep(3600)
        finally:
            await runner.cleanup()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
