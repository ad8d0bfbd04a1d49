"""pass@k: the product form against the binomial definition, edge cases, bootstrap CIs."""

from __future__ import annotations

from math import comb

import numpy as np
import pytest

from codeeval.stats.passk import TaskCounts, estimate, omitted_ks, pass_at_k


@pytest.mark.parametrize(("n", "c", "k"), [(1, 0, 1), (1, 1, 1), (10, 3, 1), (10, 3, 5), (20, 0, 10), (200, 13, 100),
                                           (5, 5, 5), (7, 2, 6)])
def test_product_form_equals_binomial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k), abs=1e-12)


def test_pass_at_1_is_fraction_correct_and_large_n_is_stable():
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    value = pass_at_k(100_000, 7, 1000)  # binomials this large overflow floats; the product does not
    assert 0 < value < 1 and np.isfinite(value)


def test_invalid_inputs():
    with pytest.raises(ValueError, match="needs at least 5 samples"):
        pass_at_k(3, 1, 5)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        TaskCounts("t", n=2, c=3)


def test_estimate_reports_only_k_up_to_min_n_with_ci():
    tasks = [TaskCounts(f"t{i}", n=10, c=c, infra_errors=1 if i == 0 else 0) for i, c in enumerate([0, 2, 5, 10, 7])]
    res = estimate(tasks, [1, 10, 20], resamples=500, seed=3)
    assert set(res) == {1, 10}
    assert omitted_ks(tasks, [1, 10, 20]) == [20]
    assert res[1].value == pytest.approx(np.mean([0, 0.2, 0.5, 1.0, 0.7]))
    assert res[1].ci_low <= res[1].value <= res[1].ci_high
    assert res[1].ci_low < res[1].ci_high
    assert res[10].value == pytest.approx(0.8)
    again = estimate(tasks, [1], resamples=500, seed=3)
    assert again[1] == res[1]  # seeded: reproducible


def test_ci_shrinks_with_more_tasks():
    rng = np.random.default_rng(0)
    few = [TaskCounts(str(i), 5, int(c)) for i, c in enumerate(rng.integers(0, 6, 10))]
    many = [TaskCounts(str(i), 5, int(c)) for i, c in enumerate(rng.integers(0, 6, 1000))]
    w_few = estimate(few, [1])[1]
    w_many = estimate(many, [1])[1]
    assert (w_many.ci_high - w_many.ci_low) < (w_few.ci_high - w_few.ci_low)
