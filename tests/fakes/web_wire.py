"""The fake web chat's wire pieces: paths, envelopes, client versions and the proof-of-work book."""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
import uuid

from werkzeug.wrappers import Response

from tests.fakes.keccak_reference import deepseek_hash_hex

USERS_CURRENT = "/api/v0/users/current"
CREATE_SESSION = "/api/v0/chat_session/create"
DELETE_SESSION = "/api/v0/chat_session/delete"
CREATE_POW = "/api/v0/chat/create_pow_challenge"
COMPLETION = "/api/v0/chat/completion"
CONTINUE = "/api/v0/chat/continue"
STOP_STREAM = "/api/v0/chat/stop_stream"
UPLOAD = "/api/v0/file/upload_file"
FETCH_FILES = "/api/v0/file/fetch_files"
POW_PATHS = (COMPLETION, UPLOAD, CONTINUE)
POW_HEADER = "X-Ds-Pow-Response"

COMPLETION_FIELDS = ("chat_session_id", "parent_message_id", "model_type", "prompt", "ref_file_ids",
                     "thinking_enabled", "search_enabled", "action", "preempt", "source")
MODEL_TYPES = ("default", "expert")
INVALID_MESSAGE_ID = 26   # biz_code: the parent message cannot be continued (unknown, or already answered)
RATE_LIMIT_TEXT = "您的请求频率过快，请稍后再试 (too frequent)"


def version(text: str | None) -> tuple[int, ...]:
    """A client version's leading numbers ("1.3.0-auto-resume" -> (1, 3, 0)); no version at all is (0,)."""
    match = re.match(r"\s*(\d+(?:\.\d+)*)", text or "")
    return tuple(int(n) for n in match.group(1).split(".")) if match else (0,)


def ok(biz_data) -> Response:
    """A successful envelope."""
    return envelope(0, "", 0, "", biz_data)


def envelope(code: int, msg: str, biz_code: int = 0, biz_msg: str = "", biz_data=None) -> Response:
    """A JSON envelope; `data` is null when the top-level code is an error, as the service does."""
    data = None if code else {"biz_code": biz_code, "biz_msg": biz_msg, "biz_data": biz_data}
    return Response(json.dumps({"code": code, "msg": msg, "data": data}, ensure_ascii=False),
                    mimetype="application/json")


def biz_error(biz_code: int, biz_msg: str, biz_data=None) -> Response:
    """An envelope whose business code is an error."""
    return envelope(0, "", biz_code, biz_msg, biz_data)


class PowBook:
    """Fresh DeepSeekHashV1 challenges, each single use and bound to its target path, checked independently."""

    def __init__(self) -> None:
        self._challenges: dict[str, dict] = {}
        self._lock = threading.Lock()

    def issue(self, target_path: str, difficulty: int, answer: int | None = None) -> dict:
        """A new challenge; `answer` fixes the solution (else a random one below the difficulty)."""
        salt = "%020x" % random.getrandbits(80)
        expire_at = int(time.time() * 1000) + 300_000
        answer = random.randrange(difficulty) if answer is None else answer
        challenge = {"algorithm": "DeepSeekHashV1",
                     "challenge": deepseek_hash_hex(f"{salt}_{expire_at}_{answer}".encode()),
                     "salt": salt, "difficulty": difficulty, "expire_at": expire_at, "expire_after": 300_000,
                     "signature": uuid.uuid4().hex, "target_path": target_path}
        with self._lock:
            self._challenges[challenge["challenge"]] = challenge
        return challenge

    def check(self, header: str | None, target_path: str) -> str | None:
        """None when the header rightly answers an unused challenge issued for target_path, else why not."""
        if not header:
            return "missing"
        try:
            answer = json.loads(base64.b64decode(header, validate=True))
        except ValueError:
            return "not base64 JSON"
        if not isinstance(answer, dict):
            return "not a JSON object"
        with self._lock:  # popped whatever the outcome: a challenge is single use
            challenge = self._challenges.pop(answer.get("challenge"), None)
        if challenge is None:
            return "unknown or reused challenge"
        if challenge["target_path"] != target_path or answer.get("target_path") != target_path:
            return f"challenge for {challenge['target_path']} used on {target_path}"
        for key in ("algorithm", "salt", "signature"):
            if answer.get(key) != challenge[key]:
                return f"{key} not echoed"
        if time.time() * 1000 > challenge["expire_at"]:
            return "expired"
        n = answer.get("answer")
        if not isinstance(n, int) or isinstance(n, bool):
            return "answer is not an integer"
        if deepseek_hash_hex(f"{challenge['salt']}_{challenge['expire_at']}_{n}".encode()) != challenge["challenge"]:
            return "wrong answer"
        return None
