"""Defence in depth: with the textual screen bypassed, the trusted check alone still refuses cheats.

These call ``CoqBackend.check`` directly with a runner that executes the real ``coqc``/``coqchk`` of
this machine in a temporary directory (no sandbox: the inputs are our own fixed cheats). They show
that ``Print Assumptions``, the trusted statement check and ``coqchk`` each catch what the screen
would have refused first. The sandboxed end-to-end path is covered by ``test_coq_verifier.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sppo_gym.verifiers.coq.backend import ProofTask, StepResult
from sppo_gym.verifiers.coq.check import CoqBackend

pytestmark = pytest.mark.skipif(shutil.which("coqc") is None, reason="needs coqc (Debian package coq) on this machine")


class LocalRunner:
    """Runs each step in a fresh temporary directory with real coqc; deadline like a sandbox job."""

    def __init__(self, root: Path, wall_s: float = 300.0):
        self.root = root
        self.deadline = time.monotonic() + wall_s
        self.n = 0

    def time_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def run(self, argv, files, *, timeout, outputs=()):
        self.n += 1
        d = self.root / f"step{self.n}"
        d.mkdir()
        for name, data in files.items():
            (d / name).write_bytes(data.encode() if isinstance(data, str) else data)
        t0 = time.monotonic()
        try:
            p = subprocess.run(argv, cwd=d, capture_output=True, timeout=timeout, env={"PATH": "/usr/bin:/bin"})
            rc, out, err, limit = p.returncode, p.stdout, p.stderr, None
        except subprocess.TimeoutExpired as e:
            rc, out, err, limit = None, e.stdout or b"", e.stderr or b"", "timeout"
        got = {n: (d / n).read_bytes() for n in outputs if (d / n).is_file()}
        return StepResult(rc, out.decode(errors="replace"), err.decode(errors="replace"), limit, got,
                          time.monotonic() - t0)


def check(tmp_path: Path, source: str, **task) -> tuple[str, str]:
    task.setdefault("name", "t")
    task.setdefault("statement", "forall n : nat, n = 0 -> n + n = 0")
    out = CoqBackend().check(ProofTask(**task), source, LocalRunner(tmp_path))
    return out.verdict, out.detail


def test_honest_proof_is_proved(tmp_path):
    assert check(tmp_path, "intros n H. rewrite H. reflexivity.") == ("proved", "")


UNSOUND = {
    "axiom": "Axiom cheat : forall P : Prop, P.\nTheorem t : forall n : nat, n = 0 -> n + n = 0.\nexact (cheat _). Qed.",
    "admitted": "Theorem t : forall n : nat, n = 0 -> n + n = 0.\nAdmitted.",
    "guard": ("Unset Guard Checking.\nFixpoint loop (n : nat) : False := loop n.\nSet Guard Checking.\n"
              "Theorem t : forall n : nat, n = 0 -> n + n = 0.\ndestruct (loop 0). Qed."),
    "positivity": ("#[bypass_check(positivity)] Inductive bad := mk : (bad -> False) -> bad.\n"
                   "Definition boom : False := let f := fun b : bad => match b with mk g => g b end in f (mk f).\n"
                   "Theorem t : forall n : nat, n = 0 -> n + n = 0.\ndestruct boom. Qed."),
    "universes": ("Unset Universe Checking.\nDefinition U := Type.\nDefinition x : U := U.\nSet Universe Checking.\n"
                  "Theorem t : forall n : nat, n = 0 -> n + n = 0.\npose x. intros n H. rewrite H. reflexivity. Qed."),
}


@pytest.mark.parametrize("name", sorted(UNSOUND))
def test_unsound_sources_use_axioms_even_past_the_screen(tmp_path, name):
    verdict, detail = check(tmp_path, UNSOUND[name])
    assert verdict == "uses_axioms", detail


def test_notation_hijack_is_a_statement_mismatch(tmp_path):
    # In the candidate file '+' means max, so "n + n = 0" is not the reference statement any more.
    src = ('Notation "x + y" := (Nat.max x y).\n'
           "Theorem t : forall n : nat, n = 0 -> n + n = 0.\nintros n H. rewrite H. reflexivity. Qed.")
    verdict, detail = check(tmp_path, src, statement="forall n : nat, n + n = n")
    assert verdict == "statement_mismatch", detail


def test_redefined_preamble_function_is_a_statement_mismatch(tmp_path):
    preamble = "Fixpoint double (n : nat) : nat := match n with 0 => 0 | S k => S (S (double k)) end."
    src = "Definition double (n : nat) := n.\nTheorem t : forall n, double n = n. reflexivity. Qed."
    verdict, detail = check(tmp_path, src, statement="forall n, double n = n", preamble=preamble)
    assert verdict == "statement_mismatch", detail


def test_classical_axiom_needs_the_allow_list(tmp_path):
    src = "Require Import Classical.\nTheorem t : forall P : Prop, P \\/ ~ P. exact classic. Qed."
    stmt = "forall P : Prop, P \\/ ~ P"
    assert check(tmp_path / "a", src, statement=stmt)[0] == "uses_axioms"
    allowed = ("Coq.Logic.Classical_Prop.classic",)
    assert check(tmp_path / "b", src, statement=stmt, allowed_axioms=allowed) == ("proved", "")


@pytest.fixture(autouse=True)
def _dirs(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
