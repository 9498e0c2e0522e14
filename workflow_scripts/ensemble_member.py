"""Rule ensemble_member: one member of an ensemble -> member{k}.pt (weights) + member{k}.npz (test probabilities)."""
from transferscope.ensembles.members import run_member
from transferscope.runtime import claim_device, setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
wc = smk.wildcards
setup_job(smk.log[0], smk.threads)
claim_device(smk.params.device)  # own GPU slot (CUDA_VISIBLE_DEVICES) before CUDA is touched
run_member(
    dict(smk.params.spec),
    target_path=smk.input.target,
    init_path=getattr(smk.input, "init", None),  # None: spec["weights"] names a weights file
    member1_path=getattr(smk.input, "member1", None),
    earlier_paths=list(getattr(smk.input, "earlier", [])),
    out_weights=smk.output.weights,
    out_probs=smk.output.probs,
    keys={"target": wc.target, "source": wc.source, "arch": wc.arch, "seed": int(wc.seed), "replicate": int(wc.rep)},
    device=smk.params.device,
    cuda=smk.params.cuda,
)
