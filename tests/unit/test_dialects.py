"""The agent dialects' parsers and the response store, without a server."""

from __future__ import annotations

import pytest

from services.dialects.anthropic_request import DEFAULT_CLAUDE_MAP, our_model, parse_model_map, to_call
from services.errors import BadRequest
from services.store.memory import MemoryStore

MAP = parse_model_map(DEFAULT_CLAUDE_MAP)


@pytest.mark.parametrize("name, thinking, ours", [
    ("claude-opus-4-1", False, "deepseek-chat"),
    ("claude-sonnet-4-6", True, "deepseek-reasoner"),
    ("claude-haiku-4-5", False, "deepseek-chat"),
    ("claude-3-7-unknown", False, "deepseek-chat"),
    ("deepseek-expert", True, "deepseek-expert-think"),
    ("deepseek-ai/DeepSeek-V3.1", True, "deepseek-ai/DeepSeek-V3.1"),
])
def test_claude_names_map_to_ours(name, thinking, ours):
    assert our_model(name, MAP, thinking) == ours


def test_the_model_map_is_configurable_first_match_wins():
    custom = parse_model_map("haiku=deepseek-chat, opus=deepseek-reasoner,claude=deepseek-v3")
    assert our_model("claude-opus-4", custom, False) == "deepseek-reasoner"
    assert our_model("claude-sonnet-4", custom, False) == "deepseek-v3"


def test_claude_codes_system_turn_and_documents_become_openai_messages():
    call = to_call({"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [
        {"role": "system", "content": [{"type": "text", "text": "Mid-list system."}]},
        {"role": "user", "content": [
            {"type": "document", "title": "a.pdf", "source": {"type": "base64", "media_type": "application/pdf",
                                                               "data": "JVBE"}},
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain"}},
            {"type": "text", "text": "read", "cache_control": {"type": "ephemeral"}}]}]}, MAP)
    assert call.messages == [{"role": "system", "content": "Mid-list system."}, {"role": "user", "content": [
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "a.pdf"}},
        {"type": "text", "text": "plain"}, {"type": "text", "text": "read"}]}]
    assert call.id.startswith("msg_")


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": [{"type": "tool_result"}]}],
    [{"role": "assistant", "content": [{"type": "tool_use", "name": "x"}]}],
    [{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}],
    [{"role": "system", "content": "only a system turn"}],
])
def test_unreadable_blocks_are_bad_requests(messages):
    with pytest.raises(BadRequest):
        to_call({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": messages}, MAP)


def test_the_store_forgets_after_its_time_and_past_its_count():
    now = [0.0]
    store = MemoryStore(seconds=10, limit=2, clock=lambda: now[0])
    store.put("a", {"n": 1})
    store.put("b", {"n": 2})
    store.put("c", {"n": 3})
    assert store.get("a") is None and store.get("b") == {"n": 2}
    now[0] = 10.5
    assert store.get("b") is None and store.get("c") is None


def test_a_tool_results_image_moves_into_a_user_turn_after_the_results():
    call = to_call({"model": "claude-haiku-4-5", "max_tokens": 10, "messages": [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "done"},
                {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}]},
            {"type": "text", "text": "what do you see?"}]}]}, MAP)
    assert call.messages[1:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "done\n[image 1: attached in the next user message]"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/a.png"}},
                                     {"type": "text", "text": "what do you see?"}]}]
