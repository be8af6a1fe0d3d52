"""`bin/check-web`, the live self-check, run against the fake web chat: as it is, and changed in one place."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.providers.deepseek_web.selfcheck import main

ROOT = Path(__file__).resolve().parents[2]
SECRET = "check-web-secret-token-0123456789"
STEPS = ("current user", "session create", "PoW challenge + solve", "completion (no thinking)", "continue if cut",
         "completion (thinking)", "upload a tiny image", "session delete")


def run_check(web, monkeypatch, capsys, *args) -> tuple[int, str]:
    monkeypatch.setenv("FREESEEK_CHECK_TOKEN", SECRET)
    code = main(["--base-url", web.url, *args])
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err and SECRET[:12] not in out.out + out.err
    return code, out.out


def rows(out: str) -> dict[str, str]:
    """Each step's line of the table, by step name."""
    return {step: next(line for line in out.splitlines() if line.startswith(step + "  ")) for step in STEPS}


def test_the_command_passes_against_the_fake_web_chat_and_prints_no_secret(web):
    web.account(SECRET)
    result = subprocess.run([sys.executable, "bin/check-web", "--base-url", web.url], cwd=ROOT, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "FREESEEK_CHECK_TOKEN": SECRET})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all steps as expected" in result.stdout
    for step, line in rows(result.stdout).items():
        assert line.split()[len(step.split())] == "ok", line
    assert SECRET not in result.stdout + result.stderr
    assert len(web.completions) == 2 and [c["thinking"] for c in web.completions] == [False, True]
    assert len(web.uploads) == 1 and web.deletions and web.violations == []


def test_a_cut_answer_is_continued(web, monkeypatch, capsys):
    web.account(SECRET, cuts=1)
    code, out = run_check(web, monkeypatch, capsys)
    assert code == 0, out
    assert "FINISHED" in rows(out)["continue if cut"] and len(web.continues) == 1


CHANGES = {
    "renamed event": ({"rename": {"ready": "ready_v2"}}, "completion (no thinking)", "unknown event ready_v2"),
    "new biz code": ({"codes": {"/api/v0/chat_session/create": (0, 27)}}, "session create", "biz 27"),
    "new code": ({"codes": {"/api/v0/users/current": (40099, 0)}}, "current user", "unknown code code:40099"),
    "new challenge field": ({"fields": {"/api/v0/chat/create_pow_challenge": {"pow_v2": True}}},
                            "PoW challenge + solve", "unknown field chat/create_pow_challenge:pow_v2"),
    "new upload field": ({"fields": {"/api/v0/file/upload_file": {"vision_id": "v-1"}}}, "upload a tiny image",
                         "unknown field file/upload_file:vision_id"),
    "new event": ({"events": ["event: suggest\ndata: {\"items\": [\"more\"]}\n\n"]}, "completion (no thinking)",
                  "unknown event suggest"),
    "new fragment type": ({"events": ['data: {"p": "response/fragments", "o": "APPEND", "v": [{"type": "CANVAS"}]}\n\n']},
                          "completion (no thinking)", "unknown fragment CANVAS"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_changed_web_chat_exits_non_zero_and_names_the_difference(web, monkeypatch, capsys, change):
    knob, step, difference = CHANGES[change]
    web.account(SECRET, drift=knob)
    code, out = run_check(web, monkeypatch, capsys)
    assert code == 1, out
    line = rows(out)[step]
    assert "DIFFER" in line and difference in line, out
    assert f"differ from the spec: {step}" in out or f"; {step}" in out


def test_bad_settings_and_a_missing_token_are_usage_errors(web, monkeypatch, capsys):
    monkeypatch.setenv("FREESEEK_WEB_CONTINUE_ROUNDS", "many")
    assert run_check(web, monkeypatch, capsys)[0] == 2
    monkeypatch.delenv("FREESEEK_WEB_CONTINUE_ROUNDS")
    monkeypatch.setenv("FREESEEK_CHECK_TOKEN", "")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["--base-url", web.url]) == 2
    assert "no token" in capsys.readouterr().err


def test_a_dead_token_is_named_without_the_token(web, monkeypatch, capsys):
    web.account(SECRET, state="dead")
    code, out = run_check(web, monkeypatch, capsys)
    assert code == 1
    assert "HTTP 401" in rows(out)["current user"] and "invalid or expired" in rows(out)["current user"]
