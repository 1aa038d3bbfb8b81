"""Reference samplers of the suite: blackjax NUTS and HMC with Stan-style window adaptation."""
from baselines.draws import Cost, Draws
from baselines.hmc import CHAIN_METHODS, hmc, nuts

__all__ = ["CHAIN_METHODS", "Cost", "Draws", "hmc", "nuts"]
