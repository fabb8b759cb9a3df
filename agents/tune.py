"""Hyperparameter search for PPO with Optuna, on training days only.

    python -m exec_env.agents.tune --trials 20                      # synthetic market, SQLite study
    python -m exec_env.agents.tune --trials 5 --storage postgresql://host/db --study exec   # many machines
    python train.py --tune 20                                       # search, then train and test the best

The training days are split once more in time: the newest ``val_days`` of them are the
*validation* days, the rest the search's training days. Each trial trains PPO on the latter and is
scored on one fixed set of validation episodes (mean shortfall in bps, lower is better); it reports
that score at ``checkpoints`` points of its training, so that Optuna's median pruner stops trials
that trail the others at the same point. Test days are never touched. The study lives in an RDB
storage (SQLite file by default; any SQLAlchemy URL lets several machines work on one study) and
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any

from exec_env.agents.ppo import PPOSettings, TrainedPolicy, make_ppo, make_vec_env
from exec_env.config import ExecutionConfig

__all__ = ["TuneSettings", "sample_trial", "study_best", "tune", "validation_config"]


@dataclasses.dataclass(frozen=True)
class TuneSettings:
    """How the search runs (not what it searches: see :func:`sample_trial`)."""

    n_trials: int = 20
    trial_timesteps: int = 300_000
    n_envs: int = 64
    val_days: int = 4
    val_episodes: int = 100
    checkpoints: int = 4
    storage: str = "sqlite:///runs/tune.db"
    study_name: str = "exec_env"
    seed: int = 0

    def __post_init__(self) -> None:
        checks = {
            "n_trials": (self.n_trials, 1), "trial_timesteps": (self.trial_timesteps, 1), "n_envs": (self.n_envs, 1),
            "val_days": (self.val_days, 1), "val_episodes": (self.val_episodes, 2), "checkpoints": (self.checkpoints, 1),
        }  # fmt: skip
        for name, (value, low) in checks.items():
            if not (isinstance(value, int) and value >= low):
                raise ValueError(f"TuneSettings.{name} = {value!r}; allowed: an integer >= {low}")


def validation_config(config: ExecutionConfig, val_days: int) -> ExecutionConfig:
    """``config`` restricted to its training days, the newest ``val_days`` of which become the
    test split (the validation days); the original test days are dropped."""
    cat = config.market
    train = cat.indices("train")
    if val_days >= len(train):
        raise ValueError(
            f"val_days = {val_days}: allowed 1 .. {len(train) - 1} ({cat.name} has {len(train)} training days, "
            "and the search needs at least one left to train on)"
        )
    sub = dataclasses.replace(cat, days=[cat.days[i] for i in train], n_test=val_days, _cache=OrderedDict())
    return dataclasses.replace(config, market=sub, split="train")


def sample_trial(trial: Any) -> tuple[PPOSettings, dict[str, Any]]:
    """PPO settings and env overrides drawn for ``trial`` (an ``optuna.Trial``)."""
    arch = trial.suggest_categorical("net_arch", ["64,64", "128,128", "256,256"])
    settings = PPOSettings(
        learning_rate=trial.suggest_float("learning_rate", 5e-5, 2e-3, log=True),
        n_steps=trial.suggest_categorical("n_steps", [32, 64, 128]),
        batch_size=trial.suggest_categorical("batch_size", [512, 1024, 2048]),
        n_epochs=trial.suggest_categorical("n_epochs", [3, 5, 10]),
        gae_lambda=trial.suggest_categorical("gae_lambda", [0.9, 0.95, 0.98, 1.0]),
        clip_range=trial.suggest_categorical("clip_range", [0.1, 0.2, 0.3]),
        ent_coef=trial.suggest_float("ent_coef", 1e-6, 1e-2, log=True),
        log_std_init=trial.suggest_float("log_std_init", -2.0, 0.0),
        net_arch=tuple(int(x) for x in arch.split(",")),
        normalize=trial.suggest_categorical("normalize", [False, True]),
    )
    env = {
        "reward_baseline": trial.suggest_categorical("reward_baseline", ["twap", "passive_twap"]),
        "action_mode": trial.suggest_categorical("action_mode", ["continuous", "discrete"]),
    }
    return settings, env


def settings_from_params(params: dict[str, Any]) -> tuple[PPOSettings, dict[str, Any]]:
    """The (settings, env overrides) of a finished trial's ``params``."""
    import optuna

    return sample_trial(optuna.trial.FixedTrial(params))


def _score(policy: Any, config: ExecutionConfig, episodes: list) -> float:
    from exec_env.evaluation import evaluate

    frame = evaluate({"PPO": policy}, config, episodes, split="test")
    value = float(frame["shortfall_bps"].mean())
    if not math.isfinite(value):
        raise ValueError(f"validation shortfall is {value}")
    return value


def tune(config: ExecutionConfig, settings: TuneSettings, log: Any = print) -> Any:
    """Run (or resume) the study; returns the ``optuna.Study``. Each trial's user attributes hold
    the validation score of every baseline of the same episodes (``baselines``) once."""
    import optuna
    from stable_baselines3.common.callbacks import BaseCallback

    from exec_env.baselines import DEFAULT_BASELINES, make_baseline
    from exec_env.env import ExecutionEnv
    from exec_env.evaluation import evaluate, sample_episodes

    val = validation_config(config, settings.val_days)
    episodes = sample_episodes(val, n=settings.val_episodes, seed=settings.seed + 7, split="test", overlap=False)
    sim = ExecutionEnv(val).sim_config
    base = evaluate({b: make_baseline(b, val, val.market, sim) for b in DEFAULT_BASELINES}, val, episodes)
    baseline_means = base.groupby("policy")["shortfall_bps"].mean().to_dict()
    best = min(baseline_means, key=baseline_means.get)
    log(f"validation: {len(val.market.indices('train'))} training days, {settings.val_days} validation days, "
        f"{settings.val_episodes} episodes; best baseline {best} {baseline_means[best]:.3f} bps")  # fmt: skip

    if settings.storage.startswith("sqlite:///"):
        Path(settings.storage.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=settings.study_name, storage=settings.storage, direction="minimize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0),
    )  # fmt: skip
    study.set_user_attr("baselines", baseline_means)

    class Checkpoint(BaseCallback):
        def __init__(self, trial: Any, vec_env: Any, config: ExecutionConfig) -> None:
            super().__init__()
            self.trial, self.vec_env, self.config = trial, vec_env, config
            self.every = max(settings.trial_timesteps // settings.checkpoints, 1)
            self.next_at = self.every
            self.k = 0
            self.score = math.nan

        def _on_step(self) -> bool:
            if self.num_timesteps < self.next_at:
                return True
            self.next_at += self.every
            self.score = _score(TrainedPolicy.from_training(self.model, self.vec_env), self.config, episodes)
            self.trial.report(self.score, self.k)
            self.k += 1
            return not self.trial.should_prune()

    def objective(trial: Any) -> float:
        ppo, env_overrides = sample_trial(trial)
        train_config = dataclasses.replace(val, **env_overrides)
        vec_env = make_vec_env(train_config, settings.n_envs, settings.seed + trial.number, normalize=ppo.normalize)
        model = make_ppo(vec_env, ppo, seed=settings.seed + trial.number)
        checkpoint = Checkpoint(trial, vec_env, train_config)
        model.learn(total_timesteps=settings.trial_timesteps, callback=checkpoint)
        vec_env.close()
        if trial.should_prune():
            raise optuna.TrialPruned()
        score = _score(TrainedPolicy.from_training(model, vec_env), train_config, episodes)
        trial.set_user_attr("vs_best_baseline_bps", score - baseline_means[best])
        log(f"trial {trial.number}: {score:.3f} bps ({score - baseline_means[best]:+.3f} vs {best}) {trial.params}")
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study.optimize(objective, n_trials=settings.n_trials, catch=())
    return study


def study_best(study: Any) -> tuple[PPOSettings, dict[str, Any]]:
    """Settings and env overrides of the study's best finished trial."""
    return settings_from_params(study.best_trial.params)


def main(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TuneSettings()
    parser.add_argument("--trials", type=int, default=defaults.n_trials, help="trials to run (added to the study)")
    parser.add_argument("--trial-timesteps", type=int, default=defaults.trial_timesteps)
    parser.add_argument("--n-envs", type=int, default=defaults.n_envs)
    parser.add_argument("--val-days", type=int, default=defaults.val_days, help="newest training days used to score")
    parser.add_argument("--val-episodes", type=int, default=defaults.val_episodes)
    parser.add_argument("--checkpoints", type=int, default=defaults.checkpoints, help="scores reported per trial")
    parser.add_argument("--storage", default=defaults.storage, help="SQLAlchemy URL of the study's database")
    parser.add_argument("--study", default=defaults.study_name, help="study name (resumed if it exists)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--days", type=int, default=24, help="synthetic market days")
    parser.add_argument("--test-days", type=int, default=8, help="newest days held out (never used by the search)")
    parser.add_argument("--quantity", type=float, default=5000.0)
    parser.add_argument("--horizon-s", type=float, default=600.0)
    parser.add_argument("--decision-interval-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    from exec_env.market.synthetic import synthetic_catalogue

    catalogue = synthetic_catalogue(n_days=args.days, n_test=args.test_days, seed=0)
    config = ExecutionConfig(market=catalogue, quantity=args.quantity, horizon_s=args.horizon_s,
                             decision_interval_s=args.decision_interval_s, compare_twap=True)  # fmt: skip
    settings = TuneSettings(
        n_trials=args.trials, trial_timesteps=args.trial_timesteps, n_envs=args.n_envs, val_days=args.val_days,
        val_episodes=args.val_episodes, checkpoints=args.checkpoints, storage=args.storage, study_name=args.study,
        seed=args.seed,
    )  # fmt: skip
    study = tune(config, settings)
    done = [t for t in study.trials if t.value is not None]
    print(f"{len(done)} finished trials; best {study.best_value:.3f} bps: {study.best_trial.params}")
    return study


if __name__ == "__main__":
    main()
