"""Policy simulation and budget estimate (政策仿真与资金测算): before a policy is published, who would qualify, in
which districts and industries, what it would cost — a range and a stated central estimate — how a threshold
moves both, the overlap with the policies in force, and how long payments take (兑现效率).

``simulate(book, data, as_of, vary=None)`` is the library call; ``quanhuiqi policy simulate`` its command line;
``read_city`` reads a data folder once for several simulations; ``read_sweeps`` checks a sweep file.
"""

from quanhuiqi.simulate.city import CityData, read_city
from quanhuiqi.simulate.core import SIMULATION_COLUMNS, SimulationResult, simulate, simulate_dir
from quanhuiqi.simulate.estimate import ESTIMATORS
from quanhuiqi.simulate.variants import Sweep, Variant, VariationError, read_sweeps

__all__ = [
    "ESTIMATORS",
    "SIMULATION_COLUMNS",
    "CityData",
    "SimulationResult",
    "Sweep",
    "Variant",
    "VariationError",
    "read_city",
    "read_sweeps",
    "simulate",
    "simulate_dir",
]
