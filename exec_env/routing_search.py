"""Routing evaluation harness: identical episodes for every policy, the Cont–Kukanov parameter
grid search on training days, and savings tables with intervals.

* :func:`sample_episodes` draws (day, start, side) from a split with its own seed; every policy is
  run on the same list through ``reset(options=...)`` and ``Routing-v0`` is deterministic given
  them, so every policy sees identical market paths.
* :func:`grid_search` runs ``ContKukanov`` for every ``(lambda_over, lambda_under, theta_queue)``
  of the grid on **training** episodes only and picks the lowest mean shortfall, and warns when the
  choice lies at the edge of an axis *and* beats every other value of it by more than two paired
  standard errors (:func:`edge_margin`); :func:`save_choice` writes the choice and the whole grid as JSON.
* :func:`savings_table`: per policy, mean shortfall and the saving of a reference policy (CK)
  against it, ``shortfall(policy) - shortfall(reference)`` in bps (positive: the reference is
  cheaper), with the paired t and bootstrap intervals of ``exec_env.stats.paired_comparison``.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env.routing_env import RoutingConfig, RoutingEnv
from exec_env.stats import paired_comparison

__all__ = [
    "DEFAULT_GRID",
    "edge_margin",
    "grid_search",
    "run_policy",
    "sample_episodes",
    "save_choice",
    "savings_table",
]

DEFAULT_GRID = {"lambda_over": (0.5, 2.0, 5.0), "lambda_under": (2.0, 5.0, 10.0), "theta_queue": (0.0, 0.5, 2.0)}
"""Grid of the search, bps of the mid per unit."""


def sample_episodes(env: RoutingEnv, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """``n`` episodes (day, start_ns, side) of ``env``'s split, reproducible from ``seed``."""
    if not (isinstance(n, int) and n >= 1):
        raise ValueError(f"sample_episodes: n = {n!r} is outside the allowed range: an integer >= 1")
    out = []
    for i in range(n):
        _, info = env.reset(seed=int(np.random.SeedSequence([seed, i]).generate_state(1)[0]))
        out.append({"day": info["day"], "start_ns": info["start_ns"], "side": info["side"]})
    return out


def run_policy(env: RoutingEnv, policy: Any, episodes: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Run ``policy`` (anything with SB3's ``predict``) on every episode; one row of metrics each."""
    rows = []
    for i, ep in enumerate(episodes):
        obs, _ = env.reset(options=ep)
        done = False
        total = 0.0
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, done, _, info = env.step(action)
            total += reward
        m = dict(info["execution"])
        m.update(episode=i, policy=getattr(policy, "name", type(policy).__name__), episode_return=total)
        rows.append(m)
    return pd.DataFrame(rows)


def grid_search(
    config: RoutingConfig, n_episodes: int = 40, seed: int = 0, grid: dict[str, Sequence[float]] | None = None
) -> tuple[dict[str, float], pd.DataFrame]:
    """Choose ``(lambda_over, lambda_under, theta_queue)`` on the training split: the lowest mean
    shortfall of ``ContKukanov`` over ``n_episodes`` training episodes (ties: first in grid order)."""
    from exec_env.baselines.routing import ContKukanov

    grid = dict(DEFAULT_GRID if grid is None else grid)
    if set(grid) != set(DEFAULT_GRID):
        raise ValueError(f"grid_search: grid keys {sorted(grid)} are invalid; allowed: {sorted(DEFAULT_GRID)}")
    env = RoutingEnv(config, split="train")
    episodes = sample_episodes(env, n_episodes, seed)
    rows, shortfalls = [], []
    for lo, lu, th in itertools.product(grid["lambda_over"], grid["lambda_under"], grid["theta_queue"]):
        frame = run_policy(env, ContKukanov(env.venue_specs, lo, lu, th), episodes)
        s = frame["shortfall_bps"]
        shortfalls.append(s.to_numpy())
        rows.append(
            {"lambda_over": lo, "lambda_under": lu, "theta_queue": th, "mean_bps": s.mean(), "std_bps": s.std()}
        )
    table = pd.DataFrame(rows)
    best = int(np.argmin(table["mean_bps"].to_numpy()))
    chosen = {k: float(table.iloc[best][k]) for k in ("lambda_over", "lambda_under", "theta_queue")}
    # a choice on the boundary of an axis that was searched may lie outside the grid; that matters
    # only where it is clearly better than every other value of that axis (paired, on the same episodes)
    edge = [k for k, values in grid.items() if len(values) > 1 and chosen[k] in (min(values), max(values))]
    margins = {k: edge_margin(table, np.asarray(shortfalls), best, k) for k in edge}
    table.attrs["at_edge"] = edge
    table.attrs["edge_margin"] = margins
    clear = [k for k, (diff, se) in margins.items() if diff < -2.0 * se]
    table.attrs["edge_clear"] = clear
    if clear:
        import warnings

        detail = ", ".join(f"{k}={chosen[k]:g} ({margins[k][0]:+.3f} +- {margins[k][1]:.3f} bps)" for k in clear)
        warnings.warn(
            f"grid_search: the chosen {detail} lie(s) at the edge of the grid "
            f"{ {k: tuple(grid[k]) for k in clear} } and beat every other value there by more than 2 "
            "standard errors: widen the grid there",
            RuntimeWarning,
            stacklevel=2,
        )
    return chosen, table


def edge_margin(table: pd.DataFrame, shortfalls: np.ndarray, best: int, axis: str) -> tuple[float, float]:
    """How much better the chosen row ``best`` is than the best row with another value of ``axis``:
    the mean paired difference of their per-episode shortfalls (``shortfalls[row]``, bps; negative:
    the chosen row is cheaper) and its standard error."""
    others = np.flatnonzero(table[axis].to_numpy() != table[axis].iloc[best])
    rival = int(others[np.argmin(table["mean_bps"].to_numpy()[others])])
    diff = shortfalls[best] - shortfalls[rival]
    se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("inf")
    return float(diff.mean()), se


def save_choice(path: str | Path, chosen: dict[str, float], table: pd.DataFrame, notes: dict | None = None) -> Path:
    """Write the chosen parameters, the whole grid and ``notes`` as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"chosen": chosen, "at_edge": list(table.attrs.get("at_edge", [])),
               "edge_clear": list(table.attrs.get("edge_clear", [])),
               "edge_margin": {k: list(v) for k, v in table.attrs.get("edge_margin", {}).items()},
               "grid": table.to_dict("records")}  # fmt: skip
    path.write_text(json.dumps({**payload, **(notes or {})}, indent=1))
    return path


def savings_table(frame: pd.DataFrame, reference: str = "cont_kukanov", n_boot: int = 2000) -> pd.DataFrame:
    """Per policy: mean and std of shortfall, and the reference's saving against it with 95% intervals."""
    ref = frame[frame["policy"] == reference].sort_values("episode")["shortfall_bps"].to_numpy()
    rows = []
    for name, g in frame.groupby("policy", sort=False):
        x = g.sort_values("episode")["shortfall_bps"].to_numpy()
        row = {"policy": name, "n": x.size, "shortfall_bps": x.mean(), "std_bps": x.std(ddof=1) if x.size > 1 else 0.0}
        if name != reference and x.size > 1:
            c = paired_comparison(x, ref, policy=str(name), baseline=reference, n_boot=n_boot)
            # saving of the reference = policy - reference
            row.update(saving_bps=c.mean_diff, ci_low=c.ci_low, ci_high=c.ci_high, boot_low=c.boot_low,
                       boot_high=c.boot_high, p_value=c.p_value, ref_win_rate=float(np.mean(ref < x)))  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)
