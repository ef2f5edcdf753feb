"""HTTP and websocket routes of the fake, each also served under /api like the real server."""

from __future__ import annotations

import asyncio
import hashlib
import io
import ipaddress
import json
import mimetypes
import os
import sys
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from .nodes import NODES
from .prompt_queue import QueueItem
from .settings import RAM_FREE, RAM_TOTAL
from .validation import validate_prompt

if TYPE_CHECKING:
    from .server import FakeComfyUI

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

INTERNAL_ERROR_TEXT = "500 Internal Server Error\n\nServer got itself in trouble"
PROXY_ERROR_HTML = (
    "<html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>500 Internal Server Error</h1><p>The upstream server failed.</p></body></html>"
)
FORCE_DOWNLOAD = {"text/html", "text/html-sandboxed", "application/xhtml+xml", "text/javascript", "text/css"}


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        # The server resolves names; the fake only knows the one loopback name that matters.
        return host == "localhost"


@web.middleware
async def internal_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unhandled handler exceptions become aiohttp's plain-text 500, as on the real server."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        return web.Response(status=500, text=INTERNAL_ERROR_TEXT)


@web.middleware
async def origin_only(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Reject requests whose Origin host[:port] differs from a loopback Host (server.py origin check)."""
    if "Host" in request.headers and "Origin" in request.headers:
        host_domain: str | None = request.headers["Host"].lower()
        parsed = urllib.parse.urlparse(request.headers["Origin"])
        origin_domain: str | None = parsed.netloc.lower()
        host_parsed = urllib.parse.urlsplit("//" + (host_domain or ""))
        loopback = _is_loopback(host_parsed.hostname)
        if parsed.port is None:
            host_domain = host_parsed.hostname
        if host_parsed.port is None:
            origin_domain = parsed.hostname
        if loopback and host_domain and origin_domain and host_domain != origin_domain:
            return web.Response(status=403)
    if request.method == "OPTIONS":
        return web.Response()
    return await handler(request)


class Routes:
    """Request handlers bound to one FakeComfyUI."""

    def __init__(self, fake: FakeComfyUI) -> None:
        self.fake = fake

    def build_app(self) -> web.Application:
        @web.middleware
        async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
            # The limit is a live knob, so apply it per request (aiohttp raises the 413 itself).
            if request.method in ("POST", "PUT", "PATCH"):
                request = request.clone(client_max_size=self.fake.settings.max_upload_bytes)
            return await handler(request)

        app = web.Application(
            middlewares=[internal_errors, origin_only, self.fake.holds.middleware(), body_limit]
        )
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/ws", self.websocket),
            ("POST", "/prompt", self.post_prompt),
            ("GET", "/prompt", self.get_prompt),
            ("GET", "/queue", self.get_queue),
            ("POST", "/queue", self.post_queue),
            ("POST", "/interrupt", self.post_interrupt),
            ("GET", "/history", self.get_history),
            ("POST", "/history", self.post_history),
            ("GET", "/history/{prompt_id}", self.get_history_item),
            ("GET", "/view", self.view),
            ("POST", "/upload/image", self.upload_image),
            ("POST", "/upload/mask", self.upload_mask),
            ("GET", "/object_info", self.object_info),
            ("GET", "/object_info/{node_class}", self.object_info_item),
            ("GET", "/system_stats", self.system_stats),
            ("GET", "/features", self.features),
        ]
        for prefix in ("", "/api"):
            for method, path, handler in routes:
                app.router.add_route(method, prefix + path, handler)
        # ComfyUI mounts its internal routes as a sub-application: no /api twin.
        app.router.add_route("GET", "/internal/logs", self.internal_logs)
        app.router.add_route("GET", "/internal/logs/raw", self.internal_logs_raw)
        # Test controls for other processes (not ComfyUI's: the real server answers 404 here).
        app.router.add_post("/__fake__/pause", self.pause)
        app.router.add_post("/__fake__/resume", self.resume)
        return app

    async def pause(self, request: web.Request) -> web.StreamResponse:
        self.fake.pause()
        return web.Response(status=204)

    async def resume(self, request: web.Request) -> web.StreamResponse:
        self.fake.resume()
        return web.Response(status=204)

    # -- websocket ------------------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        hub = self.fake.hub
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId", "")
        if sid:
            hub.sockets.pop(sid, None)
        else:
            sid = uuid.uuid4().hex
        hub.sockets[sid] = ws
        hub.metadata[sid] = {"feature_flags": {}}
        hub.open_sockets[ws] = request
        try:
            await hub.send_now("status", {"status": self.fake.queue_info(), "sid": sid}, sid)
            if hub.client_id == sid and hub.last_node_id is not None:
                await hub.send_now("executing", {"node": hub.last_node_id}, sid)
            first_message = True
            async for message in ws:
                if message.type != web.WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                    if first_message and data.get("type") == "feature_flags":
                        hub.metadata[sid]["feature_flags"] = data.get("data", {})
                        await hub.send_now("feature_flags", self.fake.settings.features(), sid)
                    first_message = False
                except Exception:
                    # The server logs bad client messages and keeps reading.
                    continue
        finally:
            hub.sockets.pop(sid, None)
            hub.metadata.pop(sid, None)
            hub.open_sockets.pop(ws, None)
        return ws

    # -- prompts and queue ------------------------------------------------------------------------------

    async def post_prompt(self, request: web.Request) -> web.StreamResponse:
        fake = self.fake
        if fake.settings.fail_next_prompts > 0:
            fake.settings.fail_next_prompts -= 1
            return web.Response(status=500, text=PROXY_ERROR_HTML, content_type="text/html")
        body = await request.json()
        fake.prompt_requests.append(body)
        if isinstance(body, dict) and "number" in body:
            number: float = float(body["number"])
        else:
            number = fake.number
            if isinstance(body, dict) and body.get("front"):
                number = -number
            fake.number += 1
        if not isinstance(body, dict) or "prompt" not in body:
            error = {
                "type": "no_prompt",
                "message": "No prompt provided",
                "details": "No prompt provided",
                "extra_info": {},
            }
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        prompt = body["prompt"]
        if not isinstance(prompt, dict):
            raise TypeError("prompt must be an object")
        prompt_id = str(body.get("prompt_id", uuid.uuid4()))
        result = validate_prompt(fake, prompt, body.get("partial_execution_targets"))
        extra_data = body.get("extra_data", {})
        if "client_id" in body:
            extra_data["client_id"] = body["client_id"]
        if not result.ok:
            return web.json_response({"error": result.error, "node_errors": result.node_errors}, status=400)
        fake.queue.put(QueueItem(number, prompt_id, prompt, extra_data, result.outputs))
        return web.json_response(
            {"prompt_id": prompt_id, "number": number, "node_errors": result.node_errors}
        )

    async def get_prompt(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.fake.queue_info())

    async def get_queue(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.fake.queue.snapshot())

    async def post_queue(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("clear"):
            self.fake.queue.wipe()
        if "delete" in body:
            for prompt_id in body["delete"]:
                self.fake.queue.delete(prompt_id)
        return web.Response(status=200)

    async def post_interrupt(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        prompt_id = body.get("prompt_id")
        executor = self.fake.executor
        if not prompt_id or (executor.running is not None and executor.running.prompt_id == prompt_id):
            executor.interrupt()
        return web.Response(status=200)

    async def get_history(self, request: web.Request) -> web.StreamResponse:
        max_items = request.query.get("max_items")
        offset = int(request.query.get("offset", -1))
        history = self.fake.queue.get_history(
            max_items=int(max_items) if max_items is not None else None, offset=offset
        )
        return web.json_response(history)

    async def get_history_item(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.fake.queue.get_history(prompt_id=request.match_info["prompt_id"]))

    async def post_history(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if body.get("clear"):
            self.fake.queue.wipe_history()
        if "delete" in body:
            for prompt_id in body["delete"]:
                self.fake.queue.delete_history(prompt_id)
        return web.Response(status=200)

    # -- files ------------------------------------------------------------------------------------------

    async def view(self, request: web.Request) -> web.StreamResponse:
        storage = self.fake.storage
        query = request.query
        if "filename" not in query:
            return web.Response(status=404)
        self.fake.views.append(query["filename"])
        filename, output_dir = storage.annotated(query["filename"])
        if not filename or filename[0] == "/" or ".." in filename:
            return web.Response(status=400)
        if output_dir is None:
            output_dir = storage.directory_by_type(query.get("type", "output"))
        if output_dir is None:
            return web.Response(status=400)
        if "subfolder" in query:
            full_output_dir = os.path.join(output_dir, query["subfolder"])
            if os.path.commonpath((os.path.abspath(full_output_dir), output_dir)) != output_dir:
                return web.Response(status=403)
            output_dir = full_output_dir
        filename = os.path.basename(filename)
        path = os.path.join(output_dir, filename)
        if not os.path.isfile(path):
            return web.Response(status=404)
        disposition = {"Content-Disposition": f'filename="{filename}"'}
        if "preview" in query:
            return _preview(path, query["preview"], query.get("channel", ""), disposition)
        channel = query.get("channel", "rgba")
        if channel == "rgb":
            with Image.open(path) as image:
                rgb = Image.merge("RGB", image.split()[:3]) if image.mode == "RGBA" else image.convert("RGB")
                return web.Response(body=_png(rgb), content_type="image/png", headers=disposition)
        if channel == "a":
            with Image.open(path) as image:
                alpha = image.getchannel("A") if image.mode == "RGBA" else Image.new("L", image.size, 255)
            alpha_image = Image.new("RGBA", alpha.size)
            alpha_image.putalpha(alpha)
            return web.Response(body=_png(alpha_image), content_type="image/png", headers=disposition)
        content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        if content_type in FORCE_DOWNLOAD:
            content_type = "application/octet-stream"
        return web.FileResponse(path, headers={**disposition, "Content-Type": content_type})

    async def upload_image(self, request: web.Request) -> web.StreamResponse:
        await self._upload_delay()
        post = await request.post()
        try:
            return self._image_upload(post)
        finally:
            _close_files(post)

    async def upload_mask(self, request: web.Request) -> web.StreamResponse:
        await self._upload_delay()
        post = await request.post()
        try:
            return self._image_upload(post, lambda data, path: self._save_mask(post, data, path))
        finally:
            _close_files(post)

    async def _upload_delay(self) -> None:
        if self.fake.settings.upload_delay > 0:
            await asyncio.sleep(self.fake.settings.upload_delay)

    def _image_upload(
        self, post: Any, save: Callable[[bytes, str], None] | None = None
    ) -> web.StreamResponse:
        upload_type = post.get("type")
        upload_type = "input" if upload_type is None else upload_type
        upload_dir = self.fake.storage.directory_by_type(upload_type)
        if upload_dir is None:
            # The server hits an unbound local variable here.
            raise ValueError(f"unknown upload type {upload_type!r}")
        image = post.get("image")
        if not isinstance(image, web.FileField) or not image.filename:
            return web.Response(status=400)
        filename = image.filename
        subfolder = post.get("subfolder", "")
        folder = os.path.join(upload_dir, os.path.normpath(subfolder))
        path = os.path.abspath(os.path.join(folder, filename))
        if os.path.commonpath((upload_dir, path)) != upload_dir:
            return web.Response(status=400)
        os.makedirs(folder, exist_ok=True)
        data = image.file.read()
        stem, ext = os.path.splitext(filename)
        duplicate = False
        if post.get("overwrite") not in ("true", "1"):
            counter = 1
            digest = hashlib.sha256(data).hexdigest()
            while os.path.exists(path):
                with open(path, "rb") as handle:
                    if hashlib.sha256(handle.read()).hexdigest() == digest:
                        duplicate = True
                        break
                filename = f"{stem} ({counter}){ext}"
                path = os.path.join(folder, filename)
                counter += 1
        if not duplicate:
            if save is not None:
                save(data, path)
            else:
                with open(path, "wb") as handle:
                    handle.write(data)
        return web.json_response({"name": filename, "subfolder": subfolder, "type": upload_type})

    def _save_mask(self, post: Any, data: bytes, path: str) -> None:
        """Original image with its alpha replaced by the mask's; silently does nothing on a bad reference."""
        storage = self.fake.storage
        original_ref = json.loads(post.get("original_ref"))
        filename, output_dir = storage.annotated(original_ref["filename"])
        if not filename or filename[0] == "/" or ".." in filename:
            return
        if output_dir is None:
            output_dir = storage.directory_by_type(original_ref.get("type", "output"))
        if output_dir is None:
            return
        if original_ref.get("subfolder", "") != "":
            full_output_dir = os.path.join(output_dir, original_ref["subfolder"])
            if os.path.commonpath((os.path.abspath(full_output_dir), output_dir)) != output_dir:
                return
            output_dir = full_output_dir
        original_path = os.path.join(output_dir, filename)
        if not os.path.isfile(original_path):
            return
        with Image.open(original_path) as original:
            info = PngInfo()
            for key, value in getattr(original, "text", {}).items():
                info.add_text(key, value)
            rgba = original.convert("RGBA")
        with Image.open(io.BytesIO(data)) as mask:
            rgba.putalpha(mask.convert("RGBA").getchannel("A"))
        rgba.save(path, compress_level=4, pnginfo=info)

    # -- info -------------------------------------------------------------------------------------------

    async def object_info(self, request: web.Request) -> web.StreamResponse:
        unavailable = self.fake.settings.unavailable
        return web.json_response(
            {name: node.info(self.fake) for name, node in NODES.items() if not unavailable(name)}
        )

    async def object_info_item(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["node_class"]
        node = None if self.fake.settings.unavailable(name) else NODES.get(name)
        return web.json_response({name: node.info(self.fake)} if node is not None else {})

    async def system_stats(self, request: web.Request) -> web.StreamResponse:
        ram_total, ram_free = RAM_TOTAL, RAM_FREE
        settings = self.fake.settings
        argv = ["main.py", "--listen", "127.0.0.1", "--port", str(self.fake.port), "--disable-auto-launch"]
        if settings.device == "cpu":
            argv.insert(1, "--cpu")
        if settings.previews:  # a real ComfyUI sends previews only when started with a preview method
            argv += ["--preview-method", "auto"]
        if settings.max_upload_size is not None:
            argv += ["--max-upload-size", str(settings.max_upload_size / (1024 * 1024))]
        stats = {
            "system": {
                "os": os.name,
                "ram_total": ram_total,
                "ram_free": ram_free,
                "comfyui_version": "0.3.64",
                "required_frontend_version": "1.27.10",
                "installed_templates_version": "0.1.95",
                "required_templates_version": "0.1.95",
                "python_version": sys.version,
                "pytorch_version": "2.13.0+cpu",
                "embedded_python": False,
                "argv": argv,
            },
            "devices": [_device(settings.device, ram_total, ram_free)],
        }
        return web.json_response(stats)

    async def features(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.fake.settings.features())

    async def internal_logs(self, request: web.Request) -> web.StreamResponse:
        entries = self.fake.log_entries()
        return web.json_response("".join(e["t"] + " - " + e["m"] for e in entries))

    async def internal_logs_raw(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"entries": self.fake.log_entries(), "size": {"cols": 80, "rows": 24}})


def _device(kind: str, ram_total: int, ram_free: int) -> dict[str, Any]:
    """/system_stats' device entry: the CPU (as recorded) or a GPU as ComfyUI names one."""
    if kind == "cuda":
        vram_total, vram_free = 25386352640, 24006418432
        return {
            "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync",
            "type": "cuda",
            "index": 0,
            "vram_total": vram_total,
            "vram_free": vram_free,
            "torch_vram_total": 0,
            "torch_vram_free": 0,
        }
    return {
        "name": "cpu",
        "type": "cpu",
        "index": None,
        "vram_total": ram_total,
        "vram_free": ram_free,
        "torch_vram_total": ram_total,
        "torch_vram_free": ram_free,
    }


def _close_files(post: Any) -> None:
    for value in post.values():
        if isinstance(value, web.FileField):
            value.file.close()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _preview(path: str, spec: str, channel: str, headers: dict[str, str]) -> web.Response:
    with Image.open(path) as image:
        parts = spec.split(";")
        image_format = parts[0]
        if image_format not in ("webp", "jpeg") or "a" in channel:
            image_format = "webp"
        quality = int(parts[-1]) if parts[-1].isdigit() else 90
        picture: Image.Image = image
        if image_format == "jpeg" or channel == "rgb":
            picture = image.convert("RGB")
        buffer = io.BytesIO()
        picture.save(buffer, format=image_format, quality=quality)
    return web.Response(body=buffer.getvalue(), content_type=f"image/{image_format}", headers=headers)
