"""Theory rubric scoring speed: 1,000 labelled answers, and the longest accepted answer.

Target (issues 4 and 9): 1,000 answers under a second, with the claim-level reading of
issue 9. The answers are the labelled sets (the original samples and the adversarial set)
cycled. Prints figures and the ratio to that one-second budget, measured in one run:

    .venv/bin/python bench/theory_speed.py
"""

from __future__ import annotations

import statistics
import time
import tomllib
from pathlib import Path

from graders.theory import load_bank, score_answer

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SAMPLES = (DATA / "theory_answers.toml", DATA / "theory_adversarial.toml")
BUDGET_SECONDS = 1.0
REPEATS = 5


def timed(pairs) -> float:
    started = time.perf_counter()
    for question, text in pairs:
        score_answer(question, text)
    return time.perf_counter() - started


def main() -> None:
    bank = load_bank()
    samples = [
        sample
        for path in SAMPLES
        for sample in tomllib.loads(path.read_text(encoding="utf-8"))["answers"]
    ]
    pairs = [
        (bank.get(s["question"]), s["text"]) for s in samples if isinstance(s.get("text"), str)
    ]
    thousand = (pairs * (1000 // len(pairs) + 1))[:1000]
    runs = [timed(thousand) for _ in range(REPEATS)]
    best, median = min(runs), statistics.median(runs)
    cpu_started = time.process_time()
    timed(thousand)
    cpu = time.process_time() - cpu_started
    print(f"1,000 answers ({len(pairs)} distinct labelled samples, cycled), {REPEATS} runs")
    print(f"  best {best * 1000:.1f} ms, median {median * 1000:.1f} ms (wall clock)")
    print(f"  one more run: {cpu * 1000:.1f} ms of CPU time (less sensitive to a busy machine)")
    print(f"  ratio to the {BUDGET_SECONDS:.0f} s budget: {median / BUDGET_SECONDS:.3f}")
    longest = max((t for _, t in pairs), key=len)
    longest = (longest * (5000 // len(longest) + 1))[:5000]
    question = pairs[0][0]
    one = min(timed([(question, longest)] * 20) for _ in range(REPEATS)) / 20
    print(f"  a 5,000-character answer: {one * 1000:.2f} ms")


if __name__ == "__main__":
    main()
