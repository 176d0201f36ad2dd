#!/usr/bin/env python3
"""Validates rendered objects against Kubernetes' own API schemas (kubernetes-validate, strict mode).

    .venv-tools/bin/python scripts/chart/validate.py --kube-version 1.20.0 [FILE]

FILE (or stdin) holds what `render.py --output json` prints. Each object is checked against two schemas: the oldest
one kubernetes-validate offers that is not older than the rendering's Kubernetes version (it offers 1.25 and up, so a
rendering for 1.20 is checked against 1.25), and the newest. Custom resources (dapr.io, monitoring.coreos.com) have no
schema there and are skipped. An object written for an API that the checked version no longer serves but that the
rendering's version does (policy/v1beta1 PodDisruptionBudgets for Kubernetes < 1.21) is checked against its
successor's schema (policy/v1), which has the same fields. Prints one line per object and problem; exits 1 on any.
"""

from __future__ import annotations

import argparse
import json
import sys

try:
    import kubernetes_validate
    from kubernetes_validate import utils as validate_utils
except ImportError:  # pragma: no cover - explained to the user
    sys.stderr.write("kubernetes_validate is missing: run scripts/install-prerequisites.sh and use .venv-tools/bin/python\n")
    raise SystemExit(2)

CUSTOM_GROUPS = ("dapr.io/", "monitoring.coreos.com/")
# APIs a rendering for an older Kubernetes uses, checked against the schema of the version that replaced them.
SUCCESSORS = {("policy/v1beta1", "PodDisruptionBudget"): "policy/v1"}


def version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def schema_versions(kube_version: str) -> list[str]:
    available = sorted(validate_utils.all_versions(), key=version_tuple)
    wanted = version_tuple(kube_version)
    oldest = next((v for v in available if version_tuple(v) >= wanted), available[-1])
    return sorted({oldest, available[-1]}, key=version_tuple)


def problems(obj: dict, version: str) -> list[str]:
    api_version = str(obj.get("apiVersion", ""))
    if api_version.startswith(CUSTOM_GROUPS):
        return []
    successor = SUCCESSORS.get((api_version, obj.get("kind")))
    if successor:
        obj = dict(obj, apiVersion=successor)
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        path = "/".join(str(p) for p in error.path)
        return [f"{path}: {error.message}"]
    except (validate_utils.SchemaNotFoundError, validate_utils.InvalidSchemaError) as error:
        return [f"no schema: {error}"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kube-version", default="1.36.0", help="the Kubernetes version the objects were rendered for")
    parser.add_argument("file", nargs="?", default="-", help="render.py's JSON output (default: stdin)")
    args = parser.parse_args(argv)
    text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    objects = json.loads(text)
    failed = False
    versions = schema_versions(args.kube_version)
    for version in versions:
        for obj in objects:
            name = f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
            for problem in problems(obj, version):
                failed = True
                print(f"{version} {name}: {problem}")
    print(f"{len(objects)} objects checked against Kubernetes {', '.join(versions)}: {'failed' if failed else 'valid'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
