"""The soak's traffic: clients sending a mix of requests (API and web tokens, streamed and whole, tool calls,
failures asked for, disconnects) to the gateway, each outcome judged against what the request asked for."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import gevent

from bench.client import Connection, HttpError

PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
FAILURES = ("refused", "reset", "5xx", "inband")
FAIL_TOKENS = 4         # tokens per kind of failure: a failed token rests 5 s, the next failure takes another
FAIL_SHARE = 0.05       # of all requests: an upstream failure, asked for by the token
DISCONNECT_SHARE = 0.05  # of all requests: a stream the client leaves after its first piece
STREAM_SHARE = 0.6
TOOLS_SHARE = 0.2
WEB_SHARE = 0.45
MESSAGES_SHARE = 0.25    # of all requests: Anthropic's Messages dialect (the rest OpenAI's chat completions)
PIECES, PACE = 20, 0.05  # an answer's pieces and the seconds between them: about a second an answer
THINK = (0.2, 1.0)       # seconds a client waits between two requests
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "The weather of a city.",
                                            "parameters": {"type": "object", "properties": {
                                                "city": {"type": "string"}}, "required": ["city"]}}}
CALL_MARKUP = ('<tool_calls>\n<invoke name="get_weather">\n<parameter name="city">Paris</parameter>\n'
               '</invoke>\n</tool_calls>')
KEPT_EXAMPLES = 20


def web_text(prompt: str) -> list[str]:
    """The fake web chat's answer: a call when the gateway described the weather tool, else some words."""
    if "get_weather" in prompt:
        return ["Let me look.\n", CALL_MARKUP[:40], CALL_MARKUP[40:]]  # a call starts a line
    return [f"word{i} " for i in range(PIECES)]


def script_web(web) -> dict[str, list[str]]:
    """Script the fake web chat's failing accounts; the web tokens of each kind of failure."""
    tokens = {"refused": [f"webrefused:soak-{k}" for k in range(FAIL_TOKENS)]}
    knobs = {"reset": {"cut_after": 3, "pace": PACE}, "5xx": {"state": "server_error"},
             "inband": {"toast": True}}
    for how, knob in knobs.items():
        tokens[how] = [web.account(f"soak-fail-{how}-{k}", **knob) for k in range(FAIL_TOKENS)]
    return tokens


def api_fail_tokens() -> dict[str, list[str]]:
    """The API tokens of each kind of failure (the bench upstream fails by key; `refused` names no listener)."""
    tokens = {how: [f"ollama:fail-{how}-{k}" for k in range(FAIL_TOKENS)] for how in FAILURES}
    tokens["refused"] = [f"refused:soak-{k}" for k in range(FAIL_TOKENS)]
    return tokens


@dataclass
class Plan:
    """One request: where it goes, how it is read, and what it asks for."""

    web: bool
    stream: bool
    tools: bool
    dialect: str = "openai"
    fail: str | None = None
    disconnect: bool = False

    @property
    def label(self) -> str:
        """The request's kind, as counted: surface/dialect/stream or whole[/tools]."""
        return (f"{'web' if self.web else 'api'}/{self.dialect}/{'stream' if self.stream else 'whole'}"
                f"{'/tools' if self.tools else ''}")

    def body(self, client: int) -> dict:
        """The request body in the plan's dialect."""
        body = {"model": "deepseek-chat", "stream": self.stream,
                "messages": [{"role": "user", "content": f"chunks={PIECES} pace={PACE} (client {client})"}]}
        if self.dialect == "anthropic":
            body["max_tokens"] = 256
            if self.tools:
                f = WEATHER["function"]
                body["tools"] = [{"name": f["name"], "description": f["description"], "input_schema": f["parameters"]}]
        elif self.tools:
            body["tools"] = [WEATHER]
        return body


def plan(rng: random.Random) -> Plan:
    """A request drawn from the mix."""
    roll = rng.random()
    p = Plan(web=rng.random() < WEB_SHARE, stream=rng.random() < STREAM_SHARE, tools=rng.random() < TOOLS_SHARE,
             dialect="anthropic" if rng.random() < MESSAGES_SHARE else "openai")
    if roll < FAIL_SHARE:
        p.fail = rng.choice(FAILURES)
    elif roll < FAIL_SHARE + DISCONNECT_SHARE:
        p.stream, p.disconnect = True, True
    return p


@dataclass
class Tally:
    """Outcomes by kind, and a few examples of each unexpected one."""

    outcomes: Counter = field(default_factory=Counter)
    requests: Counter = field(default_factory=Counter)
    examples: list[dict] = field(default_factory=list)
    redis_gaps: list[list[float]] = field(default_factory=list)  # [stopped, restarted + grace], wall clock

    def unexpected(self) -> int:
        """How many outcomes the traffic did not ask for."""
        return sum(n for outcome, n in self.outcomes.items() if outcome.startswith("unexpected"))


class Traffic:
    """One client greenlet per web token (each its own account), sending requests until `stop()`; outcomes land
    in `tally`."""

    def __init__(self, port: int, web_tokens: list[str], web_fail: dict, seed: int = 26) -> None:
        self.port, self.web_tokens, self.web_fail = port, web_tokens, web_fail
        self.api_fail = api_fail_tokens()
        self.tally = Tally()
        self.seed = seed
        self._running = True
        self._greenlets: list = []

    def start(self) -> None:
        """Start the clients."""
        self._greenlets = [gevent.spawn(self._client, i) for i in range(len(self.web_tokens))]

    def stop(self, seconds: float = 60) -> None:
        """Let each client finish its request (killed after `seconds`)."""
        self._running = False
        gevent.joinall(self._greenlets, timeout=seconds)
        gevent.killall(self._greenlets, timeout=5)

    def _client(self, i: int) -> None:
        rng = random.Random(self.seed * 1000 + i)
        gevent.sleep(rng.uniform(0, 2))  # clients start spread out
        conn = None
        while self._running:
            p = plan(rng)
            token = self._token(p, i, rng)
            started = time.time()
            try:
                conn = conn or Connection(self.port, timeout=90)
                outcome, detail, keep = self._exchange(conn, p, p.body(i), token)
            except (HttpError, OSError, ValueError) as exc:
                outcome, detail, keep = "unexpected:connection", f"{type(exc).__name__}: {exc}", False
            outcome = self._judge(p, outcome, detail, started)
            self.tally.requests[p.label] += 1
            self.tally.outcomes[outcome] += 1
            if outcome.startswith("unexpected") and len(self.tally.examples) < KEPT_EXAMPLES:
                self.tally.examples.append({"at": round(started, 1), "request": p.label, "fail": p.fail,
                                            "outcome": outcome, "detail": detail[:300]})
            if not keep and conn is not None:
                conn.close()
                conn = None
            gevent.sleep(rng.uniform(*THINK))
        if conn is not None:
            conn.close()

    def _token(self, p: Plan, i: int, rng: random.Random) -> str:
        """The client's own web token or the API token, or one that fails as the plan asks."""
        if p.fail:
            return rng.choice((self.web_fail if p.web else self.api_fail)[p.fail])
        return self.web_tokens[i] if p.web else "ollama:bench"

    def _exchange(self, conn: Connection, p: Plan, body: dict, token: str) -> tuple[str, str, bool]:
        """Send one request and read its answer: (outcome, detail, whether the connection can be reused)."""
        conn.post(PATHS[p.dialect], body, token)
        status, headers = conn.head()
        if status != 200:
            data = b"".join(conn.body(headers))
            return f"status:{status}", data.decode(errors="replace"), headers.get("connection") != "close"
        if p.disconnect:
            next(iter(conn.body(headers)), None)
            return "disconnected", "", False
        data = b"".join(conn.body(headers))
        return _read_ok(p, data), data[-300:].decode(errors="replace"), True

    def _judge(self, p: Plan, outcome: str, detail: str, started: float) -> str:
        """Name an outcome: what the request asked for, or unexpected."""
        if outcome in ("ok", "disconnected"):
            return outcome if not p.fail else "unexpected:failure answered as a success"
        # The store's 503 (OpenAI's shape names its code, Anthropic's its message).
        store = "store_unavailable" in detail or "shared store" in detail
        if outcome == "status:503" and store and self._in_gap(started):
            return "redis restart: 503"
        if p.fail and outcome in ("status:429", "status:502", "status:503", "status:504", "error in answer"):
            return f"failure asked for ({p.fail}): {outcome}"
        return outcome if outcome.startswith("unexpected") else f"unexpected:{outcome}"

    def _in_gap(self, started: float) -> bool:
        """Whether a request that started then and ends now met Redis' restart."""
        now = time.time()
        return any(started <= end and now >= begin for begin, end in self.tally.redis_gaps)


def _read_ok(p: Plan, data: bytes) -> str:
    """Judge a 200 answer: complete, with a call when tools were offered."""
    anthropic = p.dialect == "anthropic"
    if p.stream:
        text = data.decode(errors="replace").replace(" ", "")
        if '"error"' in text:
            return "error in answer"
        if not (text.rstrip().endswith("data:[DONE]") or anthropic and "event:message_stop" in text):
            return "unexpected:stream cut"
        wanted = '"stop_reason":"tool_use"' if anthropic else '"finish_reason":"tool_calls"'
        return "unexpected:no tool call" if p.tools and wanted not in text else "ok"
    answer = json.loads(data)
    if "error" in answer:  # the status was sent (a keep-alive newline) before the failure
        return "error in answer"
    if anthropic:
        reason, wanted = answer.get("stop_reason"), "tool_use" if p.tools else "end_turn"
    else:
        reason, wanted = ((answer.get("choices") or [{}])[0].get("finish_reason"),
                          "tool_calls" if p.tools else "stop")
    return "ok" if reason == wanted else f"unexpected:finish_reason {reason}"
