"""The adapter decides a provider's tool mode: a web-chat provider of the owner's emulates tools like the built-in."""

from __future__ import annotations

import pytest

from app import create_app
from services.settings import ConfigError
from tests.conftest import FAST_ENV
from tests.fakes import web_tools as wt


def owner_app(fake, web, tmp_path, table: str):
    path = tmp_path / "providers.toml"
    path.write_text(f'[providers.deepseek]\nbase_url = "{fake.url}"\n\n'
                    f'[providers.deepseek-web]\nbase_url = "{web.url}"\n\n'
                    f'[providers.myweb]\nbase_url = "{web.url}"\nadapter = "deepseek-web"\n{table}')
    return create_app({"env": {**FAST_ENV, "FREESEEK_PROVIDERS_FILE": str(path)}})


def test_an_owners_web_chat_provider_emulates_tools_by_default(fake, web, tmp_path):
    client = owner_app(fake, web, tmp_path, "").test_client()
    web.account("mine", text=lambda prompt: [wt.tag_block(wt.ONE_CALL)] if wt.has_tool_block(prompt) else ["plain"])
    response = client.post("/v1/chat/completions", headers={"Authorization": "Bearer myweb:mine"}, json={
        "model": "deepseek-chat", "tools": wt.TOOLS,
        "messages": [{"role": "user", "content": "What is the weather in Paris?"}]})
    assert response.status_code == 200, response.get_data(as_text=True)
    choice = response.json["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["tool_calls"]
    assert web.completions[-1]["prompt"].startswith("# Tools")


def test_native_tools_on_a_web_chat_provider_refuse_to_start(fake, web, tmp_path):
    with pytest.raises(ConfigError, match="'myweb'.*no native tools"):
        owner_app(fake, web, tmp_path, 'tools = "native"\n')
