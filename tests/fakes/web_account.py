"""How the fake web chat treats one token (the Account knobs), and how it plans that account's answer."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Account:
    """How the fake treats one web token; every knob has a default that answers plainly."""

    # What the account is. On every call: "dead" (code 40003), "banned" (biz_code 10), "risk" (biz_code 11),
    # "blocked" (HTML 403), "waf" (HTTP 202 + x-amzn-waf-action) and "challenge" (cf-mitigated). On completions and
    # continues: "muted" (biz_code 5 + mute_until), "overloaded" (code `overload_code`), "busy" (the 频率过快 text),
    # "server_error" (CloudFront's HTML error page, HTTP `error_status`).
    # On completions: "pow_once" / "pow_always" (40301 on the first / every one, even for a right answer) and
    # "unsupported" (an unsupported_client_by_model refusal in the stream). "ok" answers.
    state: str = "ok"
    format: str = "current"           # "current" (the 2026-10 stream), or "patch", "fragments", "legacy" (older)
    text: list[str] | Callable[[str], list[str]] | None = None  # answer pieces, or prompt -> pieces; default echo
    thinking: list[str] = field(default_factory=lambda: ["Let me ", "think."])  # reasoning pieces (thinking on)
    pace: float = 0.0                 # seconds slept before each stream event
    cut_after: int | None = None      # drop the connection after this many events (keep-alives not counted)
    incomplete: bool = False          # the answer ends INCOMPLETE (legacy: "length") and so does every continue
    toast: bool = False               # send a "Server busy" toast instead of an answer
    keepalives: int = 0               # SSE comments before the answer
    split_bytes: int = 0              # write the stream in chunks of this many bytes (0: one chunk per event)
    # The live service goes on generating an answer whose reader left, until stop_stream: with this on, the
    # account stays busy after a disconnect; stop_hold makes stop_stream take up to that many seconds (it ends
    # at once when the account's next completion arrives, so a client that did not wait for it is caught).
    keeps_generating: bool = False
    stop_hold: float = 0.0
    # Account states' details.
    mute_until: int = field(default_factory=lambda: int(time.time()) + 3600)  # "muted" until this unix time
    mute_where: str = "both"          # where users/current shows is_muted/mute_until: "chat", "top" or "both"
    overload_code: int = 1001         # the envelope code of "overloaded": 1001 or 1201
    challenge_status: int = 403       # the HTTP status of "challenge": 403 or 429
    error_status: int = 502           # the HTTP status of "server_error": 500, 502, 503 or 504
    refusal_event: str = "data"       # an unsupported_client_by_model refusal as a "data" frame or a "toast" event
    expert_refused: bool = False      # model_type "expert" gets the unsupported_client_by_model refusal
    session_reply: str = "both"       # session create names the id as "id", "chat_session" (.id) or "both"
    # Stream content of format "current" (continues of "fragments" answers use it too).
    think_type: str = "THINK"         # reasoning fragment type: "THINK", "THINKING" or "REASONING"
    answer_type: str = "RESPONSE"     # answer fragment type: "RESPONSE" or "TEMPLATE_RESPONSE"
    search_type: str = "SEARCH"       # search fragment type: "SEARCH", "TOOL_SEARCH", "TOOL_OPEN" or "TOOL_FIND"
    search_key: str = "results"       # the search fragment's list (and path) name: "results" or "references"
    search_content: str = "Searching the web"  # the search fragment's content: reasoning-side, never answer
    citation: str = "citation"        # search answers' marker word (also "patch"): "citation" or "reference"
    value_shape: str = "str"          # text appends' v: a bare "str", or an object {"text": ...} / {"content": ...}
    batches: bool = False             # text appends arrive as path-less batches {"v": [{"p", "o"?, "v"}, ...]}
    set_fragments: bool = False       # the answer fragment arrives by o: "SET" on response/fragments (new list)
    content_filter: bool = False      # text, a provisional quasi_status FINISHED, then the CONTENT_FILTER batch
    filter_text: str = "Sorry, that's beyond my current scope. Let's talk about something else."  # its template
    end_status: str = "FINISHED"      # the final response/status: "FINISHED", "CONTEXT_LENGTH_EXCEEDED", "TIMEOUT"
    # Notices (any format).
    hint: str | None = None           # an `event: hint` error first: "rate_limit", "input_exceeds_limit", ...
    hint_answer: bool = False         # after the hint, answer anyway (else the hint is instead of an answer)
    # Cut answers and continuation (formats "patch", "fragments" and "current"; "legacy" cannot be continued).
    cuts: int = 0                     # the answer stops INCOMPLETE this many times before it finishes
    cut_at: int | list[int] | None = None  # the raw answer offsets of the cuts (default: evenly spread)
    continue_pow: bool = False        # continue answers 40301 unless it carries a valid PoW header
    continue_new_message: bool = False  # a continue's ready names a new message id (fallback_to_resume)
    continue_fails: int = 0           # this many continue calls end without any status (a failure)
    # A completion whose parent_message_id was already continued (a "regenerate" of the same history) is refused
    # with biz_code 26 "invalid message id", as a reviewer's web chat did; off, the service branches.
    parent_once: bool = False
    # Files.
    pending_polls: int = 1            # fetch_files says PENDING this many times per file, then SUCCESS
    failed_upload: int | None = None  # the account's Nth upload (0-based) ends FAILED instead of SUCCESS
    upload_limit: int | None = None   # uploads accepted before every further one answers code 7 (None: no limit)
    # Deleting a session of this account waits for this event (recorded once it ends): a slow sidebar.
    delete_hold: threading.Event | None = None
    # A changed web chat (tests/fakes/web_drift.py): renamed or new events, new fields, codes, content types.
    drift: dict = field(default_factory=dict)


def search_markers(account: Account) -> list[str]:
    """The citation pieces a search answer carries, a marker split across two appends."""
    word = account.citation
    return [f" [{word[:5]}", f"{word[5:]}:1] and [{word}:2]"]


def answer_pieces(account: Account, prompt: str, search: bool = False, files: int = 0) -> list[str]:
    """The raw answer pieces for a prompt (citation markers included): joined, the text cuts are measured on."""
    if callable(account.text):
        pieces = list(account.text(prompt))
    elif account.text is not None:
        pieces = list(account.text)
    else:
        last = prompt.splitlines()[-1] if prompt else ""
        text = f"echo: {last}" + (f" (files: {files})" if files else "")
        pieces = [text[:5], text[5:9], text[9:]]
    if search and account.format in ("patch", "current"):  # the older formats never carried markers
        pieces = pieces[:1] + search_markers(account) + pieces[1:]
    return pieces


def cut_offsets(account: Account, length: int) -> list[int]:
    """Where the answer is cut: `cut_at`, else `cuts` offsets spread evenly over the answer."""
    if account.cut_at is not None:
        return [account.cut_at] if isinstance(account.cut_at, int) else sorted(account.cut_at)
    return [length * (i + 1) // (account.cuts + 1) for i in range(account.cuts)]


def segments(account: Account, pieces: list[str]) -> list[list[str]]:
    """The answer pieces split at the cut offsets: one list per round (completion, then each continue)."""
    out: list[list[str]] = [[]]
    cuts = cut_offsets(account, sum(map(len, pieces))) if account.format != "legacy" else []
    done = 0
    for piece in pieces:
        while cuts and done + len(piece) >= cuts[0]:
            head, piece = piece[:cuts[0] - done], piece[cuts[0] - done:]
            if head:
                out[-1].append(head)
            done, cuts = done + len(head), cuts[1:]
            out.append([])
        if piece:
            out[-1].append(piece)
            done += len(piece)
    out += [[] for _ in cuts]  # offsets past the end: empty rounds
    return out
