"""Adaptive training on a target, then the importance ESS of its hierarchical weights for K = 0, 4, 16, 64.

The measurement behind docs/experiments.md "What was tried" (gmm40, seed 0, 10,000 steps):

    .venv/bin/python scripts/inner_weights_trial.py gmm40 0 10000

Prints the training time and KL bound, then per K the median, min and max importance ESS over four
batches of 200,000 draws (50,000 for K = 64) and each batch's log Z_hat - log Z. The trained VAE is
cached in /tmp/vae_<target>_<seed>_<steps> (delete it to train again).
"""

import os
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from targets.registry import make_target  # noqa: E402
from vaegibbs import io, kernels  # noqa: E402
from vaegibbs.adaptive import Adaptive, fit_adaptive  # noqa: E402
from vaegibbs.train import Config  # noqa: E402


def main(name: str, seed: int, steps: int) -> None:
    target = make_target(name)
    path = f"/tmp/vae_{name}_{seed}_{steps}"
    if not os.path.exists(path + ".json"):
        adaptive, config = Adaptive(), Config(steps=steps)
        key_walkers, key_fit = jax.random.split(jax.random.key(seed))
        fitted = fit_adaptive(target.log_prob, target.initial(key_walkers, adaptive.walkers), key_fit, config, adaptive)
        print(
            f"train {fitted.time_train:.1f} s, compile {fitted.time_compile:.1f} s, "
            f"KL bound {fitted.round_traces['bound'][-1] + target.log_Z:.3f}"
        )
        io.save(path, fitted.model, config)
    model, _ = io.load(path)
    draw = jax.jit(
        lambda key, n, k: kernels.importance_sample(model, target.log_prob, key, n, k).log_weights,
        static_argnums=(1, 2),
    )
    for inner in (0, 4, 16, 64):
        start = time.time()
        n = 200_000 if inner < 64 else 50_000
        ess, dz = [], []
        for i in range(4):
            lw = draw(jax.random.key(100 + i), n, inner)
            ess.append(float(kernels.importance_ess(lw)))
            dz.append(float(kernels.log_Z_hat(lw)) - target.log_Z)
        print(
            f"K={inner}: IS ESS median {np.median(ess):.3f} (min {min(ess):.3f}, max {max(ess):.3f}); "
            f"log Z_hat - log Z {np.round(dz, 4).tolist()}; {time.time() - start:.1f} s"
        )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
