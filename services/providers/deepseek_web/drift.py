"""The drift watch: every shape the web chat sends that the provider does not know, counted by kind."""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from services.providers.deepseek_web import protocol as p

log = logging.getLogger("freeseek")

# The kinds of shape, as the `kind` label says them.
EVENT, PATH, FRAGMENT, CODE, STATUS, CONTENT_TYPE, FIELD, SHAPE, NOTICE = (
    "event", "path", "fragment", "code", "status", "content_type", "field", "shape", "notice")
MAX_NAMES = 20          # distinct names per kind before the rest count as "other" (bounded label values)
OTHER = "other"
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_./:*=+-]")
_INDEX = re.compile(r"(?<=/)-?\d+(?=/|$)|^-?\d+(?=/|$)")
# Keys whose values are identities or secrets: never in a sample.
SECRET_KEYS = re.compile(r"(^|_)(id|ids|token|signature|salt|challenge|session|cookie|email|mobile|phone)s?$",
                         re.IGNORECASE)
SAMPLE_CHARS = 160      # a sample's length in the log
TEXT_CHARS = 3          # characters of any string value a sample keeps


@dataclass
class Shape:
    """One unknown shape: how often it came, when first and last, and a redacted sample."""

    kind: str
    name: str
    count: int
    first_seen: float
    last_seen: float
    sample: str

    def view(self) -> dict:
        """The shape as the page shows it (no sample: that goes to the log only)."""
        return {"kind": self.kind, "name": self.name, "count": self.count,
                "first_seen": round(self.first_seen), "last_seen": round(self.last_seen)}


def normalise_path(path: str) -> str:
    """A patch path with its indices replaced (`response/fragments/-1/content` -> `response/fragments/*/content`)."""
    return _INDEX.sub("*", path)


@functools.lru_cache(maxsize=512)  # a stream repeats a handful of paths thousands of times
def known_path(path: str) -> bool:
    """Whether the provider knows a patch path (a path holding a skipped word is known: it is skipped)."""
    return normalise_path(path) in p.KNOWN_PATHS or any(word in path for word in p.SKIPPED_PATH_WORDS)


def clean_name(name: object) -> str:
    """A name as a label value: short, printable, no quotes."""
    return _NAME_CHARS.sub("?", str(name))[:60] or "?"


def redact(value, depth: int = 0):
    """A sample of a value: its structure, ids and secrets blanked, strings cut to a few characters."""
    if depth > 4:
        return "…"
    if isinstance(value, dict):
        return {str(k)[:40]: ("<redacted>" if SECRET_KEYS.search(str(k)) else redact(v, depth + 1))
                for k, v in list(value.items())[:12]}
    if isinstance(value, list):
        return [redact(v, depth + 1) for v in value[:3]] + (["…"] if len(value) > 3 else [])
    if isinstance(value, str):
        return value[:TEXT_CHARS] + (f"…({len(value)})" if len(value) > TEXT_CHARS else "")
    return value


def parsed(text: str):
    """JSON text as its value (for a sample), or the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def sample_text(value) -> str:
    """A redacted sample as one short line."""
    return json.dumps(redact(value), ensure_ascii=False)[:SAMPLE_CHARS]


class Drift:
    """Counts unknown shapes of one worker; each new one is logged once, with a redacted sample."""

    def __init__(self, max_names: int = MAX_NAMES, quiet: bool = False) -> None:
        self.max_names, self.quiet = max_names, quiet
        self._shapes: dict[tuple[str, str], Shape] = {}
        self._names: dict[str, int] = {}
        self._lock = threading.Lock()

    def note(self, kind: str, name: object, sample=None) -> None:
        """Count one unknown shape of a kind (`sample` is redacted here, and only logged the first time)."""
        name, now = clean_name(name), time.time()
        with self._lock:
            key = (kind, name)
            shape = self._shapes.get(key)
            if shape is None and self._names.get(kind, 0) >= self.max_names:
                key = (kind, OTHER)
                shape = self._shapes.get(key)
            if shape is not None:
                shape.count += 1
                shape.last_seen = now
                return
            self._names[kind] = self._names.get(kind, 0) + 1
            shape = self._shapes[key] = Shape(kind, key[1], 1, now, now, sample_text(sample))
        if not self.quiet:
            log.warning("web chat drift: a new %s %r (sample %s); the web chat may have changed: see the README, "
                        "\"When the web chat changes\"", kind, name, shape.sample)

    def shapes(self) -> list[Shape]:
        """Every shape seen, most frequent first."""
        with self._lock:
            return sorted((Shape(**vars(s)) for s in self._shapes.values()), key=lambda s: (-s.count, s.kind, s.name))

    def since(self, mark: dict[tuple[str, str], int]) -> list[str]:
        """The shapes counted since `mark` (a `counts()`), as `kind name` lines."""
        return [f"{s.kind} {s.name}" for s in self.shapes() if s.count > mark.get((s.kind, s.name), 0)]

    def counts(self) -> dict[tuple[str, str], int]:
        """How often each shape came so far."""
        return {(s.kind, s.name): s.count for s in self.shapes()}

    def view(self) -> dict:
        """The JSON the page's drift panel reads."""
        shapes = self.shapes()
        return {"unknown_total": sum(s.count for s in shapes), "shapes": [s.view() for s in shapes]}


def check_reply(drift: Drift, path: str, data) -> None:
    """Note fields, challenge fields and file statuses a call's reply has that the provider does not know."""
    expected = p.EXPECTED_FIELDS.get(path)
    if expected is not None and isinstance(data, dict):
        where = path.rsplit("/api/v0/", 1)[-1]
        for key in data.keys() - expected:
            drift.note(FIELD, f"{where}:{key}", {key: data[key]})
        nested = data.get("chat_session")
        for key in (nested.keys() - p.SESSION_FIELDS if isinstance(nested, dict) else ()):
            drift.note(FIELD, f"{where}:chat_session.{key}", {key: nested[key]})
        challenge = data.get("challenge")
        for key in (challenge.keys() - p.CHALLENGE_FIELDS if isinstance(challenge, dict) else ()):
            drift.note(FIELD, f"{where}:challenge.{key}", {key: challenge[key]})
    files = data.get("files") if path == p.FETCH_FILES and isinstance(data, dict) else None
    for file in (files if isinstance(files, list) else [data] if path == p.UPLOAD_FILE else []):
        status = file.get("status") if isinstance(file, dict) else None
        if status is not None and status not in p.FILE_STATUSES:
            drift.note(STATUS, f"file:{status}", file)


def content_type(headers) -> str:
    """A reply's media type, without its parameters."""
    return (headers.get("Content-Type") or "").split(";")[0].strip().lower()


class DriftCollector(Collector):
    """`freeseek_web_unknown_total{kind,name}`, read from the drift watch at scrape time."""

    def __init__(self, drift: Drift):
        self._drift = drift

    def describe(self):
        """Name the family without reading the counts."""
        return [CounterMetricFamily("freeseek_web_unknown", "Shapes the web chat sent that the provider does "
                                    "not know, by kind and name.", labels=["kind", "name"])]

    def collect(self):
        """Count every unknown shape seen so far."""
        family = CounterMetricFamily("freeseek_web_unknown", "Shapes the web chat sent that the provider does "
                                     "not know, by kind and name.", labels=["kind", "name"])
        for shape in self._drift.shapes():
            family.add_metric([shape.kind, shape.name], shape.count)
        yield family
