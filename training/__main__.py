"""``python -m training ...``: the ``harness train`` command, for launchers that run a module
(``deepspeed --module training``, ``torchrun -m training``, ``accelerate launch -m training``)."""

from training.cli import main

main()
