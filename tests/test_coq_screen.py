"""The Coq verifier's pure-Python parts: lexer, screen, file building, output parsing, extraction."""

from __future__ import annotations

import pytest
from sppo_gym.verifiers.coq.backend import ProofTask
from sppo_gym.verifiers.coq.check import (
    axiom_allowed,
    candidate_source,
    clean_statement,
    parse_assumptions,
    parse_coqchk,
    verdict_source,
)
from sppo_gym.verifiers.coq.screen import screen, sentences, split_preamble, states_theorem
from sppo_gym.verifiers.coq.verifier import CoqVerifier, extract_proof

HONEST = [
    "intros n. induction n; simpl; auto.",
    "Proof. intros. lia. Qed.",
    "(* Admitted would be wrong here; (* nested *) still a comment *) reflexivity.",
    'idtac "Admitted". reflexivity.',
    "(* a string in a comment: \" *) Admitted \" *) reflexivity.",
    "rewrite Nat.add_0_r. reflexivity.",
    "Section S. Variable x : nat. Lemma l : x = x. reflexivity. Qed. End S.",
    "Declare Scope my_scope.",
    "induction n.\n- reflexivity.\n- simpl. rewrite IHn. reflexivity.",
    "Local Set Printing All. reflexivity.",
    "Require Import Classical. apply classic.",  # the axiom check, not the screen, decides this one
    "intros admit_me. exact admit_me.",  # identifiers merely containing a banned word are fine
    "Succeed reflexivity. Fail discriminate. reflexivity.",  # Succeed/Fail of tactics undo no nesting
    "Module M. Definition two := 2. End M. Module N := M. Module Type T. End T.",
]


@pytest.mark.parametrize("src", HONEST)
def test_screen_accepts_honest_sources(src):
    assert screen(src) is None


CHEATS = [
    ("intros. Admitted.", "Admitted"),
    ("intros. admit.", "admit"),
    ("split; [admit | reflexivity]. Qed.", "admit"),
    ("give_up.", "give_up"),
    ("Axiom cheat : False. destruct cheat.", "Axiom"),
    ("Local Axiom cheat : False.", "Axiom"),
    ("Parameter p : False.", "Parameter"),
    ("Parameters p q : False.", "Parameters"),
    ("Hypothesis h : False.", "Hypothesis"),
    ("Conjecture c : False.", "Conjecture"),
    ("Variable v : False.", "Variable"),
    ("Context (v : False).", "Context"),
    ("Module M. Variable v : False. End M.", "Variable"),
    ("Abort. Theorem t : True. exact I. Qed.", "Abort"),
    ("Unset Guard Checking.", "Guard Checking"),
    ("Unset (* hidden *)\n Guard\tChecking.", "Guard Checking"),
    ("Local Unset Positivity Checking.", "Positivity Checking"),
    ("Unset Universe Checking.", "Universe Checking"),
    ("Set Definitional UIP.", "Definitional UIP"),
    ("#[bypass_check(guard)] Fixpoint f (n : nat) : False := f n.", "bypass_check"),
    ('Declare ML Module "coq-core.plugins.ltac".', "Declare ML"),
    ("Declare Instance i : False.", "Declare Instance"),
    ("Declare Module M : T.", "Declare Module"),
    ('Redirect "out" Print nat.', "Redirect"),
    ('Load "/etc/passwd".', "Load"),
    ("Recursive Extraction nat.", "Extraction"),
    ('Add LoadPath "/tmp" as X.', "LoadPath"),
    ('Add ML Path "/tmp".', "ML"),
    ('Cd "/tmp".', "Cd"),
    ("Drop.", "Drop"),
    ("Global Set Printing All.", "Global Set"),
    ("#[export] Unset Printing Notations.", "Global Unset"),
    ("Export Set Printing All.", "Export Set"),
    ("Eval native_compute in 1.", "native_compute"),
    ("Register foo as kernel.ind_bool.", "Register"),
    ("Primitive int := #int63_type.", "Primitive"),
    ("Next Obligation. Admit Obligations.", "Admit"),
    ("Ltac2 @ external f : unit -> unit := \"p\" \"f\".", "@external"),
    ("- admit.\n- reflexivity.", "admit"),
    ("exact (Coq.Init.Logic.Admitted).", "Admitted"),
    # Coq undoes a Succeed/Fail command: the nesting the screen follows would no longer be Coq's
    ("Succeed Section S.\nVariable cheat : False.", "Succeed Section"),
    ("Fail End S.", "Fail End"),
    ("Section S. Succeed End S. Variable v : False.", "Succeed End"),
    ("Succeed Time Module M.", "Succeed Module"),
    ("Fail Module Type T.", "Fail Module"),
    # a library module type's Parameter/Axiom fields would become the candidate's axioms
    ("Module P. Include Coq.Logic.ProofIrrelevanceFacts.ProofIrrelevance. End P.", "Include"),
    ("Module Type T. Include Type Coq.Logic.ProofIrrelevanceFacts.ProofIrrelevance. End T.", "Include"),
    ("Module M := N <+ Coq.Logic.ProofIrrelevanceFacts.ProofIrrelevance.", "<+"),
]


@pytest.mark.parametrize(("src", "command"), CHEATS)
def test_screen_rejects_and_names_the_command(src, command):
    rej = screen(src)
    assert rej is not None and rej.verdict == "rejected_command"
    assert rej.command == command
    assert command in rej.detail


@pytest.mark.parametrize("src", ["(* never closed", "(* (* nested *) not closed", 'idtac "open string.'])
def test_screen_refuses_what_coq_cannot_lex(src):
    rej = screen(src)
    assert rej is not None and rej.verdict == "compile_error"


def test_sentences_follow_coq_rules():
    src = "Goal True. exact I.Qed. (* x. y. *) Check Nat.add. Check \"a. b\". r.(f)"
    words = [s.words for s in sentences(src)]
    assert words == [["Goal", "True"], ["exact", "I.Qed"], ["Check", "Nat.add"], ["Check", '"a. b"'],
                     ["r", ".", "(", "f", ")"]]


def test_command_skips_bullets_selectors_and_attributes():
    sents = sentences("- Lemma a : True. 2: { #[local] Timeout 3 Theorem b : True. } all: auto. [x]: exact I.")
    assert [s.command for s in sents] == ["Lemma", "Theorem", "auto", "exact"]


def test_states_theorem_finds_the_named_statement_only():
    src = "Lemma helper : True. exact I. Qed.\n#[local] Theorem goal (n : nat) : n = n. reflexivity. Qed."
    assert states_theorem(sentences(src), "goal")
    assert not states_theorem(sentences(src), "goal2")
    assert not states_theorem(sentences("(* Theorem goal : True. *) exact I."), "goal")


def test_split_preamble_keeps_loads_in_the_header():
    assert split_preamble("Require Import List.\nImport ListNotations.") == (
        "Require Import List.\nImport ListNotations.", False)
    header, defs = split_preamble("From Coq Require Import Lia.\nDefinition d := 1.\nOpen Scope nat_scope.")
    assert header == "From Coq Require Import Lia.\nOpen Scope nat_scope." and defs


def test_candidate_source_wraps_scripts_and_keeps_full_sources():
    task = ProofTask(name="t", statement="forall n : nat, n = n.")
    src, mode = candidate_source(task, "reflexivity.", "HEADER")
    assert mode == "script"
    assert src == "HEADER\nTheorem t : forall n : nat, n = n.\nProof.\nreflexivity.\nQed.\n"
    src, _ = candidate_source(task, "Proof. intros. reflexivity. Defined.", "")
    assert src.count("Proof.") == 1 and "Qed" not in src
    src, mode = candidate_source(task, "Theorem t : forall n, n = n. auto. Qed.", "H")
    assert (src, mode) == ("H\nTheorem t : forall n, n = n. auto. Qed.\n", "source")


def test_verdict_file_elaborates_the_statement_before_loading_the_candidate():
    text = verdict_source(ProofTask(name="t", statement="1 = 1"), "Require Import Sppo.Pre.")
    assert text.index("__sppo_statement : Type := (1 = 1)") < text.index("Require Sppo.Cand.")
    assert "Import Sppo.Cand" not in text
    assert "@Sppo.Cand.t" in text and "Print Assumptions __sppo_check" in text


@pytest.mark.parametrize("bad", ["1 = 1. Axiom a : False", "", "   "])
def test_statement_must_be_one_term(bad):
    with pytest.raises(ValueError):
        clean_statement(bad) if bad.strip() else ProofTask(name="t", statement=bad)


def test_print_assumptions_parsing():
    assert parse_assumptions("Closed under the global context\n") == []
    out = "Axioms:\nClassical_Prop.classic : forall P : Prop,\n  P \\/ ~ P\nx is assumed to be guarded.\n"
    entries = parse_assumptions(out)
    assert entries == ["Classical_Prop.classic : forall P : Prop, P \\/ ~ P", "x is assumed to be guarded."]
    # a long entry wraps after its name: the type still belongs to it
    wrapped = "Axioms:\nFunctionalExtensionality.functional_extensionality_dep\n  : forall (A : Type),\n    A -> A\n"
    assert parse_assumptions(wrapped) == ["FunctionalExtensionality.functional_extensionality_dep : forall (A : Type), A -> A"]
    assert axiom_allowed(parse_assumptions(wrapped)[0], ["Coq.Logic.FunctionalExtensionality.functional_extensionality_dep"])
    allowed = ["Coq.Logic.Classical_Prop.classic"]
    assert axiom_allowed(entries[0], allowed)
    assert not axiom_allowed(entries[1], allowed)
    assert not axiom_allowed("Other.classic : False", allowed)
    assert parse_assumptions("garbage") == ["garbage"] and not axiom_allowed("garbage", allowed)


COQCHK_OUT = """
CONTEXT SUMMARY
===============

* Theory: Set is predicative

* Axioms:
    Coq.Logic.Classical_Prop.classic
    Sppo.Cand.cheat

* Constants/Inductives relying on type-in-type: <none>

* Constants/Inductives relying on unsafe (co)fixpoints:
    Sppo.Cand.loop

* Inductives whose positivity is assumed: <none>
"""


def test_coqchk_summary_parsing():
    axioms, unsafe = parse_coqchk(COQCHK_OUT)
    assert axioms == ["Coq.Logic.Classical_Prop.classic", "Sppo.Cand.cheat"]
    assert unsafe == ["Constants/Inductives relying on unsafe (co)fixpoints: Sppo.Cand.loop"]
    assert parse_coqchk("nothing")[1]  # unrecognised output is never read as clean


def test_extract_proof_prefers_the_last_coq_block():
    resp = "Idea:\n```coq\nauto.\n```\nBetter:\n```coq\nlia.\n```\n```text\nok\n```"
    assert extract_proof(resp) == "lia.\n"
    assert extract_proof("```\nreflexivity.\n```") == "reflexivity.\n"
    assert extract_proof("reflexivity.") == "reflexivity."


def test_verifier_validates_problems():
    v = CoqVerifier()
    payload = v.payload("auto.", {"name": "t", "statement": "True", "preamble": None, "proof": "x"})
    assert payload["task"]["name"] == "t" and payload["source"] == "auto."
    with pytest.raises(ValueError, match="statement"):
        v.payload("auto.", {"name": "t"})
    with pytest.raises(ValueError, match="identifier"):
        v.payload("auto.", {"name": "not a name", "statement": "True"})
    with pytest.raises(ValueError, match="allowed_axioms"):
        CoqVerifier(allowed_axioms=["bad name!"])
    with pytest.raises(ValueError, match="backend"):
        CoqVerifier(backend="lean")
