"""The VAE-Gibbs sampler, usable on its own: it knows a target only through its log density.

A decoder Q(x|z) trained with an encoder P(z|x) on the corrected augmented reverse-KL bound, used as an exact
(Metropolised) Gibbs / independence / importance sampler.
"""

from vaegibbs.model import VAE
from vaegibbs.objective import iw_bound, joint_bound
from vaegibbs.train import Config, Fitted, TrainingDiverged, fit

__all__ = ["VAE", "Config", "Fitted", "TrainingDiverged", "fit", "iw_bound", "joint_bound"]
