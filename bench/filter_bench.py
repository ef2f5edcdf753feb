"""Prompt filter: one check of a 6,000-character prompt against a guild's term lists.

* ``filter_ms``: realistic prompts (tags, weights, seeds, a little leetspeak; Discord's 6,000-character
  option limit) against 200 terms of every kind (words, wildcards, phrases, regexes) plus the
  built-in list; clean prompts and prompts with a hit near the end, as a member waits for them.
* ``filter_hostile_prompt_ms``: the same terms against prompts built to hurt a filter (one letter
  6,000 times, ambiguous leetspeak, runs of single letters, look-alike and combining characters).
* ``filter_adversarial_ms``: both lists full (1,000 terms) of terms written to be as slow as the term
  rules allow (the regex shapes that backtrack catastrophically, the longest phrases with the most
  wildcards made of the prompts' own words, ambiguous leetspeak), against realistic and hostile
  prompts.
* ``filter_first_check_ms``: the first check after a list changed (RE2 builds its automata lazily,
  so this one pays for what later checks reuse), and ``filter_compile_ms``: compiling the lists (the
  expressions that tell which term matched are compiled at each list's first hit, not counted here).

Every prompt is novel text, checked once, as members send them; every figure is the whole ``check``
(normalisation included) on the calling thread. In the bot that is a worker thread (see
moderation.policy.evaluate), and RE2 lets go of the GIL while it matches.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.stats import summary
from bot.moderation.filters import PromptFilter, compile_filter
from bot.moderation.normalize import normalize

PROMPT_CHARS = 6_000

_TAG_TEXT = (
    "masterpiece, best quality, 1girl, solo, portrait, looking at viewer, smile, long hair, blue eyes, "
    "white dress, outdoors, blue sky, cloud, cherry blossoms, detailed background, cinematic lighting, "
    "8k, highly detailed, sharp focus, watercolor, oil painting, by greg rutkowski, trending on "
    "artstation, (red scarf:1.2), [blue|green], seed 455, 1024x768, depth of field, bokeh, (b3st:0.8), "
    "l0ng exposure, film grain, volumetric fog, golden hour, rim light, ultra-detailed, photorealistic"
)
_TAGS = tuple(_TAG_TEXT.split(", "))


def realistic_prompt(rng: random.Random, hit: str | None = None) -> str:
    """A long prompt of the kind people paste: whole tags and weights up to Discord's 6,000 characters,
    optionally ending with ``hit``."""
    room = PROMPT_CHARS - (len(hit) + 2 if hit else 0)
    tags: list[str] = []
    length = -2
    while True:
        tag = rng.choice(_TAGS)
        if length + 2 + len(tag) > room:
            break
        tags.append(tag)
        length += 2 + len(tag)
    return ", ".join([*tags, hit] if hit else tags)


def realistic_terms(count: int = 200) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``count`` terms split between the blocked and review lists, every kind represented."""
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyz"

    def word(n: int) -> str:
        return "".join(rng.choice(letters) for _ in range(n))

    regexes = [
        r"\d{1,2}\s?y/?o",
        r"\b(1[0-7]|[1-9])\s?(yo|y/o|years? old)\b",
        r"\bteen(s|agers?)?\b",
        r"\bnud(e|ie)s?\b",
        r"child.{0,30}(porn|nude)",
        r"l[o0]l[i1]",
        r"\bp[o0]rn\w*",
        r"colou?rless",
        r"(under|too)\s?age",
        r"\bs[e3]x(y|ie)?\b",
    ]
    terms = (
        [word(rng.randint(4, 9)) for _ in range(count // 2)]
        + [word(rng.randint(3, 6)) + "*" for _ in range(count // 5)]
        + [f"{word(5)} {word(6)}" for _ in range(count - count // 2 - count // 5 - len(regexes) * 2)]
        + ["re:" + r for r in regexes]
        + [f"re:{r}|zq{i}x" for i, r in enumerate(regexes)]
    )
    rng.shuffle(terms)
    return tuple(terms[: count * 2 // 3]), tuple(terms[count * 2 // 3 :])


_BIGRAM_TEXT = (
    "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me "
    "de hi ri ro ic ne ea ra ce li ch ll be ma si om ur"
)
_BIGRAMS = tuple(_BIGRAM_TEXT.split())


_WORDS = sorted({w for tag in _TAGS for w in tag.split() if w.isalpha() and len(w) > 2})


def adversarial_terms() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Both lists full (500 terms each), every term as costly as the term rules allow: regexes in the
    shapes that backtrack catastrophically, the longest phrases with the most wildcards, made of the
    words the prompts use (so every prompt keeps each of them going), wildcards around the commonest
    letter pairs, ambiguous leetspeak, stretched letters."""
    shapes = [
        r"(a+)+b",
        r"(a|aa)+c",
        r"(.*a){12}",
        r"(\w+\s?)+$",
        r"(x+x+)+y",
        r"(a|a)*b",
        r".*.*.*=.*z",
        r"(\d+\s?)+x",
        r"(l|1|\|)+q",
        r"([a-z]+)*[0-9]{5}",
    ]
    rng = random.Random(5)

    def pair() -> str:
        return rng.choice(_BIGRAMS)

    def word() -> str:
        return rng.choice(_WORDS)

    def one_list(salt: str) -> tuple[str, ...]:
        terms = [f"re:{shape}{salt}{i}" for i, shape in enumerate(shapes * 5)]
        terms += [f"{word()} {word()}* {word()} {word()} {word()}*" for _ in range(150)]
        terms += [f"{word()}* {word()} {word()}*" for _ in range(100)]
        terms += [f"*{pair()}{pair()}*" for _ in range(50)]
        terms += [f"*{pair()}{pair()}" for _ in range(25)]
        terms += [f"{pair()}*{pair()}" for _ in range(25)]
        terms += [f"l1l1l1{salt}{i}" for i in range(50)]
        terms += [f"aabbc{salt}{i}" for i in range(50)]
        return tuple(dict.fromkeys(terms))

    return one_list("q"), one_list("k")


def hostile_prompt(rng: random.Random) -> str:
    """A prompt that would hurt a backtracking or reading-listing filter: one of a few shapes (one
    letter over and over, ambiguous leetspeak, runs of single letters, stretched letters, look-alike
    and combining characters), with random letters so that no two are the same text."""
    n = PROMPT_CHARS
    a, b = rng.sample("abcdefghijklmnopqrstuvwxyz", 2)
    shapes = [
        lambda: a * n,
        lambda: (a * rng.randint(20, 80) + " ") * (n // 50),
        lambda: "".join(rng.choice("1l|!i") for _ in range(n)),
        lambda: " ".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n // 2)),
        lambda: ".".join(rng.choice("abcdefghijklmnopqrstuvwxyz14@$") for _ in range(n // 2)),
        lambda: (a * rng.randint(100, 400) + b * rng.randint(100, 400) + " ") * (n // 500),
        lambda: "=" * rng.randint(1, 10) + "(" * (n // 2),
        lambda: "".join(chr(0x1D4EA + rng.randrange(26)) for _ in range(n // 2)),
        lambda: (a + "\u0301\u0302\u0303 ") * (n // 5),
        lambda: "".join(rng.choice("1" * 5 + a) for _ in range(n)),
        lambda: "".join(rng.choice((a, "1", " ")) for _ in range(n)),
    ]
    return rng.choice(shapes)()[:n]


def _time(check: Callable[[], object]) -> float:
    start = time.perf_counter()
    check()
    return time.perf_counter() - start


_cpu: list[float] = []
"""CPU time of every check ``_checks`` timed since the last ``_cpu_summary``: on a machine shared with
other work, wall time also counts the time the process was waiting for a core."""


def _checks(flt: PromptFilter, prompts: Sequence[str]) -> list[float]:
    """Each prompt checked once, as members send them: novel text every time."""
    wall = []
    for prompt in prompts:
        start, cpu = time.perf_counter(), time.thread_time()
        flt.check({"prompt": prompt})
        wall.append(time.perf_counter() - start)
        _cpu.append(time.thread_time() - cpu)
    return wall


def _cpu_summary() -> dict[str, float]:
    figures = summary(_cpu)
    _cpu.clear()
    return {"median": figures["median"], "p95": figures["p95"]}


def run(prompts: int = 300) -> dict[str, Any]:
    rng = random.Random(11)
    blocked, review = realistic_terms(200)
    compile_times = [
        _time(lambda: (compile_filter.cache_clear(), compile_filter(blocked, review, True))) for _ in range(5)
    ]
    flt = compile_filter(blocked, review, True)
    first_check = _time(lambda: flt.check({"prompt": realistic_prompt(rng)}))
    _checks(flt, [realistic_prompt(rng) for _ in range(10)])  # a filter in use has seen prompts before
    hit_texts = ("a 12yo girl", "n.u.d.e.s", "CH1LD p0rn", "l0l1", "nudes")
    clean = [realistic_prompt(rng) for _ in range(prompts)]
    hits = [realistic_prompt(rng, rng.choice(hit_texts)) for _ in range(prompts // 10)]
    assert all(flt.check({"prompt": p}).allowed for p in clean[:20]), "a clean prompt matched a term"
    assert not any(flt.check({"prompt": p}).allowed for p in hits[:20]), "a hit was missed"
    _cpu.clear()
    clean_times = _checks(flt, clean)
    hit_times = _checks(flt, hits)
    realistic_cpu = _cpu_summary()
    hostile = [hostile_prompt(rng) for _ in range(prompts // 3)]
    hostile_times = _checks(flt, hostile)

    hostile_blocked, hostile_review = adversarial_terms()
    adversarial_compile = _time(lambda: compile_filter(hostile_blocked, hostile_review, True))
    adversarial = compile_filter(hostile_blocked, hostile_review, True)
    adversarial_first = _time(lambda: adversarial.check({"prompt": realistic_prompt(rng)}))
    # In use, the filter has seen prompts before, and both lists have had a hit (the expressions that
    # tell which term matched are compiled at a list's first hit).
    _checks(
        adversarial, [realistic_prompt(rng) for _ in range(10)] + [hostile_prompt(rng) for _ in range(20)]
    )
    _cpu.clear()
    adversarial_times = _checks(adversarial, [realistic_prompt(rng) for _ in range(prompts // 3)])
    adversarial_times += _checks(adversarial, [hostile_prompt(rng) for _ in range(prompts // 3)])
    adversarial_cpu = _cpu_summary()

    normalize_times = [_time(lambda p=p: normalize(p)) for p in clean]  # type: ignore[misc]
    return {
        "prompt_chars": PROMPT_CHARS,
        "terms": len(blocked) + len(review),
        "adversarial_terms": len(hostile_blocked) + len(hostile_review),
        "filter_ms": summary(clean_times + hit_times),
        "filter_cpu_ms": realistic_cpu,
        "filter_clean_ms": summary(clean_times),
        "filter_hit_ms": summary(hit_times),
        "filter_hostile_prompt_ms": summary(hostile_times),
        "filter_adversarial_ms": summary(adversarial_times),
        "filter_adversarial_cpu_ms": adversarial_cpu,
        "normalize_ms": summary(normalize_times),
        "filter_first_check_ms": {
            "terms_200": round(first_check * 1000, 1),
            "adversarial": round(adversarial_first * 1000, 1),
        },
        "filter_compile_ms": {
            "terms_200": summary(compile_times)["median"],
            "adversarial": round(adversarial_compile * 1000, 1),
        },
    }


if __name__ == "__main__":
    print(json.dumps(run(60 if "--quick" in sys.argv else 300), indent=2))
