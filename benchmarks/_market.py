"""The synthetic market the learning benchmarks share (bench_rules, bench_oracle, bench_recurrent):
train.py's 24 days, the last 8 its test days, with the same flags for the order and the market."""

from __future__ import annotations

import argparse
from typing import Any


def add_market_args(parser: argparse.ArgumentParser) -> None:
    """``--quantity``, ``--horizon-s``, ``--decision-interval-s`` and ``--data-options``, as train.py has them."""
    parser.add_argument("--quantity", type=float, default=5000.0)
    parser.add_argument("--horizon-s", type=float, default=600.0)
    parser.add_argument("--decision-interval-s", type=float, default=10.0)
    parser.add_argument("--data-options", default="", help="synthetic market parameters, as train.py takes them")


def market_config(args: argparse.Namespace, **fields: Any) -> Any:
    """An ``ExecutionConfig`` on the training split of train.py's synthetic market for the flags of
    :func:`add_market_args` (``config.market`` is the catalogue); ``fields`` set any other field."""
    from exec_env.config import ExecutionConfig
    from exec_env.evaluate import synthetic_params
    from exec_env.market.synthetic import synthetic_catalogue

    catalogue = synthetic_catalogue(n_days=24, n_test=8, seed=0, params=synthetic_params(args.data_options))
    order = {"quantity": args.quantity, "horizon_s": args.horizon_s, "decision_interval_s": args.decision_interval_s}
    return ExecutionConfig(market=catalogue, split="train", **order, **fields)
