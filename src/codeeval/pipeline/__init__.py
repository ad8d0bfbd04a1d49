"""``codeeval bench``: benchmark a model (and its adapters) on a suite through the four services.

Stages hand off through JSONL files in a run directory (generate -> extract -> execute -> analyze
-> score), each resumable; see :mod:`codeeval.pipeline.bench`.
"""
