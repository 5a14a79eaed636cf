"""Code: Python unit tests (``get_verifier("python_tests")``) and stdin/stdout programs (``"stdio"``).

Where each module runs (this ``__init__`` imports nothing, so a candidate process loads only
``candidate``):

========================  ==================  ==========================================================
module                    runs                role
========================  ==================  ==========================================================
``extract``               host                take the code out of a response (also used by ``coq``)
``python_tests``          host                ``PythonTestsVerifier``: payload in, Score out
``python_tests_judge``    sandbox, judge uid  judge entry points ``judge`` / ``judge_many``
``runner``                sandbox, judge uid  one run: the trusted test here, each call forwarded
                                              to the candidate process (``CandidateProxy``)
``testprog``              sandbox, judge uid  the trusted test program: assert rewriting, tallies
``speed``                 sandbox, judge uid  the runtime-efficiency ("speed") reward
``cpu_clock``             sandbox, judge uid  read a candidate's CPU clock from outside it
``candidate``             sandbox, candidate  load the untrusted module and answer calls (own uid;
                                              also serves ``composition.callable_judge``)
``stdio``                 host                ``StdioVerifier``: payload in, Score out
``stdio_judge``           sandbox, judge uid  judge entry point ``judge``: compile once, run per test
``languages``             both                how each stdio language is compiled and run
========================  ==================  ==========================================================
"""
