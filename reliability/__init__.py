"""codeeval's reliability figures (`make reliability`): bad input on every RPC, load, and faults, run
against the real services on loopback, written to RELIABILITY.md.

Each area is a module with ``run(ctx) -> list[Section]`` (:mod:`reliability.fuzz`,
:mod:`reliability.load`, :mod:`reliability.faults`); :mod:`reliability.__main__` runs them and
:mod:`reliability.report` writes the figures.
"""
