"""Fixed execution policies, run through the same environment as the learning agents."""

from baselines.base import ConstantActionPolicy
from baselines.immediate import Immediate
from baselines.passive_twap import PassiveTWAP
from baselines.twap import TWAP

__all__ = ["BASELINES", "TWAP", "ConstantActionPolicy", "Immediate", "PassiveTWAP"]

BASELINES = {"TWAP": TWAP, "Immediate": Immediate, "PassiveTWAP": PassiveTWAP}
