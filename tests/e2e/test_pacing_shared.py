"""Account care across gunicorn workers and gateway processes over one real Redis: one pace, one budget."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests


def chat(gateway, tokens: str, content: str) -> requests.Response:
    return requests.post(gateway.url + "/v1/chat/completions", headers={"Authorization": f"Bearer {tokens}"},
                         json={"model": "deepseek-chat", "messages": [{"role": "user", "content": content}]},
                         timeout=90)


def test_a_burst_over_four_workers_keeps_each_accounts_gap_and_daily_budget(start_gateway, web, redis_live):
    env = {"FREESEEK_REDIS_URL": redis_live.url, "WEB_CONCURRENCY": "2", "FREESEEK_QUEUE_TIMEOUT": "40",
           "FREESEEK_WEB_DELETE_SESSIONS": "false", "FREESEEK_WEB_MIN_GAP_SECONDS": "0.3",
           "FREESEEK_WEB_GAP_JITTER_SECONDS": "0.1", "FREESEEK_WEB_DAILY_BUDGET": "8",
           "FREESEEK_FIRST_HEARTBEAT_SECONDS": "60"}  # no keep-alive before the status: a refusal is a real 429
    pair = start_gateway(**env), start_gateway(**env)
    with ThreadPoolExecutor(20) as executor:
        replies = list(executor.map(lambda i: chat(pair[i % 2], "burst-a,burst-b", f"q{i}"), range(20)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [200] * 16 + [429] * 4, statuses
    refused = [r.json()["error"]["message"] for r in replies if r.status_code == 429]
    assert all("FREESEEK_WEB_DAILY_BUDGET=8" in message for message in refused), refused
    assert web.violations == []
    for token in ("burst-a", "burst-b"):
        answers = sorted((a for a in web.answers if a["token"] == token), key=lambda a: a["start"])
        assert len(answers) == 8
        gaps = [later["start"] - earlier["end"] for earlier, later in zip(answers, answers[1:])]
        assert min(gaps) >= 0.3, gaps
