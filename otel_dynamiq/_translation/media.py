"""Images, audio and files inside LLM messages, as typed parts of a bounded size.

Pure functions, no I/O. Producers record a picture in a message four ways:
GenAI ``blob``/``uri``/``file`` parts (base64 text or a data URL), OpenInference
``message_content.image.image.url``, the OpenAI ``image_url`` part, and the
Vercel AI SDK's ``image``/``file`` parts, whose bytes arrive as base64, a data
URL, a link, or a ``Uint8Array`` serialised as ``{"0": 137, "1": 80, ...}``.
All become one part, ``{"type": "image"|"audio"|"file", "mime_type",
"size_bytes", "url"}``: a link is kept as it is, and inline data is kept as a
data URL, and ``limit_inline_media`` then leaves out data over the exporter's
inline limit, so a 300 KB photo never travels as text in every run of its
conversation, while the part still says what it was and how large.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

DEFAULT_INLINE_LIMIT = 16 * 1024
"""Bytes of media kept inline (as a data URL) in a run; a thumbnail fits, a photo does not."""

MediaPart = dict[str, Any]

_KINDS = ("image", "audio", "video", "file")
_DATA_URL_PREFIX = "data:"


def _kind(mime_type: str | None, declared: Any = None) -> str:
    """image, audio or video from the declared modality or the MIME type; any other data is a file."""
    if isinstance(declared, str) and declared in _KINDS:
        return declared
    if mime_type:
        head = mime_type.split("/", 1)[0]
        if head in _KINDS:
            return head
    return "file"


def _decoded_size(text: str) -> int:
    """Bytes that base64 text stands for, without decoding it."""
    stripped = text.rstrip("=")
    return len(stripped) * 3 // 4


def is_data_url(value: Any) -> bool:
    """``data:`` in any case, after any blanks: how browsers read it, so how it must be recognised."""
    return isinstance(value, str) and value.lstrip()[:5].lower() == _DATA_URL_PREFIX


def _from_data_url(url: str) -> tuple[str | None, int]:
    """The MIME type and byte size of ``data:<type>;base64,<data>``; without a comma, all of it counts."""
    header, comma, data = url.lstrip().partition(",")
    if not comma:
        return None, len(url)
    mime_type = header[len(_DATA_URL_PREFIX) :].split(";", 1)[0] or None
    size = _decoded_size(data) if header.lower().endswith(";base64") else len(data)
    return mime_type, size


def _index_map_bytes(value: Mapping[str, Any]) -> bytes | None:
    """A ``Uint8Array`` as ``JSON.stringify`` writes it: ``{"0": 137, "1": 80, ...}``; None when it is not one."""
    try:
        return bytes(value[str(index)] for index in range(len(value)))
    except (KeyError, TypeError, ValueError):
        return None


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"%PDF-", "application/pdf"),
)


def _sniffed(raw: bytes) -> str | None:
    """The MIME type of bytes that arrived without one, from their first bytes (the common image formats)."""
    for signature, mime_type in _SIGNATURES:
        if raw.startswith(signature):
            return mime_type
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "image/webp"
    return None


def _number_list_bytes(value: list[Any]) -> bytes | None:
    if not value or not all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return None
    try:
        return bytes(value)
    except ValueError:
        return None


def media_part(
    data: Any = None,
    *,
    url: Any = None,
    mime_type: Any = None,
    modality: Any = None,
) -> MediaPart:
    """One typed part from whichever form the producer used; ``data`` may be base64, a data URL or bytes."""
    mime = str(mime_type) if isinstance(mime_type, str) and mime_type else None
    if is_data_url(data):
        url, data = data, None
    if isinstance(url, str) and is_data_url(url):
        url_mime, size = _from_data_url(url)
        mime = mime or url_mime
        return _inline(url, _kind(mime, modality), mime, size)
    if isinstance(url, str) and url:
        part: MediaPart = {"type": _kind(mime, modality), "mime_type": mime, "url": url}
        return part
    raw: bytes | None = None
    if isinstance(data, (bytes, bytearray)):
        raw = bytes(data)
    elif isinstance(data, Mapping):
        raw = _index_map_bytes(data)
    elif isinstance(data, list):
        raw = _number_list_bytes(data)
    if raw is not None:
        mime = mime or _sniffed(raw)
        url = f"data:{mime or 'application/octet-stream'};base64,{base64.b64encode(raw).decode()}"
        return _inline(url, _kind(mime, modality), mime, len(raw))
    if isinstance(data, str) and data:
        kept = f"data:{mime or 'application/octet-stream'};base64,{data}" if _is_base64(data) else None
        return _inline(kept, _kind(mime, modality), mime, _decoded_size(data))
    return {"type": _kind(mime, modality), "mime_type": mime}


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _inline(url: str | None, kind: str, mime_type: str | None, size: int) -> MediaPart:
    part: MediaPart = {"type": kind, "mime_type": mime_type, "size_bytes": size}
    if url is not None:
        part["url"] = url
    else:
        part["omitted"] = _NOT_BASE64
    return part


_NOT_BASE64 = "data not base64"
_OVER_LIMIT = "data over the inline limit"


def limit_inline_media(value: Any, limit: int) -> Any:
    """Messages with inline media over ``limit`` bytes described instead of carried; the value given is unchanged.

    Applied once per run to its input and output, so the limit is the
    exporter's setting and the parsers above stay free of it.
    """
    return _limited(value, limit, _MAX_DEPTH)


_MAX_DEPTH = 16
"""Messages, their parts and an agent's input are a few levels deep; deeper is not a message, and not walked."""


def _limited(value: Any, limit: int, depth: int, anywhere: bool = False) -> Any:
    """``anywhere``: inside a message's content, where a tool's answer may hold a data URL under any key."""
    if depth <= 0:
        return value
    if isinstance(value, str):
        if len(value) > limit and is_data_url(value):  # a data URL given as plain text, over the limit
            mime_type, size = _from_data_url(value)
            if size > limit:
                return {"type": _kind(mime_type), "mime_type": mime_type, "size_bytes": size, "omitted": _OVER_LIMIT}
        return value
    if isinstance(value, list):
        changed = [_limited(item, limit, depth - 1, anywhere) for item in value]
        return changed if any(new is not old for new, old in zip(changed, value, strict=True)) else value
    if not isinstance(value, dict):
        return value
    url = value.get("url")
    if value.get("type") in _KINDS and isinstance(url, str) and is_data_url(url):
        _, size = _from_data_url(url)  # measured here: a size the producer wrote is not trusted
        if size > limit:
            kept = {key: item for key, item in value.items() if key != "url"}
            kept["size_bytes"] = size
            kept["omitted"] = _OVER_LIMIT
            return kept
        return value
    changed_items = {
        key: _limited(item, limit, depth - 1, anywhere or key == "content")
        for key, item in value.items()
        if anywhere or key in _CONTAINERS
    }
    if all(changed_items[key] is value[key] for key in changed_items):
        return value
    return {**value, **changed_items}


_CONTAINERS = ("messages", "content", "input")
"""Where messages keep their parts: ``input.messages[].content[]``, ``output.content[]``, an agent's ``input.input``."""


def from_genai_part(part: Mapping[str, Any]) -> MediaPart | None:
    """A GenAI ``blob``, ``uri`` or ``file`` part; None for any other part."""
    kind = part.get("type")
    if kind == "blob":
        return media_part(part.get("content"), mime_type=part.get("mime_type"), modality=part.get("modality"))
    if kind == "uri":
        return media_part(url=part.get("uri"), mime_type=part.get("mime_type"), modality=part.get("modality"))
    if kind == "file" and not isinstance(part.get("file"), Mapping):  # else OpenAI's file part
        described = media_part(mime_type=part.get("mime_type"), modality=part.get("modality"))
        if part.get("file_id") is not None:
            described["file_id"] = part.get("file_id")
        return described
    return None


def from_openai_part(part: Mapping[str, Any]) -> MediaPart | None:
    """OpenAI's ``image_url`` and ``input_audio`` content parts; None for any other part."""
    kind = part.get("type")
    if kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
        return media_part(url=url, modality="image")
    if kind == "file" and isinstance(part.get("file"), Mapping):  # OpenAI's file part (LiteLLM keeps it in GenAI parts)
        given = part["file"]
        described = media_part(given.get("file_data"))
        for key in ("filename", "file_id"):
            if given.get(key) is not None:
                described[key] = given[key]
        return described
    if kind == "input_audio":
        audio = part.get("input_audio")
        audio = audio if isinstance(audio, Mapping) else {}
        fmt = audio.get("format")
        return media_part(audio.get("data"), mime_type=f"audio/{fmt}" if fmt else None, modality="audio")
    return None


def from_vercel_part(part: Mapping[str, Any]) -> MediaPart | None:
    """The Vercel AI SDK's ``image`` and ``file`` message parts; None for any other part."""
    kind = part.get("type")
    mime = part.get("mediaType", part.get("mimeType"))
    if kind == "image":
        value = part.get("image")
        modality = "image"
    elif kind == "file":
        value = part.get("data")
        modality = None
    else:
        return None
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        return media_part(url=value, mime_type=mime, modality=modality)
    return media_part(value, mime_type=mime, modality=modality)


def from_any_part(part: Mapping[str, Any]) -> MediaPart | None:
    """A GenAI media part, or an OpenAI one where a producer mixed them (LiteLLM does); None for neither."""
    return from_genai_part(part) or from_openai_part(part)
