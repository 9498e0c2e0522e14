"""Rule report_table_<name>: a headline table (CSV) -> a standalone HTML page for the Snakemake report."""
from transferscope.io import write_text
from transferscope.report_tables import table_html
from transferscope.runtime import setup_job

smk = snakemake  # noqa: F821 - injected by Snakemake
log = setup_job(smk.log[0], 1)
write_text(smk.output[0], table_html(smk.input.table, name=smk.params.table))
log.info("%s -> %s", smk.input.table, smk.output[0])
