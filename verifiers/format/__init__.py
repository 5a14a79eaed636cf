"""Form checks that need no sandbox: ``get_verifier("format")`` and ``get_verifier("exact")``.

Both run in-process on the host (regular expressions and brace matching; nothing is parsed or
evaluated), so neither has a judge:

=============  ======  ==================================================================
module         runs    role
=============  ======  ==================================================================
``verifier``   host    ``FormatVerifier``: answer line, length, required/forbidden patterns
``exact``      host    ``ExactVerifier``: the extracted final answer compared as a string
=============  ======  ==================================================================
"""
