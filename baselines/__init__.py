"""Reference samplers of the suite: blackjax NUTS and HMC with Stan-style window adaptation, and the
peers: adaptive tempered SMC, ..."""
from baselines.draws import Cost, Draws
from baselines.hmc import CHAIN_METHODS, hmc, nuts
from baselines.smc import smc

__all__ = ["CHAIN_METHODS", "Cost", "Draws", "hmc", "nuts", "smc"]
