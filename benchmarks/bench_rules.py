"""Is there a state-dependent edge that a one-line rule can take? A grid of hand rules on the
observation, each against PassiveTWAP on the same synthetic *training* episodes (rules are chosen
there, as a learner would be; the test days are left alone).

    python benchmarks/bench_rules.py [--episodes 200] [--data-options sign_persistence=0.6,...]
    python benchmarks/bench_rules.py --decision-interval-s 2 [--horizon-s 600]

A rule reads one side-oriented feature x (``flow_30s``, ``return_30s`` or ``imbalance_3``; positive
means pressure against the order) and acts like PassiveTWAP (schedule pace, limit at the near touch)
unless ``x > t``, where it sends ``(pace, aggressiveness)`` = ``(0.5, -0.5)`` (ahead of schedule,
resting), ``(0, -0.25)`` or ``(0.5, -0.25)`` (a limit at the far touch when the spread is one tick:
crossing), or ``x < -t``, where it sends ``(0, -0.5)`` or ``(-0.5, -0.5)`` (behind schedule,
resting): 3 features x 3 thresholds t x 3 x 2 = 54 rules. Prints the best five and the worst three,
with the paired difference to PassiveTWAP and its standard error over episodes. Asserts nothing.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from _market import add_market_args, market_config

FEATURES = ("flow_30s", "return_30s", "imbalance_3")
THRESHOLDS = (0.2, 0.4, 0.6)
AGAINST = ((0.5, -0.5), (0.0, -0.25), (0.5, -0.25))
FOR = (0.0, -0.5)


class Rule:
    """PassiveTWAP unless feature ``index`` is beyond ``threshold`` either way."""

    def __init__(self, index: int, threshold: float, against: tuple[float, float], pace_for: float) -> None:
        self.index, self.threshold = index, threshold
        self.against = np.array(against, dtype=np.float32)
        self.passive = np.array((0.0, -0.5), dtype=np.float32)
        self.behind = np.array((pace_for, -0.5), dtype=np.float32)

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        x = float(np.asarray(obs).reshape(-1)[self.index])
        if x > self.threshold:
            return self.against, state
        return (self.behind if x < -self.threshold else self.passive), state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    add_market_args(parser)
    args = parser.parse_args()

    from exec_env.baselines import PassiveTWAP
    from exec_env.evaluation import evaluate, sample_episodes
    from exec_env.features import FEATURE_NAMES

    config = market_config(args)
    episodes = sample_episodes(config, n=args.episodes, seed=args.seed, split="train")
    policies = {"PassiveTWAP": PassiveTWAP()}
    for feature, t, against, pace_for in itertools.product(FEATURES, THRESHOLDS, AGAINST, FOR):
        name = f"{feature} > {t}: {against}, < -{t}: pace {pace_for}"
        policies[name] = Rule(FEATURE_NAMES.index(feature), t, against, pace_for)
    frame = evaluate(policies, config, episodes, split="train")
    piv = frame.pivot(index="episode", columns="policy", values="shortfall_bps")
    diff = piv.drop(columns="PassiveTWAP").sub(piv["PassiveTWAP"], axis=0)
    order = diff.mean().sort_values().index
    print(f"{len(order)} rules, {args.episodes} training episodes, horizon {args.horizon_s:g} s, decisions every "
          f"{args.decision_interval_s:g} s; PassiveTWAP {piv['PassiveTWAP'].mean():.3f} bps")  # fmt: skip
    print(f"{'rule':<58} {'mean':>8} {'vs PassiveTWAP':>15} {'se':>7}")
    for name in [*order[:5], *order[-3:]]:
        d = diff[name]
        print(f"{name:<58} {piv[name].mean():8.3f} {d.mean():+15.3f} {d.std() / np.sqrt(len(d)):7.3f}")


if __name__ == "__main__":
    main()
