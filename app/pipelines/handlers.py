"""Python handlers a task may name instead of a command: the allow-list. Only a
registered handler can be named, by the dotted path it is registered under."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Callable

from app import csvcells
from app.errors import JobFailed

TaskHandler = Callable[..., str]
HANDLERS: dict[str, TaskHandler] = {}


def task_handler(fn: TaskHandler | None = None, *, name: str | None = None):
    """Register a Python handler by its dotted path (or `name`); only registered ones can
    be named by a task. It is called as fn(inputs=[Path], output_dir=Path,
    parameters={name: value}) and returns a line for the step's history; JobFailed ends
    the step FAILED."""
    def register(f: TaskHandler) -> TaskHandler:
        HANDLERS[name or f"{f.__module__}.{f.__name__}"] = f
        return f
    return register(fn) if fn is not None else register


_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


@task_handler(name="app.pipelines.word_frequencies")  # the path tasks name it by: app.pipelines exports it
def word_frequencies(*, inputs: list[Path], output_dir: Path, parameters: dict[str, str]) -> str:
    """Count the words of the input files; keep the `top` most frequent as a CSV file."""
    raw = (parameters.get("top") or "20").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise JobFailed(f"Parameter top must be a whole number from 1 to 100000, not {raw!r}.")
    counts: Counter[str] = Counter()
    for path in inputs:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                counts.update(w.lower() for w in _WORD.findall(line))
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:int(raw)]
    with open(output_dir / "word_frequencies.csv", "w", newline="", encoding="utf-8") as f:
        w = csvcells.writer(f)
        w.writerow(["word", "count"])
        w.writerows(top)
    return (f"{sum(counts.values())} words, {len(counts)} distinct, in {len(inputs)} file(s); "
            f"the {len(top)} most frequent kept.")

