from bench import record


def _ident(**kw):
    base = dict(target_name="funnel", target_params={"dim": 10}, sampler_name="nuts",
                sampler_params={"max_num_doublings": 10}, chains=4, draws=100, warmup=100, seed=0)
    return record.identity(**(base | kw))


def test_cell_id_is_a_function_of_the_identity():
    assert record.cell_id(_ident()) == record.cell_id(_ident())
    others = [_ident(seed=1), _ident(target_params={"dim": 11}), _ident(sampler_params={"max_num_doublings": 9}),
              _ident(draws=101)]
    assert len({record.cell_id(i) for i in others} | {record.cell_id(_ident())}) == 5


def test_identity_names_precision_and_device_and_provenance_has_versions():
    ident = _ident()
    assert ident["precision"] == "float64" and ident["device"].startswith("cpu")
    assert ident["target.dim"] == 10 and ident["sampler.max_num_doublings"] == 10
    prov = record.provenance()
    assert prov["version.jax"] and prov["version.blackjax"] and prov["version.arviz"]
