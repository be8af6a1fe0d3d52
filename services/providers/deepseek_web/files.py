"""Images and files sent with a request: read from the messages, fetched if linked, uploaded to the web chat."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from services.credentials import Token
from services.errors import BadRequest, PayloadTooLarge, Unprocessable, UpstreamTimeout
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.background import Background, results
from services.providers.deepseek_web.calls import WebCalls
from services.providers.http_body import READ_ERRORS
from services.settings import Settings

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class Attachment:
    """One image or document to upload."""

    name: str
    mimetype: str
    data: bytes


# IPv6 ranges that carry an IPv4 address to a gateway that may reach private networks (NAT64).
_TRANSLATED = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: str) -> bool:
    """Tell whether an IP address is on the public internet (not loopback, private, link-local or reserved)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        elif (ip.sixtofour or ip.teredo or ip.is_site_local or int(ip) < 2 ** 32
              or any(ip in net for net in _TRANSLATED)):
            return False  # forms that embed an IPv4 address (or a retired local range) are never fetched
    return ip.is_global and not ip.is_multicast


class _PublicOnly:
    """A connection that refuses to talk to a non-public peer."""

    # Checked on the connected socket itself, so a DNS answer that changes between our check and the
    # connect cannot point it at a private server.
    def _new_conn(self):
        sock = super()._new_conn()
        if not is_public(sock.getpeername()[0]):
            sock.close()
            raise OSError("refused: not a public address")
        return sock


class _PublicHTTP(_PublicOnly, HTTPConnection):
    pass


class _PublicHTTPS(_PublicOnly, HTTPSConnection):
    pass


class _PublicAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        http = type("PublicHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": _PublicHTTP})
        https = type("PublicHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": _PublicHTTPS})
        self.poolmanager.pool_classes_by_scheme = {"http": http, "https": https}


class LinkFetcher:
    """Fetches the http(s) URLs a client names, only from public addresses, with a size cap and a timeout."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.max_redirects = 3
        self.http.mount("http://", _PublicAdapter())
        self.http.mount("https://", _PublicAdapter())

    def check_host(self, url: str) -> None:
        """Refuse a URL whose host is, or resolves to, a non-public address."""
        host = ""
        try:
            host = urlsplit(url).hostname or ""
            addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
        except (socket.gaierror, UnicodeError, ValueError):
            raise BadRequest(f"Cannot resolve the host of the image/file URL '{host}'.", param="messages") from None
        if not addresses or not all(is_public(a) for a in addresses):
            raise BadRequest(f"The image/file URL's host '{host}' is not a public address; the gateway only fetches "
                             "public URLs (send the data inline as a data: URL instead).", param="messages")

    def fetch(self, url: str) -> Attachment:
        """Download one linked image or file."""
        self.check_host(url)
        cap, deadline = self.settings.web_max_file_bytes, time.monotonic() + self.settings.web_fetch_timeout
        try:
            with self.http.get(url, stream=True, timeout=(self.settings.web_fetch_timeout,) * 2) as response:
                if response.status_code != 200:
                    raise BadRequest(f"Fetching the image/file URL gave HTTP {response.status_code}.",
                                     param="messages")
                data = b""
                # read1 returns what has arrived, so a server that drips bytes meets the deadline too.
                while chunk := response.raw.read1(65536, decode_content=True):
                    data += chunk
                    if len(data) > cap:
                        raise too_large(cap)
                    if time.monotonic() > deadline:
                        raise BadRequest(f"Fetching the image/file URL took longer than "
                                         f"{self.settings.web_fetch_timeout:g} s (FREESEEK_WEB_FETCH_TIMEOUT).",
                                         param="messages")
                mimetype = response.headers.get("Content-Type", "application/octet-stream").split(";")[0]
        except (requests.RequestException, *READ_ERRORS):
            raise BadRequest("Could not fetch the image/file URL (unreachable, or not a public address).",
                             param="messages") from None
        name = urlsplit(url).path.rsplit("/", 1)[-1] or "file"
        return Attachment(name, mimetype, data)


def too_large(cap: int) -> PayloadTooLarge:
    """The error for a file over the size limit."""
    return PayloadTooLarge(f"A file or image is larger than {cap} bytes (FREESEEK_WEB_MAX_FILE_BYTES).",
                           param="messages")


def decode_data_url(url: str, name: str, cap: int) -> Attachment:
    """Read a `data:<type>[;base64],<data>` URL."""
    head, comma, payload = url[5:].partition(",")
    if not comma:
        raise BadRequest("A data: URL has no ',' before its data.", param="messages")
    mimetype, *flags = head.split(";")
    try:
        if "base64" in (flag.strip().lower() for flag in flags):
            data = base64.b64decode("".join(unquote_to_bytes(payload).decode("ascii").split()), validate=True)
        else:
            data = unquote_to_bytes(payload)
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        raise BadRequest("A data: URL's base64 data is malformed.", param="messages") from None
    if len(data) > cap:
        raise too_large(cap)
    extension = (mimetype.split("/")[-1] or "bin").split("+")[0]
    return Attachment(name if "." in name else f"{name}.{extension}", mimetype or "application/octet-stream", data)


def collect(messages: list[dict], settings: Settings, fetcher: LinkFetcher) -> list[Attachment]:
    """Every image and file part of these messages, decoded or fetched, within the configured limits."""
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
    out = []
    for url, name in found:
        if not isinstance(url, str) or not url:
            raise BadRequest("An image or file part has no URL or data.", param="messages")
        if url.startswith("data:"):
            out.append(decode_data_url(url, name, settings.web_max_file_bytes))
        elif url.startswith(("http://", "https://")):
            out.append(fetcher.fetch(url))
        else:
            raise BadRequest("An image/file URL must be a data: URL or an http(s) URL.", param="messages")
    return out


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
