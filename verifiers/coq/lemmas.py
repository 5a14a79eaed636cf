"""Hand-written nat and list lemmas of the built-in Coq set, each with a checked reference proof.

Some statements mention preamble definitions (``double``, ``sum_to``, ``evenb``, ``count``): those
exercise the trusted-preamble path of the verifier (the preamble is compiled as its own module, so
a candidate cannot redefine what the statement means).
"""

from __future__ import annotations

LIST_PREAMBLE = "Require Import List.\nImport ListNotations."

DOUBLE = "Fixpoint double (n : nat) : nat := match n with 0 => 0 | S k => S (S (double k)) end."
SUM_TO = "Fixpoint sum_to (n : nat) : nat := match n with 0 => 0 | S k => n + sum_to k end."
EVENB = ("Fixpoint evenb (n : nat) : bool :=\n  match n with 0 => true | 1 => false | S (S k) => evenb k end.")
COUNT = ("Fixpoint count (x : nat) (l : list nat) : nat :=\n  match l with [] => 0 "
         "| y :: t => if Nat.eqb x y then S (count x t) else count x t end.")

# (name, statement, proof, difficulty, preamble)
NAT_LEMMAS: tuple[tuple[str, str, str, int, str], ...] = (
    ("add_0_r", "forall n : nat, n + 0 = n", "induction n as [|n IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 1, ""),
    ("add_succ_r", "forall n m : nat, n + S m = S (n + m)", "induction n as [|n IH]; intros m; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("add_comm'", "forall n m : nat, n + m = m + n", "intros n m; induction n as [|n IH]; simpl.\n- rewrite <- plus_n_O. reflexivity.\n- rewrite IH. apply plus_n_Sm.", 2, ""),
    ("add_assoc'", "forall a b c : nat, a + (b + c) = a + b + c", "induction a as [|a IH]; intros b c; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("mul_0_r'", "forall n : nat, n * 0 = 0", "induction n as [|n IH]; simpl; [reflexivity | exact IH].", 1, ""),
    ("mul_1_l'", "forall n : nat, 1 * n = n", "intros n. simpl. rewrite <- plus_n_O. reflexivity.", 1, ""),
    ("mul_1_r'", "forall n : nat, n * 1 = n", "induction n as [|n IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 1, ""),
    ("succ_inj'", "forall n m : nat, S n = S m -> n = m", "intros n m H. injection H. trivial.", 1, ""),
    ("succ_neq_0", "forall n : nat, S n <> 0", "intros n H. discriminate H.", 1, ""),
    ("le_add_r'", "forall n m : nat, n <= n + m", "induction n as [|n IH]; intros m; simpl.\n- induction m; constructor; assumption.\n- apply le_n_S. apply IH.", 3, ""),
    ("eqb_refl'", "forall n : nat, Nat.eqb n n = true", "induction n as [|n IH]; simpl; [reflexivity | exact IH].", 2, ""),
    ("pred_succ'", "forall n : nat, pred (S n) = n", "reflexivity.", 1, ""),
    ("double_plus", "forall n : nat, double n = n + n", "induction n as [|n IH]; simpl; [reflexivity | rewrite IH, <- plus_n_Sm; reflexivity].", 3, DOUBLE),
    ("double_mul2", "forall n : nat, double n = 2 * n", "induction n as [|n IH]; simpl; lia.", 2, "Require Import Lia.\n" + DOUBLE),
    ("evenb_double", "forall n : nat, evenb (double n) = true", "induction n as [|n IH]; simpl; [reflexivity | exact IH].", 3, DOUBLE + "\n" + EVENB),
    ("sum_to_closed", "forall n : nat, 2 * sum_to n = n * (n + 1)", "induction n as [|n IH]; simpl sum_to; [reflexivity | nia].", 4, "Require Import Lia.\n" + SUM_TO),
    ("sum_to_le", "forall n : nat, n <= sum_to n", "destruct n as [|n]; simpl; lia.", 3, "Require Import Lia.\n" + SUM_TO),
    ("mul_comm'", "forall n m : nat, n * m = m * n", "intros n m. lia.", 2, "Require Import Lia."),
    ("mul_add_distr_r'", "forall a b c : nat, (a + b) * c = a * c + b * c", "intros a b c. lia.", 3, "Require Import Lia."),
    ("square_expand", "forall a b : nat, (a + b) * (a + b) = a * a + 2 * a * b + b * b", "intros a b. ring.", 4, "Require Import Arith."),
    ("mul_le_mono'", "forall a b c : nat, a <= b -> a * c <= b * c", "intros a b c H. nia.", 4, "Require Import Lia."),
    ("max_comm'", "forall a b : nat, Nat.max a b = Nat.max b a", "intros a b. lia.", 3, "Require Import Lia."),
    ("even_or_odd", "forall n : nat, exists k, n = 2 * k \\/ n = 2 * k + 1",
     "induction n as [|n [k [H|H]]].\n- exists 0. left. reflexivity.\n- exists k. right. lia.\n- exists (S k). left. lia.", 5, "Require Import Lia."),
    ("le_antisym'", "forall n m : nat, n <= m -> m <= n -> n = m", "intros n m H1 H2. lia.", 3, "Require Import Lia."),
)

LIST_LEMMAS: tuple[tuple[str, str, str, int, str], ...] = (
    ("app_nil_r'", "forall (A : Type) (l : list A), l ++ [] = l", "intros A l. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("app_nil_l'", "forall (A : Type) (l : list A), [] ++ l = l", "reflexivity.", 1, ""),
    ("app_assoc'", "forall (A : Type) (l m n : list A), l ++ m ++ n = (l ++ m) ++ n", "intros A l m n. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("app_length'", "forall (A : Type) (l m : list A), length (l ++ m) = length l + length m", "intros A l m. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("map_app'", "forall (A B : Type) (f : A -> B) (l m : list A), map f (l ++ m) = map f l ++ map f m", "intros A B f l m. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 3, ""),
    ("map_length'", "forall (A B : Type) (f : A -> B) (l : list A), length (map f l) = length l", "intros A B f l. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("map_id'", "forall (A : Type) (l : list A), map (fun x => x) l = l", "intros A l. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("map_map'", "forall (A B C : Type) (f : A -> B) (g : B -> C) (l : list A), map g (map f l) = map (fun x => g (f x)) l", "intros A B C f g l. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 3, ""),
    ("rev_length'", "forall (A : Type) (l : list A), length (rev l) = length l", "intros A l. induction l as [|x l IH]; simpl; [reflexivity | rewrite app_length, IH; simpl; lia].", 3, "Require Import Lia."),
    ("rev_app_distr'", "forall (A : Type) (l m : list A), rev (l ++ m) = rev m ++ rev l", "intros A l m. induction l as [|x l IH]; simpl.\n- rewrite app_nil_r. reflexivity.\n- rewrite IH, app_assoc. reflexivity.", 4, ""),
    ("rev_involutive'", "forall (A : Type) (l : list A), rev (rev l) = l", "intros A l. induction l as [|x l IH]; simpl.\n- reflexivity.\n- rewrite rev_app_distr, IH. reflexivity.", 4, ""),
    ("in_app_l", "forall (A : Type) (x : A) (l m : list A), In x l -> In x (l ++ m)", "intros A x l m H. apply in_or_app. left. exact H.", 2, ""),
    ("in_map'", "forall (A B : Type) (f : A -> B) (l : list A) (x : A), In x l -> In (f x) (map f l)", "intros A B f l x H. induction l as [|y l IH]; simpl in *.\n- contradiction.\n- destruct H as [H|H]; [left; rewrite H; reflexivity | right; exact (IH H)].", 4, ""),
    ("length_zero_nil", "forall (A : Type) (l : list A), length l = 0 -> l = []", "intros A l H. destruct l; [reflexivity | discriminate H].", 2, ""),
    ("cons_neq_nil", "forall (A : Type) (x : A) (l : list A), x :: l <> []", "intros A x l H. discriminate H.", 1, ""),
    ("repeat_length'", "forall (A : Type) (x : A) (n : nat), length (repeat x n) = n", "intros A x n. induction n as [|n IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 2, ""),
    ("firstn_skipn'", "forall (A : Type) (n : nat) (l : list A), firstn n l ++ skipn n l = l", "intros A n. induction n as [|n IH]; intros [|x l]; simpl; try reflexivity. rewrite IH. reflexivity.", 4, ""),
    ("fold_sum_app", "forall l m : list nat, fold_right Nat.add 0 (l ++ m) = fold_right Nat.add 0 l + fold_right Nat.add 0 m", "intros l m. induction l as [|x l IH]; simpl; lia.", 3, "Require Import Lia."),
    ("count_app", "forall (x : nat) (l m : list nat), count x (l ++ m) = count x l + count x m", "intros x l m. induction l as [|y l IH]; simpl.\n- reflexivity.\n- destruct (Nat.eqb x y); simpl; rewrite IH; reflexivity.", 4, COUNT),
    ("count_le_length", "forall (x : nat) (l : list nat), count x l <= length l", "intros x l. induction l as [|y l IH]; simpl.\n- constructor.\n- destruct (Nat.eqb x y); lia.", 4, "Require Import Lia.\n" + COUNT),
    ("nth_map_S", "forall (l : list nat) (n : nat), nth n (map S l) 1 = S (nth n l 0)", "induction l as [|x l IH]; intros [|n]; simpl; try reflexivity. apply IH.", 4, ""),
    ("rev_unit'", "forall (A : Type) (l : list A) (a : A), rev (l ++ [a]) = a :: rev l", "intros A l a. induction l as [|x l IH]; simpl; [reflexivity | rewrite IH; reflexivity].", 3, ""),
)


def _preamble(extra: str, lists: bool) -> str:
    parts = [LIST_PREAMBLE] if lists else []
    if extra:
        parts.append(extra)
    return "\n".join(parts)


def handwritten() -> list[dict]:
    """The lemmas above as rows (families ``nat`` and ``list``)."""
    rows = []
    for fam, table, lists in (("nat", NAT_LEMMAS, False), ("list", LIST_LEMMAS, True)):
        for name, stmt, proof, difficulty, extra in table:
            rows.append({"name": f"{fam}_{name.rstrip(chr(39))}", "statement": stmt, "preamble": _preamble(extra, lists),
                         "proof": proof, "difficulty": difficulty, "family": fam})
    return rows
