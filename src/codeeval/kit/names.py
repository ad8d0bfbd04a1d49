"""The one did-you-mean rule for names a user types (suites, readers, prompts, configs, CLI choices).

``did_you_mean(name, known)`` returns the suffix an error message ends with: ``"; did you mean 'x'?"``
when a known name is close (difflib ratio >= 0.6), else ``"; known: a, b, c"``. Cost: linear in
``known``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """The hint suffix for an unknown ``name`` among ``known`` (never empty)."""
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; known: {', '.join(names)}" if names else "; none are known"
