"""Isolation backends: each runs one command in a locked-down sandbox and reports what happened."""
