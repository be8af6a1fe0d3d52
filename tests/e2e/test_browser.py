"""The page at `/` and CORS, in a real headless Chromium (Debian's) driven by Playwright, against gunicorn.

Screenshots go to a temporary folder, or to $FREESEEK_SCREENSHOTS when it is set."""

from __future__ import annotations

import os
import re
import shutil
import time
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

# An upper bound for each wait on the page, not a margin: a passing check returns as soon as it holds, and a
# loaded 2-core CI machine can take seconds to answer through gunicorn.
expect.set_options(timeout=20_000)


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
                      "**fake** ", "upstream:\n\n```python\nprint(", "'hello')\n```\n\n- a `list`\n- of two"],
                      pace=0.15)
    page.goto(gateway.url + "/")
    expect(page.locator("#base-url")).to_have_text(gateway.url + "/v1")
    expect(page.locator("#snippet-python")).to_contain_text(f'base_url="{gateway.url}/v1"')
    expect(page.locator("#server-mode")).to_contain_text("Zero configuration")

    page.fill("#check-token", "sk-page-dead")
    page.click("#check-button")
    expect(page.locator("#check-result")).to_contain_text("Not live, provider deepseek.")
    expect(page.locator("#check-result")).to_contain_text("the key is invalid or revoked")
    expect(page.locator("#check-result")).to_have_attribute("data-tone", "bad")
    expect(page.locator("#key")).to_have_value("")  # a dead token does not join Your key
    page.fill("#check-token", "sk-page-live-secret")
    page.click("#check-button")
    expect(page.locator("#check-result")).to_have_text("Live, provider deepseek. Now in Your key.")
    expect(page.locator("#check-result")).to_have_attribute("data-tone", "ok")
    expect(page.locator("#key")).to_have_value("sk-page-live-secret")  # checked once, not typed again

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
    expect(answer.locator("p").first).to_have_text("Streamed from the fake upstream:")
    expect(answer.locator("pre code")).to_have_text("print('hello')")
    expect(answer.locator("li")).to_have_text(["a list", "of two"])
    reasoning = reply.locator("details.reasoning")
    expect(reasoning).to_be_visible()
    assert reasoning.get_attribute("open") is None  # folded until the person opens it
    expect(reasoning.locator("pre")).to_have_text("Thinking it through.")
    assert fake.requests[-1]["json"]["messages"] == [{"role": "user", "content": "Tell me something"}]

    page.click("#pool-button")
    expect(page.locator("#pool-table tbody tr")).to_have_count(1)
    expect(page.locator("#pool-table tbody tr td").nth(1)).to_have_text("deepseek")
    expect(page.locator("#pool-table tbody tr td").nth(2)).to_have_text("ok")
    expect(page.locator("#pool-table th").nth(7)).to_be_hidden()  # no row has details to show
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
        expect(page.locator("#pool-status")).to_have_text(
            'Fill in "Your key" above first (one of this server\'s API keys), then try again.')
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


def chat(page, text: str):
    """Send one prompt from the page's chat box and wait for its answer to end; returns the reply's element."""
    page.fill("#chat-input", text)
    page.click("#send")
    reply = page.locator(".message.assistant").last
    expect(reply).to_have_attribute("data-done", re.compile("true|error"))
    return reply


def test_a_failed_prompt_is_not_sent_again_with_the_next_one(page, gateway, fake):
    key = fake.script("sk-page-flaky", status=400, error_body={"error": {"message": "scripted refusal"}})
    page.goto(gateway.url + "/")
    page.fill("#key", key)
    refused = chat(page, "first prompt")
    expect(refused).to_have_attribute("data-done", "error")
    fake.script(key, text=["Half ", "an ", "answer"], mid_stream_error=True)
    cut = chat(page, "second prompt")
    expect(cut).to_have_attribute("data-done", "error")
    expect(cut.locator(".answer")).to_contain_text("Half")
    expect(page.locator("#chat-input")).to_have_value("second prompt")  # back in the box to send again
    page.fill("#key", fake.script("sk-page-steady", text=["Fine."]))  # the cut one rests a few seconds
    expect(chat(page, "third prompt")).to_have_attribute("data-done", "true")
    assert fake.requests[-1]["json"]["messages"] == [{"role": "user", "content": "third prompt"}]
    expect(chat(page, "fourth prompt")).to_have_attribute("data-done", "true")
    assert fake.requests[-1]["json"]["messages"] == [
        {"role": "user", "content": "third prompt"}, {"role": "assistant", "content": "Fine."},
        {"role": "user", "content": "fourth prompt"}]
    expect(page.locator(".message.failed")).to_have_count(4)  # both turns that failed, prompt and reply
    expect(page.locator(".message.assistant").first.locator(".error")).to_have_text(
        "deepseek: scripted refusal Not kept in the conversation; the prompt is back in the box to send again.")


def test_without_a_key_the_chat_and_the_pool_ask_for_your_key(page, gateway, fake):
    page.goto(gateway.url + "/")
    expect(page.locator("#server-mode")).to_contain_text("Zero configuration")
    asked = len(fake.requests)
    page.fill("#chat-input", "hello")
    page.click("#send")
    status = page.locator("#chat-status")
    expect(status).to_have_text('Fill in "Your key" above first (your token(s), comma separated), then try again.')
    assert "Bearer" not in page.locator("#chat").inner_text()
    expect(page.locator("#key")).to_be_focused()
    expect(page.locator("#chat-input")).to_have_value("hello")
    expect(page.locator(".message")).to_have_count(0)
    page.click("#pool-button")
    expect(page.locator("#pool-status")).to_have_text(status.inner_text())
    assert "Bearer" not in page.locator("main").inner_text()
    assert len(fake.requests) == asked


def test_a_muted_account_is_shown_resting_until_its_mute_ends(page, gateway, web, shots):
    until = int(time.time()) + 3 * 3600
    ends = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(until))
    web.account("page-muted", state="muted", mute_until=until)
    web.account("page-banned", state="banned")
    page.goto(gateway.url + "/")
    result = page.locator("#check-result")
    page.fill("#check-token", "page-muted")
    page.click("#check-button")
    expect(result).to_contain_text(f"Muted until {ends}, provider deepseek-web.")
    expect(result).not_to_contain_text("Live")
    expect(result).to_have_attribute("data-tone", "rest")
    assert result.evaluate("e => getComputedStyle(e).color") == "rgb(138, 90, 0)"  # amber, not green
    page.fill("#check-token", "page-banned")
    page.click("#check-button")
    expect(result).to_contain_text("Banned, provider deepseek-web.")
    expect(result).to_have_attribute("data-tone", "bad")
    expect(page.locator("#key")).to_have_value("page-muted")  # the live one joined Your key, the banned one not
    page.fill("#check-token", "")
    page.click("#check-button")  # an empty field checks the token in Your key
    expect(result).to_contain_text(f"Muted until {ends}, provider deepseek-web.")
    # The pool view after a chat that met the mute: the account rests (amber) until the mute ends.
    reply = chat(page, "hello")
    expect(reply.locator(".error")).to_contain_text(ends)
    page.click("#pool-button")
    row = page.locator("#pool-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_class("tone-rest")
    assert row.locator("td").nth(4).inner_text() == page.evaluate(f"new Date({until} * 1000).toLocaleString()")
    assert row.evaluate("e => getComputedStyle(e.cells[2]).color") == "rgb(138, 90, 0)"
    page.screenshot(path=str(shots / "muted.png"), full_page=True)


MARKDOWN_ANSWER = [
    "## A heading\n\nSome **bold**, *italic* and `inline <b>code</b>` text, a ",
    "[safe link](https://example.com/a?b=1) and a [bad one](javascript:alert(1)).\n\n- first\n- sec",
    "ond with snake_case_name\n\n1. one\n2. two\n\n```python\nprint('<script>alert(1)</script>')\n",
    "```\n\n<img src=x onerror=alert(document.domain)> and <script>alert(2)</script> stay text.\n",
]


def test_an_answer_is_rendered_as_markdown_and_never_runs_as_html(page, gateway, fake, shots):
    key = fake.script("sk-page-markdown", text=MARKDOWN_ANSWER, pace=0.05)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(gateway.url + "/")
    page.fill("#key", key)
    answer = chat(page, "Show me Markdown").locator(".answer")
    expect(answer.locator("h2")).to_have_text("A heading")
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("em")).to_have_text("italic")
    expect(answer.locator("p code")).to_have_text("inline <b>code</b>")
    expect(answer.locator("ul > li")).to_have_text(["first", "second with snake_case_name"])
    expect(answer.locator("ol > li")).to_have_text(["one", "two"])
    expect(answer.locator("pre > code.language-python")).to_have_text("print('<script>alert(1)</script>')")
    links = answer.locator("a")
    expect(links).to_have_count(1)
    expect(links).to_have_attribute("href", "https://example.com/a?b=1")
    expect(links).to_have_attribute("rel", "noopener noreferrer")
    expect(answer).to_contain_text("bad one")
    expect(answer).to_contain_text(
        "<img src=x onerror=alert(document.domain)> and <script>alert(2)</script> stay text.")
    expect(answer.locator("img, script, b")).to_have_count(0)
    page.screenshot(path=str(shots / "markdown.png"), full_page=True)
    assert dialogs == []


def test_the_page_carries_its_headers_under_every_name(page, gateway):
    page_headers = page.goto(gateway.url + "/").headers
    for path in ("/static/index.html", "/static/page.js", "/static/markdown.js"):
        headers = page.goto(gateway.url + path).headers
        for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
            assert headers.get(name) == page_headers[name], (path, name)
    assert "frame-ancestors 'none'" in page_headers["content-security-policy"]
    page.goto(gateway.url + "/static/index.html")
    expect(page.locator("#base-url")).to_have_text(gateway.url + "/v1")  # the page works under that name too


def test_the_pool_view_shows_fields_it_does_not_know_yet(page, gateway):
    resting = int(time.time()) + 600
    pool = {"server_tokens": False, "tokens": [
        {"token": "tok:abcdef", "provider": "deepseek-web", "state": "cooldown", "in_flight": 0, "limit": 1,
         "until": resting, "last_status": 403, "last_error": "Forbidden", "budget": 3, "next_start": resting,
         "pacing": {"per_hour": 20}, "last_mute": None}]}
    page.route("**/pool", lambda route: route.fulfill(json=pool))
    page.goto(gateway.url + "/")
    page.fill("#key", "page-anything")
    page.click("#pool-button")
    row = page.locator("#pool-table tbody tr")
    expect(row).to_have_class("tone-rest")
    when = page.evaluate(f"new Date({resting} * 1000).toLocaleString()")
    expect(row.locator("td").nth(4)).to_have_text(when)
    expect(row.locator("td").nth(7)).to_have_text(f'budget 3; next start {when}; pacing {{"per_hour":20}}')
    expect(page.locator("#pool-table th").nth(7)).to_be_visible()


def test_a_check_answer_the_page_does_not_know_is_never_green(page, gateway):
    later = int(time.time()) + 900
    answers = iter([(200, {"live": True, "provider": "deepseek-web", "state": "rate_limited", "until": later}),
                    (429, {"error": {"message": "deepseek: rate limited; retry in 30 s", "code": "rate_limited"}})])

    def answer(route):
        status, body = next(answers)
        route.fulfill(status=status, json=body)
    page.route("**/token/check", answer)
    page.goto(gateway.url + "/")
    result = page.locator("#check-result")
    page.fill("#check-token", "page-resting")
    page.click("#check-button")
    when = page.evaluate(f"new Date({later} * 1000).toLocaleString()")
    expect(result).to_have_text(f"Live but rate_limited, provider deepseek-web, until {when}. Now in Your key.")
    expect(result).to_have_attribute("data-tone", "rest")
    page.click("#check-button")
    expect(result).to_have_text("deepseek: rate limited; retry in 30 s")
    expect(result).to_have_attribute("data-tone", "rest")


# Markdown in, the rendered HTML out: what the renderer makes of ordinary and of hostile answers.
RENDERED = [
    ("# One\n###### Six", "<h1>One</h1><h6>Six</h6>"),
    ("a\nb\n\nc", "<p>a<br>b</p><p>c</p>"),
    ("> quoted **bold**", "<blockquote><p>quoted <strong>bold</strong></p></blockquote>"),
    ("- a\n  - b\n- c", "<ul><li>a<ul><li>b</li></ul></li><li>c</li></ul>"),
    ("3. three\n4. four", '<ol start="3"><li>three</li><li>four</li></ol>'),
    ("1. loose\n\n2. list\n\n   more of two\n\n- other kind", "<ol><li>loose</li><li>list<p>more of two</p></li></ol>"
     "<ul><li>other kind</li></ul>"),
    ("| a | b |\n|:--|--:|\n| 1 | `2` |", '<table><thead><tr><th class="align-left">a</th><th class="align-right">b'
     '</th></tr></thead><tbody><tr><td class="align-left">1</td><td class="align-right"><code>2</code></td></tr>'
     "</tbody></table>"),
    ("~~~\nunclosed fence while streaming", "<pre><code>unclosed fence while streaming</code></pre>"),
    ("``a ` b``", "<p><code>a ` b</code></p>"),
    (r"\*not em\* and snake_case_word and 2 * 3 * 4", "<p>*not em* and snake_case_word and 2 * 3 * 4</p>"),
    ("***", "<hr>"),
    ("see https://example.com/x. and <mailto:a@example.com>",
     '<p>see <a href="https://example.com/x" rel="noopener noreferrer" target="_blank">https://example.com/x</a>. and '
     '<a href="mailto:a@example.com" rel="noopener noreferrer" target="_blank">mailto:a@example.com</a></p>'),
    ("[x](JaVaScRiPt:alert(1)) [z](data:text/html,x) [w](/relative) [v](vbscript:x)", "<p>x z w v</p>"),
    ("[y](java\tscript:alert(1))", "<p>[y](java\tscript:alert(1))</p>"),  # not a link target at all: text
    ("![pic](https://example.com/p.png)",
     '<p><a href="https://example.com/p.png" rel="noopener noreferrer" target="_blank">pic</a></p>'),
    ('<a href="javascript:alert(1)">x</a><svg onload=alert(1)>',
     '<p>&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;&lt;svg onload=alert(1)&gt;</p>'),
    ("```js\" onmouseover=\"alert(1)\nx\n```", '<pre><code class="language-js">x</code></pre>'),
]


def test_the_markdown_renderer_builds_only_safe_elements(page, gateway):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(gateway.url + "/")
    render = "text => { const d = document.createElement('div'); markdown.render(d, text); return d.innerHTML; }"
    for source, html in RENDERED:
        assert page.evaluate(render, source) == html, source
    # A streamed answer, painted piece by piece with its finished blocks kept, ends as the whole text renders.
    streamed = """text => { const whole = document.createElement('div'); markdown.render(whole, text);
        const growing = document.createElement('div'); const paint = markdown.painter(growing);
        for (let n = 1; n <= text.length; n++) paint(text.slice(0, n));
        paint(text); return growing.innerHTML === whole.innerHTML; }"""
    document = "\n\n".join(source for source, _ in RENDERED if not source.startswith("~~~"))  # (unclosed fence)
    document += "\n\n- a\n\n  still a\n\n- b\n\n1. c\n\n2. d\n\n```\n\n\nx\n```\nend"
    assert page.evaluate(streamed, document)
    assert page.evaluate(streamed, "".join(MARKDOWN_ANSWER))
    # Pathological input stays linear enough to finish: a thousand unclosed brackets and stars per line.
    hostile = ("[" * 5000 + "*a" * 5000 + "`" + "_x" * 5000 + "\n") * 20
    assert page.evaluate(render, hostile).startswith("<p>[[[")
    assert dialogs == []
