"""Images and files sent with a request: read from the messages (links by links.py), uploaded to the web chat."""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes

from services.credentials import Token
from services.errors import BadRequest, PayloadTooLarge, Unprocessable, UpstreamTimeout
from services.media_types import essence
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.background import Background, results
from services.providers.deepseek_web.calls import WebCalls
from services.settings import Settings

if TYPE_CHECKING:
    from services.providers.deepseek_web.links import LinkFetcher

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Attachment:
    """One image or document to upload."""

    name: str
    mimetype: str
    data: bytes


def too_large(cap: int) -> PayloadTooLarge:
    """The error for a file over the size limit."""
    return PayloadTooLarge(f"A file or image is larger than {cap} bytes (FREESEEK_WEB_MAX_FILE_BYTES).",
                           param="messages")


def upload_type(value: str, what: str) -> str:
    """The `type/subtype` to upload a file as, or a 400 when value is malformed or not a type the web chat reads."""
    try:
        kind = essence(value)
    except ValueError:
        raise BadRequest(f"{what} is not a valid media type (type/subtype of letters, digits and !#$%&'*+-.^_`|~, "
                         "optionally with ;name=value parameters).", param="messages") from None
    if kind not in p.UPLOAD_IMAGE_TYPES and not kind.startswith(p.UPLOAD_DOCUMENT_KINDS):
        raise BadRequest(f"{what} '{kind}' is not a type the web chat reads: images "
                         f"({', '.join(sorted(p.UPLOAD_IMAGE_TYPES))}), text/* and application/* documents.",
                         param="messages")
    return kind


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def file_name(name: str, mimetype: str) -> str:
    """A file name fit for the upload: no control characters, not too long, with an extension for its type."""
    name = _CONTROL.sub("", name)[:200] or "file"
    if "." in name:
        return name
    extension = mimetypes.guess_extension(mimetype) or "." + mimetype.split("/")[-1].split("+")[0]
    return name + extension


def decode_data_url(url: str, name: str, cap: int) -> Attachment:
    """Read a `data:[<media type>][;base64],<data>` URL (its media type checked, its parameters dropped)."""
    head, comma, payload = url[5:].partition(",")
    if not comma:
        raise BadRequest("A data: URL has no ',' before its data.", param="messages")
    media_type, semicolon, flag = head.rpartition(";")
    encoded = bool(semicolon) and flag.strip(" \t").lower() == "base64"
    if not encoded:
        media_type = head
    mimetype = upload_type(media_type, "A data: URL's media type") if media_type.strip(" \t") else \
        "application/octet-stream"
    try:
        if encoded:
            data = base64.b64decode("".join(unquote_to_bytes(payload).decode("ascii").split()), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("A data: URL's base64 data is malformed.", param="messages") from None
    if len(data) > cap:
        raise too_large(cap)
    return Attachment(file_name(name, mimetype), mimetype, data)


def collect(messages: list[dict], settings: Settings, fetcher: LinkFetcher) -> list[Attachment]:
    """Every image and file part of these messages, decoded or fetched (all links at once), within the limits."""
    found: list[tuple[str, str]] = []   # (url or data URL, file name)
    for message in messages:
        content = message.get("content")
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind in ("image_url", "input_image"):
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else image
                found.append((url, f"image-{len(found) + 1}"))
            elif kind in ("file", "input_file"):
                file = part.get("file") if isinstance(part.get("file"), dict) else part
                if file.get("file_id") and not file.get("file_data"):
                    raise BadRequest("File ids (OpenAI's Files API) cannot be used here: send the file inline as "
                                     "'file_data' (a data: URL or base64).", param="messages")
                data = file.get("file_data") or file.get("file_url")
                name = str(file.get("filename") or f"file-{len(found) + 1}")
                if isinstance(data, str) and not data.startswith(("data:", "http://", "https://")):
                    data = "data:application/octet-stream;base64," + data
                found.append((data, name))
    if len(found) > settings.web_max_files:
        raise BadRequest(f"{len(found)} images/files in one request; at most {settings.web_max_files} are "
                         "allowed (FREESEEK_WEB_MAX_FILES).", param="messages")
    for url, _ in found:
        if not isinstance(url, str) or not url:
            raise BadRequest("An image or file part has no URL or data.", param="messages")
        if not url.startswith(("data:", "http://", "https://")):
            raise BadRequest("An image/file URL must be a data: URL or an http(s) URL.", param="messages")
    # Inline data first: a malformed one is refused before any link is fetched.
    inline = [decode_data_url(url, name, settings.web_max_file_bytes) if url.startswith("data:") else None
              for url, name in found]
    links = [url for url, _ in found if not url.startswith("data:")]
    fetched = fetcher.fetch_all(links) if links else {}
    return [attachment or fetched[url] for attachment, (url, _) in zip(inline, found)]


def upload_all(calls: WebCalls, token: Token, attachments: list[Attachment], thinking: bool,
               timeout: float, cancel: threading.Event) -> list[str]:
    """Upload the attachments in parallel on the token's account and wait until the web chat has read them."""
    def upload(attachment: Attachment) -> str | None:
        if cancel.is_set():
            return None

        def send(pow_header: str):
            return calls.call(token, "POST", p.UPLOAD_FILE,
                              files={"file": (attachment.name, attachment.data, attachment.mimetype)},
                              headers={p.POW_HEADER: pow_header, p.FILE_SIZE_HEADER: str(len(attachment.data)),
                                       p.THINKING_HEADER: "1" if thinking else "0"})
        data = calls.with_pow(token, p.UPLOAD_FILE, send) or {}
        if not isinstance(data, dict) or not data.get("id"):
            raise Unprocessable(f"The web chat did not accept the file '{attachment.name}'.", param="messages")
        return str(data["id"])

    ids = results([Background(upload, attachment) for attachment in attachments])
    _wait_ready(calls, token, [i for i in ids if i], {i: a.name for i, a in zip(ids, attachments)}, timeout, cancel)
    return [i for i in ids if i]


def _wait_ready(calls: WebCalls, token: Token, ids: list[str], names: dict, timeout: float,
                cancel: threading.Event) -> None:
    """Poll fetch_files until every file is ready; a failed file is the client's to fix."""
    deadline, pending = time.monotonic() + timeout, set(ids)
    while pending and not cancel.is_set():
        data = calls.call(token, "GET", p.FETCH_FILES, params={"file_ids": ",".join(sorted(pending))}) or {}
        for file in data.get("files") or [] if isinstance(data, dict) else []:
            if not isinstance(file, dict) or file.get("id") not in pending:
                continue
            if file.get("status") == p.FILE_READY:
                pending.discard(file["id"])
            elif file.get("status") == p.FILE_FAILED:
                raise Unprocessable(f"The web chat could not read the file '{names.get(file['id'], file['id'])}'.",
                                    param="messages")
        if pending and time.monotonic() > deadline:
            raise UpstreamTimeout(f"The web chat did not finish reading the files within {timeout:g} s "
                                  "(FREESEEK_WEB_UPLOAD_TIMEOUT).")
        if pending:
            cancel.wait(POLL_SECONDS)
