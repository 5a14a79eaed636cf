"""Coq proofs (``get_verifier("coq")``): screen, compile, check the statement, check the axioms.

Where each module runs (this ``__init__`` imports nothing):

===============  ========  ====================================================================
module           runs      role
===============  ========  ====================================================================
``verifier``     host      ``CoqVerifier``: takes the proof out of the response, builds the payload
``judge``        sandbox   judge entry point ``judge``: rebuilds the task, runs the backend
``backend``      both      prover-neutral task record, runner and step order (the host only uses
                           ``ProofTask`` and ``BACKENDS``)
``check``        sandbox   the Coq backend: build, ``coqc``, trusted check file, ``coqchk``
``screen``       sandbox   textual screen of candidate source (lexer, forbidden commands)
``theorems``     host      generator of the built-in theorem set (``envs/data/coq_theorems.jsonl``);
                           not in the sandbox image
``lemmas``       host      hand-written lemmas used by ``theorems``; not in the sandbox image
===============  ========  ====================================================================
"""
