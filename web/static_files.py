"""The app's own CSS and JavaScript (web/static), read once at start and served from memory
with an ETag to revalidate against. No file is opened per request: aiohttp's file responses
open each file in a thread and close it in another, and a request cancelled between the two
(a browser closing mid-load, the server stopping) left the file open."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from aiohttp import web

PATH = "/static/{name}"


class StaticFiles:
    def __init__(self, folder: Path) -> None:
        self._files: dict[str, tuple[bytes, str, str]] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file():
                body = path.read_bytes()
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                tag = f'"{hashlib.sha256(body).hexdigest()[:24]}"'
                self._files[path.name] = (body, tag, kind)

    async def serve(self, request: web.Request) -> web.Response:
        found = self._files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, tag, kind = found
        headers = {"ETag": tag, "Cache-Control": "no-cache"}  # revalidated: one 304 each
        sent = {t.strip() for t in request.headers.get("If-None-Match", "").split(",")}
        if tag in sent or "*" in sent:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, headers=headers, content_type=kind,
                            charset="utf-8" if kind.startswith("text/") else None)
