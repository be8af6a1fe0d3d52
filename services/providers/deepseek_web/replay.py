"""Replay a capture or a browser's HAR file through the provider's parser: the answer it makes, and what it did
not know. `python bin/replay-web FILE [--keep-text] [--save OUT]` (see the README, "When the web chat changes")."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from services.events import Text
from services.providers.deepseek_web import capture
from services.providers.deepseek_web import drift as d
from services.providers.deepseek_web import protocol as p
from services.providers.deepseek_web.stream import WebStreamError, WebStreamParser
from services.sse import read_events


@dataclass
class Replayed:
    """What the parser made of a recorded answer."""

    answer: str = ""
    reasoning: str = ""
    citations: list[dict] = field(default_factory=list)
    finish: str | None = None
    error: str | None = None
    unknown: list[dict] = field(default_factory=list)   # {"kind", "name", "count"}
    streams: int = 0

    def view(self) -> dict:
        """The result as JSON (what an expected file of tests/captures holds)."""
        return {"answer": self.answer, "reasoning": self.reasoning, "citations": self.citations,
                "finish": self.finish, "error": self.error, "unknown": self.unknown}


def replay(exchanges: list[dict]) -> list[Replayed]:
    """Every answer of the exchanges: a completion starts one, the continues after it resume it."""
    answers: list[list[dict]] = []
    for exchange in exchanges:
        if exchange.get("call") != p.CONTINUE or not answers:
            answers.append([])
        answers[-1].append(exchange)
    return [replay_answer(answer) for answer in answers]


def replay_answer(exchanges: list[dict]) -> Replayed:
    """Feed one answer's streams in order (a completion, then its continues) through the parser, as the provider
    does."""
    drift, out, parser = d.Drift(quiet=True), Replayed(), None
    answer, reasoning = [], []
    for exchange in exchanges:
        kind = d.content_type(exchange.get("headers") or {})
        if kind != p.STREAM_TYPE:
            drift.note(d.CONTENT_TYPE, kind or "none", {"status": exchange.get("status")})
        parser = WebStreamParser(resume=parser, drift=drift) if parser else WebStreamParser(drift=drift)
        out.streams += 1
        try:
            for sse in read_events([exchange["body"].encode()]):
                for event in parser.feed(sse):
                    if isinstance(event, Text):
                        answer.append(event.content)
                        reasoning.append(event.reasoning)
                if parser.closed:
                    break
        except WebStreamError as error:
            out.error = f"{error.kind}: {error}"
            break
    out.answer, out.reasoning = "".join(answer), "".join(reasoning)
    if parser is not None:
        out.finish = parser.finish
        if parser.hint is not None and not parser.received and out.error is None:
            out.error = f"{parser.hint.kind}: {parser.hint}"  # a hint instead of an answer, as the provider reads it
        out.citations = [{"cite_index": r.get("cite_index"), "title": r.get("title"), "url": r.get("url")}
                         for r in parser.search_results if isinstance(r, dict)]
    out.unknown = [{"kind": s.kind, "name": s.name, "count": s.count} for s in drift.shapes()]
    return out


def report(result: Replayed) -> str:
    """The replay as a person reads it."""
    lines = [f"streams:    {result.streams}", f"finish:     {result.finish}"]
    if result.error:
        lines.append(f"error:      {result.error}")
    lines += ["reasoning:", _indent(result.reasoning), "answer:", _indent(result.answer)]
    lines.append(f"citations:  {len(result.citations)}")
    lines += [f"  [{c['cite_index']}] {c['title']} {c['url']}" for c in result.citations]
    lines.append(f"unknown shapes: {len(result.unknown)}" if result.unknown else "unknown shapes: none")
    lines += [f"  {u['kind']:<13} {u['name']}  x{u['count']}" for u in result.unknown]
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in (text or "(none)").split("\n"))


def main(argv: list[str] | None = None) -> int:
    """Replay one file; exit 1 when it holds a shape the parser does not know, 2 when it cannot be read."""
    parser = argparse.ArgumentParser(prog="replay-web", description=__doc__.split("\n")[0])
    parser.add_argument("file", help="a capture (from check-web or FREESEEK_WEB_CAPTURE_DIR) or a HAR 1.2 file")
    parser.add_argument("--keep-text", action="store_true",
                        help="keep a HAR file's prompt and answer text (default: same-length placeholders)")
    parser.add_argument("--save", metavar="OUT", help="also write the exchanges as a capture file (a test fixture)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    try:
        exchanges = capture.load(args.file, args.keep_text)
    except (OSError, ValueError, KeyError) as error:
        print(f"replay-web: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    if not exchanges:
        print(f"replay-web: {args.file} holds no completion or continue response", file=sys.stderr)
        return 2
    if args.save:
        capture.write(Path(args.save), exchanges, redacted=not args.keep_text)  # redacted as asked when loaded
    results = replay(exchanges)
    if args.json:
        print(json.dumps([r.view() for r in results], ensure_ascii=False, indent=1))
    for i, result in enumerate(results if not args.json else (), 1):
        print(f"== answer {i} of {len(results)}\n{report(result)}")
    return 1 if any(r.unknown for r in results) else 0
