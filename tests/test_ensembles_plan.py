"""The ensemble job graph (which member starts from which; shared members) and the config section."""
import copy
import re

import pytest
import yaml

from conftest import REPO
from transferscope.config import ConfigError, validate_config
from transferscope.ensembles.plan import EnsemblePlan
from transferscope.ensembles.variants import VariantError, parse_variant, variant_name

PATTERNS = dict(member_pattern="E/{target}/{source}/{arch}/seed{seed}/rep{rep}/{method}/member{k}.pt",
                data_pattern="D/{dataset}.pt", checkpoint_pattern="P/{source}/{arch}/seed{seed}/{ckpt}.pt",
                tables=["T/ensembles.csv", "T/ensembles_summary.csv"])


def default_config():
    with open(f"{REPO}/config.yaml") as fh:
        return validate_config(yaml.safe_load(fh))


def member(method, k, seed=1, rep=1):
    return f"E/digits59_ens/digits04/small_resnet/seed{seed}/rep{rep}/{method}/member{k}.pt"


def plan_with(**changes):
    cfg = default_config()
    cfg["ensembles"].update(changes)
    return EnsemblePlan(validate_config(cfg), **PATTERNS)


def test_owner_shares_member1_and_the_plain_first_cycle():
    owner = EnsemblePlan(default_config(), **PATTERNS).owner
    assert owner("sse_rtd", 1) == ("first", 1) and owner("local_de", 1) == ("first", 1)
    assert owner("sse", 2) == owner("starsse_wo", 2) == owner("starsse_ce", 2) == ("starsse", 2)
    assert owner("sse_mse", 2) == ("sse_mse", 2) and owner("starsse_freeze-stage1", 2) == ("starsse_freeze-stage1", 2)
    assert owner("sse", 3) == ("sse", 3)


def test_variant_names_are_canonical():
    assert parse_variant("sse_mse[beta=20]") == ("sse_mse", {"beta": 20})
    assert parse_variant(" starsse[cycle_epochs=3, cycle_lr=0.1] ") == ("starsse", {"cycle_epochs": 3, "cycle_lr": 0.1})
    assert parse_variant("starsse_wo[detached=true,form=displacement]")[1] == {"detached": True, "form": "displacement"}
    assert variant_name("starsse", {"cycle_lr": 0.1, "cycle_epochs": 3}) == "starsse[cycle_epochs=3,cycle_lr=0.1]"
    assert variant_name("sse", {}) == "sse"
    for bad in ("sse[]", "sse[beta]", "sse[beta=1,beta=2]", "SSE", "sse[beta=[1]]"):
        with pytest.raises(VariantError):
            parse_variant(bad)


def test_a_beta_sweep_is_one_variant_per_value_with_its_own_members():
    plan = plan_with(methods=["sse_mse", "sse_mse[beta=5]", "sse_mse[beta=20]", "starsse_wo[form=displacement]"])
    assert plan.methods() == ["sse_mse", "sse_mse[beta=5]", "sse_mse[beta=20]", "starsse_wo[form=displacement]"]
    betas = [plan.spec("digits59_ens", 1, m, 3)["mse"]["beta"] for m in plan.methods()[:3]]
    assert betas == [plan.ens["mse"]["beta"], 5, 20]
    files = [plan.member_file("digits59_ens", 1, m, 3) for m in plan.methods()]
    assert len(set(files)) == 4 and files[1] == member("sse_mse[beta=5]", 3)
    assert plan.inputs("digits59_ens", 1, "sse_mse[beta=5]", 3)["init"] == member("sse_mse[beta=5]", 2)
    # the WO variant still shares StarSSE's plain member 2; its cycles use the displacement form
    assert plan.owner("starsse_wo[form=displacement]", 2) == ("starsse", 2)
    assert plan.spec("digits59_ens", 1, "starsse_wo[form=displacement]", 3)["wo"]["form"] == "displacement"
    assert re.fullmatch(plan.method_pattern(), "sse_mse[beta=5]") and not re.fullmatch(plan.method_pattern(), "sse_mse[beta=7]")


def test_a_cycle_variant_trains_its_own_second_member():
    plan = plan_with(methods=["sse", "sse[cycle_lr=0.1]", "starsse_freeze[level=stage1,cycle_lr=0.2]"])
    assert plan.owner("sse[cycle_lr=0.1]", 2) == ("sse[cycle_lr=0.1]", 2)
    assert plan.spec("digits59_ens", 1, "sse[cycle_lr=0.1]", 2)["recipe"]["lr"] == 0.1
    frozen = plan.spec("digits59_ens", 1, "starsse_freeze[cycle_lr=0.2,level=stage1]", 2)
    assert frozen["freeze"]["level"] == "stage1" and frozen["recipe"]["lr"] == 0.2
    assert plan.methods()[-1] == "starsse_freeze[cycle_lr=0.2,level=stage1]"  # a level: no expansion


def test_replicates_derive_every_stream_from_seed_and_replicate():
    plan = plan_with(replicates=3)
    assert len(plan.runs()) == 2 * 3 * 10 and {r["replicate"] for r in plan.runs()} == {1, 2, 3}
    seeds = {plan.spec("digits59_ens", 1, "local_de", 2, rep)["member_seed"] for rep in (1, 2, 3)}
    assert len(seeds) == 3
    assert plan.spec("digits59_ens", 1, "first", 1, 1) == EnsemblePlan(default_config(), **PATTERNS).spec(
        "digits59_ens", 1, "first", 1)  # replicate 1 = the run without replicates
    assert plan.inputs("digits59_ens", 1, "sse", 3, 2)["init"] == member("starsse", 2, rep=2)
    orders = [[plan.pretrain_seed(1, "global_de", k, rep) for k in range(2, 6)] for rep in (1, 2, 3)]
    assert orders[0] == [2, 3, 4, 5] and all(sorted(o) == [2, 3, 4, 5] for o in orders) and len(set(map(tuple, orders))) > 1


def test_default_plan_graph():
    plan = EnsemblePlan(default_config(), **PATTERNS)
    assert plan.enabled and plan.members == 5
    assert plan.methods() == ["local_de", "global_de", "sse", "starsse", "sse_mse", "sse_rtd",
                              "starsse_freeze-stage1", "starsse_freeze-stage2", "starsse_wo", "starsse_ce"]
    m1 = member("first", 1)
    # member 1: ordinary fine-tuning of the chosen checkpoint
    assert plan.inputs("digits59_ens", 1, "first", 1) == {"target": "D/digits59_ens.pt",
                                                          "init": "P/digits04/small_resnet/seed1/final.pt"}
    # SSE: a chain; StarSSE and its variants: a star around member 1
    assert plan.inputs("digits59_ens", 1, "sse", 4)["init"] == member("sse", 3)
    assert plan.inputs("digits59_ens", 1, "sse", 3)["init"] == member("starsse", 2)
    assert plan.inputs("digits59_ens", 1, "sse_mse", 2)["init"] == m1
    assert plan.inputs("digits59_ens", 1, "sse_rtd", 5)["member1"] == m1
    for method in ("starsse", "starsse_freeze-stage2", "starsse_wo", "starsse_ce"):
        assert plan.inputs("digits59_ens", 1, method, 5)["init"] == m1
    assert plan.inputs("digits59_ens", 1, "starsse_ce", 4)["earlier"] == [member("starsse", 2), member("starsse_ce", 3)]
    # Global DE: member k from the k-1-th other pre-training seed
    assert [plan.pretrain_seed(2, "global_de", k) for k in range(1, 6)] == [2, 1, 3, 4, 5]
    assert plan.inputs("digits59_ens", 2, "global_de", 2)["init"] == "P/digits04/small_resnet/seed1/final.pt"
    assert plan.inputs("digits59_ens", 2, "local_de", 3)["init"] == "P/digits04/small_resnet/seed2/final.pt"
    # params carry only what shapes the member's weights
    spec = plan.spec("digits59_ens", 1, "sse_rtd", 3)
    assert "rtd" in spec and not {"mse", "wo", "ce", "freeze"} & set(spec)
    assert spec["recipe"]["lr"] == 2 * plan.ens["recipe"]["lr"]
    assert spec["recipe"]["epochs"] == plan.ens["recipe"]["epochs"] // 2
    assert plan.spec("digits59_ens", 1, "starsse_freeze-stage1", 2)["freeze"] == {"level": "stage1", "bn_frozen": True}
    # one job per distinct member: 1 + (K-1) per method, minus the shared second members of sse, wo, ce
    runs = plan.runs()
    assert len(runs) == 2 * 10
    distinct = {p for run in runs for p in run["weights"]}
    assert len(distinct) == 2 * (1 + 10 * 4 - 3)
    assert plan.targets() == ["T/ensembles.csv", "T/ensembles_summary.csv"]


def test_disabled_or_absent_section_plans_nothing():
    cfg = default_config()
    cfg["ensembles"]["enabled"] = False
    assert EnsemblePlan(cfg, **PATTERNS).targets() == [] and EnsemblePlan(cfg, **PATTERNS).runs() == []
    del cfg["ensembles"]
    assert EnsemblePlan(cfg, **PATTERNS).targets() == []


@pytest.mark.parametrize("edit, message", [
    (lambda e: e.update(global_seeds=[1, 2, 3]), "ensembles.global_seeds"),
    (lambda e: e["freeze"].update(levels=["fc"]), "ensembles.freeze.levels[0]"),
    (lambda e: e.update(targets=["nope"]), "ensembles.targets[0]"),
    (lambda e: e.update(checkpoint="epoch7"), "ensembles.checkpoint"),
    (lambda e: e.update(arch="mnist_cnn", methods=["sse_mse"]), "sse_mse needs the tap"),
    (lambda e: e.update(methods=["sse", "bagging"]), "ensembles.methods"),
    (lambda e: e.update(members=1), "ensembles.members"),
    (lambda e: e["rtd"].update(points=17), "ensembles.rtd.points: 17 is more than a batch holds"),
    (lambda e: e.update(methods=["sse_mse[gamma=2]"]), r"ensembles.methods[0]: sse_mse has no hyperparameter gamma"),
    (lambda e: e.update(methods=["sse_mse[beta=-1]"]), r"ensembles.methods[0]: sse_mse[beta=-1]: -1 is less than"),
    (lambda e: e.update(methods=["local_de[cycle_lr=0.1]"]), "local_de has no hyperparameter cycle_lr"),
    (lambda e: e.update(methods=["sse_mse[beta=5]", "sse_mse[beta=5.0]"]), "two entries name the same variant"),
    (lambda e: e.update(methods=["sse_mse[beta=5"]), "ensembles.methods[0]"),
    (lambda e: e.update(replicates=0), "ensembles.replicates"),
    (lambda e: e.update(methods=["sse_rtd[points=17]"]), "16. .variant sse_rtd[points=17]"),  # names the variant
    (lambda e: e.update(methods=["starsse", "starsse[members=5]"]), "members=5 is ensembles.members already"),
    (lambda e: e.update(reference={"rows": {"starsse": {"ens_acc": 87.4}, "ssee": {"ens_acc": 87.1}}}),
     "ensembles.reference.rows.ssee: not a configured variant"),
    (lambda e: e.update(methods=["sse"], reference={"rows": {"sse": {"ens_acc": 87.1}}}),
     "'starsse' is not a configured variant"),
    (lambda e: e.update(methods=["sse", "starsse"], reference={"rows": {"sse": {"ens_acc": 87.1}}}),
     "'starsse' has no row"),
    (lambda e: e.update(methods=["starsse", "starsse[members=7]"],
                        reference={"rows": {"starsse": {"ens_acc": 1}, "starsse[members=7]": {"ens_acc": 2}}}),
     "ensembles.reference.rows.starsse[members=7]: 7 members, the baseline 'starsse' 5"),
])
def test_bad_ensemble_sections_name_the_key(edit, message):
    with open(f"{REPO}/config.yaml") as fh:
        cfg = yaml.safe_load(fh)
    edit(cfg["ensembles"])
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_config(copy.deepcopy(cfg))


def test_thesis_b_config_is_valid():
    with open(f"{REPO}/configs/thesis_b.yaml") as fh:
        cfg = validate_config(yaml.safe_load(fh))
    ens = cfg["ensembles"]
    assert ens["arch"] == "resnet50" and ens["members"] == 5 and ens["recipe"]["lr"] == 0.05
    assert ens["recipe"]["epochs"] == 25 and ens["cycle_epochs"] == 12 and ens["cycle_lr"] == 0.1
    # the thesis' 256 RTD points (the whole batch), three replicates, and the cheap RTD as a named variant
    assert ens["rtd"]["points"] is None and ens["recipe"]["batch_size"] == 256 and ens["replicates"] == 3
    plan = EnsemblePlan(cfg, **PATTERNS)
    assert plan.spec("cifar100_224", 1, "sse_rtd[points=64]", 3)["rtd"]["points"] == 64
    assert plan.spec("cifar100_224", 1, "sse_rtd", 3)["rtd"]["points"] is None


def test_members_override_lengthens_a_run_and_reuses_the_shorter_runs_files():
    plan = plan_with(methods=["starsse", "starsse[members=15]", "local_de[members=15]", "sse_mse[beta=5,members=7]"])
    assert plan.members_of("starsse") == 5 and plan.members_of("starsse[members=15]") == 15
    runs = {run["method"]: run for run in plan.runs() if run["seed"] == 1}
    long, short = runs["starsse[members=15]"], runs["starsse"]
    assert len(long["probs"]) == 15 and long["probs"][:5] == short["probs"]  # member k does not depend on K
    assert long["weights"][14] == member("starsse", 15)
    # Local DE without a plain local_de entry: its members live under local_de all the same
    assert runs["local_de[members=15]"]["weights"][1:3] == [member("local_de", 2), member("local_de", 3)]
    assert plan.spec("digits59_ens", 1, "local_de", 15)["role"] == "finetune"
    assert len(runs["sse_mse[beta=5,members=7]"]["probs"]) == 7
    assert plan.inputs("digits59_ens", 1, "sse_mse[beta=5]", 7)["init"] == member("sse_mse[beta=5]", 6)
    assert re.fullmatch(plan.method_pattern(), "local_de") and not re.fullmatch(plan.method_pattern(),
                                                                                "starsse[members=15]")


def test_members_override_is_checked_like_the_members_key():
    cfg = default_config()
    cfg["ensembles"]["methods"] = ["starsse[members=1]"]
    with pytest.raises(ConfigError, match=r"starsse\[members=1\]"):
        validate_config(cfg)
    cfg["ensembles"]["methods"] = ["global_de[members=6]"]  # 5 global seeds give at most 5 members
    with pytest.raises(ConfigError, match="global_de with 6 members"):
        validate_config(cfg)


def test_member_spec_is_typed_and_round_trips_through_params():
    from transferscope.ensembles.spec import MemberSpec

    plan = plan_with(methods=["sse_rtd", "starsse_freeze", "local_de"])
    for method, k in (("first", 1), ("sse_rtd", 3), ("starsse_freeze-stage1", 2), ("local_de", 4)):
        spec = plan.member_spec("digits59_ens", 1, method, k)
        assert MemberSpec.from_params(spec.to_params()) == spec and plan.spec("digits59_ens", 1, method, k) == \
            spec.to_params()
    rtd = plan.member_spec("digits59_ens", 1, "sse_rtd", 3)
    assert rtd.role == "cycle" and rtd.start == "previous" and set(rtd.terms) == {"rtd"} and rtd.freeze is None
    assert plan.member_spec("digits59_ens", 1, "starsse_freeze-stage1", 2).freeze == {"level": "stage1",
                                                                                      "bn_frozen": True}
    params = rtd.to_params()
    with pytest.raises(ValueError, match="unknown key"):
        MemberSpec.from_params({**params, "betta": 1})
    with pytest.raises(ValueError, match="starts from one of"):
        MemberSpec.from_params({**params, "start": "checkpoint"})
    with pytest.raises(ValueError, match="unknown loss term"):
        MemberSpec(**{**{k: v for k, v in params.items() if k != "rtd"}, "terms": {"rdt": {}}})
