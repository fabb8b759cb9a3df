"""Fixed routing policies for ``exec_env/Routing-v0`` (one file each); all answer SB3's ``predict``."""

from exec_env.baselines.routing.base import RoutingPolicy, VenueView
from exec_env.baselines.routing.cont_kukanov import ContKukanov, ck_allocate
from exec_env.baselines.routing.naive import NaiveBestPrice
from exec_env.baselines.routing.pro_rata import ProRata
from exec_env.baselines.routing.schedules import TWAPRouted, VWAPRouted, volume_curve

__all__ = [
    "ContKukanov",
    "NaiveBestPrice",
    "ProRata",
    "RoutingPolicy",
    "TWAPRouted",
    "VWAPRouted",
    "VenueView",
    "ck_allocate",
    "volume_curve",
]
