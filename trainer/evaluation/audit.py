"""``sppo-gym audit``: does an env's reward pay for answers that do no work?

A reward that pays for restating the question teaches a policy to restate the question (it
happened: Arithmetic-v0 once paid 1.0 for ``70 + 38 = ?``). Before training on an env, run the
no-work battery of :mod:`sppo_gym.trainer.evaluation.audit_policies` (plus your own suspects) on problems
``0..n-1`` and look at the mean reward each policy earns. The env is reached only through the
Gymnasium API: prompts from ``gymnasium.make`` + ``reset(options={"index": i})``, rewards from
``gymnasium.make_vec`` in batches (each distinct (problem, reply) pair is judged once, however
many policies send it). ``env.unwrapped.verifier`` is read only to choose the battery.

Verdict per policy (``threshold`` = :data:`LEAK_THRESHOLD`):

* items where the policy's claimed answer (for the user's suspects: the whole reply) *is* the
  reference answer (a constant ``yes`` on a
  yes/no question whose answer is yes, the prompt's ``7`` when the answer is 7) are
  **coincidences**: a correct verifier pays for them, so they are counted and left out;
* ``leak``: the mean reward over the remaining judged items exceeds the threshold;
* ``inconclusive``: every item the policy sent ended in ``sandbox_error`` (or the verifier raised):
  nothing was learned about the reward, so the audit cannot pass;
* ``no_evidence``: every judged item was a coincidence; ``not_applicable``: the policy had nothing
  to say to any prompt (e.g. a Coq policy on a prompt with no theorem); ``ok`` otherwise.

Items with verdict ``sandbox_error`` are infrastructure failures, not rewards: they are counted
and left out of every mean. The audit's status is ``leak`` if any policy leaks, else
``inconclusive`` if any policy is, else ``pass``.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from . import SANDBOX_ERROR
from .audit_policies import AuditPolicy, battery, env_kind
from .bench import EnvSpec, check_envs, open_envs, score_batch
from .bench_store import BenchError
from .policies import PolicyError, Sampling, make_policy

#: A no-work policy whose mean reward (coincidences left out) exceeds this leaks. 0.05 = more than
#: one problem in twenty paid for no work: well above what honest partial credit gives a restated
#: or empty answer (reasoning-gym's default scorer pays len(reference)/len(answer) when the answer
#: contains the reference, ~0.01 for a restated prompt), yet a reward that a policy could climb.
LEAK_THRESHOLD = 0.05
#: Recorded when a user's verifier callable raises on a reply (no reward at all; not a pass).
VERIFIER_RAISED = "verifier_raised"
UNJUDGED = frozenset({SANDBOX_ERROR, VERIFIER_RAISED})
EXIT_CODES = {"pass": 0, "leak": 1, "inconclusive": 3}
SAMPLES = 3
SAMPLE_CHARS = 300


class AuditError(ValueError):
    """A user-facing problem with the audit's input (unknown env id, bad kwargs, bad policy)."""


@dataclass
class PolicyResult:
    """What one policy earned: means over judged items, counts, verdicts and a few samples."""

    name: str
    family: str
    items: int = 0  # problems the policy answered (it may not apply to every prompt)
    judged: int = 0  # items with a verdict about the answer (no sandbox error)
    sandbox_errors: int = 0
    verifier_errors: int = 0
    coincidences: int = 0
    passed: int = 0
    mean_reward: float | None = None  # over judged items
    leak_reward: float | None = None  # over judged items that are not coincidences
    status: str = "not_applicable"
    verdicts: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AuditReport:
    env_id: str
    env_kwargs: dict[str, Any]
    kind: str
    problems: int
    threshold: float
    policies: list[PolicyResult]
    wall_s: float = 0.0
    judged_replies: int = 0
    versions: dict[str, Any] = field(default_factory=dict)

    @property
    def leaks(self) -> list[PolicyResult]:
        return [p for p in self.policies if p.status == "leak"]

    @property
    def inconclusive(self) -> list[PolicyResult]:
        return [p for p in self.policies if p.status == "inconclusive"]

    @property
    def status(self) -> str:
        return "leak" if self.leaks else "inconclusive" if self.inconclusive else "pass"

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def to_dict(self) -> dict[str, Any]:
        return {"env": self.env_id, "env_kwargs": self.env_kwargs, "kind": self.kind, "problems": self.problems,
                "threshold": self.threshold, "status": self.status, "exit_code": self.exit_code,
                "leaks": [p.name for p in self.leaks], "inconclusive": [p.name for p in self.inconclusive],
                "wall_s": round(self.wall_s, 2), "judged_replies": self.judged_replies, "versions": self.versions,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "policies": [asdict(p) for p in self.policies]}

    def write(self, out: Path) -> Path:
        out.mkdir(parents=True, exist_ok=True)
        path = out / "audit.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, default=str) + "\n")
        tmp.replace(path)
        return path


# ----- coincidences ---------------------------------------------------------------------------
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_DECIMAL = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)$")


def normalise(text: str) -> str:
    """A loose canonical form for comparing a claim with a reference: case, blanks, ``$``, a final
    period, thousands separators, and decimal numerals by value (``2.0`` = ``2``). Fractions are
    NOT reduced: ``792/968`` restated is not the answer ``9/11`` of a "lowest terms" question."""
    s = str(text).strip().strip("$").strip().rstrip(".").strip().lower().replace("−", "-")
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    if _DECIMAL.match(s):
        return format(Decimal(s).normalize(), "f")
    return re.sub(r"\s+", "", s)


def reference_forms(reference: Any) -> set[str]:
    """The reference answer in comparable forms: as given, after a GSM8K ``#### ``, inside the last
    ``\\boxed{}``. Non-strings (lists, numbers) compare as their JSON text."""
    if reference is None:
        return set()
    text = reference if isinstance(reference, str) else json.dumps(reference, default=str)
    forms = {text}
    if "####" in text:
        forms.add(text.rpartition("####")[2])
    start = text.rfind("\\boxed{")
    if start >= 0:
        depth, i = 1, start + len("\\boxed{")
        for j in range(i, len(text)):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                forms.add(text[i:j])
                break
    return {normalise(f) for f in forms}


def is_coincidence(claim: str | None, reference: Any) -> bool:
    """True when the policy's claimed answer is the reference answer (a fair hit, not a leak)."""
    return claim is not None and normalise(claim) in reference_forms(reference)


# ----- running --------------------------------------------------------------------------------
Suspect = AuditPolicy | Callable[[str, dict], str] | str


def audit_env(env_id: str, env_kwargs: dict[str, Any] | None = None, n: int = 50,
              policies: Sequence[Suspect] = (), *, threshold: float = LEAK_THRESHOLD, batch_size: int = 16,
              progress: bool = True, max_new_tokens: int = 512, device: str = "auto",
              say: Callable[[str], None] = print) -> AuditReport:
    """Run the no-work battery for ``env_id`` (and ``policies``, the user's suspects) on problems
    ``0..n-1`` (fewer if the env holds fewer) and return the report.

    A suspect is an :class:`AuditPolicy`, a callable ``(prompt, info) -> str``, or a POLICY spec
    string as ``sppo-gym bench`` takes (model dir, preset, ``python:MODULE:FUNCTION``,
    ``openai:BASE_URL#MODEL``), generated greedily with at most ``max_new_tokens`` tokens.
    Raises :class:`AuditError` for bad input (unknown env id, bad kwargs, n < 1, bad spec).
    """
    if n < 1:
        raise AuditError(f"--n must be >= 1 (number of problems), got {n}")
    if not 0 <= threshold < 1:
        raise AuditError(f"threshold must be in [0, 1), got {threshold}")
    if batch_size < 1:
        raise AuditError(f"batch_size must be >= 1, got {batch_size}")
    spec = EnvSpec(env_id, dict(env_kwargs or {}), env_id)
    t0 = time.perf_counter()
    try:
        check_envs([spec])
        prompt_env, vec, _ = open_envs(spec, batch_size)
    except BenchError as e:
        raise AuditError(str(e)) from None
    try:
        prompts, infos = _prompts(prompt_env, n)
        if not prompts:
            raise AuditError(f"--env {env_id} has no problems to audit")
        kind = env_kind(prompt_env)
        suite = battery(kind, prompts, prompt_env.action_space.max_length)
        try:
            suite += _suspects(policies, prompts, max_new_tokens=max_new_tokens, device=device,
                               batch_size=batch_size, say=say)
        except PolicyError as e:
            raise AuditError(str(e)) from None
        replies = [[_respond(p, prompt, info) for prompt, info in zip(prompts, infos, strict=True)] for p in suite]
        scores = _judge(prompt_env, vec, env_id, prompts, replies, progress=progress)
    finally:
        vec.close()
        prompt_env.close()
    results = [_summarise(p, replies[k], prompts, infos, scores, threshold) for k, p in enumerate(suite)]
    versions = {k: v.item() if hasattr(v, "item") else v for k, v in (infos[0].get("versions") or {}).items()}
    return AuditReport(env_id, dict(env_kwargs or {}), kind, len(prompts), threshold, results,
                       wall_s=time.perf_counter() - t0, judged_replies=len(scores), versions=versions)


def _prompts(env: Any, n: int) -> tuple[list[str], list[dict]]:
    """Prompts and reset infos of problems 0..n-1, stopping early at the end of a dataset."""
    prompts, infos = [], []
    for i in range(n):
        try:
            prompt, info = env.reset(options={"index": i})
        except IndexError:
            break
        prompts.append(prompt)
        infos.append(info)
    return prompts, infos


def _respond(policy: AuditPolicy, prompt: str, info: dict) -> str | None:
    reply = policy.respond(prompt, info)
    if reply is not None and not isinstance(reply, str):
        raise AuditError(f"audit policy {policy.name} returned {type(reply).__name__}; a policy must return "
                         "the reply text (str), or None when it does not apply")
    return reply


def _suspects(policies: Sequence[Suspect], prompts: list[str], *, max_new_tokens: int, device: str,
              batch_size: int, say: Callable[[str], None]) -> list[AuditPolicy]:
    """The user's suspects as audit policies; specs are loaded with bench's policy loader."""
    out: list[AuditPolicy] = []
    for k, pol in enumerate(policies):
        if isinstance(pol, AuditPolicy):
            out.append(pol)
        elif isinstance(pol, str):
            out.append(_from_spec(pol, prompts, max_new_tokens=max_new_tokens, device=device,
                                  batch_size=batch_size, say=say))
        elif callable(pol):
            out.append(AuditPolicy(f"user:{getattr(pol, '__qualname__', f'policy{k}')}", "user", pol))
        else:
            raise AuditError(f"policy {pol!r}: give an AuditPolicy, a callable (prompt, info) -> str, or a "
                             "POLICY spec string")
        if any(p.name == out[-1].name for p in out[:-1]):  # two lambdas, or a spec given twice
            out[-1] = dataclasses.replace(out[-1], name=f"{out[-1].name}#{k}")
    return out


def _from_spec(spec: str, prompts: list[str], *, max_new_tokens: int, device: str, batch_size: int,
               say: Callable[[str], None]) -> AuditPolicy:
    """Generate every prompt's reply with a bench POLICY (greedy), then serve them by prompt."""
    pol = make_policy(spec, device=device, batch_size=batch_size, say=say)
    try:
        unique = list(dict.fromkeys(prompts))
        replies = dict(zip(unique, pol.generate(unique, [0] * len(unique), Sampling(max_new_tokens=max_new_tokens)),
                           strict=True))
    finally:
        pol.close()
    return AuditPolicy(f"user:{spec}", "user", lambda prompt, info: replies[prompt])


def _judge(prompt_env: Any, vec: Any, env_id: str, prompts: list[str], replies: list[list[str | None]], *,
           progress: bool) -> dict[tuple[int, str], dict]:
    """Judge each distinct (problem, reply) once with the vector env; returns their records."""
    todo = list(dict.fromkeys((i, r) for row in replies for i, r in enumerate(row) if r is not None))
    size = vec.num_envs
    out: dict[tuple[int, str], dict] = {}
    with tqdm(total=len(todo), desc=f"audit {env_id}", unit="reply", disable=not progress,
              dynamic_ncols=True) as bar:
        for s in range(0, len(todo), size):
            chunk = todo[s : s + size]
            keys = [(i, 0) for i, _ in chunk]
            try:
                records, _ = score_batch(vec, env_id, env_id, keys, [prompts[i] for i, _ in chunk],
                                         [r for _, r in chunk])
            except (RuntimeError, ValueError, TypeError):  # a user's verifier raised: find which reply
                records = [_judge_one(prompt_env, i, r) for i, r in chunk]
            out.update(zip(chunk, records, strict=True))
            bar.update(len(chunk))
    return out


def _judge_one(env: Any, index: int, reply: str) -> dict:
    env.reset(options={"index": index})
    try:
        _, reward, _, _, info = env.step(reply)
    except (RuntimeError, ValueError, TypeError) as e:
        return {"reward": 0.0, "verdict": VERIFIER_RAISED, "passed": False, "detail": str(e)[:500]}
    return {"reward": float(reward), "verdict": str(info["verdict"]), "passed": bool(info["passed"]),
            "detail": str(info["detail"])[:500]}


def _summarise(policy: AuditPolicy, replies: list[str | None], prompts: list[str], infos: list[dict],
               scores: dict[tuple[int, str], dict], threshold: float) -> PolicyResult:
    res = PolicyResult(policy.name, policy.family)
    verdicts: Counter[str] = Counter()
    judged: list[float] = []
    fair: list[float] = []
    rows = []
    for i, reply in enumerate(replies):
        if reply is None:
            continue
        rec = scores[(i, reply)]
        res.items += 1
        verdicts[rec["verdict"]] += 1
        if rec["verdict"] in UNJUDGED:
            res.sandbox_errors += rec["verdict"] == SANDBOX_ERROR
            res.verifier_errors += rec["verdict"] == VERIFIER_RAISED
            continue
        judged.append(rec["reward"])
        res.passed += bool(rec["passed"])
        # A user's suspect claims its whole reply: one that IS the reference answer is a fair hit.
        claim = reply if policy.family == "user" else policy.claim(prompts[i], infos[i]) if policy.claim else None
        hit = is_coincidence(claim, infos[i].get("answer"))
        res.coincidences += hit
        if not hit:
            fair.append(rec["reward"])
        rows.append((not hit, rec["reward"], i, reply, rec))
    res.judged = len(judged)
    res.mean_reward = sum(judged) / len(judged) if judged else None
    res.leak_reward = sum(fair) / len(fair) if fair else None
    res.verdicts = dict(verdicts.most_common())
    res.status = ("not_applicable" if res.items == 0 else "inconclusive" if not judged
                  else "no_evidence" if not fair else "leak" if res.leak_reward > threshold else "ok")
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)  # the best-paid non-coincidences first
    res.samples = [{"index": i, "task_id": str(infos[i].get("task_id")), "prompt": _cut(prompts[i]),
                    "response": _cut(reply), "reward": rec["reward"], "verdict": rec["verdict"],
                    "detail": _cut(rec["detail"]), "coincidence": not fair_row}
                   for fair_row, _, i, reply, rec in rows[:SAMPLES]]
    return res


def _cut(text: str) -> str:
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 3] + "..."


# ----- printing -------------------------------------------------------------------------------
def report_table(report: AuditReport, *, rows: int = 12) -> str:
    """A plain-text table: every policy that earned anything or did not pass, then the top others."""
    def key(p: PolicyResult) -> tuple:
        return (p.status != "leak", p.status != "inconclusive", -(p.leak_reward or 0.0), p.name)

    ordered = sorted(report.policies, key=key)
    shown = [p for p in ordered if p.status in ("leak", "inconclusive") or (p.mean_reward or 0) > 0]
    shown += [p for p in ordered if p not in shown][: max(0, rows - len(shown))]
    head = ("policy", "status", "reward", "excl. coinc.", "judged", "coinc.", "sandbox err", "top verdict")
    body = [(p.name, p.status, _pct(p.mean_reward), _pct(p.leak_reward), str(p.judged), str(p.coincidences),
             str(p.sandbox_errors + p.verifier_errors), next(iter(p.verdicts), "-")) for p in shown]
    widths = [max(len(r[c]) for r in [head, *body]) for c in range(len(head))]
    lines = [f"audit of {report.env_id} ({report.kind}), {report.problems} problems, {len(report.policies)} policies, "
             f"leak threshold {100 * report.threshold:.0f}%",
             "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in body]
    hidden = len(report.policies) - len(shown)
    if hidden:
        lines.append(f"... {hidden} more policies, all ok at 0% reward (see audit.json)")
    verdict = {"pass": "PASS: no no-work policy is paid above the threshold",
               "leak": f"LEAK: {len(report.leaks)} no-work policies are paid above the threshold: "
                       + ", ".join(p.name for p in report.leaks[:8]) + (" ..." if len(report.leaks) > 8 else ""),
               "inconclusive": "INCONCLUSIVE: every reply of " + ", ".join(p.name for p in report.inconclusive[:8])
                               + " ended in a sandbox error or a verifier exception; run `sppo-gym sandbox doctor`"}
    lines.append(verdict[report.status])
    for p in report.leaks[:3]:
        s = p.samples[0] if p.samples else None
        if s:
            lines.append(f"  e.g. {p.name} on {s['task_id']}: reply {s['response'][:120]!r} -> reward "
                         f"{s['reward']:g} ({s['verdict']})")
    return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
