"""The tool-calling benchmark: the gateway on the fake web chat, answering with each accepted markup variant
(and with text that only looks like calls), split in two at every position, stream and non-stream."""

from __future__ import annotations

import json
import logging
import time


def _cases(stride: int) -> list[tuple[str, str, list | None, int]]:
    """(case, answer text, expected calls or None, split position) for every split `stride` apart; a case's
    name starts with its variant (whose text before the calls wt.said_before gives)."""
    from tests.fakes import web_tools as wt
    cases = []
    for variant in wt.VARIANTS:
        for label, calls in (("one", wt.ONE_CALL), ("two", wt.TWO_CALLS)):
            text = wt.call_answer(variant, calls)
            cases += [(f"{variant}/{label}", text, calls, cut) for cut in range(1, len(text), stride)]
    for name, text in wt.NOT_CALLS.items():
        cases += [(f"not_a_call/{name}", text, None, cut) for cut in range(1, len(text), stride)]
    return cases


def _read(response, stream: bool) -> tuple[str, list, str | None]:
    """(content, [(name, arguments)], finish_reason) of one reply, streamed chunks assembled by index."""
    if not stream:
        choice = response.get_json()["choices"][0]
        calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
                 for c in choice["message"].get("tool_calls") or []]
        return choice["message"]["content"] or "", calls, choice["finish_reason"]
    content, pieces, finish = "", {}, None
    for block in response.get_data(as_text=True).split("\n\n"):
        if not block.startswith("data: {"):
            continue
        chunk = json.loads(block[6:])
        if not chunk.get("choices"):
            continue
        choice = chunk["choices"][0]
        content += choice["delta"].get("content") or ""
        finish = choice["finish_reason"] or finish
        for piece in choice["delta"].get("tool_calls") or []:
            call = pieces.setdefault(piece["index"], ["", ""])
            call[0] += piece.get("function", {}).get("name") or ""
            call[1] += piece.get("function", {}).get("arguments") or ""
    return content, [(n, json.loads(a)) for _, (n, a) in sorted(pieces.items())], finish


def run(stride: int = 1) -> dict:
    """Every case through the gateway; counts of calls recovered exactly, markup leaked, false calls."""
    from app import create_app
    from tests.fakes import web_tools as wt
    from tests.fakes.deepseek_web import FakeWebChat
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    rows: dict[str, dict] = {}
    started, started_at = time.monotonic(), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with FakeWebChat(difficulty=100) as web:
        # The fake's one account answers back to back: a person's pace (account care) is off here.
        unpaced = {name: "0" for name in ("FREESEEK_WEB_MIN_GAP_SECONDS", "FREESEEK_WEB_GAP_JITTER_SECONDS",
                                          "FREESEEK_WEB_HOURLY_BUDGET", "FREESEEK_WEB_DAILY_BUDGET")}
        app = create_app({"env": {"FREESEEK_WEB_DELETE_SESSIONS": "false", "FREESEEK_LOG_LEVEL": "WARNING", **unpaced},
                          "providers": {"deepseek-web": {"base_url": web.url}}})
        client = app.test_client()
        for case, text, expected, cut in _cases(stride):
            web.account("bench-tools", text=wt.split_at(text, cut))
            for stream in (False, True):
                response = client.post("/v1/chat/completions", headers={"Authorization": "Bearer bench-tools"},
                                       json={"model": "deepseek-chat", "stream": stream, "tools": wt.TOOLS,
                                             "messages": [{"role": "user", "content": "Weather in Paris?"}]})
                content, calls, finish = _read(response, stream)
                row = rows.setdefault(case, {"answers": 0, "recovered": 0, "leaked": 0, "false_calls": 0,
                                             "text_changed": 0})
                row["answers"] += 1
                if expected is not None:
                    before = wt.said_before(case.partition("/")[0])
                    row["recovered"] += (calls, content, finish) == (expected, before, "tool_calls")
                    row["leaked"] += any(sign in content for sign in wt.MARKUP_SIGNS)
                else:
                    row["false_calls"] += bool(calls)
                    row["text_changed"] += content != text
    totals = {key: sum(r[key] for r in rows.values()) for key in next(iter(rows.values()))}
    calls_expected = sum(r["answers"] for case, r in rows.items() if not case.startswith("not_a_call"))
    seconds = time.monotonic() - started
    return {"stride": stride, "seconds": seconds, "drift": drift(stride),
            "started": started_at,
            "cases": rows, "totals": totals,
            "call_answers": calls_expected, "recovered_pct": 100 * totals["recovered"] / max(1, calls_expected)}


def drift(stride: int = 1) -> dict:
    """The generated drift corpus through the streaming sieve, split in two at every `stride`th position and
    sent whole: calls recovered exactly (with the text before), markup leaked, false calls, text changed."""
    from services.events import Text
    from services.tools.request import ToolRequest
    from services.tools.sieve import ToolSieve
    from tests.fakes import drift as corpus
    from tests.fakes import web_tools as wt
    logging.getLogger("freeseek").setLevel(logging.WARNING)
    request = ToolRequest.from_body({"tools": corpus.TOOLS})
    started = time.monotonic()
    totals = {"call_answers": 0, "recovered": 0, "leaked": 0, "text_answers": 0, "false_calls": 0, "text_changed": 0}
    cases = corpus.call_cases() + corpus.look_alikes()
    for case in cases:
        for cut in [0, *range(1, len(case.text), stride)]:
            sieve, events = ToolSieve(request), []
            for piece in ([case.text[:cut], case.text[cut:]] if cut else [case.text]):
                events += sieve.feed(piece)
            events += sieve.flush()
            content = "".join(e.content for e in events if isinstance(e, Text))
            calls = [(c.name, json.loads(c.arguments)) for c in sieve.calls]
            if case.calls is not None:
                totals["call_answers"] += 1
                totals["recovered"] += (content, calls) == (case.before, case.calls)
                totals["leaked"] += any(sign in content for sign in wt.MARKUP_SIGNS)
            else:
                totals["text_answers"] += 1
                totals["false_calls"] += bool(calls)
                totals["text_changed"] += content != case.text
    return {"stride": stride, "seconds": time.monotonic() - started, "call_cases": len(corpus.call_cases()),
            "look_alikes": len(corpus.look_alikes()), **totals,
            "recovered_pct": 100 * totals["recovered"] / max(1, totals["call_answers"]),
            "false_call_pct": 100 * totals["false_calls"] / max(1, totals["text_answers"])}
