"""Reports of a run (`rig.run/1` result.json) and the failure workflows built on them.

Layer 3 (docs/design.md), beside rig.api: renderers are pure (data in, text out) and a thin
``write_*`` function does each file. JUnit XML, KTAP, the provenance JSON and the HTML page read
what :func:`rig.reports.collect.read_run` gathers from a run directory.
"""
