"""Task plugins shipped with the harness: one module per evaluation protocol."""
