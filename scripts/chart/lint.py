#!/usr/bin/env python3
"""Lints the Dapr control-plane chart with Helm's linter in strict mode.

    .venv-tools/bin/python scripts/chart/lint.py [-f values.yaml]... [--set key.path=value]...
        [--kube-version 1.30.0] [--namespace dapr-system] [--with-subcharts]

Prints every message Helm's linter gives, and exits with status 1 on any warning or error (information messages,
such as the missing chart icon, are printed and do not fail the run).
"""

from __future__ import annotations

import argparse
import sys

from chart_values import add_values_arguments, chart_path, fail, gather_values, helm_python

SEVERITIES = {0: "UNKNOWN", 1: "INFO", 2: "WARNING", 3: "ERROR"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_values_arguments(parser)
    parser.add_argument("--kube-version", help="the Kubernetes version to lint for, e.g. 1.20.0 (default: Helm's)")
    parser.add_argument("--namespace", "-n", default="dapr-system", help="release namespace (default: dapr-system)")
    parser.add_argument("--with-subcharts", action="store_true", help="also lint each subchart on its own")
    args = parser.parse_args(argv)
    kube_version = args.kube_version
    if kube_version and not kube_version.startswith("v"):
        kube_version = "v" + kube_version
    try:
        report = helm_python.lint(
            chart_path(args),
            gather_values(args),
            strict=True,
            namespace=args.namespace,
            with_subcharts=args.with_subcharts,
            kube_version=kube_version,
        )
    except (helm_python.HelmError, OSError) as error:
        return fail(error)
    failed = False
    printed: set[str] = set()
    for message in report.get("messages") or []:
        severity = int(message.get("severity", 0))
        failed = failed or severity >= 2
        text = str(message.get("error", "")).strip()
        printed.add(text)
        print(f"[{SEVERITIES.get(severity, severity)}] {message.get('path', '')}: {text}")
    for error in report.get("errors") or []:
        failed = True
        if str(error).strip() not in printed:  # the linter repeats most errors in both lists
            print(f"[ERROR] {str(error).strip()}")
    charts = report.get("total_charts_linted", 0)
    print(f"{charts} chart(s) linted, {'failed' if failed else 'no warnings or errors'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
