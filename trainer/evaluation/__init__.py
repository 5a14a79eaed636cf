"""Policy evaluation, apart from training: everything that scores a policy without updating it.

* ``held_out``: the trainer's held-out accuracy (greedy, ``split="test"``) before and after training;
* ``bench``, ``bench_store``, ``bench_report``, ``bench_cli``: ``sppo-gym bench`` (accuracy, pass@k,
  verdicts and timings of a model, a Python callable or an OpenAI-compatible endpoint);
* ``policies``: the POLICY specs that ``bench`` and ``audit`` take;
* ``audit``, ``audit_policies``, ``audit_programs``, ``audit_cli``: ``sppo-gym audit`` (does an env's
  reward pay for no work?);
* ``chat_server``: a local OpenAI-compatible server answering with a Python callable (measuring and
  testing the ``openai:`` policy without a model).

Kept import-light: the CLI modules load torch, transformers and openai only once a command runs.
"""

# The verdict of an infrastructure failure (docs/CONTRACT.md, "Verdicts"): not a verdict on the
# answer, so evaluation counts it and leaves it out of every mean, never scores it as 0.
from sppo_gym.envs import SANDBOX_ERROR

__all__ = ["SANDBOX_ERROR"]
