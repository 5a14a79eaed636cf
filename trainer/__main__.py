"""``python -m sppo_gym.trainer train ...``: the ``sppo-gym`` command line, in the form torchrun
starts (``torchrun --nproc-per-node 2 -m sppo_gym.trainer train ...``)."""

from .cli import app

app()
