"""Reads a JUnit file with junitparser (a real JUnit reader from PyPI) and
prints what it sees as JSON: the counts each suite declares, the counts
junitparser recomputes from the test cases, and every case's results."""
import json
import sys

from junitparser import JUnitXml, TestSuite

xml = JUnitXml.fromfile(sys.argv[1])
suites = [xml] if isinstance(xml, TestSuite) else list(xml)
keys = ("tests", "failures", "errors", "skipped")
declared = {k: sum(getattr(s, k) or 0 for s in suites) for k in keys}
cases = []
for suite in suites:
    for case in suite:
        cases.append({
            "suite": suite.name,
            "name": case.name,
            "results": [type(r).__name__.lower() for r in case.result],
            "messages": [r.message for r in case.result],
            "system_out": case.system_out,
            "passed": case.is_passed,
        })
    suite.update_statistics()
recomputed = {k: sum(getattr(s, k) or 0 for s in suites) for k in keys}
print(json.dumps({"declared": declared, "recomputed": recomputed, "cases": cases}))
