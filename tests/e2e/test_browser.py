"""The page at `/` and CORS, in a real headless Chromium (Debian's) driven by Playwright, against gunicorn.

Screenshots go to a temporary folder, or to $FREESEEK_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.fakes.loopback import LoopbackServer

CHROMIUM = os.environ.get("FREESEEK_CHROMIUM", "/usr/bin/chromium")
# Offline and quiet: no first-run, sync, component or update traffic; a fresh profile per launch.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
    return None


if _missing():
    if os.environ.get("CI"):  # CI installs both (.ci/run): there a missing browser is a failure, not a skip
        raise RuntimeError(f"browser tests cannot run in CI: {_missing()}")
    pytest.skip(_missing(), allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_playwright() as playwright:
        executable = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert errors == [], errors


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("FREESEEK_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_page_checks_a_token_and_streams_a_chat_answer(page, gateway, fake, shots):
    fake.dead_keys.add("sk-page-dead")
    key = fake.script("sk-page-chat", reasoning=["Thinking it ", "through."], text=["Streamed ", "from ", "the ",
                      "fake ", "upstream."], pace=0.15)
    page.goto(gateway.url + "/")
    expect(page.locator("#base-url")).to_have_text(gateway.url + "/v1")
    expect(page.locator("#snippet-python")).to_contain_text(f'base_url="{gateway.url}/v1"')
    expect(page.locator("#server-mode")).to_contain_text("Zero configuration")

    page.fill("#check-token", "sk-page-live-secret")
    page.click("#check-button")
    expect(page.locator("#check-result")).to_have_text("Live, provider deepseek.")
    page.fill("#check-token", "sk-page-dead")
    page.click("#check-button")
    expect(page.locator("#check-result")).to_have_text("Not live, provider deepseek.")

    page.fill("#key", key)
    expect(page.locator("#model option[value='deepseek-reasoner']")).to_have_count(1)
    page.select_option("#model", "deepseek-reasoner")
    page.fill("#chat-input", "Tell me something")
    page.click("#send")
    reply = page.locator(".message.assistant").last
    answer = reply.locator(".answer")
    # Streamed: part of the answer is on screen while the stream is still open.
    expect(answer).to_contain_text("Streamed")
    assert reply.get_attribute("data-done") is None
    expect(reply).to_have_attribute("data-done", "true")
    expect(answer).to_have_text("Streamed from the fake upstream.")
    reasoning = reply.locator("details.reasoning")
    expect(reasoning).to_be_visible()
    assert reasoning.get_attribute("open") is None  # folded until the person opens it
    expect(reasoning.locator("pre")).to_have_text("Thinking it through.")
    assert fake.requests[-1]["json"]["messages"] == [{"role": "user", "content": "Tell me something"}]

    page.click("#pool-button")
    expect(page.locator("#pool-table tbody tr")).to_have_count(1)
    expect(page.locator("#pool-table tbody tr td").nth(1)).to_have_text("deepseek")
    expect(page.locator("#pool-table tbody tr td").nth(2)).to_have_text("ok")
    reasoning.locator("summary").click()
    page.screenshot(path=str(shots / "page.png"), full_page=True)
    assert "sk-page" not in page.locator("body").inner_text()
    assert "sk-page-live-secret" not in gateway.log.read_text()


def test_the_pool_of_server_held_tokens_needs_an_api_key_on_the_page(browser, start_gateway, fake, shots):
    fake.script("sk-owner-dead", status=401)
    gateway = start_gateway(FREESEEK_TOKENS="sk-owner-dead,siliconflow:sk-owner-ok", FREESEEK_API_KEYS="page-key")
    page = browser.new_page()
    try:
        page.goto(gateway.url + "/")
        expect(page.locator("#server-mode")).to_contain_text("holds its own tokens")
        page.click("#pool-button")
        expect(page.locator("#pool-status")).to_contain_text("No credentials")
        expect(page.locator("#pool-table")).to_be_hidden()
        page.fill("#key", "page-key")
        # deepseek's own model id goes only to deepseek tokens: the dead one, deterministically.
        page.select_option("#model", "deepseek-flash")
        page.fill("#chat-input", "hello")
        page.click("#send")
        reply = page.locator(".message.assistant").last
        expect(reply).to_have_attribute("data-done", "error")
        expect(reply.locator(".error")).to_contain_text("HTTP 401")
        page.click("#pool-button")
        rows = page.locator("#pool-table tbody tr")
        expect(rows).to_have_count(2)
        expect(page.locator("#pool-table tbody tr[data-state=dead] td").nth(5)).to_contain_text("HTTP 401")
        page.screenshot(path=str(shots / "pool.png"), full_page=True)
        assert "sk-owner" not in page.content()
    finally:
        page.close()


class OtherOrigin(LoopbackServer):
    """Serves one page from another origin (another port) whose script calls the gateway with fetch."""

    def __init__(self, gateway_url: str, key: str):
        self.gateway_url, self.key = gateway_url, key
        super().__init__()

    def _wsgi(self, environ, start_response):
        html = f"""<!doctype html><meta charset="utf-8"><title>other origin</title>
<pre id="out"></pre><pre id="error"></pre><pre id="status"></pre>
<script>
async function run() {{
  const response = await fetch("{self.gateway_url}/v1/chat/completions", {{
    method: "POST",
    headers: {{"Authorization": "Bearer {self.key}", "Content-Type": "application/json",
              "x-stainless-os": "Linux", "x-stainless-lang": "js", "x-stainless-retry-count": "0"}},
    body: JSON.stringify({{model: "deepseek-chat", stream: true,
                          messages: [{{role: "user", content: "from another origin"}}]}})}});
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "", buffer = "";
  for (;;) {{
    const {{value, done}} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {{stream: true}});
    const lines = buffer.split("\\n");
    buffer = lines.pop();
    for (const line of lines) {{
      if (!line.startsWith("data: ") || line.includes("[DONE]")) continue;
      const delta = JSON.parse(line.slice(6)).choices[0]?.delta || {{}};
      text += delta.content || "";
      document.getElementById("out").textContent = text;
    }}
  }}
  const bad = await fetch("{self.gateway_url}/v1/chat/completions", {{
    method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{model: "deepseek-chat", messages: [{{role: "user", content: "no key"}}]}})}});
  document.getElementById("error").textContent = bad.status + " " + (await bad.json()).error.code;
  document.getElementById("status").textContent = "done";
}}
run().catch((e) => {{ document.getElementById("status").textContent = "failed: " + e; }});
</script>"""
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [html.encode()]


def test_a_page_on_another_origin_reads_a_streamed_answer(page, gateway, fake, shots):
    key = fake.script("sk-cors", text=["across ", "origins"], pace=0.05)
    with OtherOrigin(gateway.url, key) as other:
        assert other.port != gateway.port
        page.goto(other.root + "/")
        expect(page.locator("#status")).to_have_text("done", timeout=20000)
        expect(page.locator("#out")).to_have_text("across origins")
        # The error's own status and body reach the page: errors carry the CORS headers too.
        expect(page.locator("#error")).to_have_text("401 missing_api_key")
        page.screenshot(path=str(shots / "cors.png"))
    assert any(r["key"] == key for r in fake.requests)
