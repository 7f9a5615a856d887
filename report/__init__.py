"""``harness report``: a static, self-contained site of the results (leaderboard, per-task
scores, every sample) and the Hugging Face Hub's ``.eval_results`` files."""
