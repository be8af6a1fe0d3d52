"""Linked images and files: fetched only from public addresses, all of a request's at once, within one deadline."""

from __future__ import annotations

import ipaddress
import queue
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from services.errors import BadRequest
from services.providers.deepseek_web.files import Attachment, file_name, too_large, upload_type
from services.providers.http_body import READ_ERRORS
from services.settings import Settings

# A timeout as requests, urllib3 or the socket reports it.
_TIMEOUTS = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
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
    """Fetches the http(s) URLs a client names, only from public addresses, with a size cap and a deadline."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.max_redirects = 3
        self.http.mount("http://", _PublicAdapter())
        self.http.mount("https://", _PublicAdapter())

    def fetch_all(self, urls: list[str]) -> dict[str, Attachment]:
        """Download every URL side by side, all within one FREESEEK_WEB_FETCH_TIMEOUT; the first failure stands."""
        deadline = time.monotonic() + self.settings.web_fetch_timeout
        outcomes: queue.SimpleQueue = queue.SimpleQueue()

        def fetch(url: str) -> None:
            try:
                outcomes.put((url, self.fetch(url, deadline)))
            except Exception as exc:  # handed to the waiting caller, which raises it
                outcomes.put((url, exc))
        unique = list(dict.fromkeys(urls))
        for url in unique:
            threading.Thread(target=fetch, args=(url,), daemon=True).start()
        fetched: dict[str, Attachment] = {}
        while len(fetched) < len(unique):
            # Every fetch ends by the deadline on its own; a failure is reported without waiting for the rest.
            url, outcome = outcomes.get()
            if isinstance(outcome, Exception):
                raise outcome
            fetched[url] = outcome
        return fetched

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

    def fetch(self, url: str, deadline: float) -> Attachment:
        """Download one linked image or file by the deadline (a time.monotonic() value)."""
        self.check_host(url)
        cap = self.settings.web_max_file_bytes
        try:
            left = max(0.01, deadline - time.monotonic())
            with self.http.get(url, stream=True, timeout=(left, left)) as response:
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
                        raise self._late()
                mimetype = upload_type(response.headers.get("Content-Type") or "application/octet-stream",
                                       "The image/file URL's Content-Type")
        except READ_ERRORS as exc:
            if isinstance(exc, _TIMEOUTS) or time.monotonic() >= deadline:
                raise self._late() from None
            raise BadRequest("Could not fetch the image/file URL (unreachable, or not a public address).",
                             param="messages") from None
        return Attachment(file_name(urlsplit(url).path.rsplit("/", 1)[-1] or "file", mimetype), mimetype, data)

    def _late(self) -> BadRequest:
        return BadRequest(f"Fetching the image/file URLs took longer than {self.settings.web_fetch_timeout:g} s "
                          "(FREESEEK_WEB_FETCH_TIMEOUT, one deadline for all the links of a request).",
                          param="messages")
