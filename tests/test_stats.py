"""Tests for :mod:`exec_env.stats` (paired comparison of execution policies)."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

from exec_env.stats import (
    CLUSTER_COLUMNS,
    PAIRED_COLUMNS,
    SUMMARY_COLUMNS,
    PairedComparison,
    clustered_interval,
    format_table,
    paired_comparison,
    summarize,
)

T_975_3 = 3.182446305284263  # t_{0.975, 3}, from tables
T_95_3 = 2.353363434801827  # t_{0.95, 3}, from tables


# --------------------------------------------------------------------------- paired_comparison


def test_hand_computed_t_interval() -> None:
    baseline = np.array([10.0, 20.0, 30.0, 40.0])
    policy = baseline + np.array([1.0, 2.0, 3.0, 4.0])
    r = paired_comparison(policy, baseline, "A", "B")

    assert isinstance(r, PairedComparison)
    assert (r.policy, r.baseline, r.n) == ("A", "B", 4)
    std = math.sqrt(5.0 / 3.0)
    se = std / 2.0
    assert r.mean_diff == pytest.approx(2.5, abs=1e-12)
    assert r.std_diff == pytest.approx(std, abs=1e-12)
    assert r.t_stat == pytest.approx(2.5 / se, abs=1e-9)
    assert r.ci_low == pytest.approx(2.5 - T_975_3 * se, abs=1e-9)
    assert r.ci_high == pytest.approx(2.5 + T_975_3 * se, abs=1e-9)
    ref = sps.ttest_rel(policy, baseline)
    assert r.t_stat == pytest.approx(float(ref.statistic), rel=1e-12)
    assert r.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
    # all four differences positive -> exact signed-rank p = 2 * (1/16)
    assert r.wilcoxon_p == pytest.approx(0.125, abs=1e-12)
    assert r.win_rate == 0.0
    assert r.gain_loss_ratio == 0.0  # no gains, 10 bps of losses


def test_confidence_level_changes_critical_value() -> None:
    r = paired_comparison([1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0], "A", "B", confidence=0.90)
    se = math.sqrt(5.0 / 3.0) / 2.0
    assert r.ci_low == pytest.approx(2.5 - T_95_3 * se, abs=1e-9)
    assert r.ci_high == pytest.approx(2.5 + T_95_3 * se, abs=1e-9)
    # narrower than the 95% interval
    assert r.ci_high - r.ci_low < 2 * T_975_3 * se


def test_wilcoxon_matches_scipy_with_ties_and_zeros() -> None:
    policy = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0])
    baseline = np.array([2.0, 1.0, 5.0, 3.0, 5.0, 7.0, 1.0, 8.0, 4.0, 3.0, 2.0, 9.0])
    r = paired_comparison(policy, baseline, "A", "B")
    with np.errstate(all="ignore"):
        ref = float(sps.wilcoxon(policy, baseline).pvalue)
    assert r.wilcoxon_p == pytest.approx(ref, rel=1e-12)
    assert r.p_value == pytest.approx(float(sps.ttest_rel(policy, baseline).pvalue), rel=1e-9)


def test_wilcoxon_matches_scipy_exact_small_sample() -> None:
    rng = np.random.default_rng(7)
    policy = rng.normal(0.3, 1.0, 15)
    baseline = rng.normal(0.0, 1.0, 15)
    r = paired_comparison(policy, baseline, "A", "B")
    assert r.wilcoxon_p == pytest.approx(float(sps.wilcoxon(policy, baseline).pvalue), rel=1e-12)


def test_win_rate_and_gain_loss_ratio_with_ties() -> None:
    policy = [1.0, 2.0, 3.0, 5.0, 5.0]
    baseline = [2.0, 2.0, 1.0, 4.0, 8.0]
    # differences policy - baseline: [-1, 0, 2, 1, -3]; the tie (episode 1) is not a win
    r = paired_comparison(policy, baseline, "A", "B")
    assert r.win_rate == pytest.approx(2 / 5, abs=1e-15)
    # gains: 1 + 3 = 4, losses: 2 + 1 = 3
    assert r.gain_loss_ratio == pytest.approx(4 / 3, abs=1e-15)


def test_gain_loss_ratio_inf_without_losses() -> None:
    r = paired_comparison([1.0, 2.0, 3.0], [2.0, 2.0, 3.5], "A", "B")
    assert r.gain_loss_ratio == math.inf
    assert r.win_rate == pytest.approx(2 / 3, abs=1e-15)


def test_identical_values_are_degenerate_but_defined() -> None:
    x = [5.0, 6.0, 7.0]
    r = paired_comparison(x, x, "A", "B")
    assert r.mean_diff == 0.0 and r.std_diff == 0.0
    assert (r.ci_low, r.ci_high) == (0.0, 0.0)
    assert (r.boot_low, r.boot_high) == (0.0, 0.0)
    assert r.t_stat == 0.0 and r.p_value == 1.0
    assert math.isnan(r.wilcoxon_p)
    assert r.win_rate == 0.0
    assert math.isnan(r.gain_loss_ratio)


def test_constant_nonzero_difference() -> None:
    r = paired_comparison([1.0, 2.0, 3.0], [3.0, 4.0, 5.0], "A", "B")
    assert r.mean_diff == -2.0 and r.std_diff == 0.0
    assert (r.ci_low, r.ci_high) == (-2.0, -2.0)
    assert r.t_stat == -math.inf and r.p_value == 0.0
    assert r.win_rate == 1.0 and r.gain_loss_ratio == math.inf


def test_bootstrap_deterministic_under_seed() -> None:
    rng = np.random.default_rng(3)
    policy, baseline = rng.normal(0, 1, 40), rng.normal(0, 1, 40)
    a = paired_comparison(policy, baseline, "A", "B", n_boot=2000, seed=11)
    b = paired_comparison(policy, baseline, "A", "B", n_boot=2000, seed=11)
    c = paired_comparison(policy, baseline, "A", "B", n_boot=2000, seed=12)
    assert a == b
    assert (a.boot_low, a.boot_high) != (c.boot_low, c.boot_high)
    # with 40 episodes the percentile interval is close to the t-interval
    assert a.boot_low == pytest.approx(a.ci_low, abs=0.25)
    assert a.boot_high == pytest.approx(a.ci_high, abs=0.25)


def test_bootstrap_contains_mean_for_symmetric_sample() -> None:
    diffs = np.array([-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]) + 0.5
    r = paired_comparison(diffs, np.zeros_like(diffs), "A", "B", n_boot=5000, seed=0)
    assert r.mean_diff == pytest.approx(0.5, abs=1e-12)
    assert r.boot_low < r.mean_diff < r.boot_high
    assert r.ci_low < r.mean_diff < r.ci_high


def test_swapping_policy_and_baseline_negates() -> None:
    rng = np.random.default_rng(5)
    policy, baseline = rng.normal(1, 2, 25), rng.normal(0, 2, 25)
    a = paired_comparison(policy, baseline, "A", "B", n_boot=1000)
    b = paired_comparison(baseline, policy, "B", "A", n_boot=1000)
    assert b.mean_diff == pytest.approx(-a.mean_diff, abs=1e-12)
    assert b.std_diff == pytest.approx(a.std_diff, abs=1e-12)
    assert b.ci_low == pytest.approx(-a.ci_high, abs=1e-12)
    assert b.ci_high == pytest.approx(-a.ci_low, abs=1e-12)
    assert b.boot_low == pytest.approx(-a.boot_high, abs=1e-12)
    assert b.boot_high == pytest.approx(-a.boot_low, abs=1e-12)
    assert b.t_stat == pytest.approx(-a.t_stat, abs=1e-12)
    assert b.p_value == pytest.approx(a.p_value, abs=1e-12)
    assert b.wilcoxon_p == pytest.approx(a.wilcoxon_p, abs=1e-12)
    assert a.win_rate + b.win_rate == pytest.approx(1.0)  # no ties in continuous data
    assert b.gain_loss_ratio == pytest.approx(1.0 / a.gain_loss_ratio, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"policy_values": [1.0, 2.0, 3.0], "baseline_values": [1.0, 2.0]}, r"same length.*3 and 2"),
        ({"policy_values": [1.0], "baseline_values": [2.0]}, r"at least 2.*n=1"),
        ({"policy_values": [], "baseline_values": []}, r"at least 2.*n=0"),
        ({"policy_values": [1.0, np.nan], "baseline_values": [1.0, 2.0]}, r"policy_values.*finite.*\[1\]=nan"),
        ({"policy_values": [1.0, 2.0], "baseline_values": [np.inf, 2.0]}, r"baseline_values.*finite.*\[0\]=inf"),
        ({"policy_values": [[1.0, 2.0]], "baseline_values": [[1.0, 2.0]]}, r"policy_values must be 1-D"),
        ({"confidence": 0.0}, r"confidence.*\(0, 1\).*0\.0"),
        ({"confidence": 1.0}, r"confidence.*\(0, 1\).*1\.0"),
        ({"confidence": 95}, r"confidence.*\(0, 1\).*95"),
        ({"confidence": -0.5}, r"confidence.*\(0, 1\).*-0\.5"),
        ({"n_boot": 99}, r"n_boot.*>= 100.*99"),
        ({"n_boot": 0}, r"n_boot.*>= 100.*0"),
        ({"n_boot": 1000.0}, r"n_boot.*integer.*1000\.0"),
        ({"seed": -1}, r"seed.*non-negative.*-1"),
        ({"policy_values": [1e308, 2.0], "baseline_values": [-1e308, 1.0]}, r"overflow"),
    ],
)
def test_paired_comparison_validation(kwargs: dict[str, object], pattern: str) -> None:
    args: dict[str, object] = {
        "policy_values": [1.0, 2.0, 3.0],
        "baseline_values": [2.0, 2.0, 2.0],
        "policy": "A",
        "baseline": "B",
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        paired_comparison(**args)  # type: ignore[arg-type]


_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(min_value=2, max_value=30))
    x = draw(hnp.arrays(np.float64, n, elements=_values))
    y = draw(hnp.arrays(np.float64, n, elements=_values))
    return x, y


@settings(max_examples=60, deadline=None)
@given(pair=_pairs(), c=_values)
def test_properties_for_any_finite_pair(pair: tuple[np.ndarray, np.ndarray], c: float) -> None:
    x, y = pair
    r = paired_comparison(x, y, "A", "B", n_boot=200, seed=1)
    assert r.ci_low <= r.mean_diff <= r.ci_high
    assert r.boot_low <= r.boot_high
    assert 0.0 <= r.p_value <= 1.0
    assert math.isnan(r.wilcoxon_p) or 0.0 <= r.wilcoxon_p <= 1.0
    assert 0.0 <= r.win_rate <= 1.0
    assert math.isnan(r.gain_loss_ratio) or r.gain_loss_ratio >= 0.0

    shifted = paired_comparison(x + c, y, "A", "B", n_boot=200, seed=1)
    # exact up to floating-point rounding of values of this magnitude
    tol = 1e-9 * (1.0 + abs(c) + float(np.max(np.abs(x))) + float(np.max(np.abs(y))))
    assert abs(shifted.mean_diff - (r.mean_diff + c)) <= tol
    assert abs(shifted.ci_low - (r.ci_low + c)) <= tol
    assert abs(shifted.ci_high - (r.ci_high + c)) <= tol


# --------------------------------------------------------------------------- summarize


def _frame() -> pd.DataFrame:
    """Long results: 3 policies x 6 episodes, policies first seen in the order TWAP, POV, RL."""
    twap = [10.0, 12.0, 14.0, 16.0, 11.0, 15.0]
    pov = [11.0, 12.5, 13.0, 17.0, 12.0, 15.5]
    rl = [8.0, 9.5, 12.0, 13.0, 9.0, 12.0]
    rows = []
    for pol, vals in (("TWAP", twap), ("POV", pov), ("RL", rl)):
        for ep, v in enumerate(vals):
            rows.append({"policy": pol, "episode": ep + 100, "shortfall_bps": v, "fill_rate": 1.0 - v / 100})
    return pd.DataFrame(rows)


def test_summarize_columns_rows_and_values() -> None:
    df = _frame()
    out = summarize(df, n_boot=500, seed=3)
    assert list(out.columns) == list(SUMMARY_COLUMNS)
    assert list(out.columns) == [
        "policy", "n", "mean", "std", "mean_diff", "ci_low", "ci_high",
        "boot_low", "boot_high", "p_value", "wilcoxon_p", "win_rate", "gain_loss_ratio",
    ]  # fmt: skip
    assert out["policy"].tolist() == ["TWAP", "POV", "RL"]
    assert out["n"].tolist() == [6, 6, 6]
    assert out.attrs["baseline"] == "TWAP" and out.attrs["metric"] == "shortfall_bps"

    base = out.iloc[0]
    assert base["mean"] == pytest.approx(13.0)
    assert base["std"] == pytest.approx(math.sqrt(28 / 5))
    assert all(math.isnan(base[c]) for c in PAIRED_COLUMNS)

    by_pol = {p: g.sort_values("episode")["shortfall_bps"].to_numpy() for p, g in df.groupby("policy")}
    for i, pol in ((1, "POV"), (2, "RL")):
        ref = paired_comparison(by_pol[pol], by_pol["TWAP"], pol, "TWAP", n_boot=500, seed=3)
        row = out.iloc[i]
        for col in PAIRED_COLUMNS:
            assert row[col] == pytest.approx(getattr(ref, col), rel=1e-12), (pol, col)
    # RL is cheaper on every episode: -2, -2.5, -2, -3, -2, -3
    rl = out.iloc[2]
    assert rl["mean_diff"] == pytest.approx(-14.5 / 6)
    assert rl["win_rate"] == 1.0 and rl["gain_loss_ratio"] == math.inf
    # POV: diffs +1, +0.5, -1, +1, +1, +0.5 -> 1 win, gains 1, losses 4
    pov = out.iloc[1]
    assert pov["win_rate"] == pytest.approx(1 / 6)
    assert pov["gain_loss_ratio"] == pytest.approx(1 / 4)


def test_summarize_ignores_row_order_and_other_metrics() -> None:
    df = _frame()
    a = summarize(df, n_boot=300)
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    shuffled = pd.concat([shuffled[shuffled.policy == "TWAP"], shuffled[shuffled.policy != "TWAP"]])
    b = summarize(shuffled, n_boot=300)
    assert b["policy"].tolist()[0] == "TWAP"
    b = b.set_index("policy").loc[a["policy"]].reset_index()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)

    other = summarize(df, metric="fill_rate", baseline="RL", n_boot=300)
    assert other["policy"].tolist() == ["TWAP", "POV", "RL"]
    assert math.isnan(other.loc[2, "mean_diff"])
    assert other.loc[0, "mean_diff"] == pytest.approx(-0.01 * 14.5 / 6)


def test_summarize_custom_column_names() -> None:
    df = _frame().rename(columns={"policy": "agent", "episode": "seed", "shortfall_bps": "is"})
    out = summarize(df, metric="is", baseline="POV", policy_col="agent", episode_col="seed", n_boot=200)
    assert out["policy"].tolist() == ["TWAP", "POV", "RL"]
    assert math.isnan(out.loc[1, "p_value"]) and not math.isnan(out.loc[0, "p_value"])


def test_summarize_mismatched_episode_sets() -> None:
    df = _frame()
    df = df[~((df.policy == "RL") & (df.episode == 103))]
    extra = pd.DataFrame([{"policy": "RL", "episode": 999, "shortfall_bps": 1.0, "fill_rate": 0.5}])
    with pytest.raises(ValueError, match=r"'RL'.*'TWAP'.*missing episodes \[103\]") as info:
        summarize(df, n_boot=200)
    assert "identical episode" in str(info.value)
    with pytest.raises(ValueError, match=r"'RL'.*missing episodes \[103\]; extra episodes \[999\]"):
        summarize(pd.concat([df, extra]), n_boot=200)
    # a policy with extra episodes only
    with pytest.raises(ValueError, match=r"'RL'.*extra episodes \[999\]"):
        summarize(pd.concat([_frame(), extra]), n_boot=200)


def test_summarize_missing_baseline() -> None:
    with pytest.raises(ValueError, match=r"baseline policy 'VWAP' not found.*'TWAP', 'POV', 'RL'"):
        summarize(_frame(), baseline="VWAP")


def test_summarize_duplicates() -> None:
    df = _frame()
    dup = df[(df.policy == "POV") & (df.episode == 102)]
    with pytest.raises(ValueError, match=r"duplicate.*\('POV', 102\)"):
        summarize(pd.concat([df, dup]), n_boot=200)


def test_summarize_nan_metric() -> None:
    df = _frame()
    df.loc[(df.policy == "RL") & (df.episode == 104), "shortfall_bps"] = np.nan
    with pytest.raises(ValueError, match=r"'shortfall_bps' is NaN.*\('RL', 104\)"):
        summarize(df, n_boot=200)
    # a NaN in another metric does not matter
    df2 = _frame()
    df2.loc[0, "fill_rate"] = np.nan
    assert len(summarize(df2, n_boot=200)) == 3


def test_summarize_other_errors() -> None:
    df = _frame()
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['slippage'\]"):
        summarize(df, metric="slippage")
    with pytest.raises(ValueError, match="empty"):
        summarize(df.iloc[0:0])
    with pytest.raises(ValueError, match=r"at least 2 episodes.*got 1"):
        summarize(df[df.episode == 100])
    with pytest.raises(ValueError, match=r"n_boot.*>= 100.*10"):
        summarize(df, n_boot=10)
    with pytest.raises(TypeError, match="bogus"):
        summarize(df, bogus=1)


# --------------------------------------------------------------------------- format_table


def test_format_table_contents() -> None:
    out = summarize(_frame(), n_boot=500)
    text = format_table(out)
    lines = text.splitlines()
    assert "shortfall (bps)" in lines[0]
    assert "vs TWAP" in lines[1] and "95% CI" in lines[1] and "p-value" in lines[1]
    assert all(len(line) <= 100 for line in lines)
    for pol in ("TWAP", "POV", "RL"):
        assert any(line.startswith(pol) for line in lines[3:])

    rl_line = next(line for line in lines if line.startswith("RL"))
    rl = out.iloc[2]
    assert f"{rl['mean']:.2f}" in rl_line
    assert "10.58" in rl_line  # 13 - 14.5/6
    assert f"{rl['std']:.2f}" in rl_line
    assert "-2.42" in rl_line  # mean diff -14.5/6
    assert f"[{rl['ci_low']:+.2f}, {rl['ci_high']:+.2f}]" in rl_line
    p = float(rl["p_value"])
    assert p < 1e-3 and f"{p:.1e}" in rl_line and re.search(r"\d\.\de-0\d", rl_line)
    assert "100.0%" in rl_line

    pov_line = next(line for line in lines if line.startswith("POV"))
    assert "+0.50" in pov_line  # mean diff 3/6
    assert f"{float(out.iloc[1]['p_value']):.3f}" in pov_line
    assert "16.7%" in pov_line

    twap_line = next(line for line in lines if line.startswith("TWAP"))
    assert "13.00" in twap_line and "2.37" in twap_line and "%" not in twap_line  # std sqrt(28/5)


def test_format_table_p_value_formats_and_baseline_inference() -> None:
    nan = math.nan
    summary = pd.DataFrame(
        {
            "policy": ["Almgren-Chriss", "RL", "TWAP"],
            "n": [50, 50, 50],
            "mean": [4.123, 3.0, 5.0],
            "std": [1.0, 2.0, 3.0],
            "mean_diff": [-0.877, -2.0, nan],
            "ci_low": [-1.2345, -2.5, nan],
            "ci_high": [-0.5, -1.5, nan],
            "boot_low": [-1.2, -2.5, nan],
            "boot_high": [-0.5, -1.5, nan],
            "p_value": [0.41234, 3.2e-05, nan],
            "wilcoxon_p": [0.4, 1e-4, nan],
            "win_rate": [0.625, 0.9, nan],
            "gain_loss_ratio": [2.0, 10.0, nan],
        }
    )
    text = format_table(summary, metric_label="IS (bps)")
    assert text.splitlines()[0].startswith("IS (bps)")
    assert "vs TWAP" in text  # inferred from the row whose paired columns are NaN
    ac = next(line for line in text.splitlines() if line.startswith("Almgren-Chriss"))
    assert "0.412" in ac and "62.5%" in ac and "[-1.23, -0.50]" in ac and "4.12" in ac and "-0.88" in ac
    rl = next(line for line in text.splitlines() if line.startswith("RL"))
    assert "3.2e-05" in rl and "90.0%" in rl

    summary.attrs["baseline"] = "TWAP"
    summary.attrs["confidence"] = 0.9
    assert "90% CI" in format_table(summary)


def test_format_table_long_names_fit_in_100_columns() -> None:
    df = _frame()
    df["policy"] = df["policy"].replace({"RL": "ppo-lstm-" + "x" * 80})
    text = format_table(summarize(df, n_boot=200))
    assert all(len(line) <= 100 for line in text.splitlines()[1:])
    assert "ppo-lstm-" in text


def test_format_table_missing_columns() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        format_table(pd.DataFrame({"policy": ["A"]}))


# --------------------------------------------------------------------------- day-clustered inference


def test_clustered_interval_with_equal_days_is_the_t_test_of_day_means() -> None:
    rng = np.random.default_rng(3)
    days = np.repeat(np.arange(5), 8)
    diff = rng.normal(0.3, 1.0, 40) + np.repeat(rng.normal(0, 1, 5), 8)
    ci = clustered_interval(diff, days, confidence=0.9)
    day_means = diff.reshape(5, 8).mean(axis=1)
    ref = sps.ttest_1samp(day_means, 0.0)
    low, high = ref.confidence_interval(0.9)
    assert ci.n_clusters == 5
    assert ci.low == pytest.approx(low, rel=1e-12) and ci.high == pytest.approx(high, rel=1e-12)
    assert ci.p_value == pytest.approx(ref.pvalue, rel=1e-10)


def test_clustered_interval_matches_the_cr1_formula_with_unequal_days() -> None:
    diff = np.array([1.0, 2.0, 3.0, -1.0, 0.5, 4.0])
    days = np.array(["a", "a", "a", "b", "b", "c"])
    mean = diff.mean()
    sums = np.array([diff[:3].sum() - 3 * mean, diff[3:5].sum() - 2 * mean, diff[5] - mean])
    se = math.sqrt(3 / 2 * (sums**2).sum()) / 6
    ci = clustered_interval(diff, days)
    assert ci.se == pytest.approx(se, rel=1e-12)
    assert ci.high - ci.mean == pytest.approx(sps.t.ppf(0.975, 2) * se, rel=1e-12)


def test_one_day_gives_no_clustered_interval_and_near_duplicates_do_not_shrink_it() -> None:
    one = clustered_interval([0.1, 0.2, 0.3], [7, 7, 7])
    assert one.n_clusters == 1 and math.isnan(one.low) and math.isnan(one.p_value)
    # 100 copies of each of 3 day-level values: the per-episode test is certain, the day one is not
    diff = np.repeat([0.9, 1.0, 1.1], 100) + np.tile(np.linspace(-1e-3, 1e-3, 100), 3)
    days = np.repeat([0, 1, 2], 100)
    per_episode = paired_comparison(diff, np.zeros_like(diff), "A", "B", n_boot=200)
    clustered = clustered_interval(diff, days)
    assert per_episode.p_value < 1e-100
    assert clustered.p_value == pytest.approx(sps.ttest_1samp([0.9, 1.0, 1.1], 0.0).pvalue, rel=1e-6)


def test_summarize_adds_day_columns_and_the_table_shows_them() -> None:
    df = _frame()
    df["day"] = df["episode"] % 3
    out = summarize(df, n_boot=200, cluster_col="day")
    assert list(out.columns) == [*SUMMARY_COLUMNS, *CLUSTER_COLUMNS]
    rl = out.set_index("policy").loc["RL"]
    twap = df[df.policy == "TWAP"].sort_values("episode")["shortfall_bps"].to_numpy()
    rl_vals = df[df.policy == "RL"].sort_values("episode")["shortfall_bps"].to_numpy()
    ref = clustered_interval(rl_vals - twap, np.arange(100, 106) % 3)
    assert rl["n_days"] == 3 and rl["day_ci_low"] == pytest.approx(ref.low) and rl["day_p_value"] == ref.p_value
    text = format_table(out)
    assert "day 95% CI (3 days)" in text
    assert f"[{ref.low:+.2f}, {ref.high:+.2f}]" in text
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['day'\]"):
        summarize(_frame(), cluster_col="day")
