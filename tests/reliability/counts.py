"""Counters the reliability tests fill in and the summary prints (see conftest.py)."""

from collections import Counter

COUNTS: Counter[str] = Counter()
