"""Exact samplers built on a VAE, blackjax-style: `init(position) -> state`, `step(key, state) -> (state, info)`.

The chain lives on (x, z) and leaves the encoder-side joint `mu(x) P(z|x)` invariant (with K inner
draws, `imh` the extended joint of its docstring), so its x-marginal is the target exactly, however
imperfect the networks (docs/method.md):

- gibbs:  z ~ P(z|x) (exact conditional), z' = z + jitter * eps (symmetric), x' ~ Q(x|z'), accept with
          min(1, [mu~(x') P(z'|x') Q(x|z)] / [mu~(x) P(z|x) Q(x'|z')])   (Habib & Barber 2019 for jitter > 0)
- imh:    (x', z') ~ pi(z) Q(x|z), accept with min(1, w'/w), w = mu~(x) P(z|x) / (pi(z) Q(x|z)); with K inner
          draws z_1..z_K ~ P(z|x') the hierarchical weight w_K = mu~(x) / mean_k[pi(z_k) Q(x|z_k) / P(z_k|x)]
- hybrid: a VAE move (gibbs or imh) then `num_local` MALA moves in x (blackjax), z refreshed from P(z|x)
          after them (Gabrie, Rotskoff & Vanden-Eijnden 2022); each move leaves mu(x) P(z|x) invariant.

Importance sampling with the same weights is `importance_sample` (with `log_Z_hat`, `importance_ess`
and `self_normalised_mean`). Every info reports the acceptance
and the log-density and gradient evaluations of the step.

`run_chains` runs any of them (vmap over chains, scan over steps); `run_independent_chains` runs `imh`
to the same chains (up to floating-point rounding) faster: its proposals do not depend on the state, so
they are drawn in large batches and only the accept/reject test on their cached weights stays sequential.
The chains are independent: with `n_devices` > 1 the three runners split them (the proposals of
`importance_sample`) into equal blocks, one per device (`baselines.devices.shard`), each computing what it
computes unsharded from the same keys; `n_devices` = 1 is the plain computation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

import blackjax
import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from baselines import devices
from vaegibbs.model import VAE


class VAEState(NamedTuple):
    position: jax.Array  # x
    latent: jax.Array  # z ~ P(z|x) given x (imh with K inner draws: z_0..z_K, (K+1, latent_dim))
    logdensity: jax.Array  # log mu~(x)


class VAEInfo(NamedTuple):
    acceptance_rate: jax.Array  # of the VAE move
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


def _accept(log_u, log_ratio):
    """(accept, acceptance rate min(1, ratio)) of the Metropolis test log u < log ratio; a NaN ratio rejects."""
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    return log_u < log_ratio, jnp.minimum(1.0, jnp.exp(log_ratio))


def _mh(key, log_ratio, proposal: VAEState, state: VAEState):
    accept, rate = _accept(jnp.log(jax.random.uniform(key)), log_ratio)
    new = jax.tree.map(lambda a, b: jnp.where(accept, a, b), proposal, state)
    return new, rate, accept


def gibbs(model: VAE, logdensity_fn: Callable, jitter: float = 0.5) -> SamplingAlgorithm:
    """Metropolis-within-Gibbs on (x, z) with a symmetric latent perturbation.

    Parameters
    ----------
    model
        The VAE.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    jitter
        The sd of the symmetric latent perturbation (0: the plain Gibbs step z ~ P(z|x), x' ~ Q(x|z)).

    Returns
    -------
    SamplingAlgorithm
        `init(position, key) -> VAEState` and `step(key, state) -> (VAEState, VAEInfo)`.
    """

    def step(key, state: VAEState):
        key_z, key_eps, key_x, key_acc = jax.random.split(key, 4)
        x = state.position
        z = model.sample_encoder(key_z, x)  # Gibbs step in z
        z_new = z + jitter * jax.random.normal(key_eps, z.shape, z.dtype)  # symmetric move
        x_new = model.sample_decoder(key_x, z_new)
        lp_new = logdensity_fn(x_new)
        log_ratio = (
            lp_new
            + model.log_encoder(z_new, x_new)
            + model.log_decoder(x, z)
            - state.logdensity
            - model.log_encoder(z, x)
            - model.log_decoder(x_new, z_new)
        )
        new, rate, accept = _mh(key_acc, log_ratio, VAEState(x_new, z_new, lp_new), state._replace(latent=z))
        return new, VAEInfo(rate, accept, jnp.ones((), int), jnp.zeros((), int))

    return SamplingAlgorithm(_init(model, logdensity_fn), step)


def log_inner_ratio(model: VAE, x, latents, log_proposal_z: Callable | None = None):
    """log (1/(K+1)) sum_k rho(z_k) Q(x|z_k) / P(z_k|x) over latents (K+1, latent_dim).

    With z_0 the z that generated x and z_1..z_K ~ P(z|x), an unbiased estimate of the decoder marginal q(x)
    (rho = pi by default).

    Parameters
    ----------
    model
        The VAE.
    x
        One point in x.
    latents
        z_0..z_K, shape (K+1, latent_dim).
    log_proposal_z
        log rho(z), the latent proposal's log density; None: the prior pi.

    Returns
    -------
    jax.Array
        The log of the estimate (a scalar).
    """
    log_rho = model.log_prior if log_proposal_z is None else log_proposal_z
    terms = jax.vmap(lambda z: log_rho(z) + model.log_decoder(x, z) - model.log_encoder(z, x))(latents)
    return logsumexp(terms) - jnp.log(latents.shape[0])


def _inner_latents(model: VAE, key, x, z0, num_inner: int):
    """(K+1, latent_dim): z0, then K draws of P(z|x)."""
    inner = jax.vmap(model.sample_encoder, in_axes=(0, None))(jax.random.split(key, num_inner), x)
    return jnp.concatenate([z0[None], inner])


class IMHState(NamedTuple):
    position: jax.Array  # x
    latent: jax.Array  # z (latent_dim,), or z_0..z_K (K+1, latent_dim) with K inner draws
    logdensity: jax.Array  # log mu~(x)
    log_weight: jax.Array  # log w of (x, latent), cached: the acceptance needs it at every step


class IndependenceAlgorithm(NamedTuple):
    """An independence sampler: `init`, `step`, and `propose`, the proposal that does not depend on the state.

    `step(key, state)` is `propose(k1)` then a Metropolis test against `state` (k1, k2 = split(key)). The
    proposal does not depend on the state, so `run_independent_chains` can draw every proposal of a run in
    large batches and keep only the accept/reject scan sequential.
    """

    init: Callable
    step: Callable
    propose: Callable  # key -> IMHState: a proposal with its log weight


def _latent_proposal(model: VAE, temperature: float) -> Callable:
    """log rho(z), rho = N(0, temperature^2 I) (temperature 1: the prior pi)."""
    return lambda z: model.log_prior(z / temperature) - z.shape[-1] * jnp.log(temperature)


def imh_log_weight(model: VAE, temperature: float = 1.0, num_inner: int = 0) -> Callable:
    """`log_w(position, latent, logdensity)`: the log importance weight of `imh` (see there).

    Parameters
    ----------
    model
        The VAE.
    temperature
        The sd of the latent proposal N(z; 0, temperature^2 I) (1: the prior pi).
    num_inner
        K, the number of inner encoder draws (0: the plain weight; K > 0: the hierarchical weight w_K).

    Returns
    -------
    Callable
        `log_w(position, latent, logdensity)`, with `latent` of shape (K+1, latent_dim) when K > 0.
    """
    log_proposal_z = _latent_proposal(model, temperature)

    def log_w(position, latent, logdensity):
        if num_inner:
            return logdensity - log_inner_ratio(model, position, latent, log_proposal_z)
        return (
            logdensity
            + model.log_encoder(latent, position)
            - log_proposal_z(latent)
            - model.log_decoder(position, latent)
        )

    return log_w


def imh(model: VAE, logdensity_fn: Callable, temperature: float = 1.0, num_inner: int = 0) -> IndependenceAlgorithm:
    """Independence Metropolis-Hastings on (x, z) with proposal N(z; 0, temperature^2 I) Q(x|z).

    temperature = 1 is the VAE-Gibbs sampler's proposal pi(z) Q(x|z); temperature > 1 widens the latent draws, a
    defensive proposal for targets whose tails the decoder under-covers. Exact for any temperature:
    w = mu~(x) P(z|x) / (N(z; 0, t^2 I) Q(x|z)), accept with min(1, w'/w).

    num_inner = K > 0 adds K encoder draws z_1..z_K ~ P(z|x) to each proposal and uses the hierarchical
    weight w_K = mu~(x) / [(1/(K+1)) sum_k rho(z_k) Q(x|z_k) / P(z_k|x)] (K = 0: w above), a proper
    weight on the extended space of (x, z_0..z_K) whose x-marginal is the target (Domke & Sheldon 2018;
    the weights of the IW bound, objective.iw_bound). As K grows w_K tends to mu~(x) / q(x): the encoder's
    mismatch leaves the weights, at K more network evaluations and no more target evaluations.
    The state's `latent` is then (K+1, latent_dim); its log weight is cached (`IMHState`).

    Parameters
    ----------
    model
        The VAE.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    temperature
        The sd t of the latent proposal N(z; 0, t^2 I).
    num_inner
        K, the number of inner encoder draws per proposal.

    Returns
    -------
    IndependenceAlgorithm
        `init(position, key) -> IMHState`, `step(key, state) -> (IMHState, VAEInfo)` and
        `propose(key) -> IMHState`.
    """
    log_w = imh_log_weight(model, temperature, num_inner)
    log_proposal_z = _latent_proposal(model, temperature)

    def init(position, key):
        """Latents from the extended target's conditional given x: K+1 draws of P(z|x), the one at index j
        (chosen with probability proportional to r_j = rho(z_j) Q(x|z_j) / P(z_j|x)) moved to slot 0."""
        lp = logdensity_fn(position)
        if not num_inner:
            z = model.sample_encoder(key, position)
            return IMHState(position, z, lp, log_w(position, z, lp))
        key_z, key_j = jax.random.split(key)
        latents = jax.vmap(model.sample_encoder, in_axes=(0, None))(jax.random.split(key_z, num_inner + 1), position)
        log_r = jax.vmap(lambda z: log_proposal_z(z) + model.log_decoder(position, z) - model.log_encoder(z, position))(
            latents
        )
        j = jax.random.categorical(key_j, log_r)
        latents = latents.at[jnp.array([0, j])].set(latents[jnp.array([j, 0])])
        return IMHState(position, latents, lp, log_w(position, latents, lp))

    def propose(key) -> IMHState:
        key_z, key_x, key_inner = jax.random.split(key, 3)
        z = temperature * jax.random.normal(key_z, (model.latent_dim,), model.x_loc.dtype)
        x = model.sample_decoder(key_x, z)
        if num_inner:
            z = _inner_latents(model, key_inner, x, z, num_inner)
        lp = logdensity_fn(x)
        return IMHState(x, z, lp, log_w(x, z, lp))

    def step(key, state: IMHState):
        key_prop, key_acc = jax.random.split(key)
        proposal = propose(key_prop)
        new, rate, accept = _mh(key_acc, proposal.log_weight - state.log_weight, proposal, state)
        return new, VAEInfo(rate, accept, jnp.ones((), int), jnp.zeros((), int))

    return IndependenceAlgorithm(init, step, propose)


def run_independent_chains(
    algorithm: IndependenceAlgorithm, key, initial_positions, num_steps: int, batch_size: int = 4096, n_devices: int = 1
):
    """`run_chains` for an independence sampler: the same chains up to rounding, the proposals drawn in batches.

    The same keys give the same chains as `run_chains` up to floating-point rounding (batched and vmapped
    arithmetic differ in the last bits, so an accept test within rounding of its threshold could go the other
    way): all chains x num_steps proposals are drawn first (`jax.lax.map` in batches of `batch_size`, which
    bounds the memory), then each chain's accept/reject scan runs on their cached log weights alone. The
    proposals cost the same network and target evaluations as `step`; what goes is the per-step overhead of a
    sequential loop around small matrix products.

    Parameters
    ----------
    algorithm
        The independence sampler (e.g. `imh`).
    key
        The JAX random key of the run; split into one key per chain.
    initial_positions
        The chains' initial positions, shape (chains, dim).
    num_steps
        The number of transitions of every chain.
    batch_size
        The number of proposals drawn at a time (per device).
    n_devices
        The number of devices the chains are split over (equal blocks; 1: unsharded).

    Returns
    -------
    tuple
        (final_state, (states, infos)) with leading axes (chains, num_steps), as `run_chains`; on
        `n_devices` devices, each its block of chains (batches of at most `batch_size` per device).
    """
    return devices.shard(lambda keys, x0: _independent_block(algorithm, keys, x0, num_steps, batch_size), n_devices)(
        jax.random.split(key, initial_positions.shape[0]), initial_positions
    )


def _independent_block(algorithm: IndependenceAlgorithm, keys, initial_positions, num_steps: int, batch_size: int):
    """`run_independent_chains` of the chains with these keys (one each)."""
    chains = initial_positions.shape[0]

    def chain_keys(k):
        key_init, key_steps = jax.random.split(k)
        split = jax.vmap(jax.random.split)(jax.random.split(key_steps, num_steps))  # step's (key_prop, key_acc)
        return key_init, split[:, 0], split[:, 1]

    key_init, key_prop, key_acc = jax.vmap(chain_keys)(keys)
    initial = jax.vmap(algorithm.init)(initial_positions, key_init)
    proposals = jax.lax.map(algorithm.propose, key_prop.reshape(-1), batch_size=min(batch_size, chains * num_steps))
    proposals = jax.tree.map(lambda a: a.reshape(chains, num_steps, *a.shape[1:]), proposals)
    log_u = jnp.log(jax.vmap(jax.vmap(jax.random.uniform))(key_acc))  # _mh's uniform, key by key

    def accept_scan(log_w0, log_w, log_u):
        def body(carry, inputs):
            current, index = carry
            proposed, lu, t = inputs
            accept, rate = _accept(lu, proposed - current)
            carry = (jnp.where(accept, proposed, current), jnp.where(accept, t, index))
            return carry, (carry[1], rate, accept)

        _, out = jax.lax.scan(body, (log_w0, jnp.asarray(-1)), (log_w, log_u, jnp.arange(num_steps)))
        return out

    index, rate, accept = jax.vmap(accept_scan)(initial.log_weight, proposals.log_weight, log_u)

    def pick(p, i0):
        """states[c, t] = proposals[c, index[c, t]], or the initial state while index is -1."""
        taken = jnp.take_along_axis(p, jnp.maximum(index, 0).reshape(*index.shape, *(1,) * (p.ndim - 2)), axis=1)
        return jnp.where((index >= 0).reshape(*index.shape, *(1,) * (p.ndim - 2)), taken, i0[:, None])

    states = jax.tree.map(pick, proposals, initial)
    final = jax.tree.map(lambda a: a[:, -1], states)
    ones = jnp.ones(index.shape, int)
    return final, (states, VAEInfo(rate, accept, ones, jnp.zeros(index.shape, int), jnp.full(index.shape, jnp.nan)))


VAE_MOVES = ("gibbs", "imh")  # the VAE move of `hybrid`


def hybrid(
    model: VAE,
    logdensity_fn: Callable,
    step_size: float = 0.1,
    num_local: int = 5,
    vae_move: Literal[VAE_MOVES] = "gibbs",
    jitter: float = 0.5,
    temperature: float = 1.0,
) -> SamplingAlgorithm:
    """A VAE move (gibbs or imh), then `num_local` blackjax MALA moves in x, then z ~ P(z|x).

    Parameters
    ----------
    model
        The VAE.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point (differentiable: MALA uses its gradient).
    step_size
        The MALA step size.
    num_local
        The number of MALA moves after each VAE move.
    vae_move
        "gibbs" (with `jitter`) or "imh" (with `temperature`).
    jitter
        The latent perturbation's sd of the gibbs move.
    temperature
        The latent proposal's sd of the imh move.

    Returns
    -------
    SamplingAlgorithm
        `init(position, key) -> VAEState` and `step(key, state) -> (VAEState, VAEInfo)`; the info's
        `local_acceptance_rate` is the mean acceptance of the MALA moves.

    Raises
    ------
    ValueError
        When `vae_move` is not one of `VAE_MOVES`.
    """
    if vae_move not in VAE_MOVES:
        raise ValueError(f"hybrid: vae_move must be one of {', '.join(VAE_MOVES)}, got {vae_move!r}")
    if vae_move == "gibbs":
        global_step = gibbs(model, logdensity_fn, jitter).step
    else:
        log_w, imh_step = imh_log_weight(model, temperature), imh(model, logdensity_fn, temperature).step

        def global_step(key, state: VAEState):
            """The IMH move from the state's (x, z) (its weight computed afresh: MALA moved x)."""
            s, info = imh_step(key, IMHState(*state, log_w(*state)))
            return VAEState(s.position, s.latent, s.logdensity), info

    mala = blackjax.mala(logdensity_fn, step_size)

    def step(key, state: VAEState):
        key_vae, key_local, key_z = jax.random.split(key, 3)
        state, vae_info = global_step(key_vae, state)

        def local(mala_state, k):
            mala_state, info = mala.step(k, mala_state)
            return mala_state, info.acceptance_rate

        mala_state, local_rates = jax.lax.scan(local, mala.init(state.position), jax.random.split(key_local, num_local))
        new = VAEState(mala_state.position, model.sample_encoder(key_z, mala_state.position), mala_state.logdensity)
        # MALA evaluates value and gradient once at init and once per step.
        return new, VAEInfo(
            vae_info.acceptance_rate,
            vae_info.is_accepted,
            vae_info.logdensity_evals + num_local + 1,
            jnp.asarray(num_local + 1),
            jnp.mean(local_rates),
        )

    return SamplingAlgorithm(_init(model, logdensity_fn), step)


class ImportanceSample(NamedTuple):
    positions: jax.Array  # (n, dim) x ~ q
    latents: jax.Array  # (n, latent_dim)
    log_weights: jax.Array  # (n,) log w
    logdensity: jax.Array  # (n,) log mu~(x)


def importance_sample(
    model: VAE,
    logdensity_fn: Callable,
    key,
    n: int,
    num_inner: int = 0,
    temperature: float = 1.0,
    batch_size: int = 4096,
    n_devices: int = 1,
) -> ImportanceSample:
    """n proposals of `imh` with their importance weights w = mu~(x) P(z|x) / (rho(z) Q(x|z)).

    The proposal is N(z; 0, temperature^2 I) Q(x|z) (temperature 1: the VAE-Gibbs sampler's pi(z) Q(x|z));
    with num_inner = K > 0 the weights are the hierarchical w_K (K encoder draws per x; `latents` keeps z_0).
    Drawn `batch_size` at a time (memory), on `n_devices` devices (n a multiple of it) each drawing its block of
    the n proposals' keys.

    Parameters
    ----------
    model
        The VAE.
    logdensity_fn
        The target's unnormalised log density log mu~ of one point.
    key
        The JAX random key; split into one key per proposal.
    n
        The number of proposals.
    num_inner
        K, the number of inner encoder draws per x.
    temperature
        The sd of the latent proposal.
    batch_size
        The number of proposals drawn at a time (per device).
    n_devices
        The number of devices; `n` must be a multiple of it.

    Returns
    -------
    ImportanceSample
        The positions, the latents (z_0), the log weights and the log densities of the n proposals.

    Raises
    ------
    ValueError
        When `n` is not a multiple of `n_devices`.
    """
    if n % n_devices:
        raise ValueError(f"importance_sample: n ({n}) must be a multiple of n_devices ({n_devices})")
    propose = imh(model, logdensity_fn, temperature, num_inner).propose
    block = n // n_devices
    s = devices.shard(lambda keys: jax.lax.map(propose, keys, batch_size=min(batch_size, block)), n_devices)(
        jax.random.split(key, n)
    )
    return ImportanceSample(s.position, s.latent[:, 0] if num_inner else s.latent, s.log_weight, s.logdensity)


def log_Z_hat(log_weights) -> jax.Array:
    """log Z_hat = logsumexp(log w) - log N (an estimate whose expectation is <= log Z).

    Parameters
    ----------
    log_weights
        The N importance log weights.

    Returns
    -------
    jax.Array
        log Z_hat (a scalar).
    """
    return logsumexp(log_weights) - jnp.log(log_weights.size)


def importance_ess(log_weights) -> jax.Array:
    """Normalised importance ESS (sum w)^2 / (N sum w^2), in (0, 1].

    Parameters
    ----------
    log_weights
        The N importance log weights.

    Returns
    -------
    jax.Array
        The ESS divided by N (a scalar).
    """
    return jnp.exp(2 * logsumexp(log_weights) - logsumexp(2 * log_weights)) / log_weights.size


def run_chains(algorithm: SamplingAlgorithm, key, initial_positions, num_steps: int, n_devices: int = 1):
    """`num_steps` transitions of every chain (vmapped over chains, scanned over steps).

    On `n_devices` devices, each runs its block of chains.

    Parameters
    ----------
    algorithm
        The sampler (`init(position, key)`, `step(key, state)`).
    key
        The JAX random key of the run; split into one key per chain.
    initial_positions
        The chains' initial positions, shape (chains, dim).
    num_steps
        The number of transitions of every chain.
    n_devices
        The number of devices the chains are split over (equal blocks; 1: unsharded).

    Returns
    -------
    tuple
        (final_state, (states, infos)) with leading axes (chains, num_steps).
    """

    def one_chain(key, position):
        key_init, key_steps = jax.random.split(key)

        def body(state, k):
            state, info = algorithm.step(k, state)
            return state, (state, info)

        return jax.lax.scan(body, algorithm.init(position, key_init), jax.random.split(key_steps, num_steps))

    return devices.shard(jax.vmap(one_chain), n_devices)(
        jax.random.split(key, initial_positions.shape[0]), initial_positions
    )


def self_normalised_mean(values, log_weights) -> jax.Array:
    """Self-normalised importance estimate sum_i wbar_i f(x_i), wbar = softmax(log w); values (n, ...).

    Parameters
    ----------
    values
        f(x_i) of the n draws, shape (n, ...).
    log_weights
        Their n importance log weights.

    Returns
    -------
    jax.Array
        The estimate, the shape of `values` without its first axis.
    """
    wbar = jax.nn.softmax(log_weights)
    return jnp.tensordot(wbar, values, axes=1)
