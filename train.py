"""Train a PPO execution agent, log to TensorBoard, and judge it against every baseline.

    python train.py                        # embedded synthetic market, defaults below
    python train.py --total-timesteps 50000 --n-envs 4 --seed 3
    python train.py --data "data/lobster/*_message_10.csv" --test-days 5 --quantity 500
    tensorboard --logdir runs

Every run writes ``{output}/{env_id}__{exp_name}__{seed}__{unix_time}/`` with the model, the resolved
configuration, TensorBoard logs (SB3's rollout/, train/, time/ plus exec/ execution metrics) and
the evaluation on held-out test data by the harness of ``python -m exec_env.evaluate``: every
baseline and PPO on one episode set, per-episode and per-child-order CSV, summary CSV/JSON, plots
and the printed table, with the verdict against the best baseline. A source with a single day
(e.g. a LOBSTER sample) trains on the start of each session and tests on its end:
``--test-days 0 --test-share 0.3 --purge-s 60`` (needs ``ExecutionConfig.test_share``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Args:
    env_id: str = field(
        default="exec_env/ExecutionDiscrete-v0",
        metadata={"help": "registered environment id (the discrete 5 x 5 action grid trains best; see README)"},
    )
    exp_name: str = field(default="ppo", metadata={"help": "name of this experiment (part of the run folder)"})
    seed: int = field(default=1, metadata={"help": "seed of training environments, PPO and evaluation episodes"})
    total_timesteps: int = field(default=1_000_000, metadata={"help": "environment steps of PPO training"})
    n_envs: int = field(default=64, metadata={"help": "number of parallel training environments (one batched env)"})
    vec: str = field(
        default="batched",
        metadata={"help": "'batched' (one compiled call for all envs, fastest), 'dummy' (single envs) or 'subproc'"},
    )
    eval_episodes: int = field(default=200, metadata={"help": "held-out test episodes, identical for every policy"})
    output: str = field(default="runs", metadata={"help": "folder that receives the run folder"})
    data: str = field(
        default="synthetic",
        metadata={"help": "market data: 'synthetic' (embedded generator), or a file, folder or glob of real data"},
    )
    format: str = field(default="auto", metadata={"help": "format of --data files (auto-detected by default)"})
    data_options: str = field(
        default="",
        metadata={
            "help": "loader options for --data, e.g. 'crossed=drop,levels=10' (see the format's docs); with "
            "the synthetic market its parameters, e.g. 'sign_persistence=0.6'"
        },
    )
    days: int = field(default=24, metadata={"help": "synthetic market: number of days generated (oldest first)"})
    test_days: int = field(default=8, metadata={"help": "newest days held out for evaluation, never trained on"})
    test_share: float = field(
        default=0.0,
        metadata={"help": "intraday split: the last share of every session is test data (use with --test-days 0)"},
    )
    purge_s: float = field(default=0.0, metadata={"help": "intraday split: gap in seconds between train and test"})
    warmup_s: float = field(default=300.0, metadata={"help": "earliest episode start after the session open, seconds"})
    eval_overlap: str = field(
        default="auto",
        metadata={
            "help": "may evaluation episodes of one day share market time: 'no', 'yes', or 'auto' (only when "
            "--eval-episodes do not fit otherwise; the report then says so and clusters by day)"
        },
    )
    side: str = field(default="random", metadata={"help": "parent order side: buy, sell or random"})
    quantity: float = field(default=5000.0, metadata={"help": "parent order size in units"})
    horizon_s: float = field(default=600.0, metadata={"help": "execution horizon in seconds"})
    decision_interval_s: float = field(default=10.0, metadata={"help": "seconds between decisions"})
    reward_baseline: str = field(
        default="passive_twap",
        metadata={
            "help": "training reward: 'twap' or 'passive_twap' (shortfall relative to that baseline on the same episode: same optimum, far less "
            "price noise) or 'none' (minus own shortfall); evaluation always uses absolute shortfall"
        },
    )
    learning_rate: float = field(default=3e-4, metadata={"help": "PPO learning rate"})
    n_steps: int = field(
        default=64, metadata={"help": "PPO rollout length per environment (n_steps * n_envs per update)"}
    )
    batch_size: int = field(default=2048, metadata={"help": "PPO minibatch size"})
    n_epochs: int = field(default=5, metadata={"help": "PPO epochs over each rollout"})
    ent_coef: float = field(default=0.0, metadata={"help": "PPO entropy bonus"})
    net_arch: str = field(default="64,64", metadata={"help": "hidden layer sizes of policy and value networks"})
    normalize: bool = field(
        default=False,
        metadata={"help": "normalise observations with SB3 VecNormalize (statistics saved with the model)"},
    )
    tune: int = field(
        default=0,
        metadata={
            "help": "first run this many Optuna trials on the training days (newest 4 validate), then train the best"
        },
    )
    tune_timesteps: int = field(default=300_000, metadata={"help": "PPO steps per tuning trial"})
    tune_storage: str = field(
        default="sqlite:///runs/tune.db", metadata={"help": "SQLAlchemy URL of the Optuna study (resumed if it exists)"}
    )
    tune_study: str = field(default="train", metadata={"help": "name of the Optuna study"})
    torch_threads: int = field(default=1, metadata={"help": "torch CPU threads"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar during training"})


def parse_options(text: str) -> dict[str, Any]:
    """``"a=1,b=drop,c=true"`` -> ``{"a": 1, "b": "drop", "c": True}`` (see ``exec_env.evaluate.parse_options``)."""
    from exec_env.evaluate import parse_options as parse

    return parse(text)


def synthetic_params(text: str):
    """The synthetic market's parameters with ``--data-options`` overrides (see ``exec_env.evaluate.synthetic_params``)."""
    from exec_env.evaluate import synthetic_params as params

    return params(text)


def check_args(args: Args) -> None:
    """Refuse, before any work, settings that could only fail after training."""
    if not 0.0 <= args.test_share < 1.0:
        raise SystemExit(f"--test-share {args.test_share}: allowed 0 <= test share < 1")
    if args.test_days < 0:
        raise SystemExit(f"--test-days {args.test_days}: allowed >= 0")
    if args.test_days == 0 and args.test_share == 0.0:
        raise SystemExit(
            "--test-days 0 leaves no test data to evaluate on: hold out days (--test-days N >= 1) or, for a "
            "source with few days, the end of every session (--test-days 0 --test-share 0.3 --purge-s 60)"
        )
    if args.test_days > 0 and args.test_share > 0.0:
        raise SystemExit(
            f"--test-share {args.test_share} (an intraday split) needs --test-days 0, got {args.test_days}"
        )
    if args.eval_overlap not in ("auto", "yes", "no"):
        raise SystemExit(f"--eval-overlap {args.eval_overlap!r}: allowed 'auto', 'yes', 'no'")
    if args.eval_episodes < 2:
        raise SystemExit(f"--eval-episodes {args.eval_episodes}: allowed >= 2 (paired statistics)")


def settings_from_args(args: Args):
    """The PPO settings that ``args`` asks for (``--net-arch "128,128"`` -> (128, 128))."""
    from exec_env.agents import PPOSettings

    try:
        net_arch = tuple(int(x) for x in args.net_arch.split(",") if x.strip())
    except ValueError:
        raise SystemExit(f"--net-arch {args.net_arch!r}: allowed comma-separated layer sizes, e.g. '64,64'") from None
    return PPOSettings(
        learning_rate=args.learning_rate, n_steps=args.n_steps, batch_size=args.batch_size,
        n_epochs=args.n_epochs, ent_coef=args.ent_coef, net_arch=net_arch, normalize=args.normalize,
    )  # fmt: skip


def run_tuning(args: Args, config: Any) -> tuple[Any, Any, dict[str, Any]]:
    """Search PPO settings on the training days (``exec_env.agents.tune``); the best trial's
    settings and env overrides, and a record of the study for ``config.json``."""
    from exec_env.agents.tune import TuneSettings, study_best, tune

    tune_settings = TuneSettings(
        n_trials=args.tune, trial_timesteps=args.tune_timesteps, n_envs=args.n_envs, storage=args.tune_storage,
        study_name=args.tune_study, seed=args.seed,
    )  # fmt: skip
    print(f"tuning: {args.tune} trials of {args.tune_timesteps} steps -> {args.tune_storage} ({args.tune_study})")
    study = tune(config, tune_settings, log=lambda line: print(line, flush=True))
    settings, env_overrides = study_best(study)
    print(f"tuning: best trial {study.best_trial.number}, {study.best_value:.3f} bps on validation days: "
          f"{study.best_trial.params}", flush=True)  # fmt: skip
    record = {"storage": args.tune_storage, "study": args.tune_study, "best_trial": study.best_trial.number,
              "best_validation_bps": study.best_value, "params": study.best_trial.params,
              "validation_baselines": study.user_attrs.get("baselines")}  # fmt: skip
    return settings, dataclasses.replace(config, **env_overrides), record


def parse_args(argv: list[str] | None = None) -> Args:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(Args):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            kind = {"int": int, "float": float, "str": str}[f.type if isinstance(f.type, str) else f.type.__name__]
            parser.add_argument(flag, type=kind, default=f.default, help=f"{f.metadata['help']} (default: {f.default})")
    return Args(**vars(parser.parse_args(argv)))


def train_routing(args: Args) -> dict[str, Any]:
    """PPO on Routing-v0 (synthetic multi-venue market), judged against the routing baselines."""
    import pandas as pd
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from exec_env.baselines.routing import ContKukanov, NaiveBestPrice, ProRata, TWAPRouted, VWAPRouted, volume_curve
    from exec_env.market.synthetic_venues import synthetic_venue_catalogue
    from exec_env.routing_env import RoutingConfig, RoutingEnv
    from exec_env.routing_search import grid_search, run_policy, sample_episodes, save_choice, savings_table

    cat = synthetic_venue_catalogue(n_days=args.days, n_test=args.test_days, seed=args.seed)
    cfg = RoutingConfig(
        market=cat,
        side=args.side,
        quantity=args.quantity,
        horizon_s=args.horizon_s,
        decision_interval_s=args.decision_interval_s,
    )
    run = Path(args.output) / f"Routing-v0__{args.exp_name}__{args.seed}__{int(time.time())}"
    run.mkdir(parents=True)
    vec = make_vec_env(RoutingEnv, n_envs=args.n_envs, seed=args.seed, env_kwargs={"config": cfg})
    model = PPO(
        "MlpPolicy",
        vec,
        learning_rate=args.learning_rate,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        seed=args.seed,
        tensorboard_log=str(run),
        verbose=0,
    )
    model.learn(args.total_timesteps)
    model.save(run / "model")
    chosen, grid = grid_search(cfg, n_episodes=min(args.eval_episodes, 60), seed=args.seed)
    save_choice(run / "ck_choice.json", chosen, grid)
    env = RoutingEnv(cfg, split="test")
    day = cat.day(0)
    session_s = (day.meta.session_close_ns - day.meta.session_open_ns) / 1e9

    class PPOPolicy:
        name = "ppo"

        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return model.predict(obs, deterministic=True)

    policies = [
        ContKukanov(env.venue_specs, **chosen),
        NaiveBestPrice(),
        ProRata(),
        TWAPRouted(),
        VWAPRouted(volume_curve(cat, "train"), cfg.horizon_s, cfg.n_steps, session_s),
        PPOPolicy(),
    ]
    episodes = sample_episodes(env, args.eval_episodes, seed=args.seed + 1)
    frame = pd.concat([run_policy(env, p, episodes) for p in policies], ignore_index=True)
    frame.to_csv(run / "episodes.csv", index=False)
    table = savings_table(frame)
    table.to_csv(run / "savings.csv", index=False)
    print(table.round(2).to_string(index=False))
    return {"run_dir": str(run), "summary": table, "timing": {}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    check_args(args)
    t_start = time.perf_counter()

    import gymnasium as gym
    import torch
    from stable_baselines3.common.logger import configure
    from torch.utils.tensorboard import SummaryWriter

    import exec_env
    from exec_env.agents import ExecMetricsCallback, TrainedPolicy, make_ppo, save_trained
    from exec_env.agents.ppo import make_vec_env
    from exec_env.baselines import DEFAULT_BASELINES, make_baseline
    from exec_env.config import ExecutionConfig
    from exec_env.evaluate import run as run_evaluation
    from exec_env.evaluation import episodes_frame, sample_episodes
    from exec_env.market.sources import load_market

    torch.set_num_threads(args.torch_threads)
    if args.env_id in exec_env.ROUTING_IDS:
        return train_routing(args)
    if args.env_id not in exec_env.ENV_IDS:
        raise SystemExit(f"--env-id {args.env_id!r} is not one of {exec_env.ENV_IDS + exec_env.ROUTING_IDS}")
    spec_kwargs = dict(gym.spec(args.env_id).kwargs)
    split_fields = {"test_share": args.test_share, "purge_s": args.purge_s} if args.test_share else {}
    missing = [k for k in split_fields if k not in ExecutionConfig.__dataclass_fields__]
    if missing:
        raise SystemExit(f"--test-share needs ExecutionConfig fields {missing} (the intraday split of the env)")

    print(f"market: {args.data} ...", flush=True)
    if args.data == "synthetic":
        from exec_env.market.synthetic import synthetic_catalogue

        if args.test_days >= args.days:
            raise SystemExit(f"--test-days {args.test_days}: allowed 0 .. --days - 1 = {args.days - 1}")
        catalogue = synthetic_catalogue(
            n_days=args.days, n_test=args.test_days, seed=0, params=synthetic_params(args.data_options)
        )
    else:
        catalogue = load_market(
            args.data, format=args.format, n_test=args.test_days, **parse_options(args.data_options)
        )
    config = ExecutionConfig(
        market=catalogue, side=args.side, quantity=args.quantity, horizon_s=args.horizon_s,
        decision_interval_s=args.decision_interval_s, compare_twap=True, split="train", warmup_s=args.warmup_s,
        reward_baseline=args.reward_baseline, **split_fields, **spec_kwargs,
    )  # fmt: skip
    if (skipped := catalogue.skipped_message()) is not None:
        print(skipped, flush=True)
    probe = exec_env.ExecutionEnv(config)  # resolves the simulator settings (and calibrates file data)
    if probe.calibration is not None:
        print(f"calibrated on the training data: {probe.calibration.describe()}", flush=True)
    n_test_days = len(catalogue.indices("test"))
    if not args.test_share and n_test_days == 0:
        raise SystemExit(f"{catalogue.name} has no test day (--test-days {args.test_days}); nothing to evaluate on")
    settings = settings_from_args(args)
    tuned = None
    if args.tune > 0:
        settings, config, tuned = run_tuning(args, config)
    print(f"market: {catalogue.name}, {len(catalogue.indices('train'))} train days, "
          f"{len(catalogue.indices('test'))} test days ({time.perf_counter() - t_start:.1f} s)", flush=True)  # fmt: skip

    run_name = f"{args.env_id.replace('/', '-')}__{args.exp_name}__{args.seed}__{int(time.time())}"
    run_dir = Path(args.output) / run_name
    run_dir.mkdir(parents=True, exist_ok=False)
    sim_resolved = dataclasses.asdict(probe.sim_config)
    calibration = dataclasses.asdict(probe.calibration) if probe.calibration is not None else None
    resolved = {"args": dataclasses.asdict(args), "env": config.describe(), "sim_resolved": sim_resolved,
                "calibration": calibration,
                "ppo": dataclasses.asdict(settings), "tuning": tuned,
                "exec_env_version": exec_env.__version__, "command": " ".join(sys.argv)}  # fmt: skip
    (run_dir / "config.json").write_text(json.dumps(resolved, indent=2, default=str))
    writer = SummaryWriter(str(run_dir / "tb"))
    table = "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in dataclasses.asdict(args).items())
    writer.add_text("hyperparameters", table)
    writer.add_text("config", "```\n" + json.dumps(resolved, indent=2, default=str) + "\n```")

    vec_env = make_vec_env(config, args.n_envs, args.seed, vec=args.vec, normalize=settings.normalize)  # type: ignore[arg-type]
    model = make_ppo(vec_env, settings, seed=args.seed)
    model.set_logger(configure(str(run_dir / "tb"), ["tensorboard", "csv"]))
    print(f"training PPO for {args.total_timesteps} steps on {args.n_envs} envs -> {run_dir}", flush=True)
    t_train = time.perf_counter()
    model.learn(total_timesteps=args.total_timesteps, callback=ExecMetricsCallback(), progress_bar=args.progress)
    train_s = time.perf_counter() - t_train
    save_trained(run_dir, model, vec_env)
    trained = TrainedPolicy.from_training(model, vec_env).continuous()
    vec_env.close()
    # baselines act in the continuous mode; a discrete model sends the grid values it stands for
    config = dataclasses.replace(config, action_mode="continuous")

    sim_config = probe.sim_config
    split_args = {"test_share": args.test_share, "purge_s": args.purge_s}
    policies = {"PPO": trained}
    policies.update({b: make_baseline(b, config, catalogue, sim_config, **split_args) for b in DEFAULT_BASELINES})
    print(
        f"evaluating PPO and {len(DEFAULT_BASELINES)} baselines on {args.eval_episodes} test episodes ...", flush=True
    )
    t_eval = time.perf_counter()
    sample = dict(n=args.eval_episodes, seed=args.seed + 10_000, split="test", **split_args)
    try:
        episodes = sample_episodes(config, overlap=args.eval_overlap == "yes", **sample)
    except ValueError as exc:
        if args.eval_overlap != "auto" or "non-overlapping" not in str(exc):
            raise
        print(f"note: {exc.args[0].split(':')[0]}; evaluation episodes will overlap in time", flush=True)
        episodes = sample_episodes(config, overlap=True, **sample)
    episodes_frame(episodes).to_csv(run_dir / "eval_episodes_spec.csv", index=False)
    outcome = run_evaluation(
        policies, config, episodes, run_dir, baselines=list(DEFAULT_BASELINES), learned_groups={"PPO": ["PPO"]},
        split="all" if args.test_share else "test", seed=args.seed, progress=args.progress,
        extra={"command": " ".join(sys.argv)},
    )  # fmt: skip
    summary, text = outcome["summary"], outcome["text"]
    eval_s = time.perf_counter() - t_eval
    for _, row in summary.iterrows():
        writer.add_scalar(f"eval/{row['policy']}_shortfall_bps", row["mean"], args.total_timesteps)
    results = outcome["results"]
    by_episode = results.pivot(index="episode", columns="policy", values="shortfall_bps")
    writer.add_scalar("eval/PPO_vs_TWAP_bps", float((by_episode["PPO"] - by_episode["TWAP"]).mean()),
                      args.total_timesteps)  # fmt: skip
    best = summary.attrs["baseline"]
    writer.add_scalar("eval/PPO_vs_best_baseline_bps", float((by_episode["PPO"] - by_episode[best]).mean()),
                      args.total_timesteps)  # fmt: skip
    writer.close()

    total_s = time.perf_counter() - t_start
    timing = {"train_s": round(train_s, 1), "eval_s": round(eval_s, 1), "total_s": round(total_s, 1),
              "train_steps_per_s": round(args.total_timesteps / train_s, 1)}  # fmt: skip
    (run_dir / "timing.json").write_text(json.dumps(timing, indent=2))
    print()
    print(text)
    print(f"run folder: {run_dir}\ntiming: {timing}")
    return {"run_dir": str(run_dir), "summary": summary, "timing": timing}


if __name__ == "__main__":
    main()
