"""The HTTP response an export is streamed in, under WSGI and under ASGI alike."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

_DONE = b""


def _next_block(blocks: Iterator[bytes]) -> bytes:
    for block in blocks:
        if block:
            return block
    return _DONE


class ExportResponse(StreamingHttpResponse):
    """A download produced block by block by a synchronous generator that reads the database.

    Django serves a synchronous iterator under ASGI (uvicorn, what this project runs) by first
    reading it whole into a list, which would hold a 100,000-conversation export in memory. Here
    each block is pulled on the request's own sync thread instead (`thread_sensitive`), the thread
    that holds the database connection and the open server-side cursor, and sent before the next
    one is read."""

    def __init__(self, blocks: Iterator[bytes], *, content_type: str, filename: str) -> None:
        super().__init__(blocks, content_type=content_type)
        self["Content-Disposition"] = f'attachment; filename="{filename}"'
        self["Cache-Control"] = "no-store"  # transcripts are personal data: no shared caches
        self["X-Accel-Buffering"] = "no"  # let nginx pass the stream on as it comes
        self["X-Content-Type-Options"] = "nosniff"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        blocks = self.streaming_content
        if not isinstance(blocks, Iterator):
            raise TypeError("ExportResponse streams a synchronous iterator.")
        pull = sync_to_async(_next_block, thread_sensitive=True)
        while block := await pull(blocks):
            yield block
