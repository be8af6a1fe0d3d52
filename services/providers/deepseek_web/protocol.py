"""Every path, header and field name of the DeepSeek web chat protocol: a protocol change is an edit here.

What changes between web-client releases (the client version, the model types, the completion's extra
fields) is read from settings instead (services/settings.py), so a version bump is a configuration change.
"""

from __future__ import annotations

# Calls (docs/deepseek-web.md, "Calls").
CURRENT_USER = "/api/v0/users/current"
CREATE_SESSION = "/api/v0/chat_session/create"
CREATE_POW_CHALLENGE = "/api/v0/chat/create_pow_challenge"
COMPLETION = "/api/v0/chat/completion"
CONTINUE = "/api/v0/chat/continue"
STOP_STREAM = "/api/v0/chat/stop_stream"
DELETE_SESSION = "/api/v0/chat_session/delete"
UPLOAD_FILE = "/api/v0/file/upload_file"
FETCH_FILES = "/api/v0/file/fetch_files"
SESSION_PAGE = "/a/chat/s/"        # the Referer of a completion is the session's page

POW_HEADER = "X-Ds-Pow-Response"
POW_ALGORITHM = "DeepSeekHashV1"
FILE_SIZE_HEADER, THINKING_HEADER = "x-file-size", "x-thinking-enabled"
WAF_HEADER, CHALLENGE_HEADER = "x-amzn-waf-action", "cf-mitigated"


def client_headers(version: str, locale: str, timezone_offset: int, user_agent: str) -> dict:
    """The web client's identity headers. Honest values only: no telemetry, anti-bot tokens or fingerprints."""
    return {"X-Client-Platform": "web", "X-Client-Version": version, "X-Client-Locale": locale,
            "X-Client-Timezone-Offset": str(timezone_offset), "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",  # only what `requests` can decode
            "User-Agent": user_agent}


# Envelope codes and what they mean (docs/deepseek-web.md, "Envelope and account states").
DEAD_TOKEN_CODES = {40001, 40002, 40003}
CLIENT_TOO_OLD_CODE = 40005
INVALID_POW_CODE = 40301
OVERLOADED_CODES = {1001, 1201}
UPLOAD_RATE_LIMIT_CODE = 7
MUTED_BIZ_CODE = 5
INVALID_MESSAGE_BIZ_CODE = 26   # the parent message cannot be continued (unknown, or already answered)
BANNED_BIZ_CODES = {10: "banned (USER_IS_BANNED)", 11: "flagged as a risk device (RISK_DEVICE_DETECTED)"}
RATE_LIMIT_WORDS = ("频率过快", "too frequent", "rate limit", "too many requests")


def create_session_body() -> dict:
    """Body of a new-session call (the current client sends an empty object)."""
    return {}


def pow_challenge_body(target_path: str) -> dict:
    """Body of a challenge call: a challenge is single use and bound to the path it answers for."""
    return {"target_path": target_path}


def completion_body(session_id: str, parent_message_id: int | None, model_type: str, prompt: str,
                    file_ids: list[str], thinking: bool, search: bool, extra: dict) -> dict:
    """Body of a completion call; `extra` holds the client's fixed fields (action, preempt, source)."""
    return {"chat_session_id": session_id, "parent_message_id": parent_message_id, "model_type": model_type,
            "prompt": prompt, "ref_file_ids": file_ids, "thinking_enabled": thinking, "search_enabled": search,
            **extra}


def continue_body(session_id: str, message_id: int) -> dict:
    """Body of a call that resumes a cut answer."""
    return {"chat_session_id": session_id, "message_id": message_id, "fallback_to_resume": True}


def stop_stream_body(session_id: str, message_id: int) -> dict:
    """Body of a stop call for a running answer."""
    return {"chat_session_id": session_id, "message_id": message_id}


def delete_session_body(session_id: str) -> dict:
    """Body of a session deletion."""
    return {"chat_session_id": session_id}


def biz_data(envelope: dict):
    """The payload of a successful envelope `{"code": 0, "data": {"biz_code": 0, "biz_data": ...}}`."""
    data = envelope.get("data")
    return data.get("biz_data") if isinstance(data, dict) else None


def envelope_error(envelope: dict) -> tuple[str, int, str, dict] | None:
    """("code" or "biz", the number, its message, biz_data) when the envelope reports an error, else None."""
    if envelope.get("code", 0) not in (0, None):
        return "code", _int(envelope.get("code")), str(envelope.get("msg") or ""), {}
    data = envelope.get("data") or {}
    if not isinstance(data, dict):
        return None
    if data.get("biz_code", 0) not in (0, None):
        payload = data.get("biz_data")
        return "biz", _int(data.get("biz_code")), str(data.get("biz_msg") or ""), (
            payload if isinstance(payload, dict) else {})
    return None


def mute_state(user: dict) -> tuple[bool, float | None]:
    """(muted, mute_until) from `users/current`: captures show it under `chat` and at the top, so read both."""
    muted, until = False, None
    for place in (user, user.get("chat") if isinstance(user.get("chat"), dict) else {}):
        muted = muted or bool(place.get("is_muted"))
        if isinstance(place.get("mute_until"), (int, float)) and place["mute_until"] > 0:
            until = float(place["mute_until"])
    return muted, until


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


# The completion stream's vocabulary (docs/deepseek-web.md, "The completion stream").
EVENT_READY, EVENT_CLOSE, EVENT_TOAST, EVENT_HINT = "ready", "close", "toast", "hint"
SKIPPED_EVENTS = {"title", "update_session", "finish", "auto_tts_capability"}
PATH_RESPONSE = "response"
PATH_THINKING = "response/thinking_content"
PATH_CONTENT = "response/content"
PATH_FRAGMENTS = "response/fragments"
PATH_STATUS = "response/status"
PATH_SEARCH_RESULTS = "response/search_results"
FRAGMENT_TEXT_SUFFIX = "/content"
FRAGMENT_RESULT_SUFFIXES = ("/results", "/references")
# Fragment types by what their text is. Anything else (REQUEST, FILE, TIP, READ_LINK, new kinds) is skipped.
ANSWER_FRAGMENTS = {"RESPONSE", "TEMPLATE_RESPONSE"}
REASONING_FRAGMENTS = {"THINK", "THINKING", "REASONING"}
SEARCH_FRAGMENTS = {"SEARCH", "TOOL_SEARCH", "TOOL_OPEN", "TOOL_FIND"}
SKIPPED_PATH_WORDS = ("elapsed_secs", "token_usage", "pending_fragment", "conversation_mode", "search_status",
                      "cite_index", "ban_regenerate")
STATUS_FINISHED, STATUS_INCOMPLETE, STATUS_CONTENT_FILTER = "FINISHED", "INCOMPLETE", "CONTENT_FILTER"
STATUS_ERRORS = {"CONTEXT_LENGTH_EXCEEDED": "context_length", "TIMEOUT": "timeout"}
OP_APPEND, OP_SET, OP_BATCH = "APPEND", "SET", "BATCH"
LEGACY_THINKING, LEGACY_SEARCH = "thinking", "search_result"
# Error frames `{"type": "error", "content", "finish_reason"}`: a cut that may be continued, and a refusal of
# our client identity for this model that no other account would answer differently.
CUT_REASON = "generation_err"
UNSUPPORTED_CLIENT = "unsupported_client_by_model"
HINT_RATE_LIMIT, HINT_INPUT_TOO_LONG = "rate_limit", "input_exceeds_limit"
# What an upload may be (its part's Content-Type): the images the web chat reads text in, and documents
# (text of any kind, PDF, office files; application/octet-stream for a file of no stated type).
UPLOAD_IMAGE_TYPES = {"image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif", "image/bmp"}
UPLOAD_DOCUMENT_KINDS = ("text/", "application/")
# File states reported by fetch_files.
FILE_READY, FILE_FAILED = "SUCCESS", "FAILED"

# What the drift watch (drift.py) counts as known: anything else the web chat sends is a new shape.
KNOWN_EVENTS = {None, "message", EVENT_READY, EVENT_CLOSE, EVENT_TOAST, EVENT_HINT} | SKIPPED_EVENTS
SKIPPED_FRAGMENTS = {"REQUEST", "FILE", "TIP", "READ_LINK"}
KNOWN_FRAGMENTS = ANSWER_FRAGMENTS | REASONING_FRAGMENTS | SEARCH_FRAGMENTS | SKIPPED_FRAGMENTS
KNOWN_STATUSES = {"WIP", STATUS_FINISHED, STATUS_INCOMPLETE, STATUS_CONTENT_FILTER} | set(STATUS_ERRORS)
# Paths with their indices replaced by "*" (a path holding a skipped word is known too).
KNOWN_PATHS = {PATH_RESPONSE, PATH_STATUS, PATH_THINKING, PATH_CONTENT, PATH_FRAGMENTS, PATH_SEARCH_RESULTS,
               "response/quasi_status", "response/fragments/*/content", "response/fragments/*/results",
               "response/fragments/*/references", "response/fragments/*/status", "response/has_pending_fragment"}
KNOWN_HINTS = {HINT_RATE_LIMIT, HINT_INPUT_TOO_LONG, UNSUPPORTED_CLIENT}
KNOWN_CODES = {0, UPLOAD_RATE_LIMIT_CODE, CLIENT_TOO_OLD_CODE, INVALID_POW_CODE, 40300} | DEAD_TOKEN_CODES \
    | OVERLOADED_CODES
KNOWN_BIZ_CODES = {0, 2, MUTED_BIZ_CODE, 26} | set(BANNED_BIZ_CODES)
FILE_STATUSES = {"PENDING", FILE_READY, FILE_FAILED, "CONTENT_EMPTY"}
JSON_TYPES = ("application/json", "text/json")
STREAM_TYPE = "text/event-stream"
# The fields of the replies whose shape we rely on; a field not listed is new (a missing one is the
# self-check's to report). Session create: the session itself, at the top or under `chat_session`.
SESSION_FIELDS = {"id", "seq_id", "agent", "character", "title", "title_type", "version", "current_message_id",
                  "inserted_at", "updated_at", "pinned", "model_type"}
EXPECTED_FIELDS = {
    CREATE_SESSION: SESSION_FIELDS | {"chat_session", "ttl_seconds"},
    CREATE_POW_CHALLENGE: {"challenge"},
    UPLOAD_FILE: {"id", "status", "file_name", "previewable", "file_size", "token_usage", "error_code",
                  "inserted_at", "updated_at"},
}
CHALLENGE_FIELDS = {"algorithm", "challenge", "salt", "difficulty", "expire_at", "expire_after", "signature",
                    "target_path"}
