"""The real agent CLIs against the gateway and the fakes: Claude Code (Messages) and Codex (Responses).

They are installed by `.ci/run` into tests/e2e/cli/node_modules (pinned in its package-lock.json); without
node or the packages these tests are skipped, saying so. Everything they reach is on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

BIN = Path(__file__).with_name("cli") / "node_modules" / ".bin"
# No telemetry, no update checks, no error reports: the CLIs must not need the internet.
QUIET = {"DISABLE_TELEMETRY": "1", "DISABLE_AUTOUPDATER": "1", "DISABLE_ERROR_REPORTING": "1",
         "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_BUG_COMMAND": "1", "NO_COLOR": "1"}


def cli(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is not installed (npm ci --prefix tests/e2e/cli; needs node and npm)")
    return str(path)


def clean_env(tmp_path: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "OPENAI_", "CODEX_", "CLAUDE"))}
    return {**env, **QUIET, "HOME": str(tmp_path), **extra}


def test_claude_code_print_mode(gateway, fake, tmp_path):
    claude = cli("claude")
    key = fake.script("sk-cli-claude", text=["Hello ", "from ", "freeseek."])
    result = subprocess.run([claude, "-p", "say hello", "--output-format", "json", "--max-turns", "1"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=clean_env(tmp_path, ANTHROPIC_BASE_URL=gateway.url, ANTHROPIC_AUTH_TOKEN=key))
    assert result.returncode == 0, result.stdout + result.stderr
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["result"] == "Hello from freeseek." and reply["is_error"] is False
    assert any(r["path"].endswith("/chat/completions") and r["key"] == key for r in fake.requests)


def test_claude_code_with_a_base_url_ending_in_v1(gateway, fake, tmp_path):
    # Claude Code appends /v1/messages itself, so this base URL makes it call /v1/v1/messages.
    claude = cli("claude")
    key = fake.script("sk-cli-claude-v1", text=["Hello ", "through ", "/v1."])
    result = subprocess.run([claude, "-p", "say hello", "--output-format", "json", "--max-turns", "1"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=120,
                            env=clean_env(tmp_path, ANTHROPIC_BASE_URL=gateway.url + "/v1", ANTHROPIC_AUTH_TOKEN=key))
    assert result.returncode == 0, result.stdout + result.stderr
    reply = json.loads(result.stdout.strip().splitlines()[-1])
    assert reply["result"] == "Hello through /v1." and reply["is_error"] is False


def test_codex_exec(gateway, fake, tmp_path):
    codex = cli("codex")
    key = fake.script("sk-cli-codex", text=["Hello ", "from ", "freeseek."])
    home = tmp_path / "codex"
    home.mkdir()
    (home / "config.toml").write_text(
        'model = "deepseek-chat"\nmodel_provider = "freeseek"\n\n[model_providers.freeseek]\nname = "freeseek"\n'
        f'base_url = "{gateway.url}/v1"\nwire_api = "responses"\nenv_key = "FREESEEK_KEY"\n')
    result = subprocess.run([codex, "exec", "--skip-git-repo-check", "say hello"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120,
                            env=clean_env(tmp_path, CODEX_HOME=str(home), FREESEEK_KEY=key))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hello from freeseek." in result.stdout
    assert any(r["path"].endswith("/chat/completions") and r["key"] == key for r in fake.requests)
