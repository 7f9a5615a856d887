"""`harness sweep`: every model of a plan on every task, as local or Slurm jobs (submitit)."""
