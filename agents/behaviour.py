"""What a trained policy does, read from its actions: when it crosses, when it waits, how it uses
the book's imbalance.

    python -m exec_env.agents.behaviour runs/<run folder> [--episodes 100] [--out behaviour]

Runs the policy of a train.py run folder on test episodes of the run's own configuration
(``config.json``) and records, at every decision, the observation, the action, and the child
order it sends: its size against the linear schedule's slice, and where its limit sits (behind the
near touch, at it, inside the spread, or crossing the far touch). Prints the crossing rate and the
mean size by time left, by best-level imbalance and by schedule deviation, and draws them
(``behaviour.png``); the decisions go to ``decisions.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from exec_env.features import FEATURE_NAMES

__all__ = ["decisions", "describe", "main", "plot"]

_IMB = FEATURE_NAMES.index("imbalance_1")
_DEV = FEATURE_NAMES.index("schedule_deviation")
_TIME = FEATURE_NAMES.index("time_left")


def _grid_touch(bid: float, ask: float, tick: float) -> tuple[float, float]:
    """The touches on the tick grid as the env's action mapping reads them (bid down, ask up; a
    missing side one tick from the other)."""
    bid = math.floor(bid / tick + 1e-9) * tick if not math.isnan(bid) else bid
    ask = math.ceil(ask / tick - 1e-9) * tick if not math.isnan(ask) else ask
    if math.isnan(bid):
        bid = ask - tick
    if math.isnan(ask):
        ask = bid + tick
    return bid, ask


def decisions(policy: Any, config: Any, episodes: list, split: str = "test") -> pd.DataFrame:
    """One row per decision of ``policy`` on ``episodes``: observation features, pace and
    aggressiveness, the child order (qty, limit), where the limit sits, the schedule slice."""
    from dataclasses import replace

    from exec_env.env import ExecutionEnv
    from exec_env.policy_context import MarketView

    env = ExecutionEnv(replace(config, split=split))
    view = MarketView(env)
    if hasattr(policy, "bind"):
        policy.bind(view)
    rows: list[dict[str, Any]] = []
    for spec in episodes:
        obs, _ = env.reset(options=spec.options())
        done = False
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            a = np.clip(np.asarray(action, dtype=np.float64).reshape(-1), -1.0, 1.0)
            qty, limit = view.child_order(float(a[0]), float(a[1]))
            bid, ask = _grid_touch(*view.touch(), view.tick)
            near, far = (bid, ask) if view.side > 0 else (ask, bid)
            ticks_in = round(view.side * (limit - near) / view.tick) if not math.isnan(limit) else math.nan
            spread = round((ask - bid) / view.tick)
            row = {name: float(obs[i]) for i, name in enumerate(FEATURE_NAMES)}
            row.update(episode=spec.episode, step=view.step_index, pace=float(a[0]), aggressiveness=float(a[1]),
                       child_qty=qty, slice_qty=view.quantity / view.n_steps, limit_ticks_from_near=ticks_in,
                       crosses=bool(qty > 0 and not math.isnan(limit) and view.side * (limit - far) >= 0),
                       spread_ticks=spread)  # fmt: skip
            rows.append(row)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    return pd.DataFrame(rows)


def describe(frame: pd.DataFrame) -> str:
    """Crossing rate, order size (in schedule slices) and limit placement by time left,
    imbalance and schedule deviation, as text."""
    active = frame[frame.child_qty > 0]
    lines = [
        f"{len(frame)} decisions, {len(active)} with an order; crossing the far touch in "
        f"{active.crosses.mean():.1%} of them, joining or behind the near touch in "
        f"{(active.limit_ticks_from_near <= 0).mean():.1%}; mean order {(frame.child_qty / frame.slice_qty).mean():.2f} "
        f"schedule slices; no order at {(frame.child_qty == 0).mean():.1%} of decisions"
    ]
    buckets = {
        "time left": pd.cut(frame.time_left, [-0.01, 0.1, 0.3, 0.6, 1.0]),
        "imbalance_1 (+ = against us)": pd.cut(frame.imbalance_1, [-1.01, -0.6, -0.2, 0.2, 0.6, 1.0]),
        "schedule deviation (+ = ahead)": pd.cut(frame.schedule_deviation, [-1.01, -0.1, -0.02, 0.02, 0.1, 1.0]),
    }
    for label, cut in buckets.items():
        g = frame.assign(
            slices=frame.child_qty / frame.slice_qty, crosses=frame.crosses & (frame.child_qty > 0)
        ).groupby(cut, observed=True)
        table = pd.DataFrame({
            "decisions": g.size(), "crossing": g.crosses.mean(), "order (slices)": g.slices.mean(),
            "limit vs near (ticks)": g.limit_ticks_from_near.mean(), "pace": g.pace.mean(),
        })  # fmt: skip
        lines += ["", f"by {label}:", table.round(3).to_string()]
    return "\n".join(lines)


def plot(frame: pd.DataFrame, path: Path) -> Path:
    """Three panels: crossing rate, mean pace and order size (in schedule slices) against time
    left, best-level imbalance and schedule deviation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    data = frame.assign(slices=frame.child_qty / frame.slice_qty, crosses=frame.crosses.astype(float))
    specs = [("time_left", np.linspace(0, 1, 11)), ("imbalance_1", np.linspace(-1, 1, 11)),
             ("schedule_deviation", np.linspace(-0.2, 0.2, 11))]  # fmt: skip
    for ax, (feature, edges) in zip(axes, specs, strict=True):
        g = data.groupby(pd.cut(data[feature], edges), observed=True)
        centres = [iv.mid for iv in g.size().index]
        ax.plot(centres, g.crosses.mean().to_numpy(), "o-", color="C0", label="crossing rate")
        ax.plot(centres, g.pace.mean().to_numpy(), "^:", color="C2", label="mean pace")
        ax.set_xlabel(feature)
        ax.set_ylim(-1.05, 1.05)
        ax.grid(alpha=0.3)
        right = ax.twinx()
        right.plot(centres, g.slices.mean().to_numpy(), "s--", color="C1", label="order (schedule slices)")
        right.set_ylim(bottom=0)
        if feature == specs[-1][0]:
            right.set_ylabel("order size, schedule slices", color="C1")
    axes[0].set_ylabel("crossing rate / pace")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.legend(handles=[right.lines[0]], loc="lower right", fontsize=8)
    fig.suptitle("What the policy does, by state (test episodes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a train.py run folder (model.zip and config.json inside)")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=12_345)
    parser.add_argument("--out", default=None, help="output folder (default: the run folder)")
    args = parser.parse_args(argv)
    from exec_env.agents.ppo import load_trained
    from exec_env.config import ExecutionConfig
    from exec_env.evaluation import sample_episodes

    run = Path(args.run)
    saved = json.loads((run / "config.json").read_text())
    train_args = saved["args"]
    if train_args.get("data", "synthetic") != "synthetic":
        raise SystemExit(
            f"{run}: behaviour analysis reads synthetic-market runs only for now (data={train_args['data']!r})"
        )
    from exec_env.market.synthetic import synthetic_catalogue

    catalogue = synthetic_catalogue(n_days=train_args["days"], n_test=train_args["test_days"], seed=0)
    config = ExecutionConfig(market=catalogue, side=train_args["side"], quantity=train_args["quantity"],
                             horizon_s=train_args["horizon_s"], decision_interval_s=train_args["decision_interval_s"],
                             warmup_s=train_args["warmup_s"])  # fmt: skip
    episodes = sample_episodes(config, n=args.episodes, seed=args.seed, split="test")
    frame = decisions(load_trained(run).continuous(), config, episodes)  # discrete models act through the grid
    out = Path(args.out) if args.out else run
    out.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out / "decisions.csv", index=False)
    text = describe(frame)
    (out / "behaviour.txt").write_text(text + "\n")
    plot(frame, out / "behaviour.png")
    print(text)
    print(f"-> {out / 'behaviour.png'}, {out / 'decisions.csv'}")
    return frame


if __name__ == "__main__":
    main()
