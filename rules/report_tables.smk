# The headline tables as HTML pages in the report: Snakemake's report shows a .csv only as a download link, an .html
# page in a frame. One rule per row of transferscope/report_tables.py (report_table_<name>), so each page has its own
# caption (report/table_<name>.rst) and category; a page is made exactly when the run makes its CSV. Include this
# file after every rule file whose targets all_targets() and ensemble_targets() list.
from transferscope import report_tables

REPORT_TABLE_HTML = f"{TABLES}/html/{{name}}.html"
# the pages of this run (rule all), from the CSVs it makes
report_table_targets = lambda: [
    REPORT_TABLE_HTML.format(name=name) for name in report_tables.tables_in(all_targets() + ensemble_targets())
]


for page in report_tables.REPORT_TABLES.values():

    rule:
        """Render one headline table (CSV) as an HTML page for the report."""
        name:
            f"report_table_{page.name}"
        input:
            table=f"{TABLES}/{page.name}.csv",
            # the renderer: editing it redraws the pages, nothing else
            module=os.path.join(PACKAGE_DIR, "report_tables.py"),
        output:
            report(
                REPORT_TABLE_HTML.format(name=page.name),
                caption=f"../{page.caption}",
                category=page.category,
            ),
        log:
            f"{LOGS}/tables/html/{page.name}.log",
        benchmark:
            f"{BENCH}/tables/html/{page.name}.tsv"
        conda:
            "../envs/transferscope.yaml"
        params:
            table=page.name,
        script:
            "../workflow_scripts/report_table.py"
