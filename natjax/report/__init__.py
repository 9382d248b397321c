"""`python -m natjax.report [--check]`: the README's and docs' results and performance tables,
generated from the results store (`results/`, written by the commands' `--record`).

`catalogue` names every table and the records it reads; `tables` renders one (mean ± sample
std and n over the seeds, the provenance in a footnote); `stats` holds the arithmetic;
`documents` puts each table between its markers in the Markdown files, or says which differ.
"""
