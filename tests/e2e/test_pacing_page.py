"""The page at `/` shows each web account's pace and last mute, in a real Chromium against gunicorn."""

from __future__ import annotations

import time

import requests

from tests.e2e.test_browser import browser, expect, shots  # noqa: F401  (fixtures; skips without a browser)

PACED = {"FREESEEK_WEB_MIN_GAP_SECONDS": "600", "FREESEEK_WEB_GAP_JITTER_SECONDS": "0",
         "FREESEEK_WEB_HOURLY_BUDGET": "5", "FREESEEK_WEB_DAILY_BUDGET": "50"}


def test_the_pool_on_the_page_shows_budget_left_next_start_and_the_last_mute(browser, start_gateway, web,  # noqa: F811
                                                                             shots):  # noqa: F811
    web.account("page-muted-tok", state="muted", mute_until=int(time.time()) + 7200)
    gateway = start_gateway(FREESEEK_TOKENS="page-paced-tok,page-muted-tok", FREESEEK_API_KEYS="pace-key", **PACED)
    check = requests.post(gateway.url + "/token/check", json={"token": "page-muted-tok"}, timeout=30).json()
    assert check["state"] == "muted"
    answer = requests.post(gateway.url + "/v1/chat/completions", timeout=60, headers={
        "Authorization": "Bearer pace-key"}, json={"model": "deepseek-chat", "messages": [
            {"role": "user", "content": "hello"}]})
    assert answer.status_code == 200  # on the paced account: the muted one is held back before any call
    page = browser.new_page()
    try:
        page.goto(gateway.url + "/")
        page.fill("#key", "pace-key")
        page.click("#pool-button")
        expect(page.locator("#pool-table tbody tr")).to_have_count(2)
        paced = page.locator("#pool-table tbody tr[data-state=paced] td").nth(6)
        expect(paced).to_contain_text("4 of 5 left this hour")
        expect(paced).to_contain_text("49 of 50 left this day")
        expect(paced).to_contain_text("next start")
        muted = page.locator("#pool-table tbody tr[data-state=cooldown] td").nth(6)
        expect(muted).to_contain_text("last mute")
        expect(muted).to_contain_text("2 of 2 left this hour")  # halved after the mute
        expect(muted).to_contain_text("next start")  # when the mute ends
        expect(muted).to_contain_text("budgets reduced until")
        page.screenshot(path=str(shots / "pool-pace.png"), full_page=True)
        assert "page-paced-tok" not in page.content() and "page-muted-tok" not in page.content()
    finally:
        page.close()
