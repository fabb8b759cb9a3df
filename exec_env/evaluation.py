"""Run any set of policies on identical episodes and compare them with paired statistics.

Episodes are drawn once (day, start, side, size) from the *test* days and every policy is run on
that same list through its own environment built from the same configuration, so differences
between policies are paired: the market path is common and cancels out of the comparison.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from exec_env.config import ExecutionConfig
from exec_env.env import ExecutionEnv
from exec_env.stats import format_table, summarize

__all__ = ["EpisodeSpec", "Policy", "evaluate", "report", "sample_episodes"]


class Policy(Protocol):
    """Anything with SB3's ``predict``: trained models and fixed baselines alike."""

    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]: ...


@dataclass(frozen=True)
class EpisodeSpec:
    """One evaluation episode, pinned completely."""

    episode: int
    day: int
    start_ns: int
    side: int
    quantity: float

    def options(self) -> dict[str, Any]:
        return {"day": self.day, "start_ns": self.start_ns, "side": self.side, "quantity": self.quantity}


def sample_episodes(config: ExecutionConfig, n: int, seed: int = 0, split: str = "test") -> list[EpisodeSpec]:
    """Draw ``n`` episodes from ``split`` exactly as the environment would (its own sampler)."""
    if n < 1:
        raise ValueError(f"n = {n!r} episodes; allowed: >= 1")
    env = ExecutionEnv(replace(config, split=split, compare_twap=False, reward_baseline="none"))
    rng = np.random.default_rng(seed)
    specs = []
    for i in range(n):
        _, info = env.reset(seed=int(rng.integers(2**31)))
        specs.append(EpisodeSpec(i, info["day"], info["start_ns"], info["side"], info["quantity"]))
    return specs


def evaluate(
    policies: Mapping[str, Policy],
    config: ExecutionConfig,
    episodes: Sequence[EpisodeSpec],
    split: str = "test",
    deterministic: bool = True,
) -> pd.DataFrame:
    """Run every policy on every episode; one row per (policy, episode) with its metrics."""
    rows: list[dict[str, Any]] = []
    cfg = replace(config, split=split, reward_baseline="none", compare_twap=False)
    for name, policy in policies.items():
        env = ExecutionEnv(cfg)
        for spec in episodes:
            obs, _ = env.reset(options=spec.options())
            state = None
            start = np.ones((1,), dtype=bool)
            ret = 0.0
            steps = 0
            while True:
                action, state = policy.predict(obs, state=state, episode_start=start, deterministic=deterministic)
                start = np.zeros((1,), dtype=bool)
                obs, reward, terminated, truncated, info = env.step(action)
                ret += reward
                steps += 1
                if terminated or truncated:
                    break
            metrics = info["execution"]
            row = {"policy": name, "episode": spec.episode, "return": ret, "steps": steps}
            row.update({k: (math.nan if v is None else v) for k, v in metrics.items()})
            rows.append(row)
    return pd.DataFrame(rows)


def report(
    results: pd.DataFrame, baseline: str = "TWAP", out_dir: str | Path | None = None, seed: int = 0
) -> tuple[pd.DataFrame, str]:
    """Summarize per policy against ``baseline`` (paired); optionally write CSV/JSON to ``out_dir``.

    Returns the summary frame and the printable table.
    """
    summary = summarize(results, metric="shortfall_bps", baseline=baseline, seed=seed)
    extra = results.groupby("policy", sort=False).agg(
        fill_rate=("fill_rate", "mean"),
        maker_fraction=("maker_fraction", "mean"),
        vwap_slippage_bps=("vwap_slippage_bps", "mean"),
        fees_bps=("fees_bps", "mean"),
        n_child_orders=("n_child_orders", "mean"),
    )
    summary = summary.join(extra, on="policy")
    table = format_table(summary)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        results.to_csv(out / "eval_episodes.csv", index=False)
        summary.to_csv(out / "eval_summary.csv", index=False)
        payload = {
            "metric": "shortfall_bps",
            "baseline": baseline,
            "n_episodes": int(results["episode"].nunique()),
            "summary": [
                {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
                for row in json.loads(summary.to_json(orient="records"))
            ],
        }
        (out / "eval_summary.json").write_text(json.dumps(payload, indent=2))
        (out / "eval_table.txt").write_text(table + "\n")
    return summary, table


def episodes_frame(episodes: Sequence[EpisodeSpec]) -> pd.DataFrame:
    return pd.DataFrame([asdict(e) for e in episodes])
