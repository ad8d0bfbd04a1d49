"""Statistics for codeeval results: pass@k (``passk``) and paired comparisons between runs (``compare``)."""
