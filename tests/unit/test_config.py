"""Settings, token parsing and the provider registry."""

from __future__ import annotations

import pytest

from services.credentials import parse_tokens
from services.errors import BadRequest, Unauthorized
from services.models import parse_model
from services.providers.registry import Registry
from services.settings import ConfigError, Settings


@pytest.fixture(scope="module")
def registry():
    return Registry.load()


def test_tokens_are_recognised_by_prefix_trimmed_and_deduplicated(registry):
    tokens = parse_tokens(' sk-a , hf_b,,ghp_c, github_pat_d, siliconflow:sk-e, ollama:any, sk-a, webtoken ', registry)
    assert [(t.provider, t.secret) for t in tokens] == [
        ("deepseek", "sk-a"), ("huggingface", "hf_b"), ("github", "ghp_c"), ("github", "github_pat_d"),
        ("siliconflow", "sk-e"), ("ollama", "any"), ("deepseek-web", "webtoken")]


def test_browser_json_token_is_one_web_token_even_with_commas(registry):
    tokens = parse_tokens('{"value": "abc.def", "__version": "0"}, sk-x', registry)
    assert [(t.provider, t.secret) for t in tokens] == [("deepseek-web", "abc.def"), ("deepseek", "sk-x")]


def test_unknown_prefix_is_refused(registry):
    with pytest.raises(BadRequest, match="Unknown provider prefix 'nosuch:'"):
        parse_tokens("nosuch:abc", registry)


def test_token_ref_hides_the_secret(registry):
    token = parse_tokens("sk-supersecret", registry)[0]
    assert token.ref.startswith("tok:") and len(token.ref) == 10
    assert "supersecret" not in repr(token) + str(token)


def test_empty_token_list_is_401(registry):
    with pytest.raises(Unauthorized):
        parse_tokens(" , ", registry)


def test_settings_parse_and_name_the_bad_variable():
    settings = Settings.from_env({"FREESEEK_HEARTBEAT_SECONDS": "3", "FREESEEK_API_KEYS": "a, b,",
                                  "FREESEEK_WEB_DELETE_SESSIONS": "false"})
    assert settings.heartbeat == 3 and settings.api_keys == ("a", "b") and settings.web_delete_sessions is False
    with pytest.raises(ConfigError, match="FREESEEK_IDLE_TIMEOUT"):
        Settings.from_env({"FREESEEK_IDLE_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="FREESEEK_HEARTBEAT_SECONDS"):
        Settings.from_env({"FREESEEK_HEARTBEAT_SECONDS": "0"})


@pytest.mark.parametrize("name, alias, reasoning, search, silent, fold", [
    ("deepseek-chat", True, False, False, False, False),
    ("deepseek-reasoner", True, True, False, False, False),
    ("deepseek_code", True, False, False, False, False),
    ("deepseek-r1-search-silent", True, True, True, True, False),
    ("deepseek-think-fold", True, True, False, False, True),
    ("deepseek-ai/DeepSeek-R1", False, True, False, False, False),
    ("deepseek-flash", False, False, False, False, False),
])
def test_model_names_select_capabilities_by_substring(name, alias, reasoning, search, silent, fold):
    m = parse_model(name)
    assert (m.alias, m.reasoning, m.search, m.silent, m.fold) == (alias, reasoning, search, silent, fold)


def test_owner_file_overrides_base_url_and_merges_models(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[providers.siliconflow]\nbase_url = "http://127.0.0.1:9/v1"\n'
                    'models = { reasoner = "Pro/deepseek-ai/DeepSeek-R1" }\n')
    registry = Registry.load(str(path))
    sf = registry.get("siliconflow")
    assert sf.base_url == "http://127.0.0.1:9/v1" and sf.url(sf.chat_path) == "http://127.0.0.1:9/v1/chat/completions"
    assert sf.target(parse_model("deepseek-r1")).model == "Pro/deepseek-ai/DeepSeek-R1"
    assert sf.target(parse_model("deepseek-chat")).model == "deepseek-ai/DeepSeek-V3"
    assert sf.target(parse_model("Qwen/Qwen3")).model == "Qwen/Qwen3"


@pytest.mark.parametrize("text, words", [
    ('[providers.mine]\nmodels = { chat = "x" }\n', "needs a base_url"),
    ('[providers.mine]\nbase_url = "ftp://x"\n', "http(s) URL"),
    ('[providers.mine]\nbase_url = "http://x"\nbase = 1\n', "unknown keys"),
    ('[providers.mine\n', "not valid TOML"),
])
def test_bad_provider_files_are_refused_with_a_reason(tmp_path, text, words):
    path = tmp_path / "p.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        Registry.load(str(path))


def test_deepseek_official_selects_thinking_by_body_field(registry):
    ds = registry.get("deepseek")
    assert ds.target(parse_model("deepseek-chat")).body == {"thinking": {"type": "disabled"}}
    assert ds.target(parse_model("deepseek-reasoner")).body == {"thinking": {"type": "enabled"}}


@pytest.mark.parametrize("name", ["FREESEEK_WEB_MIN_GAP_SECONDS", "FREESEEK_WEB_GAP_JITTER_SECONDS",
                                  "FREESEEK_WEB_PENALTY_DAYS", "FREESEEK_QUEUE_TIMEOUT", "FREESEEK_WEB_PENALTY_FACTOR",
                                  "FREESEEK_RESPONSE_STORE_SECONDS", "FREESEEK_WEB_CONTINUE_PAUSE"])
@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_a_non_finite_number_is_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_an_error_with_an_endless_wait_still_renders():
    from services.errors import RateLimited
    for wait in (float("inf"), float("nan")):
        error = RateLimited("paced", retry_after=wait)
        assert "Retry-After" not in error.headers() and error.body()["error"]["message"] == "paced"
