"""A few hundred KB of varied text, the same on every run, for checking the counter against DeepSeek's tokenizer."""

from __future__ import annotations

import json
import random

PROSE = """The gateway counts tokens itself when an upstream says nothing about usage. It's a small job, isn't it?
Well -- counting "exactly" means agreeing with the model's own tokenizer on every byte, not just on average.
Dr. O'Neil's co-author (née Müller) paid $1,234.56 on 2024-02-29 at 23:59:60 UTC; e-mail: a.b+c@example.org.
"""
CODE = [
    'def fibonacci(n: int) -> int:\n    """Return the n-th number."""\n    a, b = 0, 1\n    for _ in range(n):\n'
    '        a, b = b, a + b\n    return a\n\n\nif __name__ == "__main__":\n\tprint(fibonacci(90))\n',
    '#include <stdio.h>\nint main(void) {\n    for (int i = 0; i < 10; ++i) printf("%d\\n", i << 2);\n'
    '    return 0; /* done */\n}\n',
    'fn main() -> Result<(), Box<dyn std::error::Error>> {\n    let v: Vec<u64> = (1..=20).map(|x| x * x).collect();\n'
    '    println!("{:?}", v);\n    Ok(())\n}\n',
    'const f = async (url) => { const r = await fetch(`${url}?q=1&x=${encodeURIComponent("a b")}`); '
    'return r.ok ? r.json() : null; };\n',
    'SELECT u.id, COUNT(*) AS n FROM users u LEFT JOIN orders o ON o.user_id = u.id WHERE u.created_at >= \'2020-01-01\''
    ' GROUP BY u.id HAVING n > 3 ORDER BY n DESC;\r\n',
    '<html><body class="x"><p>&lt;tag&gt; &amp; &#x1F600;</p><!-- comment --></body></html>\n',
    '#!/bin/sh\nset -eu\nfor f in *.txt; do wc -l "$f" | awk \'{print $1}\' >> /tmp/out.log 2>&1; done\n',
]
SCRIPTS = [
    "中华人民共和国成立于1949年。我们今天讨论一下机器学习的基本概念，包括监督学习、无监督学习和强化学习。",
    "日本語のテキストです。カタカナ・ひらがな・漢字が混ざっています。ヴァイオリンを弾きます。ｶﾀｶﾅ゛゜ー〜",
    "한국어 문장입니다. 대한민국의 수도는 서울입니다. 띄어쓰기가 중요합니다!",
    "مرحبا بالعالم، هذه جملة عربية مع أرقام ١٢٣٤٥٦٧٨٩٠ وتشكيل: مُحَمَّدٌ.",
    "Привет, мир! Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Γειά σου Κόσμε· ἀλφάβητο ὕδωρ. עברית: שלום עולם. हिन्दी: नमस्ते दुनिया। தமிழ்: வணக்கம் ไทย: สวัสดีครับ",
    "Tiếng Việt có dấu: Người ta nói rằng. Türkçe: İstanbul'da ğüşıöç. Ελληνικά. ქართული ენა. Ⅻ ½ ² ⁴ ① ⓐ",
]
EMOJI = ["👨‍👩‍👧‍👦", "👩🏽‍💻", "🏳️‍🌈", "❤️‍🔥", "🇫🇷🇯🇵", "👍🏿", "😀😃😄", "🧑‍🤝‍🧑", "1️⃣", "©️®️™️"]
ODD = ["e\u0301\u0302\u0303", "Z\u0351\u0352\u0353\u0354\u0355a\u0300", "\u200b\u200c\u200d\u2060\ufeff",
       "\x00\x01\x07\x1b[31m\x7f\x1c\x1d\x1e\x1f", "\u00a0\u2003\u3000\u2028\u2029\x85\x0b\x0c",
       "\ue000\uf8ff\U000f0000", "\u0558\u1ad0\u2b96\U00011de0\U0002ebf0", "\U0001d400\U0001d7d8\U00010348",
       "\ufffd\ufffe", "İıſ\u212a", "ﬁﬂ ﬀ", "\u202eRTL\u202c", "a\tb\t\tc", "x" * 300]
SPECIAL = ["<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜>", "<think>", "</think>", "<｜User｜>", "<｜Assistant｜>",
           "<｜tool▁calls▁begin｜>", "｜DSML｜", "<｜DSML｜invoke>", "<dsml:", "</dsml:x>", "<|EOT|>", "<｜fim▁hole｜>",
           "<｜place▁holder▁no▁97｜>", "<｜end▁of▁sentence", "<think", "<｜｜>"]
SPACES = [" ", "  ", "   ", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n ", "\t", "\t\n", "    \n", " " * 17, "\n" * 9,
          "\r", "\r\r\n", " \r\n\t \n"]


def _number(rng: random.Random) -> str:
    """A number of 1 to 40 digits, sometimes signed, grouped or with a fraction."""
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 40)))
    return rng.choice(["", "-", "+", "$", "#"]) + digits + rng.choice(["", ".5", ",000", "%", "e-7", "th", "px"])


def _json(rng: random.Random) -> str:
    """A JSON document with nested values and unicode escapes."""
    doc = {"id": rng.randint(0, 10**12), "name": rng.choice(SCRIPTS)[:20], "tags": rng.sample(EMOJI, 3),
           "price": rng.random() * 1000, "ok": rng.random() < 0.5, "nested": {"list": [None, 1.5e300, -0.0, "\u2028"]}}
    return json.dumps(doc, ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2, "\t"]))


def corpus(seed: int = 20240229, size: int = 300_000) -> str:
    """Snippets of every kind, joined in a seeded random order until the text reaches size characters."""
    rng = random.Random(seed)
    makers = [lambda: PROSE, lambda: rng.choice(CODE), lambda: rng.choice(SCRIPTS), lambda: rng.choice(EMOJI),
              lambda: rng.choice(ODD), lambda: rng.choice(SPECIAL), lambda: rng.choice(SPACES),
              lambda: _number(rng), lambda: _json(rng), lambda: rng.choice("aA1 .,!?-_'\"()[]{}<>|/\\*")]
    parts, length = [], 0
    while length < size:
        part = rng.choice(makers)()
        if rng.random() < 0.1:  # glue without a separator, so pieces meet in every combination
            part = part[rng.randint(0, len(part) // 2):]
        parts.append(part)
        parts.append(rng.choice(SPACES) if rng.random() < 0.6 else "")
        length += len(part)
    runs = ["a" * 4097, "ab" * 1500, "9" * 1000, " " * 2000, "\r\n" * 500, "\n " * 300, "!" * 700, "中" * 900,
            "e" + "\u0301" * 200]
    return "".join(parts) + "".join(runs)
