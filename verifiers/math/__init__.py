"""Math answers (``get_verifier("math")``): final-answer extraction, parsing, value comparison, final form.

Where each module runs (nothing here is imported by this ``__init__``, so the judge side loads lean):

=================  =========  =====================================================================
module             runs       role
=================  =========  =====================================================================
``verifier``       host       ``MathVerifier``: builds the judge payload, maps job results to Scores
``judge``          sandbox    judge entry points ``judge`` / ``judge_many``; ``grade`` is the pure rule
``extract``        both       find the final answer in a response (regular expressions only; the
                              host's ``exact``/``format`` verifiers reuse it)
``normalize``      sandbox    text clean-up and plain text -> LaTeX (whitelist tokenizer)
``parse``          sandbox    answer string -> typed value (sympy, ``latex2sympy2_extended``)
``equiv``          sandbox    does a parsed answer match the reference
``final``          sandbox    is a right value also a final answer (``restated``, ``unsimplified``, ...)
``data/``          tests      ``math_equivalence.jsonl``, the labelled equivalence set; a test
                              fixture, not in the sandbox image
=================  =========  =====================================================================

Sympy and the parsers never see model text on the host: only ``extract`` (regular expressions) does.
"""
