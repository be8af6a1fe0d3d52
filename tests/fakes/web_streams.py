"""The fake web chat's answer streams, usable without a server: `stream_bytes` gives exactly what it sends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from tests.fakes.web_account import Account, answer_pieces, segments
from tests.fakes.web_old_streams import fragments_events, legacy_events, patch_end, patch_events
from tests.fakes.web_sse import CITED_RESULTS, UNSUPPORTED, appends, cut, data, event

STREAM_HEADERS = {"x-ds-sse-heartbeat-timeout-secs": "8"}
UPDATED_AT = 1767225600.5


@dataclass
class Turn:
    """One message's answer as the fake plans it; `round` picks the stream: 0 the completion, N the Nth continue."""

    message_id: int
    thinking: list[str]             # reasoning pieces (empty when thinking is off)
    segments: list[list[str]]       # the raw answer pieces split at the cuts: one list per round
    search: bool
    model_type: str = "default"
    forever: bool = False           # `incomplete`: the last round, and every continue after it, ends INCOMPLETE
    round: int = 0
    ready_id: int | None = None     # the id a continue's ready names, when fallback_to_resume made a new message
    no_status: bool = False         # a failing continue: it ends without any status

    @property
    def pieces(self) -> list[str]:
        """This round's new answer pieces."""
        return self.segments[self.round] if self.round < len(self.segments) else []

    @property
    def sent(self) -> str:
        """The answer text the earlier rounds sent."""
        return "".join("".join(s) for s in self.segments[:self.round])

    @property
    def ending(self) -> str:
        """"CUT" while cuts remain, "INCOMPLETE" at and after the end of a forever-incomplete answer, else "DONE"."""
        if self.round < len(self.segments) - 1:
            return "CUT"
        return "INCOMPLETE" if self.forever else "DONE"

    @property
    def usage(self) -> int:
        """accumulated_token_usage: always the whole message's."""
        return (len("".join(self.thinking)) + sum(len("".join(s)) for s in self.segments)) // 3 + 1

    @property
    def can_continue(self) -> bool:
        """Whether this round leaves the message cut (a continue of it is legitimate)."""
        return self.ending != "DONE"


def plan(account: Account, prompt: str, message_id: int, thinking: bool, search: bool,
         model_type: str = "default", files: int = 0) -> Turn:
    """The whole answer of one completion, cut into rounds."""
    return Turn(message_id, list(account.thinking) if thinking else [],
                segments(account, answer_pieces(account, prompt, search, files)), search, model_type,
                forever=account.incomplete and account.format != "legacy")


def stream_bytes(account: Account, prompt: str, message_id: int, thinking: bool, search: bool,
                 model_type: str = "default", files: int = 0, round: int = 0) -> bytes:
    """The bytes the fake sends for a completion (round 0) or the round-th continue of its answer."""
    turn = plan(account, prompt, message_id, thinking, search, model_type, files)
    turn.round = round
    events = completion_events(account, turn) if round == 0 else continue_events(account, turn)
    return "".join(limit(account, events)).encode()


def limit(account: Account, events: Iterator[str]) -> Iterator[str]:
    """The events up to `cut_after` (the server then drops the connection); keep-alive comments don't count."""
    counted = 0
    for event in events:
        if not event.startswith(":"):
            if account.cut_after is not None and counted >= account.cut_after:
                return
            counted += 1
        yield event


def completion_events(account: Account, turn: Turn) -> Iterator[str]:
    """A completion's SSE events."""
    for _ in range(account.keepalives):
        yield ": keep-alive\n\n"
    if account.toast:
        yield event("toast", {"type": "error", "content": "Server busy, please try again later.",
                              "finish_reason": "server_busy"})
    elif account.state == "unsupported" or (turn.model_type == "expert" and account.expert_refused):
        yield from refusal_events(account, turn)
    elif account.hint and not account.hint_answer:
        yield event("hint", {"type": "error", "content": account.hint, "clear_response": True})
        yield event("close", {"click_behavior": "none", "auto_resume": False})
    else:
        if account.hint:
            yield event("hint", {"type": "error", "content": account.hint, "clear_response": True})
        render = {"patch": patch_events, "fragments": fragments_events, "legacy": legacy_events,
                  "current": _current}[account.format]
        yield from render(account, turn)


def continue_events(account: Account, turn: Turn) -> Iterator[str]:
    """A continue's SSE events: the same grammar, an opening snapshot of all sent so far, then the rest."""
    rid = turn.ready_id or turn.message_id
    yield event("ready", {"request_message_id": turn.message_id - 1, "response_message_id": rid,
                          "model_type": turn.model_type})
    thought = "".join(turn.thinking)
    if account.format == "patch":
        yield data({"v": {"response": {"message_id": rid, "parent_id": turn.message_id - 1,
                                       "thinking_content": thought or None, "content": turn.sent,
                                       "search_results": CITED_RESULTS if turn.search else None, "status": "WIP"}}})
        if turn.no_status:
            yield event("close", {"click_behavior": "none", "auto_resume": False})
            return
        yield from appends(Account(), "response/content", turn.pieces)
        yield from patch_end(account, turn)
        return
    snapshot = []
    if turn.search:
        snapshot.append(_search_fragment(account, CITED_RESULTS))
    if turn.thinking:
        snapshot.append({**_fragment(2, account.think_type, thought), "elapsed_secs": 1.5, "status": "FINISHED"})
    if turn.sent:
        snapshot.append(_fragment(3, account.answer_type, turn.sent))
    yield data({"v": {"response": _response(rid, turn, snapshot)}})
    if turn.no_status:
        yield event("close", {"click_behavior": "none", "auto_resume": False})
        return
    yield from _answer(account, turn.pieces, opened=bool(turn.sent))
    yield from _current_end(account, turn)


def empty_events(message_id: int, model_type: str = "default") -> Iterator[str]:
    """What a client version below the minimum gets: a stream with no text that finishes."""
    yield event("ready", {"request_message_id": message_id - 1, "response_message_id": message_id,
                          "model_type": model_type})
    yield data({"v": {"response": {"message_id": message_id, "parent_id": message_id - 1, "fragments": [],
                                   "status": "WIP"}}})
    yield data({"p": "response/status", "o": "SET", "v": "FINISHED"})
    yield event("close", {"click_behavior": "none", "auto_resume": False})


def refusal_events(account: Account, turn: Turn) -> Iterator[str]:
    """An unsupported_client_by_model refusal, as a data frame or a toast."""
    yield event("ready", {"request_message_id": turn.message_id - 1, "response_message_id": turn.message_id,
                          "model_type": turn.model_type})
    yield event("toast", UNSUPPORTED) if account.refusal_event == "toast" else data(UNSUPPORTED)
    yield event("close", {"click_behavior": "none", "auto_resume": False})


# ---- the 2026-10 fragment stream ("current") ---------------------------------------------------------------

def _current(account: Account, t: Turn) -> Iterator[str]:
    yield event("ready", {"request_message_id": t.message_id - 1, "response_message_id": t.message_id,
                          "model_type": t.model_type})
    yield event("update_session", {"updated_at": UPDATED_AT})
    thinking, pieces = list(t.thinking), list(t.pieces)
    # Without search, the first fragment (and its first piece of text) arrives inside the snapshot.
    snapshot = []
    if not t.search and thinking:
        snapshot = [_fragment(2, account.think_type, thinking.pop(0))]
    elif not t.search and pieces and not account.set_fragments:
        snapshot = [_fragment(3, account.answer_type, pieces.pop(0))]
    yield data({"v": {"response": _response(t.message_id, t, snapshot)}})
    if t.search:
        yield data({"p": "response/fragments", "o": "APPEND", "v": [_search_fragment(account, [])]})
        if not thinking:
            yield data({"p": f"response/fragments/-1/{account.search_key}", "o": "SET", "v": CITED_RESULTS})
    if t.thinking:
        if not snapshot:
            yield data({"p": "response/fragments", "o": "APPEND",
                        "v": [_fragment(2, account.think_type, thinking.pop(0))]})
        if t.search:  # the results land on the search fragment, now second from the end
            yield data({"p": f"response/fragments/-2/{account.search_key}", "o": "SET", "v": CITED_RESULTS})
        yield from appends(account, "response/fragments/-1/content", thinking)
        yield data({"p": "response/fragments/-1/elapsed_secs", "o": "SET", "v": 1.5})
        yield data({"p": "response/fragments/-1/status", "v": "FINISHED"})
    yield from _answer(account, pieces, opened=bool(snapshot) and not t.thinking)
    yield from _current_end(account, t)


def _answer(account: Account, pieces: list[str], opened: bool) -> Iterator[str]:
    """The answer fragment's text: a new fragment unless one is open already, then appends."""
    if not pieces:
        return
    if not opened:
        yield data({"p": "response/fragments", "o": "SET" if account.set_fragments else "APPEND",
                    "v": [_fragment(3, account.answer_type, pieces[0])]})
        pieces = pieces[1:]
    yield from appends(account, "response/fragments/-1/content", pieces)


def _current_end(account: Account, t: Turn) -> Iterator[str]:
    if t.ending != "DONE":
        yield from cut()
    elif account.content_filter:
        yield _batch(t.usage, "FINISHED")  # provisional: the filter batch retracts the answer
        yield data({"v": [{"p": "ban_regenerate", "v": True}, {"p": "status", "v": "CONTENT_FILTER"},
                          {"p": "fragments", "v": [{"type": "TEMPLATE_RESPONSE", "content": account.filter_text}]}]})
        yield event("close", {"click_behavior": "none", "auto_resume": False})
    else:
        yield data({"p": "response/fragments/-1/status", "v": "FINISHED"})
        yield _batch(t.usage, account.end_status)
        yield data({"p": "response/status", "o": "SET", "v": account.end_status})
        yield event("title", {"content": "A title with FINISHED in it"})
        yield event("update_session", {"updated_at": UPDATED_AT + 1})
        yield event("finish", {})
        yield event("auto_tts_capability", {"enabled": False})
        yield event("close", {"click_behavior": "none", "auto_resume": False})


def _fragment(fid: int, kind: str, content: str) -> dict:
    return {"id": fid, "type": kind, "content": content}


def _search_fragment(account: Account, results: list) -> dict:
    return {**_fragment(1, account.search_type, account.search_content), account.search_key: results}


def _response(message_id: int, t: Turn, fragments: list) -> dict:
    return {"message_id": message_id, "parent_id": t.message_id - 1, "model": "", "role": "ASSISTANT",
            "thinking_enabled": bool(t.thinking), "search_enabled": t.search, "ban_edit": False,
            "ban_regenerate": False, "status": "WIP", "accumulated_token_usage": 0, "files": [], "feedback": None,
            "inserted_at": UPDATED_AT, "fragments": fragments, "has_pending_fragment": False, "auto_continue": False}


def _batch(usage: int, quasi_status: str) -> str:
    return data({"p": "response", "o": "BATCH", "v": [{"p": "accumulated_token_usage", "v": usage},
                                                      {"p": "quasi_status", "v": quasi_status}]})
