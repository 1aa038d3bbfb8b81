"""Exact samplers built on a VAE, blackjax-style: `init(position) -> state`, `step(key, state) -> (state, info)`.

The chain lives on (x, z) and leaves the encoder-side joint `mu(x) P(z|x)` invariant (with K inner
draws, `imh` the extended joint of its docstring), so its x-marginal is the target exactly, however
imperfect the networks (NOTES.md):

- gibbs:  z ~ P(z|x) (exact conditional), z' = z + jitter * eps (symmetric), x' ~ Q(x|z'), accept with
          min(1, [mu~(x') P(z'|x') Q(x|z)] / [mu~(x) P(z|x) Q(x'|z')])   (Habib & Barber 2019 for jitter > 0)
- imh:    (x', z') ~ pi(z) Q(x|z), accept with min(1, w'/w), w = mu~(x) P(z|x) / (pi(z) Q(x|z)); with K inner
          draws z_1..z_K ~ P(z|x') the hierarchical weight w_K = mu~(x) / mean_k[pi(z_k) Q(x|z_k) / P(z_k|x)]
- hybrid: a VAE move (gibbs or imh) then `num_local` MALA moves in x (blackjax), z refreshed from P(z|x)
          after them (Gabrie, Rotskoff & Vanden-Eijnden 2022); each move leaves mu(x) P(z|x) invariant.

Importance sampling with the same weights is `importance_sample` (with `log_Z_hat`, `importance_ess`
and `self_normalised_mean`). Every info reports the acceptance
and the log-density and gradient evaluations of the step.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from vaegibbs.model import VAE


class VAEState(NamedTuple):
    position: jax.Array    # x
    latent: jax.Array      # z ~ P(z|x) given x (imh with K inner draws: z_0..z_K, (K+1, latent_dim))
    logdensity: jax.Array  # log mu~(x)


class VAEInfo(NamedTuple):
    acceptance_rate: jax.Array        # of the VAE move
    is_accepted: jax.Array
    logdensity_evals: jax.Array
    grad_evals: jax.Array
    local_acceptance_rate: jax.Array = float("nan")  # hybrid: mean acceptance of its MALA moves


class SamplingAlgorithm(NamedTuple):
    init: Callable
    step: Callable


def _init(model: VAE, logdensity_fn: Callable):
    def init(position, key):
        """State at `position` with its latent drawn from P(z|x) (the exact conditional)."""
        return VAEState(position, model.sample_encoder(key, position), logdensity_fn(position))
    return init


def _mh(key, log_ratio, proposal: VAEState, state: VAEState):
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    accept = jnp.log(jax.random.uniform(key)) < log_ratio
    new = jax.tree.map(lambda a, b: jnp.where(accept, a, b), proposal, state)
    return new, jnp.minimum(1.0, jnp.exp(log_ratio)), accept


def gibbs(model: VAE, logdensity_fn: Callable, jitter: float = 0.0) -> SamplingAlgorithm:
    """Metropolis-within-Gibbs on (x, z); `jitter` is the sd of the symmetric latent perturbation."""

    def step(key, state: VAEState):
        key_z, key_eps, key_x, key_acc = jax.random.split(key, 4)
        x = state.position
        z = model.sample_encoder(key_z, x)                                   # Gibbs step in z
        z_new = z + jitter * jax.random.normal(key_eps, z.shape, z.dtype)    # symmetric move
        x_new = model.sample_decoder(key_x, z_new)
        lp_new = logdensity_fn(x_new)
        log_ratio = (lp_new + model.log_encoder(z_new, x_new) + model.log_decoder(x, z)
                     - state.logdensity - model.log_encoder(z, x) - model.log_decoder(x_new, z_new))
        new, rate, accept = _mh(key_acc, log_ratio, VAEState(x_new, z_new, lp_new), state._replace(latent=z))
        return new, VAEInfo(rate, accept, jnp.ones((), int), jnp.zeros((), int))

    return SamplingAlgorithm(_init(model, logdensity_fn), step)


def log_inner_ratio(model: VAE, x, latents, log_proposal_z: Callable | None = None):
    """log (1/(K+1)) sum_k rho(z_k) Q(x|z_k) / P(z_k|x) over latents (K+1, latent_dim): with z_0 the z that
    generated x and z_1..z_K ~ P(z|x), an unbiased estimate of the decoder marginal q(x) (rho = pi by default)."""
    log_rho = model.log_prior if log_proposal_z is None else log_proposal_z
    terms = jax.vmap(lambda z: log_rho(z) + model.log_decoder(x, z) - model.log_encoder(z, x))(latents)
    return logsumexp(terms) - jnp.log(latents.shape[0])


def _inner_latents(model: VAE, key, x, z0, num_inner: int):
    """(K+1, latent_dim): z0, then K draws of P(z|x)."""
    inner = jax.vmap(model.sample_encoder, in_axes=(0, None))(jax.random.split(key, num_inner), x)
    return jnp.concatenate([z0[None], inner])


def imh(model: VAE, logdensity_fn: Callable, temperature: float = 1.0, num_inner: int = 0) -> SamplingAlgorithm:
    """Independence Metropolis-Hastings on (x, z) with proposal N(z; 0, temperature^2 I) Q(x|z).

    temperature = 1 is the seed's proposal pi(z) Q(x|z); temperature > 1 widens the latent draws, a
    defensive proposal for targets whose tails the decoder under-covers. Exact for any temperature:
    w = mu~(x) P(z|x) / (N(z; 0, t^2 I) Q(x|z)), accept with min(1, w'/w).

    num_inner = K > 0 adds K encoder draws z_1..z_K ~ P(z|x) to each proposal and uses the hierarchical
    weight w_K = mu~(x) / [(1/(K+1)) sum_k rho(z_k) Q(x|z_k) / P(z_k|x)] (K = 0: w above), a proper
    weight on the extended space of (x, z_0..z_K) whose x-marginal is the target (Domke & Sheldon 2018;
    the weights of the IW bound, objective.iw_bound). As K grows w_K tends to mu~(x) / q(x): the encoder's
    mismatch leaves the weights, at K more network evaluations and no more target evaluations.
    The state's `latent` is then (K+1, latent_dim)."""

    def log_proposal_z(z):
        return model.log_prior(z / temperature) - z.shape[-1] * jnp.log(temperature)

    def log_w(state: VAEState):
        if num_inner:
            return state.logdensity - log_inner_ratio(model, state.position, state.latent, log_proposal_z)
        return state.logdensity + model.log_encoder(state.latent, state.position) \
            - log_proposal_z(state.latent) - model.log_decoder(state.position, state.latent)

    def init(position, key):
        """Latents from the extended target's conditional given x: K+1 draws of P(z|x), the one at index j
        (chosen with probability proportional to r_j = rho(z_j) Q(x|z_j) / P(z_j|x)) moved to slot 0."""
        if not num_inner:
            return _init(model, logdensity_fn)(position, key)
        key_z, key_j = jax.random.split(key)
        latents = jax.vmap(model.sample_encoder, in_axes=(0, None))(jax.random.split(key_z, num_inner + 1), position)
        log_r = jax.vmap(lambda z: log_proposal_z(z) + model.log_decoder(position, z)
                         - model.log_encoder(z, position))(latents)
        j = jax.random.categorical(key_j, log_r)
        latents = latents.at[jnp.array([0, j])].set(latents[jnp.array([j, 0])])
        return VAEState(position, latents, logdensity_fn(position))

    def step(key, state: VAEState):
        key_z, key_x, key_inner, key_acc = jax.random.split(key, 4)
        z_new = temperature * jax.random.normal(key_z, (model.latent_dim,), state.position.dtype)
        x_new = model.sample_decoder(key_x, z_new)
        if num_inner:
            z_new = _inner_latents(model, key_inner, x_new, z_new, num_inner)
        proposal = VAEState(x_new, z_new, logdensity_fn(x_new))
        new, rate, accept = _mh(key_acc, log_w(proposal) - log_w(state), proposal, state)
        return new, VAEInfo(rate, accept, jnp.ones((), int), jnp.zeros((), int))

    return SamplingAlgorithm(init, step)


def hybrid(model: VAE, logdensity_fn: Callable, step_size: float, num_local: int = 5,
           vae_move: str = "gibbs", jitter: float = 0.0, temperature: float = 1.0) -> SamplingAlgorithm:
    """A VAE move (gibbs with `jitter`, or imh with `temperature`), then `num_local` blackjax MALA moves
    in x with `step_size`, then z ~ P(z|x)."""
    if vae_move not in ("gibbs", "imh"):
        raise ValueError(f"hybrid: vae_move must be one of gibbs, imh, got {vae_move!r}")
    global_move = gibbs(model, logdensity_fn, jitter) if vae_move == "gibbs" else imh(model, logdensity_fn, temperature)
    mala = blackjax.mala(logdensity_fn, step_size)

    def step(key, state: VAEState):
        key_vae, key_local, key_z = jax.random.split(key, 3)
        state, vae_info = global_move.step(key_vae, state)

        def local(mala_state, k):
            mala_state, info = mala.step(k, mala_state)
            return mala_state, info.acceptance_rate

        mala_state, local_rates = jax.lax.scan(local, mala.init(state.position), jax.random.split(key_local, num_local))
        new = VAEState(mala_state.position, model.sample_encoder(key_z, mala_state.position), mala_state.logdensity)
        # MALA evaluates value and gradient once at init and once per step.
        return new, VAEInfo(vae_info.acceptance_rate, vae_info.is_accepted,
                            vae_info.logdensity_evals + num_local + 1, jnp.asarray(num_local + 1),
                            jnp.mean(local_rates))

    return SamplingAlgorithm(_init(model, logdensity_fn), step)


class ImportanceSample(NamedTuple):
    positions: jax.Array    # (n, dim) x ~ q
    latents: jax.Array      # (n, latent_dim)
    log_weights: jax.Array  # (n,) log w
    logdensity: jax.Array   # (n,) log mu~(x)


def importance_sample(model: VAE, logdensity_fn: Callable, key, n: int, num_inner: int = 0) -> ImportanceSample:
    """n draws of pi(z) Q(x|z) with their importance weights w = mu~(x) P(z|x) / (pi(z) Q(x|z)); with
    num_inner = K > 0 the hierarchical weights w_K of `imh` (K encoder draws per x; `latents` keeps z_0)."""
    key_z, key_x, key_inner = jax.random.split(key, 3)
    z = jax.random.normal(key_z, (n, model.latent_dim))
    x = jax.vmap(model.sample_decoder)(jax.random.split(key_x, n), z)
    lp = jax.vmap(logdensity_fn)(x)
    if num_inner:
        latents = jax.vmap(_inner_latents, in_axes=(None, 0, 0, 0, None))(
            model, jax.random.split(key_inner, n), x, z, num_inner)
        log_w = lp - jax.vmap(log_inner_ratio, in_axes=(None, 0, 0))(model, x, latents)
    else:
        log_w = lp + jax.vmap(model.log_encoder)(z, x) - model.log_prior(z) - jax.vmap(model.log_decoder)(x, z)
    return ImportanceSample(x, z, log_w, lp)


def log_Z_hat(log_weights) -> jax.Array:
    """log Z_hat = logsumexp(log w) - log N (an estimate whose expectation is <= log Z)."""
    return logsumexp(log_weights) - jnp.log(log_weights.size)


def importance_ess(log_weights) -> jax.Array:
    """Normalised importance ESS (sum w)^2 / (N sum w^2), in (0, 1]."""
    return jnp.exp(2 * logsumexp(log_weights) - logsumexp(2 * log_weights)) / log_weights.size


def run_chains(algorithm: SamplingAlgorithm, key, initial_positions, num_steps: int):
    """`num_steps` transitions of every chain (vmapped over chains, scanned over steps).

    Returns (final_state, (states, infos)) with leading axes (chains, num_steps)."""

    def one_chain(key, position):
        key_init, key_steps = jax.random.split(key)

        def body(state, k):
            state, info = algorithm.step(k, state)
            return state, (state, info)

        return jax.lax.scan(body, algorithm.init(position, key_init), jax.random.split(key_steps, num_steps))

    return jax.vmap(one_chain)(jax.random.split(key, initial_positions.shape[0]), initial_positions)


def self_normalised_mean(values, log_weights) -> jax.Array:
    """Self-normalised importance estimate sum_i wbar_i f(x_i), wbar = softmax(log w); values (n, ...)."""
    wbar = jax.nn.softmax(log_weights)
    return jnp.tensordot(wbar, values, axes=1)
