# One rule family draws every figure of the table in transferscope/plots/figures.py: rule figure_<name> reads only
# tables (or the RDM model's activations) and lists the plotting module it uses as an input, so editing that module
# (or a figures: option, via params) reruns exactly the figures drawn with it, never training.


for fig in FIGURE_TABLE:

    rule:
        name:
            f"figure_{fig.name}"
        input:
            **figure_inputs(fig),
        output:
            report(figure(fig.name), caption=f"../{fig.caption}", category=fig.category),
        log:
            f"{LOGS}/figures/{fig.name}.log",
        benchmark:
            f"{BENCH}/figures/{fig.name}.tsv"
        conda:
            "../envs/transferscope.yaml"
        params:
            **figure_params(fig),
        script:
            "../workflow_scripts/plot.py"
