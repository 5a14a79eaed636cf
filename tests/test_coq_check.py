"""Defence in depth: with the textual screen bypassed, the trusted check alone still refuses cheats.

These call ``CoqBackend.check`` directly (never ``screen``) with a runner that executes each step
with the ``coqc``/``coqchk`` of the sandbox image, in a fresh directory of one long-lived container
of that image: Coq exists only there, so these tests need Docker like the end-to-end ones and FAIL
(never skip) without it. The container has no network, a read-only root, no capabilities and an
unprivileged user; the inputs are our own fixed cheats. Each test names the step that must catch
its cheat (the trusted statement check, ``Print Assumptions`` or ``coqchk``) through the verdict's
detail and the steps that ran. The sandboxed end-to-end path (screen first, every step a
candidate process of the job server) is covered by ``test_coq_verifier.py``.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path

import pytest
from docker.models.containers import Container
from sppo_gym.sandbox.image import ensure_image, get_client
from sppo_gym.sandbox.transport import OWNER_LABEL
from sppo_gym.verifiers.coq.backend import Outcome, ProofTask, StepResult
from sppo_gym.verifiers.coq.check import CoqBackend
from sppo_gym.verifiers.coq.screen import screen

pytestmark = pytest.mark.docker

STEP_DIRS = count()


class ImageRunner:
    """Runs each step in a fresh directory of ``container`` (``root`` on the host, ``/w`` inside)."""

    def __init__(self, container: Container, root: Path, wall_s: float = 600.0):
        self.container = container
        self.root = root
        self.deadline = time.monotonic() + wall_s

    def time_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def run(self, argv: list[str], files: dict[str, bytes | str], *, timeout: float,
            outputs: tuple[str, ...] = ()) -> StepResult:
        name = f"step{next(STEP_DIRS)}"
        d = self.root / name
        d.mkdir()
        d.chmod(0o777)  # the container's unprivileged user writes its outputs here
        for fname, data in files.items():
            (d / fname).write_bytes(data.encode() if isinstance(data, str) else data)
        t0 = time.monotonic()
        # coreutils' timeout ends the step with SIGKILL (exit 137), as the job server's limit does
        res = self.container.exec_run(["timeout", "-s", "KILL", f"{timeout:.1f}", *argv], workdir=f"/w/{name}",
                                      demux=True)
        out, err = (x or b"" for x in res.output)
        limit = "timeout" if res.exit_code in (124, 137) else None
        got = {n: (d / n).read_bytes() for n in outputs if (d / n).is_file()}
        return StepResult(res.exit_code, out.decode(errors="replace"), err.decode(errors="replace"), limit, got,
                          time.monotonic() - t0)


@pytest.fixture(scope="module")
def container(tmp_path_factory) -> Iterator[tuple[Container, Path]]:
    """One idle container of the current sandbox image (built if missing) with a host directory
    mounted at ``/w`` for the step files; removed afterwards."""
    root = tmp_path_factory.mktemp("coq-steps")
    root.chmod(0o777)
    client = get_client()
    c = client.containers.run(
        ensure_image(client, quiet=True), ["sleep", "infinity"], detach=True, network_disabled=True,
        read_only=True, user="65534:65534", cap_drop=["ALL"], security_opt=["no-new-privileges"],
        volumes={str(root): {"bind": "/w", "mode": "rw"}}, tmpfs={"/tmp": "size=64m,mode=1777"}, mem_limit="2g",
        labels={OWNER_LABEL: f"{socket.gethostname()}:{os.getpid()}"},  # the reaper removes it if we crash
    )
    try:
        yield c, root
    finally:
        c.remove(force=True)


def check(container: tuple[Container, Path], source: str, **task) -> Outcome:
    task.setdefault("name", "t")
    task.setdefault("statement", "forall n : nat, n = 0 -> n + n = 0")
    return CoqBackend().check(ProofTask(**task), source, ImageRunner(*container))


T = "Theorem t : forall n : nat, n = 0 -> n + n = 0.\n"
PI = {"name": "pi", "statement": "forall (P : Prop) (p1 p2 : P), p1 = p2"}
FUNEXT = {"name": "fe", "statement": "forall f g : nat -> nat, (forall x, f x = g x) -> f = g"}
FUNEXT_SRC = ("Require Import FunctionalExtensionality.\n"
              "Theorem fe : forall f g : nat -> nat, (forall x, f x = g x) -> f = g.\n"
              "intros f g H. apply functional_extensionality. exact H. Qed.")
FUNEXT_AXIOM = "Coq.Logic.FunctionalExtensionality.functional_extensionality_dep"


def test_honest_proof_is_proved(container):
    out = check(container, "intros n H. rewrite H. reflexivity.")
    assert (out.verdict, out.detail) == ("proved", "")
    assert set(out.extra["steps"]) == {"compile", "statement", "coqchk"}


# Cheats the screen refuses (asserted below); with the screen bypassed, coqchk catches each one:
# (source, what the verdict's detail must contain).
SCREENED = {
    "axiom": ("Axiom cheat : forall P : Prop, P.\n" + T + "exact (cheat _). Qed.", "axiom Sppo.Cand.cheat"),
    "admitted": (T + "Admitted.", "axiom Sppo.Cand.t"),
    "guard": ("Unset Guard Checking.\nFixpoint loop (n : nat) : False := loop n.\nSet Guard Checking.\n"
              + T + "destruct (loop 0). Qed.", "relying on unsafe (co)fixpoints: Sppo.Cand.loop"),
    "positivity": ("#[bypass_check(positivity)] Inductive bad := mk : (bad -> False) -> bad.\n"
                   "Definition boom : False := let f := fun b : bad => match b with mk g => g b end in f (mk f).\n"
                   + T + "destruct boom. Qed.", "Inductives whose positivity is assumed: Sppo.Cand.bad"),
    "universes": ("Unset Universe Checking.\nDefinition U := Type.\nDefinition x : U := U.\nSet Universe Checking.\n"
                  + T + "pose x. intros n H. rewrite H. reflexivity. Qed.",
                  "relying on type-in-type: Sppo.Cand.x"),
}


@pytest.mark.parametrize("name", sorted(SCREENED))
def test_screened_cheats_are_caught_by_coqchk_too(container, name):
    src, caught = SCREENED[name]
    assert screen(src) is not None  # the screen is the first line ...
    out = check(container, src)  # ... and coqchk the last one
    assert out.verdict == "uses_axioms", (out.verdict, out.detail)
    assert caught in out.detail
    assert "coqchk" in out.extra["steps"]


# Axioms that no forbidden word names: the screen refuses both forms, and with the screen bypassed
# coqchk catches them as well.
def test_axiom_behind_a_reverted_section_is_caught_by_coqchk(container):
    # 'Succeed' runs 'Section S' and reverts it: a screen that followed the nesting naively would
    # see a Variable inside a section, Coq sees one at top level, i.e. an axiom of the candidate.
    src = "Succeed Section S.\nVariable cheat : forall n : nat, n = 0 -> n + n = 0.\n" + T + "exact cheat. Qed."
    assert screen(src).command == "Succeed Section"
    out = check(container, src)
    assert (out.verdict, out.detail) == ("uses_axioms", "axiom Sppo.Cand.cheat")


def test_axiom_included_from_a_library_module_type_is_caught_by_coqchk(container):
    # 'Include' of a module type in a module turns its Axiom fields into axioms of the candidate;
    # allowing the library's own proof_irrelevance must not allow this copy of it.
    src = ("Require Coq.Logic.ProofIrrelevanceFacts.\nModule ProofIrrelevance.\n"
           "Include Coq.Logic.ProofIrrelevanceFacts.ProofIrrelevance.\nEnd ProofIrrelevance.\n"
           "Theorem pi : forall (P : Prop) (p1 p2 : P), p1 = p2.\nexact ProofIrrelevance.proof_irrelevance. Qed.")
    assert screen(src).command == "Include"
    out = check(container, src, **PI, allowed_axioms=("Coq.Logic.ProofIrrelevance.proof_irrelevance",))
    assert (out.verdict, out.detail) == ("uses_axioms", "axiom Sppo.Cand.ProofIrrelevance.proof_irrelevance")


# Cheats that pass the screen: each is caught by a later step, named in the detail.
def test_section_variable_is_caught_by_the_statement_check(container):
    # Closing the section generalises the theorem over the variable: a different statement.
    src = "Section S.\nVariable cheat : forall n : nat, n = 0 -> n + n = 0.\n" + T + "exact cheat. Qed.\nEnd S."
    assert screen(src) is None
    out = check(container, src)
    assert out.verdict == "statement_mismatch", out.detail
    assert "'t' does not have the reference type" in out.detail
    assert "coqchk" not in out.extra["steps"]


def test_library_axiom_is_caught_by_print_assumptions(container):
    # coqchk passes library axioms on (they are not the candidate's); Print Assumptions refuses
    # one the task did not allow.
    assert screen(FUNEXT_SRC) is None
    out = check(container, FUNEXT_SRC, **FUNEXT)
    assert (out.verdict, out.detail) == ("uses_axioms", "depends on: "
                                         "FunctionalExtensionality.functional_extensionality_dep : forall (A : Type) "
                                         "(B : A -> Type) (f g : forall x : A, B x), (forall x : A, f x = g x) -> "
                                         "f = g")
    assert "coqchk" in out.extra["steps"]


def test_allowed_axiom_with_a_long_type_is_proved(container):
    # Print Assumptions wraps this axiom's type onto further lines; the entry is still allowed.
    out = check(container, FUNEXT_SRC, **FUNEXT, allowed_axioms=(FUNEXT_AXIOM,))
    assert (out.verdict, out.detail) == ("proved", "")


def test_notation_hijack_is_a_statement_mismatch(container):
    # In the candidate file '+' means max, so "n + n = 0" is not the reference statement any more.
    src = ('Notation "x + y" := (Nat.max x y).\n'
           "Theorem t : forall n : nat, n = 0 -> n + n = 0.\nintros n H. rewrite H. reflexivity. Qed.")
    out = check(container, src, statement="forall n : nat, n + n = n")
    assert out.verdict == "statement_mismatch", out.detail


def test_redefined_preamble_function_is_a_statement_mismatch(container):
    preamble = "Fixpoint double (n : nat) : nat := match n with 0 => 0 | S k => S (S (double k)) end."
    src = "Definition double (n : nat) := n.\nTheorem t : forall n, double n = n. reflexivity. Qed."
    out = check(container, src, statement="forall n, double n = n", preamble=preamble)
    assert out.verdict == "statement_mismatch", out.detail
    assert "preamble" in out.extra["steps"]


def test_classical_axiom_needs_the_allow_list(container):
    src = "Require Import Classical.\nTheorem t : forall P : Prop, P \\/ ~ P. exact classic. Qed."
    stmt = "forall P : Prop, P \\/ ~ P"
    out = check(container, src, statement=stmt)
    assert (out.verdict, out.detail) == ("uses_axioms", "depends on: Classical_Prop.classic : forall P : Prop, P \\/ ~ P")
    allowed = ("Coq.Logic.Classical_Prop.classic",)
    assert check(container, src, statement=stmt, allowed_axioms=allowed).verdict == "proved"
