"""A client of one ComfyUI server: its HTTP API and websocket, as ComfyUI itself speaks them.

One prompt is run as ComfyUI's own front end does: open ``/ws?clientId=ID`` first, ``POST
/prompt`` with that ``client_id``, follow the events of our prompt (``progress`` → the caller's
callback; ``execution_error`` → :class:`NodeFailed` naming the node; ``executing`` with ``node:
null`` → done; no polling, no sleeps), then read ``/history/{prompt_id}`` and fetch the files with
``/view``. Inputs are uploaded with ``POST /upload/image`` (images and audio alike) and the name the
server answers is used (it renames on a collision).

Failures are of two kinds: :class:`ServerDown` (connection refused or lost, a timeout, a socket
that closes mid-prompt, a 5xx: try another server) and :class:`NodeFailed` (the server ran the
graph and a node failed, or refused the graph: the workflow's or the input's fault). A
:class:`ServerDown` says in a few words why (``cause``: "connection refused") and whether the
server could not be reached at all (``unreachable``: the connection itself failed, so trying it
again at once is pointless), as opposed to a transient failure worth a retry.

Public: ComfyClient, ComfyError, ServerDown, NodeFailed, OutputFile.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mvtimeline.errors import RunError
from mvtimeline.progress import Progress, ProgressFn

__all__ = ["ComfyClient", "ComfyError", "ServerDown", "NodeFailed", "OutputFile"]

log = logging.getLogger(__name__)

#: Seconds without any message from the server while a prompt runs before it counts as dead.
IDLE_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 10.0


class ComfyError(RunError):
    """A ComfyUI server could not make a clip."""


class ServerDown(ComfyError):
    """The server cannot be reached, stopped answering or dropped the connection.

    Parameters
    ----------
    message : str
        The whole story, for the log (URL, call, exception).
    cause : str, optional
        A few words for the user ("connection refused", "unknown host"); default: ``message``.
    unreachable : bool
        The connection itself failed (refused, unknown host, no connection within the timeout):
        the server is not there, as opposed to a transient failure (a dropped socket, a 5xx).
    """

    def __init__(self, message: str, *, cause: str | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.cause = cause or message
        self.unreachable = unreachable


class NodeFailed(ComfyError):
    """The server refused the graph or a node failed while running it."""


@dataclass(frozen=True)
class OutputFile:
    """A file a node wrote: where ``/view`` finds it and what kind it is."""

    node_id: str
    filename: str
    subfolder: str
    type: str
    animated: bool

    @property
    def is_video(self) -> bool:
        return self.animated or Path(self.filename).suffix.lower() in (".mp4", ".webm", ".mov", ".mkv", ".gif", ".webp")


def _cause(exc: BaseException) -> tuple[str, bool]:
    """A few words on why a call failed, and whether the connection itself failed (the server is
    not there: refused, unknown host, no connection within the timeout)."""
    import aiohttp

    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "unknown host", True
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = getattr(exc.os_error, "errno", None)
        if code == errno.ECONNREFUSED:
            return "connection refused", True
        if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
            return "host unreachable", True
        return (getattr(exc.os_error, "strerror", None) or str(exc)).lower(), True
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return "no connection within the timeout", True
    if isinstance(exc, asyncio.TimeoutError):
        return "no answer within the timeout", False
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection", False
    return f"{type(exc).__name__}: {exc}", False


def _down(message: str, exc: BaseException) -> ServerDown:
    cause, unreachable = _cause(exc)
    return ServerDown(f"{message} ({type(exc).__name__}: {exc})", cause=cause, unreachable=unreachable)


def _node_errors(body: dict[str, Any]) -> str:
    """One line from a 400 answer of ``/prompt``: the first node error, else the error message."""
    for node_id, err in (body.get("node_errors") or {}).items():
        errors = err.get("errors") or [{}]
        e = errors[0]
        detail = e.get("details") or ""
        return (f"node {node_id} ({err.get('class_type', '?')}): {e.get('message', 'invalid')}"
                + (f": {detail}" if detail else ""))
    error = body.get("error") or {}
    if isinstance(error, dict):
        return f"{error.get('message', 'prompt refused')}" + (f": {error['details']}" if error.get("details") else "")
    return str(error or body)


class ComfyClient:
    """One ComfyUI server at ``url`` (``http://host:8188``), used inside one event loop.

    Use as ``async with ComfyClient(url) as c: ...``.

    Parameters
    ----------
    url : str
        ``http://host:port`` of the server.
    idle_timeout_s : float > 0
        Seconds without a byte (or a websocket message) before the server counts as dead.
    connect_timeout_s : float > 0
        Seconds to open a connection.
    """

    def __init__(self, url: str, *, idle_timeout_s: float = IDLE_TIMEOUT_S,
                 connect_timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        self.url = url.rstrip("/")
        self.idle_timeout_s = idle_timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.client_id = uuid.uuid4().hex
        self._session: Any = None

    async def __aenter__(self) -> ComfyClient:
        import aiohttp

        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout_s,
                                                                            sock_read=self.idle_timeout_s))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._session.close()

    # -- plain calls ------------------------------------------------------------------------------
    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        import aiohttp

        try:
            async with self._session.request(method, self.url + path, **kwargs) as resp:
                text = await resp.text()
                if resp.status >= 500:
                    raise ServerDown(f"{self.url}: {method} {path} answered {resp.status}",
                                     cause=f"{method} {path} answered {resp.status}")
                try:
                    body = json.loads(text) if text else None
                except json.JSONDecodeError:
                    body = text
                if resp.status >= 400:
                    if isinstance(body, dict):
                        raise NodeFailed(f"{self.url}: {_node_errors(body)}")
                    raise NodeFailed(f"{self.url}: {method} {path} answered {resp.status}: {str(body)[:200]}")
                return body
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _down(f"{self.url}: {method} {path} failed", exc) from None

    async def system_stats(self) -> dict[str, Any]:
        """``/system_stats``: ``{"system": {"comfyui_version", ...}, "devices": [...]}``."""
        return await self._json("GET", "/system_stats")

    async def object_info(self, class_type: str | None = None) -> dict[str, Any]:
        """``/object_info`` (every node class) or ``/object_info/{class_type}``."""
        return await self._json("GET", "/object_info" + (f"/{class_type}" if class_type else ""))

    async def upload(self, path: Path, *, name: str | None = None) -> str:
        """Upload an image or audio file to the server's input folder; the name to use in a graph."""
        import aiohttp

        form = aiohttp.FormData()
        form.add_field("image", Path(path).read_bytes(), filename=name or Path(path).name,
                       content_type="application/octet-stream")
        form.add_field("type", "input")
        body = await self._json("POST", "/upload/image", data=form)
        if not isinstance(body, dict) or "name" not in body:
            raise ServerDown(f"{self.url}: /upload/image answered {body!r}")
        return f"{body['subfolder']}/{body['name']}" if body.get("subfolder") else body["name"]

    async def interrupt(self, prompt_id: str) -> None:
        """Stop our prompt if it is running (``POST /interrupt {"prompt_id"}``) and drop it from the queue."""
        try:
            await self._json("POST", "/interrupt", json={"prompt_id": prompt_id})
            await self._json("POST", "/queue", json={"delete": [prompt_id]})
        except ComfyError as exc:
            log.debug("interrupt of %s on %s failed: %s", prompt_id, self.url, exc)

    async def download(self, f: OutputFile, out: Path) -> Path:
        """Fetch an output file with ``/view`` into ``out``."""
        import aiohttp

        params = {"filename": f.filename, "subfolder": f.subfolder, "type": f.type}
        try:
            async with self._session.get(self.url + "/view", params=params) as resp:
                if resp.status != 200:
                    raise ServerDown(f"{self.url}: /view {f.filename} answered {resp.status}")
                with open(out, "wb") as fh:
                    async for block in resp.content.iter_chunked(1 << 20):
                        fh.write(block)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _down(f"{self.url}: /view {f.filename} failed", exc) from None
        return out

    # -- running a prompt ---------------------------------------------------------------------------
    async def run(self, graph: dict[str, Any], *, outputs: tuple[str, ...] = (),
                  progress: ProgressFn | None = None,
                  started: Callable[[str], None] | None = None) -> list[OutputFile]:
        """Queue ``graph``, follow it to the end, and list the files of its output nodes.

        Parameters
        ----------
        graph : dict
            API-format graph.
        outputs : tuple of str
            Node ids whose files are wanted (empty: every node's).
        progress : ProgressFn, optional
            Receives ``Progress("clip", value, max)`` on each ``progress`` event of our prompt
            (sampler steps).
        started : callable(prompt_id), optional
            Called once the prompt is queued (so the caller can interrupt it).

        Raises
        ------
        ServerDown
            Connection lost, socket closed before the end, nothing heard for ``idle_timeout_s``.
        NodeFailed
            The graph was refused (the first node error), a node failed (node, class, message), or
            the prompt was interrupted.
        """
        import aiohttp

        prompt_id = uuid.uuid4().hex
        try:
            ws = await self._session.ws_connect(f"{self.url}/ws", params={"clientId": self.client_id},
                                                heartbeat=30.0)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _down(f"{self.url}: websocket failed", exc) from None
        try:
            body = await self._json("POST", "/prompt", json={"prompt": graph, "client_id": self.client_id,
                                                             "prompt_id": prompt_id})
            prompt_id = body.get("prompt_id", prompt_id) if isinstance(body, dict) else prompt_id
            if started is not None:
                started(prompt_id)
            await self._follow(ws, prompt_id, graph, progress)
        finally:
            await ws.close()
        history = await self._json("GET", f"/history/{prompt_id}")
        entry = (history or {}).get(prompt_id)
        if not entry:
            raise ServerDown(f"{self.url}: prompt {prompt_id} finished but /history has no entry")
        status = entry.get("status") or {}
        if status.get("status_str") == "error":
            raise NodeFailed(f"{self.url}: prompt {prompt_id} ended with an error")
        files = []
        for node_id, out in (entry.get("outputs") or {}).items():
            if outputs and node_id not in outputs:
                continue
            animated = any(bool(a) for a in out.get("animated") or [])
            for key in ("images", "gifs", "videos"):
                for item in out.get(key) or []:
                    if isinstance(item, dict) and item.get("filename"):
                        files.append(OutputFile(node_id, item["filename"], item.get("subfolder", ""),
                                                item.get("type", "output"), animated or key != "images"))
        return files

    async def _follow(self, ws: Any, prompt_id: str, graph: dict[str, Any],
                      progress: ProgressFn | None) -> None:
        import aiohttp

        while True:
            try:
                msg = await ws.receive(timeout=self.idle_timeout_s)
            except asyncio.TimeoutError:
                raise ServerDown(f"{self.url}: nothing heard for {self.idle_timeout_s:.0f} s while running "
                                 f"prompt {prompt_id}") from None
            if msg.type == aiohttp.WSMsgType.BINARY:
                continue  # previews
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ServerDown(f"{self.url}: the websocket closed while prompt {prompt_id} was running",
                                 cause="the connection closed while a prompt was running")
            try:
                event = json.loads(msg.data)
            except json.JSONDecodeError:
                continue
            kind, data = event.get("type"), event.get("data") or {}
            if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
                continue
            if kind == "progress" and progress is not None:
                progress(Progress("clip", int(data.get("value", 0)), int(data.get("max", 0) or 1)))
            elif kind == "execution_error":
                node_id = str(data.get("node_id", "?"))
                node_type = data.get("node_type") or (graph.get(node_id) or {}).get("class_type", "?")
                message = str(data.get("exception_message", "")).strip().splitlines()
                raise NodeFailed(f"{self.url}: node {node_id} ({node_type}) failed: "
                                 f"{message[0] if message else data.get('exception_type', 'error')}")
            elif kind == "execution_interrupted":
                raise NodeFailed(f"{self.url}: prompt {prompt_id} was interrupted")
            elif kind == "executing" and data.get("node") is None:
                return
