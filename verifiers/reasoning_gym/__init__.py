"""reasoning-gym tasks (``ReasoningGymVerifier``): the task's own ``score_answer``, run in the sandbox.

Where each module runs (this ``__init__`` imports nothing):

=============  =======================  ==========================================================
module         runs                     role
=============  =======================  ==========================================================
``verifier``   host                     ``ReasoningGymVerifier``: sends (task, config, seed) and the
                                        pickled entry; partial credit off by default
``judge``      sandbox, judge uid and   ``judge`` extracts the ``<answer>`` span; ``score_candidate``
               candidate                runs the task's scorer in a candidate process (scorers
                                        ``eval`` model text)
=============  =======================  ==========================================================
"""
