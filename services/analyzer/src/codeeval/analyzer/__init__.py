"""codeeval analyzer service: static quality (pylint, PMD, lizard, radon, tree-sitter parse checks)
and reference metrics (CodeBLEU, BLEU, ROUGE-L, chrF, METEOR, exact match, leakage).

The core modules never import grpc; ``servicer.py`` translates messages and ``server.py`` boots it.
"""
