"""A fake OpenAI-compatible provider: a real HTTP/1.1 server on loopback, scripted per API key."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from tests.fakes.loopback import LoopbackServer


@dataclass
class Script:
    """How the fake answers requests made with one key."""

    status: int = 200
    error_body: str | dict | None = None
    headers: dict = field(default_factory=dict)
    text: list[str] | None = None          # content pieces; default: "echo: <last user message>" in 3 pieces
    reasoning: list[str] = field(default_factory=list)
    reasoning_style: str = "reasoning_content"  # or "reasoning", or "think" (<think> tags inside content)
    usage_style: str = "openai"            # "openai" (choices: [] chunk if asked), "deepseek" (on last chunk), "none"
    keepalives: int = 0                    # ": keep-alive" comments before the first content
    pace: float = 0.0                      # seconds between events
    cut_after: int | None = None           # break the connection after this many content events
    stall: bool = False                    # send comments only, never content, until the client leaves
    split_bytes: int = 0                   # write the body in pieces this small (lines split across writes)
    burst: bool = False                    # write the whole body at once (as a fast upstream's packets arrive)
    json_reply: bool = False               # ignore `stream` and answer with one JSON body
    mid_stream_error: bool = False         # send a `data: {"error": ...}` after the first content
    tool_calls: list | None = None         # tool-call deltas, one per chunk, sent as given
    finish: str | None = None              # the finish reason (default: "tool_calls" after calls, else "stop")


class FakeOpenAI(LoopbackServer):
    """Start with `with FakeOpenAI() as fake:`; `fake.url` is its base URL, `fake.requests` what it received."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script] = {}
        self.requests: list[dict] = []
        self.dead_keys: set[str] = set()
        self.disconnected = threading.Event()   # set when a stream's client went away before its end
        super().__init__()
        self.url = self.root + "/v1"

    def script(self, key: str, **kwargs) -> str:
        """Make requests with `key` behave as described; returns the key."""
        self.scripts[key] = Script(**kwargs)
        return key

    def keys_used(self) -> list[str]:
        """The bearer keys of the chat requests received, in order."""
        return [r["key"] for r in self.requests if r["path"].endswith("/chat/completions")]

    # ---- the server --------------------------------------------------------------------------------

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        key = request.headers.get("Authorization", "").removeprefix("Bearer ")
        body = request.get_json(silent=True) if request.method == "POST" else None
        self.requests.append({"path": request.path, "key": key, "headers": dict(request.headers), "json": body})
        if request.path.endswith(("/models", "/user/info")) and request.method == "GET":
            alive = key not in self.dead_keys and self.scripts.get(key, Script()).status != 401
            response = Response(json.dumps({"object": "list", "data": []}) if alive else
                                json.dumps({"error": {"message": "bad key"}}), 200 if alive else 401,
                                mimetype="application/json")
        elif request.path.endswith("/chat/completions") and request.method == "POST":
            response = self._chat(self.scripts.get(key, Script()), body or {})
        else:
            response = Response(json.dumps({"error": {"message": "not found"}}), 404, mimetype="application/json")
        return response(environ, start_response)

    def _chat(self, script: Script, body: dict) -> Response:
        if script.status != 200:
            payload = script.error_body if script.error_body is not None else {"error": {"message": "scripted"}}
            text = payload if isinstance(payload, str) else json.dumps(payload)
            return Response(text, script.status, headers=script.headers,
                            mimetype="application/json" if not isinstance(payload, str) else "text/plain")
        if script.json_reply:
            return Response("\n\n" + json.dumps(self._whole(script, body)), mimetype="application/json")
        events = self._stream(script, body)
        return Response([b"".join(events)] if script.burst else events, mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache"}, direct_passthrough=True)

    def _pieces(self, script: Script, body: dict) -> list[str]:
        if script.text is not None:
            return script.text
        last = next((m.get("content") for m in reversed(body.get("messages", [])) if m.get("role") == "user"), "")
        words = f"echo: {last}"
        third = max(1, len(words) // 3)
        return [words[:third], words[third:2 * third], words[2 * third:]]

    def _usage(self, script: Script, body: dict) -> dict:
        prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
        completion = len(self._pieces(script, body)) + len(script.reasoning)
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
                "prompt_cache_hit_tokens": 2, "completion_tokens_details": {"reasoning_tokens": len(script.reasoning)}}

    def _whole(self, script: Script, body: dict) -> dict:
        message = {"role": "assistant", "content": "".join(self._pieces(script, body))}
        if script.tool_calls:
            message["tool_calls"] = script.tool_calls
        if script.reasoning:
            message["reasoning_content"] = "".join(script.reasoning)
        return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message,
                "finish_reason": script.finish or "stop"}], "usage": self._usage(script, body)}

    def _deltas(self, script: Script, body: dict) -> list[dict]:
        deltas = []
        if script.reasoning_style == "think":
            pieces = ["<th", "ink>"] + script.reasoning + ["</thi", "nk>\n\n"] if script.reasoning else []
            deltas += [{"content": p} for p in pieces]
        else:
            deltas += [{script.reasoning_style: r, "content": None} for r in script.reasoning]
        deltas += [{"content": p} for p in self._pieces(script, body)]
        if script.tool_calls:
            deltas += [{"tool_calls": [call]} for call in script.tool_calls]
        return deltas

    def _stream(self, script: Script, body: dict):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1, "model": body.get("model")}
        try:
            for _ in range(script.keepalives):
                yield from self._write(script, ": keep-alive\n\n")
            if script.stall:
                for _ in range(600):  # bounded: at most about a minute
                    time.sleep(0.1)
                    yield b": keep-alive\n\n"
                return
            yield from self._write(script, _data({**base, "choices": [{"index": 0, "delta": {"role": "assistant",
                                                                                          "content": ""}}]}))
            deltas = self._deltas(script, body)
            for i, delta in enumerate(deltas):
                if script.cut_after is not None and i >= script.cut_after:
                    raise ConnectionAbortedError("scripted cut")
                if script.mid_stream_error and i == 1:
                    yield from self._write(script, _data({"error": {"message": "overloaded", "type": "server_error"}}))
                    return
                chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
                if script.usage_style == "deepseek" and i == len(deltas) - 1:
                    chunk["usage"] = self._usage(script, body)
                yield from self._write(script, _data(chunk))
            finish = script.finish or ("tool_calls" if script.tool_calls else "stop")
            yield from self._write(script, _data({**base, "choices": [{"index": 0, "delta": {},
                                                                         "finish_reason": finish}]}))
            if script.usage_style == "openai" and include_usage:
                yield from self._write(script, _data({**base, "choices": [], "usage": self._usage(script, body)}))
            yield from self._write(script, "data: [DONE]\n\n")
        except GeneratorExit:
            self.disconnected.set()
            raise

    def _write(self, script: Script, text: str):
        if script.pace:
            time.sleep(script.pace)
        data = text.encode()
        if not script.split_bytes:
            yield data
            return
        for i in range(0, len(data), script.split_bytes):
            yield data[i:i + script.split_bytes]


def _data(obj: dict) -> str:
    return "data: " + json.dumps(obj, ensure_ascii=False) + "\r\n\r\n"
