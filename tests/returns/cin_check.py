"""Run the DfE's CIN validator (csc-validator-be-cin) on a census file; print its findings as JSON.

Run in a subprocess by the tests: ``python cin_check.py FILE RULESET``. Child-level issues, header
and return-level issues (the validator's command line does not print those) and rules that crashed
(the validator counts a crashed rule as passed and only prints "Error with rule") are all reported.
"""
import contextlib
import importlib
import io
import json
import sys
import warnings
import xml.etree.ElementTree as ET

warnings.simplefilter("ignore")
from cin_validator import cin_validator  # noqa: E402


def main(path: str, ruleset: str) -> None:
    registry = importlib.import_module(f"cin_validator.rules.{ruleset}").registry
    messages = {str(rule.code): rule.message for rule in registry.values()}
    data = cin_validator.process_data(cin_validator.convert_data(ET.parse(path).getroot()))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        validator = cin_validator.CinValidator(data, registry)
    issues = validator.full_issue_df
    found = [{"rule": str(row["rule_code"]), "child": str(row["child_id"]), "table": str(row["tables_affected"]),
              "column": str(row["columns_affected"])} for _, row in issues.iterrows()]
    found += [{"rule": str(row["rule_code"]), "child": None, "table": "Header or return", "column": None}
              for _, row in validator.multichild_issues.iterrows()]
    for item in found:
        item["message"] = messages.get(item["rule"], "")
        item["query"] = item["rule"].endswith("Q")
    crashed = [line for line in printed.getvalue().splitlines() if "Error with rule" in line]
    print(json.dumps({"issues": found, "crashed": crashed, "rules_run": len(registry)}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "cin2025_26")
