"""The suite's samplers: the references and their peers.

Reference samplers of the suite: blackjax NUTS and HMC with Stan-style window adaptation, and the
peers: adaptive tempered SMC, parallel tempering, MCLMC and MAMS, ChEES-HMC, numpyro's NUTS, flowMC."""

from baselines.chees import chees
from baselines.draws import Cost, Draws
from baselines.flowmc import flowmc
from baselines.hmc import CHAIN_METHODS, hmc, nuts
from baselines.mclmc import mams, mclmc
from baselines.numpyro_nuts import numpyro_nuts
from baselines.pt import pt
from baselines.smc import smc

__all__ = [
    "CHAIN_METHODS",
    "Cost",
    "Draws",
    "chees",
    "flowmc",
    "hmc",
    "mams",
    "mclmc",
    "numpyro_nuts",
    "nuts",
    "pt",
    "smc",
]
