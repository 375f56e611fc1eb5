"""A stand-in ComfyUI server for the tests: ComfyUI's protocol (as in ../shared/COMFYUI.md and as
measured on ComfyUI 0.3.64), executing the weights-free node classes for real.

- ``POST /upload/image`` (multipart ``image``; a different file under a taken name is renamed
  ``x (1).png``, like ComfyUI), ``POST /prompt`` (validation with ComfyUI's 400 shape and
  ``node_errors``), ``GET /ws?clientId=`` (``status`` first; per prompt ``execution_start``,
  ``execution_cached``, ``executing`` per node, ``progress``, ``executed``, ``execution_success``
  or ``execution_error``, then ``executing`` with ``node: null``), ``GET /history/{id}``,
  ``GET /view``, ``GET /object_info[/{class}]``, ``GET /system_stats``, ``POST /interrupt``,
  ``GET/POST /queue``; every route also under ``/api``.
- Nodes: LoadImage, EmptyImage, ImageScale, RepeatImageBatch, LoadAudio, CreateVideo, SaveVideo
  (an H.264 mp4 made by ffmpeg, with the audio as stereo AAC when the video has audio, answered
  under ``images`` with ``animated: [true]``), SaveImage (PNG per frame).
- Faults the tests set: ``fail_class`` (that node fails when run), ``fail_prompts`` (the n-th
  prompts run fail at their first node), ``drop_socket`` (close the
  prompt's websocket after its first node), ``die_on_prompt`` (stop the whole server when a prompt
  starts running), ``die_after`` (run that many prompts, then stop the whole server when the next
  one starts: a server killed mid-run), ``delay_s`` (seconds a prompt takes). :meth:`StandIn.restart`
  serves again on the same port (the server is back).

Run it in a thread: ``with StandIn(tmp_path) as s: s.url``.
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

NODE_INPUTS = {
    "LoadImage": {"required": {"image": [[], {"image_upload": True}]}},
    "EmptyImage": {"required": {"width": ["INT", {"default": 512, "min": 1}], "height": ["INT", {"default": 512, "min": 1}],
                                "batch_size": ["INT", {"default": 1, "min": 1}], "color": ["INT", {"default": 0}]}},
    "ImageScale": {"required": {"image": ["IMAGE"], "upscale_method": [["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]],
                                "width": ["INT", {"min": 0}], "height": ["INT", {"min": 0}], "crop": [["disabled", "center"]]}},
    "RepeatImageBatch": {"required": {"image": ["IMAGE"], "amount": ["INT", {"default": 1, "min": 1, "max": 4096}]}},
    "LoadAudio": {"required": {"audio": [[], {"audio_upload": True}]}},
    "CreateVideo": {"required": {"images": ["IMAGE"], "fps": ["FLOAT", {"default": 30.0, "min": 1.0}]},
                    "optional": {"audio": ["AUDIO"]}},
    "SaveVideo": {"required": {"video": ["VIDEO"], "filename_prefix": ["STRING", {"default": "video/ComfyUI"}],
                               "format": ["COMBO", {"options": ["auto", "mp4"], "default": "auto"}],
                               "codec": ["COMBO", {"options": ["auto", "h264"], "default": "auto"}]}},
    "SaveImage": {"required": {"images": ["IMAGE"], "filename_prefix": ["STRING", {"default": "ComfyUI"}]}},
}
OUTPUT_NODES = {"SaveVideo", "SaveImage"}


class NodeError(Exception):
    pass


class StandIn:
    """A stand-in ComfyUI on 127.0.0.1 (a free port), run on its own thread and event loop."""

    def __init__(self, root: Path, *, version: str = "0.3.64-standin") -> None:
        self.root = Path(root)
        self.input = self.root / "input"
        self.output = self.root / "output"
        self.input.mkdir(parents=True, exist_ok=True)
        self.output.mkdir(parents=True, exist_ok=True)
        self.version = version
        self.history: dict[str, Any] = {}
        self.sockets: dict[str, web.WebSocketResponse] = {}
        self.prompts_run: list[str] = []  # prompt ids in the order they ran
        self.graphs: list[dict[str, Any]] = []  # the graphs as received
        self.uploads: list[str] = []
        self.interrupted: list[str] = []
        self.fail_class: str | None = None
        self.fail_prompts: set[int] = set()  # these prompts (1 = the first run) fail at their first node
        self.drop_socket = False
        self.die_on_prompt = False
        self.die_after: int | None = None  # prompts run before the server dies (at the next one's start)
        self.delay_s = 0.0
        self.counter = 0
        self._queue: asyncio.Queue | None = None
        self._worker_task: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.alive = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------------------
    def __enter__(self) -> StandIn:
        ready = threading.Event()

        def main() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def restart(self) -> None:
        """Serve again on the same port after :meth:`stop` (the files and history kept; no fault set)."""
        if self._loop is None or self.alive:
            return
        self.die_on_prompt, self.die_after = False, None
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    def stop(self) -> None:
        """Stop serving (as a server that dies): listening socket and every connection closed."""
        if self._loop is None or not self.alive:
            return
        fut = asyncio.run_coroutine_threadsafe(self._stop(), self._loop)
        fut.result(10)

    async def _stop(self) -> None:
        self.alive = False
        if self._worker_task is not None and self._worker_task is not asyncio.current_task():
            self._worker_task.cancel()  # its queue goes with it (a restart makes a new one)
        for ws in list(self.sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _start(self) -> None:
        app = web.Application(client_max_size=1 << 28)
        routes = [web.post("/upload/image", self.upload), web.post("/prompt", self.prompt),
                  web.get("/ws", self.ws), web.get("/history/{prompt_id}", self.get_history),
                  web.get("/view", self.view), web.get("/object_info", self.object_info),
                  web.get("/object_info/{cls}", self.object_info), web.get("/system_stats", self.system_stats),
                  web.post("/interrupt", self.interrupt), web.get("/queue", self.get_queue),
                  web.post("/queue", self.post_queue)]
        for r in routes:
            app.router.add_route(r.method, r.path, r.handler)
            app.router.add_route(r.method, "/api" + r.path, r.handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port or 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._queue = asyncio.Queue()
        self._worker_task = asyncio.get_running_loop().create_task(self._worker())
        self.alive = True

    # -- routes ----------------------------------------------------------------------------------------
    async def system_stats(self, request: web.Request) -> web.Response:
        return web.json_response({"system": {"os": "posix", "comfyui_version": self.version,
                                             "python_version": "3.11", "ram_total": 1 << 34},
                                  "devices": [{"name": "cpu", "type": "cpu", "vram_total": 0}]})

    async def object_info(self, request: web.Request) -> web.Response:
        cls = request.match_info.get("cls")
        info = {}
        for name, inputs in NODE_INPUTS.items():
            inp = json.loads(json.dumps(inputs))
            if name == "LoadImage":
                inp["required"]["image"][0] = sorted(p.name for p in self.input.iterdir() if p.suffix == ".png")
            if name == "LoadAudio":
                inp["required"]["audio"][0] = sorted(p.name for p in self.input.iterdir() if p.suffix == ".wav")
            info[name] = {"input": inp, "name": name, "output_node": name in OUTPUT_NODES}
        if cls:
            return web.json_response({cls: info[cls]} if cls in info else {})
        return web.json_response(info)

    async def upload(self, request: web.Request) -> web.Response:
        form = await request.post()
        f = form.get("image")
        if f is None or not hasattr(f, "file"):
            return web.Response(status=400)
        data = f.file.read()
        name = Path(f.filename).name
        target = self.input / name
        k = 0
        while target.exists() and target.read_bytes() != data and form.get("overwrite") != "true":
            k += 1
            target = self.input / f"{Path(name).stem} ({k}){Path(name).suffix}"
        target.write_bytes(data)
        self.uploads.append(target.name)
        return web.json_response({"name": target.name, "subfolder": "", "type": "input"})

    def _validate(self, graph: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, Any] = {}
        for node_id, node in graph.items():
            cls, inputs = node.get("class_type"), node.get("inputs") or {}
            spec = NODE_INPUTS[cls]
            errs = []
            for name, conf in spec["required"].items():
                if name not in inputs:
                    errs.append({"type": "required_input_missing", "message": "Required input is missing",
                                 "details": name, "extra_info": {"input_name": name}})
                    continue
                v = inputs[name]
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
                    if v[0] not in graph:
                        errs.append({"type": "bad_linked_input", "message": "Bad linked input", "details": name,
                                     "extra_info": {"input_name": name}})
                    continue
                kind = conf[0]
                if kind == "INT" and (not isinstance(v, int) or v < conf[1].get("min", -1 << 62)):
                    errs.append({"type": "value_smaller_than_min" if isinstance(v, int) else "invalid_input_type",
                                 "message": "Value smaller than min" if isinstance(v, int) else "Failed to convert an input value to a INT value",
                                 "details": f"{name}, {v!r}", "extra_info": {"input_name": name, "received_value": v}})
                if kind == "FLOAT" and not isinstance(v, (int, float)):
                    errs.append({"type": "invalid_input_type", "message": "Failed to convert an input value to a FLOAT value",
                                 "details": f"{name}, {v!r}", "extra_info": {"input_name": name, "received_value": v}})
                if cls in ("LoadImage", "LoadAudio") and name in ("image", "audio") and not (self.input / str(v)).is_file():
                    errs.append({"type": "custom_validation_failed", "message": "Custom validation failed for node",
                                 "details": f"{name} - Invalid {name} file: {v}", "extra_info": {"input_name": name}})
            if errs:
                errors[node_id] = {"errors": errs, "dependent_outputs": [], "class_type": cls}
        return errors

    async def prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        graph = body.get("prompt") or {}
        unknown = [n.get("class_type") for n in graph.values() if n.get("class_type") not in NODE_INPUTS]
        if unknown:
            return web.json_response({"error": {"type": "invalid_prompt", "message": f"Cannot execute because node {unknown[0]} does not exist.",
                                                "details": "Node ID '#?'", "extra_info": {}}, "node_errors": {}}, status=400)
        if not any(n["class_type"] in OUTPUT_NODES for n in graph.values()):
            return web.json_response({"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs",
                                                "details": "", "extra_info": {}}, "node_errors": {}}, status=400)
        errors = self._validate(graph)
        if errors:
            return web.json_response({"error": {"type": "prompt_outputs_failed_validation",
                                                "message": "Prompt outputs failed validation", "details": "",
                                                "extra_info": {}}, "node_errors": errors}, status=400)
        prompt_id = body.get("prompt_id") or uuid.uuid4().hex
        self.counter += 1
        self.graphs.append(graph)
        await self._queue.put((prompt_id, graph, body.get("client_id")))
        return web.json_response({"prompt_id": prompt_id, "number": self.counter, "node_errors": {}})

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        cid = request.query.get("clientId") or uuid.uuid4().hex
        self.sockets[cid] = ws
        await ws.send_json({"type": "status", "data": {"status": {"exec_info": {"queue_remaining": self._queue.qsize()}}, "sid": cid}})
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
        if self.sockets.get(cid) is ws:
            del self.sockets[cid]
        return ws

    async def get_history(self, request: web.Request) -> web.Response:
        pid = request.match_info["prompt_id"]
        return web.json_response({pid: self.history[pid]} if pid in self.history else {})

    async def view(self, request: web.Request) -> web.StreamResponse:
        q = request.query
        base = {"output": self.output, "input": self.input}.get(q.get("type", "output"), self.output)
        path = base / q.get("subfolder", "") / q.get("filename", "")
        if not path.is_file():
            return web.Response(status=404)
        return web.FileResponse(path)

    async def interrupt(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        self.interrupted.append(body.get("prompt_id", "*"))
        return web.Response(status=200)

    async def get_queue(self, request: web.Request) -> web.Response:
        return web.json_response({"queue_running": [], "queue_pending": []})

    async def post_queue(self, request: web.Request) -> web.Response:
        return web.Response(status=200)

    # -- execution -------------------------------------------------------------------------------------
    async def _send(self, cid: str | None, kind: str, data: dict[str, Any]) -> None:
        ws = self.sockets.get(cid or "")
        if ws is not None and not ws.closed:
            await ws.send_json({"type": kind, "data": data})

    async def _worker(self) -> None:
        queue = self._queue  # this serving's queue: after a restart, a new worker serves a new one
        while self.alive:
            prompt_id, graph, cid = await queue.get()
            try:
                await self._execute(prompt_id, graph, cid)
            except Exception as exc:  # noqa: BLE001 - a stand-in must keep serving
                self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {"client_id": cid}, []], "outputs": {},
                                           "status": {"status_str": "error", "completed": False, "messages": [[
                                               "execution_error", {"exception_message": str(exc)}]]}, "meta": {}}

    async def _execute(self, prompt_id: str, graph: dict[str, Any], cid: str | None) -> None:
        self.prompts_run.append(prompt_id)
        await self._send(cid, "execution_start", {"prompt_id": prompt_id, "timestamp": int(time.time() * 1000)})
        await self._send(cid, "execution_cached", {"nodes": [], "prompt_id": prompt_id})
        if self.die_on_prompt or (self.die_after is not None and len(self.prompts_run) > self.die_after):
            await self._stop()
            return
        values: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        order = self._order(graph)
        for k, node_id in enumerate(order):
            node = graph[node_id]
            await self._send(cid, "executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id})
            if self.drop_socket and k == 1:
                ws = self.sockets.pop(cid or "", None)
                if ws is not None:
                    await ws.close()
                self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {}, []], "outputs": {},
                                           "status": {"status_str": "error", "completed": False, "messages": []}}
                return
            try:
                if self.fail_class and node["class_type"] == self.fail_class or (
                        k == 0 and len(self.prompts_run) in self.fail_prompts):
                    raise NodeError(f"{node['class_type']} failed on purpose")
                inputs = {n: (values[v[0]][v[1]] if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) else v)
                          for n, v in (node.get("inputs") or {}).items()}
                result, ui = await asyncio.get_running_loop().run_in_executor(None, self._run_node, node["class_type"], inputs)
            except Exception as exc:  # noqa: BLE001 - reported as ComfyUI does
                await self._send(cid, "execution_error", {
                    "prompt_id": prompt_id, "node_id": node_id, "node_type": node["class_type"], "executed": order[:k],
                    "exception_message": f"{exc}\n", "exception_type": type(exc).__name__, "traceback": [],
                    "current_inputs": {}, "current_outputs": {}, "timestamp": int(time.time() * 1000)})
                self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {"client_id": cid}, []], "outputs": {},
                                           "status": {"status_str": "error", "completed": False, "messages": []}, "meta": {}}
                await self._send(cid, "executing", {"node": None, "prompt_id": prompt_id})
                return
            values[node_id] = result
            if node["class_type"] == "RepeatImageBatch":  # a "sampler": a few progress steps
                steps = 4
                for s in range(1, steps + 1):
                    if self.delay_s:
                        await asyncio.sleep(self.delay_s / steps)
                    await self._send(cid, "progress", {"value": s, "max": steps, "prompt_id": prompt_id, "node": node_id})
            if ui is not None:
                outputs[node_id] = ui
                await self._send(cid, "executed", {"node": node_id, "display_node": node_id, "output": ui,
                                                   "prompt_id": prompt_id})
        self.history[prompt_id] = {"prompt": [0, prompt_id, graph, {"client_id": cid}, list(outputs)],
                                   "outputs": outputs, "status": {"status_str": "success", "completed": True,
                                                                  "messages": []}, "meta": {}}
        await self._send(cid, "execution_success", {"prompt_id": prompt_id, "timestamp": int(time.time() * 1000)})
        await self._send(cid, "executing", {"node": None, "prompt_id": prompt_id})

    @staticmethod
    def _order(graph: dict[str, Any]) -> list[str]:
        done: list[str] = []

        def visit(n: str) -> None:
            if n in done:
                return
            for v in (graph[n].get("inputs") or {}).values():
                if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
                    visit(v[0])
            done.append(n)
        for n in graph:
            visit(n)
        return done

    def _save_name(self, prefix: str, ext: str) -> tuple[str, str]:
        sub, _, base = prefix.rpartition("/")
        (self.output / sub).mkdir(parents=True, exist_ok=True)
        k = 1
        while (self.output / sub / f"{base}_{k:05d}_{ext}").exists():
            k += 1
        return sub, f"{base}_{k:05d}_{ext}"

    def _run_node(self, cls: str, i: dict[str, Any]) -> tuple[tuple, dict[str, Any] | None]:
        from PIL import Image

        if cls == "LoadImage":
            with Image.open(self.input / i["image"]) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
            return (arr[None], None), None
        if cls == "EmptyImage":
            c = int(i.get("color", 0))
            rgb = np.array([(c >> 16) & 255, (c >> 8) & 255, c & 255], np.float32) / 255
            return (np.broadcast_to(rgb, (i["batch_size"], i["height"], i["width"], 3)).copy(),), None
        if cls == "ImageScale":
            imgs = i["image"]
            out = [np.asarray(Image.fromarray((f * 255).astype(np.uint8)).resize((i["width"], i["height"])),
                              dtype=np.float32) / 255 for f in imgs]
            return (np.stack(out),), None
        if cls == "RepeatImageBatch":
            return (np.repeat(i["image"], int(i["amount"]), axis=0),), None
        if cls == "LoadAudio":
            import soundfile as sf

            y, sr = sf.read(str(self.input / i["audio"]), dtype="float32", always_2d=True)
            return ({"waveform": y.T[None], "sample_rate": sr},), None
        if cls == "CreateVideo":
            return ({"images": i["images"], "fps": float(i["fps"]), "audio": i.get("audio")},), None
        if cls == "SaveVideo":
            return self._save_video(i["video"], i.get("filename_prefix", "video/ComfyUI"))
        if cls == "SaveImage":
            items = []
            for f in i["images"]:
                sub, name = self._save_name(i.get("filename_prefix", "ComfyUI"), ".png")
                Image.fromarray((f * 255).astype(np.uint8)).save(self.output / sub / name)
                items.append({"filename": name, "subfolder": sub, "type": "output"})
            return (), {"images": items}
        raise NodeError(f"no such node {cls}")

    def _save_video(self, video: dict[str, Any], prefix: str) -> tuple[tuple, dict[str, Any]]:
        import soundfile as sf

        frames = (np.clip(video["images"], 0, 1) * 255).astype(np.uint8)
        n, h, w, _ = frames.shape
        sub, name = self._save_name(prefix, ".mp4")
        out = self.output / sub / name
        cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
               "-r", f"{video['fps']:g}", "-i", "-"]
        wav = None
        if video.get("audio") is not None:
            a = video["audio"]
            wav = out.with_suffix(".in.wav")
            y = a["waveform"][0].T
            sf.write(str(wav), np.repeat(y, 2, axis=1) if y.shape[1] == 1 else y, a["sample_rate"])
            cmd += ["-i", str(wav), "-c:a", "aac"]
        cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", str(out)]
        subprocess.run(cmd, input=frames.tobytes(), check=True, capture_output=True)
        if wav is not None:
            wav.unlink()
        return (), {"images": [{"filename": name, "subfolder": sub, "type": "output"}], "animated": [True]}


def renumbered(graph: dict[str, Any], offset: int = 100) -> dict[str, Any]:
    """The same graph with other node ids (as after editing it on the canvas)."""
    new = {k: str(int(k) + offset) for k in graph}
    out = {}
    for k, node in graph.items():
        node = json.loads(json.dumps(node))
        for name, v in (node.get("inputs") or {}).items():
            if isinstance(v, list) and len(v) == 2 and isinstance(v[0], str):
                node["inputs"][name] = [new[v[0]], v[1]]
        out[new[k]] = node
    return out


def png_bytes(rgb: tuple[int, int, int] = (200, 60, 40), size: tuple[int, int] = (64, 36)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, rgb).save(buf, format="PNG")
    return buf.getvalue()
