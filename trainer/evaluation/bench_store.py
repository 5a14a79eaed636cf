"""``samples.jsonl`` of a ``sppo-gym bench`` run: one line per scored sample, appended and flushed at once.

The file is the run's memory: a rerun with the same ``--out`` reads it and generates only the
samples that are missing; samples whose verification hit a sandbox error are verified again (their
stored response, not a new one), and the later line wins. ``run.json`` next to it holds the settings that change what a sample
means (policy, temperature, top_p, seed, max_new_tokens); resuming with different ones is refused,
because mixing them would silently blend two experiments. A line cut short by a crash (no
trailing newline, or not valid JSON) is dropped and rewritten.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TextIO

from . import SANDBOX_ERROR


class BenchError(ValueError):
    """A user-facing problem with the run's settings (env id, kwargs, n, k, out dir)."""


def env_key(env_id: str, kwargs: dict[str, Any]) -> str:
    """What identifies an env's samples: its id and its keyword arguments."""
    return f"{env_id} {json.dumps(kwargs, sort_keys=True)}"


class SampleStore:
    """Samples of every env of one output folder, keyed by (env key, problem index, sample index)."""

    def __init__(self, out: Path, run: dict[str, Any], *, overwrite: bool = False):
        self.path = out / "samples.jsonl"
        run_path = out / "run.json"
        if overwrite:
            self.path.unlink(missing_ok=True)
            run_path.unlink(missing_ok=True)
        if run_path.exists():
            saved = json.loads(run_path.read_text())
            diff = {k: (saved.get(k), v) for k, v in run.items() if saved.get(k) != v}
            if diff:
                what = ", ".join(f"{k} {a!r} there vs {b!r} now" for k, (a, b) in diff.items())
                raise BenchError(f"--out {out} holds a run with other settings ({what}); pass another --out, "
                                 "or --overwrite to start it again")
        elif self.path.exists() and self.path.stat().st_size:
            raise BenchError(f"--out {out} has samples.jsonl but no run.json; pass another --out or --overwrite")
        run_path.write_text(json.dumps(run, indent=2) + "\n")
        self._samples: dict[str, dict[tuple[int, int], dict]] = {}
        for rec in self._load():
            self._samples.setdefault(rec["env_key"], {})[(rec["index"], rec["sample"])] = rec
        self._file: TextIO = self.path.open("a", encoding="utf-8")

    def _load(self) -> list[dict]:
        """Complete lines of the file; a torn last line is cut off so appends start clean."""
        if not self.path.exists():
            return []
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        records, good = [], 0
        for n, line in enumerate(lines[:-1]):  # lines[-1] is b"" or an unterminated (torn) line
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                raise BenchError(f"{self.path}:{n + 1} is not valid JSON; fix or delete that line, or "
                                 "pass --overwrite") from None
            good += len(line) + 1
        if good != len(raw):
            with self.path.open("r+b") as f:
                f.truncate(good)
        return records

    def has(self, key: str, index: int, sample: int) -> bool:
        return (index, sample) in self._samples.get(key, {})

    def to_reverify(self, key: str) -> dict[tuple[int, int], str]:
        """Responses whose verification hit a sandbox error: scored again on resume, not regenerated."""
        return {ij: r["response"] for ij, r in self._samples.get(key, {}).items() if r["verdict"] == SANDBOX_ERROR}

    def responses(self, key: str) -> dict[tuple[int, int], str]:
        """Every stored response, for ``--rescore``: verified again with the env's current verifier."""
        return {ij: r["response"] for ij, r in self._samples.get(key, {}).items()}

    def add(self, record: dict) -> None:
        """Append one sample and flush it to the OS, so a killed run keeps it."""
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        self._samples.setdefault(record["env_key"], {})[(record["index"], record["sample"])] = record

    def records(self, key: str) -> list[dict]:
        return list(self._samples.get(key, {}).values())

    def running_accuracy(self, key: str) -> float | None:
        """Mean reward of the first samples scored so far (sandbox errors left out), for the progress bar."""
        first = [r["reward"] for (_, j), r in self._samples.get(key, {}).items()
                 if j == 0 and r["verdict"] != SANDBOX_ERROR]
        return sum(first) / len(first) if first else None

    def close(self) -> None:
        self._file.close()
