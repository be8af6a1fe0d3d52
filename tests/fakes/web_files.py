"""File uploads of the fake web chat: upload_file (multipart, PoW), fetch_files polling, readiness for completions."""

from __future__ import annotations

import time
import uuid

from werkzeug.wrappers import Request, Response

from tests.fakes import web_wire as w
from tests.fakes.web_account import Account


class FileStore:
    """Mixed into FakeWebChat, whose `_files`, `uploads`, `violations`, `_pow_refusal` and `_count` it uses."""

    def _upload(self, request: Request, token: str, account: Account) -> Response:
        refusal = self._pow_refusal(request, w.UPLOAD)
        if refusal is not None:
            return refusal
        if account.upload_limit is not None and self._count(token, "upload") >= account.upload_limit:
            return w.envelope(7, "upload rate limited, please try again later")
        parts = request.files.getlist("file")
        if len(parts) != 1 or len(request.files) != 1:
            self.violations.append(f"upload parts {list(request.files)!r}, not one named 'file'")
            return w.biz_error(40000, "one file part named 'file' expected")
        part = parts[0]
        extra = [name for name in part.headers.keys() if name.lower() not in ("content-disposition", "content-type")]
        if extra:
            self.violations.append(f"upload part headers {extra!r} besides Content-Disposition and Content-Type")
        data = part.read()
        if request.headers.get("x-file-size") != str(len(data)):
            self.violations.append(f"x-file-size {request.headers.get('x-file-size')!r} for {len(data)} bytes")
            return w.biz_error(40000, "file size mismatch")
        if request.headers.get("x-thinking-enabled") not in ("0", "1"):
            self.violations.append(f"x-thinking-enabled {request.headers.get('x-thinking-enabled')!r}")
        index = self._count(token, "uploaded")
        file_id = f"file-{uuid.uuid4()}"
        now = time.time()
        self._files[file_id] = {"id": file_id, "token": token, "file_name": part.filename, "file_size": len(data),
                                "polls": 0, "status": "PENDING", "inserted_at": now,
                                "final": "FAILED" if index == account.failed_upload else "SUCCESS"}
        self.uploads.append({"token": token, "file_name": part.filename, "content_type": part.content_type,
                             "bytes": data, "id": file_id, "part_headers": dict(part.headers),
                             "thinking": request.headers.get("x-thinking-enabled")})
        return w.ok(self._file_view(file_id))

    def _fetch_files(self, request: Request, token: str, account: Account) -> Response:
        files = []
        for file_id in filter(None, request.args.get("file_ids", "").split(",")):
            record = self._files.get(file_id)
            if record is None or record["token"] != token:
                self.violations.append(f"fetch_files of {file_id!r}, not this account's upload")
                continue
            record["polls"] += 1
            record["status"] = "PENDING" if record["polls"] <= account.pending_polls else record["final"]
            files.append(self._file_view(file_id))
        return w.ok({"files": files})

    def file_ready(self, token: str, file_id) -> bool:
        """Whether a file is this account's and fetch_files has already reported it SUCCESS."""
        record = self._files.get(file_id) if isinstance(file_id, str) else None
        return record is not None and record["token"] == token and record["status"] == "SUCCESS"

    def _file_view(self, file_id: str) -> dict:
        record = self._files[file_id]
        done = record["status"] == "SUCCESS"
        return {"id": file_id, "status": record["status"], "file_name": record["file_name"],
                "previewable": False, "file_size": record["file_size"],
                "token_usage": record["file_size"] // 4 + 1 if done else None,
                "error_code": "FILE_PARSE_FAILED" if record["status"] == "FAILED" else None,
                "inserted_at": record["inserted_at"], "updated_at": time.time()}
