"""Model plugins shipped with the harness: one module per model family."""
