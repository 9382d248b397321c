"""The tables' arithmetic (`natjax.report.stats`), against SciPy's Welch test."""

import pytest
from scipy import stats as scipy_stats

from natjax.report import stats


def test_summary_is_mean_sample_std_and_n():
    s = stats.summarise([0.40, 0.44, 0.42])
    assert (s.mean, s.std, s.n) == (pytest.approx(0.42), pytest.approx(0.02), 3)
    assert stats.summarise([0.5]).std is None and stats.summarise([]) is None


@pytest.mark.parametrize(
    "a, b",
    [
        ([0.91, 0.92, 0.915], [0.89, 0.895, 0.893]),  # Apart: supported.
        ([0.91, 0.93, 0.90], [0.905, 0.92, 0.91]),  # Within the spread.
        ([0.50, 0.52, 0.51, 0.49, 0.515], [0.48, 0.52]),
    ],
)
def test_a_difference_is_supported_exactly_where_welchs_test_rejects_at_95(a, b):
    d = stats.difference(stats.summarise(a), stats.summarise(b))
    p = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
    assert d.delta == pytest.approx(sum(a) / len(a) - sum(b) / len(b))
    # The critical value is taken at the Welch df rounded down: as strict as SciPy or stricter.
    assert not d.supported or p < 0.05
    if p < 0.01 or p > 0.1:
        assert d.supported == (p < 0.05)


def test_one_seed_is_not_tested():
    assert stats.difference(stats.summarise([0.9]), stats.summarise([0.8, 0.81])) is None


def test_the_critical_values_are_students():
    for df in (1, 2, 4, 10, 30):
        assert stats.t_critical(df) == pytest.approx(scipy_stats.t.ppf(0.975, df), abs=1e-3)
    assert stats.t_critical(4.9) == stats.t_critical(4)
