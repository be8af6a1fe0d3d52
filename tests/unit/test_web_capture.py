"""Captures of what the web chat sent, redacted, and their replay through the parser (`bin/replay-web`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.providers.deepseek_web import capture
from services.providers.deepseek_web.capture import placeholder
from services.providers.deepseek_web.replay import main as replay_main
from services.providers.deepseek_web.replay import replay
from services.providers.deepseek_web.selfcheck import main as check_main
from services.settings import Settings
from tests.unit.test_web_app import chat
from tests.unit.web_fixtures import client, make_app  # noqa: F401  (a patient first heartbeat)

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = ROOT / "tests" / "captures"
SECRET = "capture-secret-token-0123456789"


def only_capture(folder: Path) -> Path:
    files = sorted(folder.glob("*.json"))
    assert len(files) == 1, files
    return files[0]


def test_captures_are_off_by_default():
    assert Settings.from_env({}).web_capture_dir == ""


@pytest.mark.parametrize("model,account", [
    ("deepseek-chat", {"cuts": 2}),
    ("deepseek-reasoner", {"thinking": ["Weighing ", "it ", "up."]}),
])
def test_the_gateway_writes_a_redacted_capture_that_replays_to_the_same_answer(make_app, web, tmp_path, model,
                                                                               account):
    web.account(SECRET, text=["The secret ", "answer is ", "forty-two."], **account)
    client = make_app(FREESEEK_WEB_CAPTURE_DIR=str(tmp_path)).test_client()
    live = chat(client, tokens=SECRET, model=model, messages=[{"role": "user", "content": "what is the prompt?"}])
    assert live.status_code == 200
    message = live.json["choices"][0]["message"]
    text = only_capture(tmp_path).read_text()
    for secret in (SECRET, "secret", "forty-two", "what is the prompt", *web.sessions, "Weighing"):
        assert secret not in text, secret
    [result] = replay(capture.load(only_capture(tmp_path)))
    assert result.answer == placeholder(message["content"]) and result.finish == "stop"
    assert result.reasoning == placeholder(message.get("reasoning_content") or "")
    assert result.unknown == [] and result.streams == 1 + account.get("cuts", 0)


def test_a_self_check_capture_with_text_kept_replays_to_the_live_answers(web, tmp_path, monkeypatch, capsys):
    web.account(SECRET, cuts=1, text=["Exactly ", "this ", "answer."])
    monkeypatch.setenv("FREESEEK_CHECK_TOKEN", SECRET)
    assert check_main(["--base-url", web.url, "--capture", str(tmp_path), "--keep-text"]) == 0
    capsys.readouterr()
    file = only_capture(tmp_path)
    assert SECRET not in file.read_text() and not any(s in file.read_text() for s in web.sessions)
    first, second = replay(capture.load(file))
    assert (first.answer, first.finish, first.streams) == ("Exactly this answer.", "stop", 2)
    assert second.reasoning == "Let me think." and second.answer == "Exactly th"  # its cut is not continued


def test_the_replay_command_prints_the_answer_and_every_unknown_shape(web, tmp_path, monkeypatch, capsys):
    web.account(SECRET, drift={"rename": {"finish": "finished_v2"},
                               "events": ['data: {"p": "response/fragments", "o": "APPEND", "v": '
                                          '[{"type": "SEARCH", "results": [{"url": "https://a.example/", '
                                          '"title": "A page", "cite_index": 1}]}]}\n\n',
                                          'data: {"p": "response/fragments", "o": "APPEND", "v": [{"type": "CANVAS", '
                                          '"content": "hidden"}]}\n\n']})
    monkeypatch.setenv("FREESEEK_CHECK_TOKEN", SECRET)
    check_main(["--base-url", web.url, "--capture", str(tmp_path)])
    capsys.readouterr()
    result = subprocess.run([sys.executable, "bin/replay-web", str(only_capture(tmp_path))], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "finish:     stop" in out and "unknown shapes: 2" in out
    assert "event         finished_v2" in out and "fragment      CANVAS" in out
    assert "[1] x xxxx xxxxxxxxxxxxxxxxxx" in out  # a citation, its title and URL redacted to the same length
    assert "Reply with" not in out and placeholder("echo: Reply with the single word: ok") in out


def test_an_unreadable_file_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "x.json").write_text('{"neither": 1}')
    assert replay_main([str(tmp_path / "x.json")]) == 2
    assert "neither a capture" in capsys.readouterr().err


def test_redaction_keeps_the_protocol_and_replaces_text_and_ids():
    body = ('event: ready\ndata: {"request_message_id": 41, "response_message_id": 42}\n\n'
            'data: {"v": {"response": {"message_id": 42, "fragments": [{"id": 7, "type": "RESPONSE", '
            '"content": "Hello"}], "status": "WIP"}}}\n\n'
            'data: {"p": "response/fragments/-1/content", "o": "APPEND", "v": " world"}\n\n'
            'data: {"p": "response/status", "v": "FINISHED"}\n\ndata: {"v": "FINISHED"}\n\n')
    [out] = capture.redact_exchanges([{"call": "/api/v0/chat/completion", "status": 200,
                                       "headers": {"Content-Type": "text/event-stream", "Set-Cookie": "s=1"},
                                       "body": body}])
    assert out["headers"] == {"Content-Type": "text/event-stream", "Set-Cookie": "<redacted>"}
    assert '"content": "xxxxx"' in out["body"] and '"v": " xxxxx"' in out["body"]
    assert '"request_message_id": 1, "response_message_id": 2' in out["body"] and '"message_id": 2' in out["body"]
    assert out["body"].count('"FINISHED"') == 2 and '"type": "RESPONSE"' in out["body"]


def test_a_hint_keeps_its_code_word_and_a_toast_loses_its_text():
    body = ('event: hint\ndata: {"type": "error", "content": "rate_limit", "clear_response": true}\n\n'
            'event: toast\ndata: {"type": "error", "content": "Server busy, please try again later."}\n\n')
    [out] = capture.redact_exchanges([{"call": "/api/v0/chat/completion", "status": 200, "headers": {},
                                       "body": body}])
    assert '"content": "rate_limit"' in out["body"] and "Server busy" not in out["body"]
    [hinted] = replay([{**out, "body": out["body"].split("event: toast")[0], "headers": {}}])
    assert hinted.error == "rate_limit: rate_limit"
    assert hinted.unknown == [{"kind": "content_type", "name": "none", "count": 1}]
    [result] = replay([{**out, "headers": {"Content-Type": "text/event-stream"}}])
    assert result.error == "toast: xxxxxx xxxxx xxxxxx xxx xxxxx xxxxxx"


def fixture_files() -> list[Path]:
    return sorted(p for p in CAPTURES.glob("*.json") if not p.name.endswith(".expected.json"))


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_every_capture_in_tests_captures_replays(path):
    """A capture dropped into tests/captures is a fixture: it replays with no unknown shape, or as
    `<name>.expected.json` says (the JSON `bin/replay-web --json` prints)."""
    results = [r.view() for r in replay(capture.load(path))]
    expected = path.with_name(path.stem + ".expected.json")
    if expected.exists():
        assert results == json.loads(expected.read_text(encoding="utf-8"))
    else:
        assert [r["unknown"] for r in results] == [[] for _ in results]
        assert all(r["finish"] and r["error"] is None for r in results)
