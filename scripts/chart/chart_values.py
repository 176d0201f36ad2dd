"""Helm-style values handling shared by render.py and lint.py.

Values are gathered the way `helm install` gathers them: every -f file in order (later files win, maps merge key
by key), then --set-json, --set, --set-string, --set-file and --set-literal expressions, each kind in command-line
order, parsed by Helm's own strvals parser through helm_python. A null in a later source deletes the key, as in
Helm (the deletion itself happens when Helm coalesces the values with the chart's defaults).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHART = REPO_ROOT / "charts" / "dapr"

try:
    import helm_python
except ImportError:  # pragma: no cover - explained to the user
    sys.stderr.write(
        "helm_python is not importable: run this with the project's tool environment "
        "(.venv-tools/bin/python), which has helm-python-sdk installed\n"
    )
    raise SystemExit(2)


def add_values_arguments(parser: argparse.ArgumentParser) -> None:
    """The value options `helm install` has, plus the chart path."""
    parser.add_argument(
        "--chart", default=str(DEFAULT_CHART), help="chart directory (default: charts/dapr of this repository)"
    )
    parser.add_argument(
        "-f", "--values", action="append", default=[], metavar="FILE", help="a values file (repeatable; later wins)"
    )
    parser.add_argument("--set", action="append", default=[], metavar="K=V", help="as helm --set (repeatable)")
    parser.add_argument("--set-string", action="append", default=[], metavar="K=V", help="as helm --set-string")
    parser.add_argument("--set-json", action="append", default=[], metavar="K=JSON", help="as helm --set-json")
    parser.add_argument("--set-file", action="append", default=[], metavar="K=PATH", help="as helm --set-file")
    parser.add_argument("--set-literal", action="append", default=[], metavar="K=V", help="as helm --set-literal")


def merge_into(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merges `override` into `base` the way Helm merges values sources: maps key by key, everything else replaced."""
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge_into(base[key], value)
        else:
            base[key] = value
    return base


def gather_values(args: argparse.Namespace) -> dict[str, Any]:
    """The user-supplied values, before Helm coalesces them with the chart's defaults."""
    values: dict[str, Any] = {}
    for path in args.values:
        text = Path(path).read_text(encoding="utf-8") if path != "-" else sys.stdin.read()
        parsed = helm_python.values_from_yaml(text) or {}
        if not isinstance(parsed, dict):
            raise helm_python.HelmValuesError(f"values file {path} is not a map of values")
        merge_into(values, parsed)
    parsers: list[tuple[list[str], Callable[[str], dict[str, Any]]]] = [
        (args.set_json, helm_python.parse_set_json),
        (args.set, helm_python.parse_set_string),
        (args.set_string, helm_python.parse_set_string_values),
        (args.set_file, helm_python.parse_set_file),
        (args.set_literal, helm_python.parse_set_literal),
    ]
    for expressions, parse in parsers:
        for expression in expressions:
            merge_into(values, parse(expression))
    return values


def fail(error: BaseException) -> int:
    """Writes Helm's message to stderr; the exit status for a failed render, lint or validation."""
    message = str(error).strip() or error.__class__.__name__
    sys.stderr.write(f"Error: {message}\n")
    return 1


def chart_path(args: argparse.Namespace) -> str:
    return os.fspath(Path(args.chart).resolve())
