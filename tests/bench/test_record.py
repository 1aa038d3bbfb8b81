from bench import record


def _ident(**kw):
    base = dict(
        target_name="funnel",
        target_params={"dim": 10},
        sampler_name="nuts",
        sampler_params={"max_num_doublings": 10},
        chains=4,
        draws=100,
        warmup=100,
        seed=0,
    )
    return record.identity(**(base | kw))


def test_cell_id_is_a_function_of_the_identity():
    assert record.cell_id(_ident()) == record.cell_id(_ident())
    others = [
        _ident(seed=1),
        _ident(target_params={"dim": 11}),
        _ident(sampler_params={"max_num_doublings": 9}),
        _ident(draws=101),
    ]
    assert len({record.cell_id(i) for i in others} | {record.cell_id(_ident())}) == 5


def test_identity_names_precision_and_device_and_provenance_has_versions():
    ident = _ident()
    assert ident["precision"] == "float64" and ident["device"].startswith("cpu")
    assert ident["target.dim"] == 10 and ident["sampler.max_num_doublings"] == 10
    prov = record.provenance()
    assert prov["version.jax"] and prov["version.blackjax"] and prov["version.arviz"]


def _user_target(log_prob, name="mine"):
    from targets.base import Target, coordinate_statistic, uniform_initial

    return Target(
        name=name,
        dim=2,
        log_prob=log_prob,
        initial=uniform_initial(2, -2.0, 2.0),
        statistics=(coordinate_statistic(0, "x[0]", 0.0, 1.0),),
    )


def test_a_user_targets_cell_id_follows_its_log_density_a_builtins_is_unchanged():
    import jax.numpy as jnp

    from bench.run import Budget, cell_identity
    from bench.samplers import get_sampler
    from targets.registry import make_target

    nuts, budget = get_sampler("nuts"), Budget(2, 20, 20)

    def cid(target):
        return record.cell_id(cell_identity(target, nuts, {}, 0, budget))

    first = _user_target(lambda x: -0.5 * jnp.sum(x**2))
    same = _user_target(lambda x: -0.5 * jnp.sum(x**2))  # the same target, built again
    fixed = _user_target(lambda x: -0.5 * jnp.sum(x**2) / 1.5)  # same name, another log density
    assert cid(first) == cid(same) and cid(first) != cid(fixed)
    # a hand-built target named like a built-in is fingerprinted too
    assert record.target_fingerprint(_user_target(lambda x: -0.5 * jnp.sum(x**2), name="gaussian")) is not None
    # built-ins keep their ids: no fingerprint in the identity
    builtin = make_target("gaussian", dim=2)
    assert record.target_fingerprint(builtin) is None
    assert "target.fingerprint" not in cell_identity(builtin, nuts, {}, 0, budget)


def test_provenance_names_the_lock_file_by_its_hash():
    import hashlib
    import pathlib

    lock = pathlib.Path(record.__file__).resolve().parents[1] / "uv.lock"
    prov = record.provenance()
    assert prov["lock_hash"] == hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    assert prov["lock_matches"] in (True, False)


def test_lock_provenance_compares_the_installed_versions_with_the_locked(tmp_path):
    import hashlib

    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n[[package]]\nname = "jax"\nversion = "0.12.0.1"\n'
        '[[package]]\nname = "ott-jax"\nversion = "0.6.0"\n[[package]]\nname = "ott-jax"\nversion = "0.5.0"\n'
    )
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12]
    assert record.lock_provenance(lock, {"jax": "0.12.0.1", "ott-jax": "0.5.0", "pip": "26.3"}) == (digest, True)
    assert record.lock_provenance(lock, {"jax": "0.11.2", "ott-jax": "0.6.0"}) == (digest, False)
    assert record.lock_provenance(tmp_path / "missing.lock", {"jax": "0.12.0.1"}) == (None, None)
