"""LLM-as-judge scores for open-ended answers: protocols, a verdict store, the judging loop,
agreement between judges (and with people). See docs/judges.md."""
