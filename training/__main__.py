"""``python -m harness.training ...``: the ``harness train`` command, for launchers that run a
module (``deepspeed --module harness.training``, ``torchrun -m harness.training``,
``accelerate launch -m harness.training``)."""

from harness.training.cli import main

main()
