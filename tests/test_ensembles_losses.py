"""Gradient behaviour of each extra loss of thesis B (MSE, RTD, weight orthogonalisation, diversity CE)."""
import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from transferscope.ensembles.losses import (cross_matrices, feature_distances, flat_state_weights, mse_to_reference,
                                            persistence_pairs, prev_ce_loss, rtd_loss, squared_cosine, wo_loss)
from transferscope.training.optim import PlainSGD


def test_mse_pulls_towards_the_reference_only():
    torch.manual_seed(0)
    ref = torch.randn(6, 4, requires_grad=True)
    z = torch.randn(6, 4, requires_grad=True)
    loss = mse_to_reference(z, ref)
    loss.backward()
    assert torch.allclose(loss, ((z - ref) ** 2).mean())
    assert torch.allclose(z.grad, 2 * (z - ref).detach() / z.numel())
    assert ref.grad is None  # the reference (member 1) is never trained
    same = ref.detach().clone().requires_grad_(True)
    mse_to_reference(same, ref).backward()
    assert torch.count_nonzero(same.grad) == 0


def test_cross_matrices_blocks():
    P = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    Q = torch.tensor([[0.0, 3.0], [3.0, 0.0]])
    M, M1 = cross_matrices(P, Q, immovable=1)
    _, M2 = cross_matrices(P, Q, immovable=2)
    assert torch.equal(M[:2, :2], torch.zeros(2, 2)) and torch.equal(M[2:, :2], P) and torch.equal(M[:2, 2:], P.T)
    assert torch.equal(M[2:, 2:], torch.minimum(P, Q))
    assert torch.equal(M1[2:, 2:], Q) and torch.equal(M2[2:, 2:], P)


def test_persistence_pairs_are_edges_with_the_bar_values():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    D = np.linalg.norm(x[:, None] - x[None], axis=-1)
    pairs = persistence_pairs(D)
    import gudhi

    tree = gudhi.RipsComplex(distance_matrix=D).create_simplex_tree(max_dimension=2)
    tree.compute_persistence(homology_coeff_field=2)
    bars = np.sort(tree.persistence_intervals_in_dimension(1), axis=0)
    got = np.sort(np.stack([D[pairs[:, 0], pairs[:, 1]], D[pairs[:, 2], pairs[:, 3]]], 1), axis=0)
    assert len(pairs) == len(bars) > 0 and np.allclose(got, bars)


def test_persistence_pairs_of_an_r_cross_matrix_give_gudhis_bars_with_either_backend():
    """The loss's matrices have a block of zeros (ties); the bars, not the tied edges, must agree with gudhi's own
    intervals, for both backends and on repeated calls."""
    import gudhi

    backends = ["gudhi"] + (["giotto"] if importlib.util.find_spec("gph") else [])
    g = torch.Generator().manual_seed(3)
    reference = torch.randn(48, 64, generator=g).relu()
    noisy = (reference + 0.3 * torch.randn(48, 64, generator=g)).relu()
    M = cross_matrices(feature_distances(reference), feature_distances(noisy), immovable=1)[0].double().numpy()
    tree = gudhi.RipsComplex(distance_matrix=M).create_simplex_tree(max_dimension=2)
    tree.compute_persistence(homology_coeff_field=2)
    bars = tree.persistence_intervals_in_dimension(1)
    bars = np.sort(bars[bars[:, 1] > bars[:, 0]], axis=0)
    for backend in backends * 3:
        pairs = persistence_pairs(M, backend=backend)
        got = np.sort(np.stack([M[pairs[:, 0], pairs[:, 1]], M[pairs[:, 2], pairs[:, 3]]], 1), axis=0)
        assert len(got) == len(bars) > 0 and np.allclose(got, bars)


def test_rtd_is_zero_for_identical_features_and_differentiable_otherwise():
    torch.manual_seed(0)
    ref = torch.randn(16, 8)
    same = ref.clone().requires_grad_(True)
    loss = rtd_loss(same, ref)
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(same.grad) == 0
    z = (ref + 0.7 * torch.randn(16, 8)).requires_grad_(True)
    ref_param = ref.clone().requires_grad_(True)
    loss = rtd_loss(z, ref_param, card=10)
    loss.backward()
    assert loss.item() > 0 and torch.isfinite(z.grad).all() and z.grad.abs().sum() > 0
    assert ref_param.grad is None  # gradient flows to the current features only
    # a small step against the gradient lowers the loss (the term pulls towards the reference's topology)
    with torch.no_grad():
        z2 = z - 0.05 * z.grad / z.grad.norm()
    assert rtd_loss(z2, ref, card=10).item() < loss.item()


def test_rtd_of_a_single_point_is_zero():
    z = torch.randn(1, 3, requires_grad=True)
    loss = rtd_loss(z, torch.randn(1, 3))
    loss.backward()
    assert loss.item() == 0.0 and torch.count_nonzero(z.grad) == 0


def test_feature_distances_have_no_nan_gradient_on_duplicates():
    z = torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]], requires_grad=True)
    D = feature_distances(z)
    D.sum().backward()
    assert torch.allclose(D[0, 2], torch.tensor(5.0).sqrt() / 2 ** 0.5) and torch.isfinite(z.grad).all()


def _tiny_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))


def test_weight_orthogonality_with_gradient_and_detached_noop():
    model = _tiny_model()
    ref = flat_state_weights(_tiny_model()) + 0.1
    live = wo_loss(model, ref, detached=False)
    w = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    assert torch.allclose(live, (w @ ref / (w.norm() * ref.norm())) ** 2)
    live.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    model.zero_grad(set_to_none=True)
    dead = wo_loss(model, ref, detached=True)
    assert torch.allclose(dead, live.detach()) and not dead.requires_grad  # same value, no gradient (original)
    # a step against the gradient makes the weights more orthogonal to the reference
    opt = PlainSGD(model.parameters(), lr=0.5, momentum=0.0)
    wo_loss(model, ref).backward()
    opt.step()
    assert wo_loss(model, ref).item() < live.item()
    assert squared_cosine(ref, ref).item() == pytest.approx(1.0)


def test_diversity_loss_versions_and_empty_mask_guard():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, requires_grad=True)
    logp = F.log_softmax(logits, 1)
    labels = torch.tensor([0, 1, 2, 0])
    prev = torch.tensor([0, 2, 2, 1])  # the earlier member is wrong on samples 1 and 3
    v1 = prev_ce_loss(logp, prev, labels, version=1)
    assert torch.allclose(v1, F.nll_loss(logp, prev))
    v2 = prev_ce_loss(logp, prev, labels, version=2)
    assert torch.allclose(v2, F.nll_loss(logp[[1, 3]], prev[[1, 3]]))
    # with beta < 0, a descent step lowers the probability of the earlier member's (wrong) predictions
    (-0.5 * v2).backward()
    with torch.no_grad():
        after = F.log_softmax(logits - 1.0 * logits.grad, 1)
    assert (after[[1, 3], prev[[1, 3]]] < logp.detach()[[1, 3], prev[[1, 3]]]).all()
    assert torch.equal(logits.grad[[0, 2]], torch.zeros(2, 3))  # version 2 ignores samples it got right
    # empty mask (the earlier member is always right): 0 and a zero gradient, not NaN
    logits.grad = None
    empty = prev_ce_loss(F.log_softmax(logits, 1), labels, labels, version=2)
    empty.backward()
    assert empty.item() == 0.0 and torch.isfinite(logits.grad).all() and torch.count_nonzero(logits.grad) == 0
    with pytest.raises(ValueError):
        prev_ce_loss(logp, prev, labels, version=3)


def test_plain_sgd_matches_torch_sgd_bit_for_bit():
    a, b = _tiny_model(), _tiny_model()
    a[0].weight.requires_grad_(False)
    b[0].weight.requires_grad_(False)
    opt_a = PlainSGD(a.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    opt_b = torch.optim.SGD([p for p in b.parameters() if p.requires_grad], lr=0.1, momentum=0.9,
                            weight_decay=5e-4)
    torch.manual_seed(1)
    for step in range(4):
        x, y = torch.randn(8, 3), torch.randint(0, 2, (8,))
        for model, opt in ((a, opt_a), (b, opt_b)):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            if step == 2:
                opt.param_groups[0]["lr"] = 0.05
            opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    state = opt_a.state_dict()
    fresh = PlainSGD(a.parameters(), lr=1.0)
    fresh.load_state_dict(state)
    assert fresh.param_groups[0]["lr"] == 0.05 and all(torch.equal(u, v) for u, v in zip(fresh.buffers, opt_a.buffers))


def test_rtd_term_uses_exactly_the_configured_number_of_points(monkeypatch):
    from transferscope.ensembles.losses import member as member_loss
    from transferscope.ensembles.losses import similarity
    from transferscope.models import build_model

    seen = []
    monkeypatch.setattr(similarity, "rtd_loss", lambda f, r, card, p, backend: seen.append(len(f)) or f.sum() * 0)
    torch.manual_seed(0)
    model, reference = build_model("small_resnet", 3, 1, 12), build_model("small_resnet", 3, 1, 12)
    x, y = torch.randn(8, 1, 12, 12), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    for points, expected in ((5, 5), (None, 8)):
        spec = {"rtd": {"beta": 0.1, "card": 10, "p": 1.0, "points": points, "backend": "gudhi"}}
        member_loss.MemberLoss(spec, reference=reference)(model, x, y)
        assert seen[-1] == expected


def test_a_new_loss_term_is_one_module_and_one_registry_line(monkeypatch):
    """What README "Extending" shows: a term (compute + options) and one line registering it; the schema section, the
    member loss, the member job's loading and a method using it follow from the registry."""
    import copy

    import yaml

    from conftest import REPO
    from transferscope.config import load_schema, validate_config
    from transferscope.ensembles import plan
    from transferscope.ensembles.losses import member as member_loss
    from transferscope.ensembles.losses import registry
    from transferscope.ensembles.losses.term import LossTerm
    from transferscope.models import build_model

    feature_norm = LossTerm(
        "feature_norm", lambda inputs, options: (inputs.features ** 2).mean(), description="+ beta * mean squared "
        "pooled feature", needs=lambda options: ("features",),
        options={"beta": {"type": "number", "default": 0.5, "description": "Weight."}})
    monkeypatch.setattr(registry, "TERMS", dict(registry.TERMS))
    registry.register(feature_norm)  # the one registry line
    monkeypatch.setitem(plan.METHODS, "starsse_fn", plan.EnsembleMethod("starsse_fn", "member1", "StarSSE–FN",
                                                                        term="feature_norm"))

    assert load_schema()["properties"]["ensembles"]["properties"]["feature_norm"]["properties"]["beta"]["default"] == 0.5
    with open(f"{REPO}/config.yaml") as fh:
        cfg = yaml.safe_load(fh)
    cfg["ensembles"]["methods"] = ["starsse", "starsse_fn", "starsse_fn[beta=2]"]
    cfg = validate_config(copy.deepcopy(cfg))
    assert cfg["ensembles"]["feature_norm"] == {"beta": 0.5}  # the section with its defaults
    ens_plan = plan.EnsemblePlan(cfg, member_pattern="E/{target}/{source}/{arch}/seed{seed}/rep{rep}/{method}/m{k}.pt",
                                 data_pattern="D/{dataset}.pt", checkpoint_pattern="P/{source}/{arch}/{seed}/{ckpt}.pt")
    spec = ens_plan.spec("digits59_ens", 1, "starsse_fn[beta=2]", 3)
    assert spec["feature_norm"] == {"beta": 2} and registry.spec_needs(spec) == {"features"}
    assert "member1" in ens_plan.inputs("digits59_ens", 1, "starsse_fn", 3)

    torch.manual_seed(0)
    model = build_model("small_resnet", 3, 1, 12)
    x, y = torch.randn(6, 1, 12, 12), torch.tensor([0, 1, 2, 0, 1, 2])
    loss, logp = member_loss.MemberLoss({"feature_norm": {"beta": 2.0}})(model, x, y)  # no reference needed
    out = model(x, taps=True)
    expected = torch.nn.functional.nll_loss(out["out"], y) + 2.0 * (out["pool"] ** 2).mean()
    assert torch.allclose(loss, expected)


def test_a_loss_term_may_not_take_a_reserved_name(monkeypatch):
    from transferscope.ensembles.losses import registry
    from transferscope.ensembles.losses.term import LossTerm

    monkeypatch.setattr(registry, "TERMS", dict(registry.TERMS))
    with pytest.raises(ValueError, match="may not be named 'freeze'"):
        registry.register(LossTerm("freeze", lambda inputs, options: None, options={}, description="",
                                   needs=lambda options: ()))


def test_the_giotto_backend_without_giotto_ph_is_a_config_error_naming_the_key(monkeypatch):
    import importlib.util as util

    from transferscope.ensembles.losses import similarity

    real = util.find_spec
    monkeypatch.setattr(util, "find_spec", lambda name, *a: None if name == "gph" else real(name, *a))
    ens = {"recipe": {"batch_size": 16}}
    problems = similarity._rtd_check({"points": 8, "backend": "giotto"}, ens)
    assert len(problems) == 1 and "ensembles.rtd.backend" in problems[0] and "giotto-ph" in problems[0]
    assert similarity._rtd_check({"points": 8, "backend": "gudhi"}, ens) == []
