"""Verifiers made of other verifiers or of user functions.

Where each module runs (this ``__init__`` imports nothing):

==================  ========  ===================================================================
module              runs      role
==================  ========  ===================================================================
``composed``        host      ``ComposedVerifier``: weighted sum gated by the outcome verifier
``entries``         host      parse weighted entries (``verifier=[...]``, ``extra_verifiers=[...]``),
                              build each entry's verifier and the composed one
``callable``        host      a user's function as a verifier: ``CallableVerifier`` (in this
                              process) or ``SandboxedCallableVerifier`` (ships it to the judge)
``callable_judge``  sandbox   judge of ``register_task(..., verifier=fn, sandboxed=True)``: runs
                              the user's function in a candidate process (``code.candidate``)
==================  ========  ===================================================================
"""
