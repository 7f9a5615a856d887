"""Markdown leaderboards generated from results/, and the paper's reported numbers."""
