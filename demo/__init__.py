"""The built-in demo: a small synthetic dermatology-like dataset that needs no download."""
