"""The Coq verifier end to end through the Docker sandbox: honest proofs in every accepted shape
pass; our own cheats fail with the right verdict, those that pass the textual screen at the step
that must catch them; the pool stays healthy after limit hits.

The cases run as concurrent batches in a module fixture, so the Coq processes overlap on the warm
pool instead of running one after another; the health checks run as a last batch, after every
limit hit has happened.
"""

from __future__ import annotations

import pytest
from sppo_gym.verifiers import get_verifier

pytestmark = pytest.mark.docker

ADD = {"name": "add_0_r", "statement": "forall n : nat, n + 0 = n"}
LEM = {"name": "lem", "statement": "forall P : Prop, P \\/ ~ P"}
LEM_OK = {**LEM, "allowed_axioms": ["Coq.Logic.Classical_Prop.classic"]}
BOOL = {"name": "all_true", "statement": "forall b : bool, b = true"}
DOUBLE = {"name": "double_id", "statement": "forall n : nat, n + n = n"}
PRE = {"name": "double_plus", "statement": "forall n : nat, double n = n + n",
       "preamble": "Fixpoint double (n : nat) : nat := match n with 0 => 0 | S k => S (S (double k)) end."}
PRE_AXIOM = {"name": "use_pre", "statement": "forall n : nat, f n = n",
             "preamble": "Parameter f : nat -> nat.\nAxiom f_id : forall n, f n = n."}
PI = {"name": "pi", "statement": "forall (P : Prop) (p1 p2 : P), p1 = p2",
      "allowed_axioms": ["Coq.Logic.ProofIrrelevance.proof_irrelevance"]}
FUNEXT = {"name": "fe", "statement": "forall f g : nat -> nat, (forall x, f x = g x) -> f = g"}
FUNEXT_OK = {**FUNEXT, "allowed_axioms": ["Coq.Logic.FunctionalExtensionality.functional_extensionality_dep"]}
FUNEXT_SRC = ("Require Import FunctionalExtensionality.\n"
              "Theorem fe : forall f g : nat -> nat, (forall x, f x = g x) -> f = g.\n"
              "intros f g H. apply functional_extensionality. exact H. Qed.")
CLASSIC = "Require Import Classical.\nTheorem lem : forall P : Prop, P \\/ ~ P.\nexact classic. Qed."
INDUCTION = "intros n. induction n as [|n IH]; simpl; [reflexivity | rewrite IH; reflexivity]."

# (id, response, problem, expected verdict)
CASES = [
    ("script", INDUCTION, ADD, "proved"),
    ("wrapped", "```coq\nProof.\n  induction n; simpl; auto.\nQed.\n```", ADD, "proved"),
    ("prose_and_blocks", "First try:\n```coq\nauto.\n```\nFixed:\n```coq\nintros n. induction n; simpl; congruence.\n```\nDone.",
     ADD, "proved"),
    ("defined", "Proof. induction n; simpl; auto. Defined.", ADD, "proved"),
    ("source_with_helper", "Lemma helper : forall n, n = n + 0.\nProof. induction n; simpl; auto. Qed.\n"
     "Theorem add_0_r : forall n : nat, n + 0 = n.\nProof. intros n. symmetry. apply helper. Qed.", ADD, "proved"),
    ("source_binders_lia", "Require Import Lia.\nTheorem add_0_r (n : nat) : n + 0 = n.\nProof. lia. Qed.", ADD, "proved"),
    ("preamble_definition", "induction n as [|n IH]; simpl; [reflexivity | rewrite IH, <- plus_n_Sm; reflexivity].",
     PRE, "proved"),
    ("preamble_axiom", "exact f_id.", PRE_AXIOM, "proved"),
    ("classical_allowed", CLASSIC, LEM_OK, "proved"),
    ("long_axiom_allowed", FUNEXT_SRC, FUNEXT_OK, "proved"),  # Print Assumptions wraps its entry
    # cheats
    ("admitted", "intros n.\nAdmitted.", ADD, "rejected_command"),
    ("admit", "intros n. induction n. reflexivity. admit.", ADD, "rejected_command"),
    ("axiom", "Axiom cheat : forall P : Prop, P.\nTheorem add_0_r : forall n : nat, n + 0 = n.\nexact (cheat _). Qed.",
     ADD, "rejected_command"),
    ("parameter", "Parameter cheat : forall n : nat, n + 0 = n.\nTheorem add_0_r : forall n : nat, n + 0 = n.\n"
     "exact cheat. Qed.", ADD, "rejected_command"),
    ("hypothesis", "Section S. Hypothesis h : forall n : nat, n + 0 = n.\nTheorem add_0_r : forall n : nat, n + 0 = n.\n"
     "exact h. Qed. End S.", ADD, "rejected_command"),
    ("top_level_variable", "Variable cheat : forall n : nat, n + 0 = n.\nTheorem add_0_r : forall n : nat, n + 0 = n.\n"
     "exact cheat. Qed.", ADD, "rejected_command"),
    ("weakened", "Theorem add_0_r : forall n : nat, 0 + n = n.\nProof. reflexivity. Qed.", ADD, "statement_mismatch"),
    ("renamed", "Theorem my_add_0_r : forall n : nat, n + 0 = n.\nProof. induction n; simpl; auto. Qed.", ADD,
     "compile_error"),
    ("shadowed_in_module", "Module M.\nTheorem add_0_r : True.\nProof. exact I. Qed.\nEnd M.\nImport M.", ADD,
     "statement_mismatch"),
    ("redefined_type", "Inductive bool := true.\nTheorem all_true : forall b : bool, b = true.\n"
     "destruct b; reflexivity. Qed.", BOOL, "statement_mismatch"),
    ("hijacked_notation", 'Notation "x + y" := (Nat.max x y).\nTheorem double_id : forall n : nat, n + n = n.\n'
     "induction n; simpl; congruence. Qed.", DOUBLE, "statement_mismatch"),
    ("redefined_preamble", "Definition double (n : nat) := n.\nTheorem double_plus : forall n : nat, double n = n.\n"
     "reflexivity. Qed.", {**PRE, "statement": "forall n : nat, double n = n"}, "statement_mismatch"),
    ("classical_not_allowed", CLASSIC, LEM, "uses_axioms"),
    ("abort_restate", "Abort.\nTheorem add_0_r : True. exact I. Qed.", ADD, "rejected_command"),
    ("guard_flag", "Unset Guard Checking.\nFixpoint loop (n : nat) : False := loop n.\n"
     "Theorem add_0_r : forall n : nat, n + 0 = n. destruct (loop 0). Qed.", ADD, "rejected_command"),
    ("bypass_attribute", "#[bypass_check(guard)] Fixpoint loop (n : nat) : False := loop n.\n"
     "Theorem add_0_r : forall n : nat, n + 0 = n. destruct (loop 0). Qed.", ADD, "rejected_command"),
    ("redirect", 'Redirect "x" Print nat.\n' + INDUCTION, ADD, "rejected_command"),
    ("declare_ml", 'Declare ML Module "coq-core.plugins.ltac".\n' + INDUCTION, ADD, "rejected_command"),
    ("load", 'Load "/etc/passwd".', ADD, "rejected_command"),
    ("garbage_text", "lorem ipsum dolor sit amet", ADD, "compile_error"),
    ("garbage_binary", "\x00\x01\x02\xff binary \x7f", ADD, "compile_error"),
    ("empty", "", ADD, "compile_error"),
    ("empty_block", "```coq\n```", ADD, "compile_error"),
    ("unterminated_comment", "(* intros. auto.", ADD, "compile_error"),
    ("output_flood", 'do 20000 idtac "flood flood flood flood flood flood".\n' + INDUCTION, ADD, "output_limit"),
    ("memory_bomb", "Require Import List.\nEval vm_compute in (length (repeat 0 200000000)).\n" + INDUCTION, ADD,
     "memory"),
    # axioms no forbidden word names: the screen refuses them too (test_coq_check.py shows that
    # coqchk catches both when the screen is bypassed)
    ("reverted_section_variable", "Succeed Section S.\nVariable cheat : forall n : nat, n + 0 = n.\n"
     "Theorem add_0_r : forall n : nat, n + 0 = n.\nexact cheat. Qed.", ADD, "rejected_command"),
    ("included_module_type", "Require Coq.Logic.ProofIrrelevanceFacts.\nModule ProofIrrelevance.\n"
     "Include Coq.Logic.ProofIrrelevanceFacts.ProofIrrelevance.\nEnd ProofIrrelevance.\n"
     "Theorem pi : forall (P : Prop) (p1 p2 : P), p1 = p2.\nexact ProofIrrelevance.proof_irrelevance. Qed.", PI,
     "rejected_command"),
    # cheats that pass the screen (see PAST_SCREEN)
    ("section_variable", "Section S.\nVariable h : forall n : nat, n + 0 = n.\n"
     "Theorem add_0_r : forall n : nat, n + 0 = n.\nexact h. Qed.\nEnd S.", ADD, "statement_mismatch"),
    ("library_axiom", FUNEXT_SRC, FUNEXT, "uses_axioms"),
]

# Cheats the screen lets through, with the start of the detail that names the step catching each:
# "axiom Sppo.Cand..." is coqchk's list of axioms; "depends on:" is Print Assumptions of the trusted
# check file; "... does not have the reference type" is the trusted statement check.
PAST_SCREEN = {
    # closing the section generalises the theorem over the variable: another statement
    "section_variable": "'add_0_r' does not have the reference type",
    # coqchk passes library axioms on; Print Assumptions refuses one the task did not allow
    "library_axiom": "depends on: FunctionalExtensionality.functional_extensionality_dep : forall",
    "classical_not_allowed": "depends on: Classical_Prop.classic : forall P : Prop",
}

# A tactic that never ends in constant memory: 2^40 nested calls, 40 deep (a recursive Ltac loop
# would grow the stack and end as "memory" instead).
DEEP = "One"
for _ in range(40):
    DEEP = f"(Dbl {DEEP})"
SPIN = ("Inductive bin := One | Dbl (b : bin).\n"
        "Fixpoint spin (p : bin) (b : bool) : bool := match p with One => negb b | Dbl q => spin q (spin q b) end.\n"
        "Theorem add_0_r : forall n : nat, n + 0 = n.\n"
        f"Proof. let x := eval vm_compute in (spin {DEEP} true) in idtac. {INDUCTION} Qed.")

# run with a short compile budget so that the test stays quick
LIMIT_CASES = [
    ("nonterminating_tactic", SPIN, ADD, "timeout"),
]

# run after both batches above have finished: the pool must still prove honest proofs
AFTER_CASES = [
    ("after_limits", INDUCTION, ADD, "proved"),
    ("after_limits_source", "Require Import Lia.\nTheorem add_0_r (n : nat) : n + 0 = n.\nProof. lia. Qed.", ADD,
     "proved"),
]
ALL_CASES = CASES + LIMIT_CASES + AFTER_CASES


@pytest.fixture(scope="module")
def results(sandbox_pool):
    # Generous budgets: a loaded CI machine must not turn honest proofs into timeouts. Only the
    # never-ending tactic gets a short compile budget, and it times out under any load.
    normal = get_verifier("coq", compile_timeout_s=120.0, check_timeout_s=120.0)
    limited = get_verifier("coq", compile_timeout_s=8.0, check_timeout_s=120.0)
    first = normal.verify_batch([(r, p) for _, r, p, _ in CASES])
    spun = limited.verify_batch([(r, p) for _, r, p, _ in LIMIT_CASES])
    after = normal.verify_batch([(r, p) for _, r, p, _ in AFTER_CASES])
    return dict(zip([c[0] for c in ALL_CASES], first + spun + after, strict=True))


@pytest.mark.parametrize(("case", "expected"), [(c[0], c[3]) for c in ALL_CASES])
def test_verdict(results, case, expected):
    score = results[case]
    assert score.verdict == expected, (score.verdict, score.detail)
    assert score.passed == (expected == "proved")
    assert score.reward == (1.0 if expected == "proved" else 0.0)


def test_rejections_name_the_command(results):
    assert "Admitted" in results["admitted"].detail
    assert "Axiom" in results["axiom"].detail
    assert "Guard Checking" in results["guard_flag"].detail
    assert "Declare ML" in results["declare_ml"].detail
    assert "classic" in results["classical_not_allowed"].detail
    assert "Succeed Section" in results["reverted_section_variable"].detail
    assert "Include" in results["included_module_type"].detail


@pytest.mark.parametrize("case", sorted(PAST_SCREEN))
def test_cheats_past_the_screen_are_caught_by_the_named_step(results, case):
    score = results[case]
    assert "steps" in score.extra and "command" not in score.extra, score.extra  # the screen let it through
    assert score.detail.startswith(PAST_SCREEN[case]), score.detail
    if score.verdict == "uses_axioms":  # coqchk or Print Assumptions: both run after the statement check
        assert set(score.extra["steps"]) == {"compile", "statement", "coqchk"}, score.extra
    else:
        assert set(score.extra["steps"]) == {"compile", "statement"}, score.extra


def test_every_proof_really_ran_coqchk(results):
    for case, _, _, expected in ALL_CASES:
        if expected == "proved":
            assert "coqchk" in results[case].extra["steps"], case
