"""Every path, header and field name of the DeepSeek web chat protocol: a protocol change is an edit here."""

from __future__ import annotations

# Calls (specs/deepseek-web.md, "Calls").
CURRENT_USER = "/api/v0/users/current"
CREATE_SESSION = "/api/v0/chat_session/create"
CREATE_POW_CHALLENGE = "/api/v0/chat/create_pow_challenge"
COMPLETION = "/api/v0/chat/completion"
STOP_STREAM = "/api/v0/chat/stop_stream"
DELETE_SESSION = "/api/v0/chat_session/delete"

POW_HEADER = "X-Ds-Pow-Response"
POW_ALGORITHM = "DeepSeekHashV1"

# What the web client sends with every call. Honest values: the user's own token plus the client's identity
# headers; no telemetry, no analytics cookies, no fingerprints. Only encodings `requests` can decode.
CLIENT_HEADERS = {
    "X-Client-Platform": "web",
    "X-Client-Version": "1.3.0-auto-resume",
    "X-App-Version": "20241129.1",
    "X-Client-Locale": "en_US",
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/131.0.0.0 Safari/537.36",
}

# Envelope codes: token invalid or expired.
DEAD_TOKEN_CODES = {40001, 40002, 40003}
RATE_LIMIT_WORDS = ("频率过快", "too frequent", "rate limit", "too many requests")


def create_session_body() -> dict:
    """Body of a new-session call."""
    return {"character_id": None}


def pow_challenge_body() -> dict:
    """Body of a challenge call: the challenge is bound to the completion path."""
    return {"target_path": COMPLETION}


def completion_body(session_id: str, parent_message_id: int | None, prompt: str, thinking: bool,
                    search: bool) -> dict:
    """Body of a completion call."""
    return {"chat_session_id": session_id, "parent_message_id": parent_message_id, "prompt": prompt,
            "ref_file_ids": [], "thinking_enabled": thinking, "search_enabled": search}


def stop_stream_body(session_id: str, message_id: int) -> dict:
    """Body of a stop call for a running answer."""
    return {"chat_session_id": session_id, "message_id": message_id}


def delete_session_body(session_id: str) -> dict:
    """Body of a session deletion."""
    return {"chat_session_id": session_id}


def biz_data(envelope: dict):
    """The payload of a successful envelope `{"code": 0, "data": {"biz_code": 0, "biz_data": ...}}`."""
    return (envelope.get("data") or {}).get("biz_data")


def envelope_error(envelope: dict) -> tuple[int, str] | None:
    """(code, message) when the envelope reports an error, else None."""
    if not isinstance(envelope, dict):
        return -1, "not a JSON object"
    if envelope.get("code", 0) != 0:
        return int(envelope.get("code") or -1), str(envelope.get("msg") or "")
    data = envelope.get("data") or {}
    if data.get("biz_code", 0) != 0:
        return int(data.get("biz_code") or -1), str(data.get("biz_msg") or "")
    return None


# The completion stream's vocabulary (specs/deepseek-web.md, "The completion stream").
EVENT_READY, EVENT_CLOSE, EVENT_TOAST = "ready", "close", "toast"
SKIPPED_EVENTS = {"title", "update_session"}
PATH_RESPONSE = "response"
PATH_THINKING = "response/thinking_content"
PATH_CONTENT = "response/content"
PATH_FRAGMENTS = "response/fragments"
PATH_STATUS = "response/status"
PATH_SEARCH_RESULTS = "response/search_results"
FRAGMENT_TEXT_SUFFIX = "/content"
FRAGMENT_THINK, FRAGMENT_RESPONSE = "THINK", "RESPONSE"
SKIPPED_PATH_WORDS = ("quasi_status", "elapsed_secs", "token_usage", "pending_fragment", "conversation_mode",
                      "search_status", "cite_index")
STATUS_FINISHED, STATUS_INCOMPLETE = "FINISHED", "INCOMPLETE"
OP_APPEND, OP_SET, OP_BATCH = "APPEND", "SET", "BATCH"
LEGACY_THINKING, LEGACY_TEXT, LEGACY_SEARCH = "thinking", "text", "search_result"
