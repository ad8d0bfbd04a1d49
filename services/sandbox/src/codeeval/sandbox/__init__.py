"""codeeval sandbox service: runs untrusted Python, Java and C# candidates in an isolation backend
(bubblewrap or Docker) and returns one typed outcome per run.

Layers: ``server`` (bootstrap), ``servicer`` (messages only), and the grpc-free core:
``model`` (types), ``executor`` (validation, limits, queue, retries, calibration),
``runners`` (one per language), ``backends`` (isolation).
"""
