#!/usr/bin/env python3
"""Renders the Dapr control-plane chart and prints every object it creates.

    .venv-tools/bin/python scripts/chart/render.py [-f values.yaml]... [--set key.path=value]...
        [--release dapr] [--namespace dapr-system] [--include-crds] [--output yaml|json]

Objects come out in a stable order: the chart's CRDs first (with --include-crds, as Helm installs them first), then
by kind in the order Helm installs kinds, then by namespace and name. YAML output is one document per object; JSON
output is one array of objects. A failed render (a template error, or values the chart's schema refuses) exits with
status 1 and Helm's message on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import yaml

from chart_values import add_values_arguments, chart_path, fail, gather_values, helm_python

# The order Helm installs kinds in (helm/pkg/release/util/kind_sorter.go); kinds not listed come after these.
HELM_INSTALL_ORDER = [
    "PriorityLevelConfiguration",
    "FlowSchema",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
]
KIND_RANK = {kind: rank for rank, kind in enumerate(HELM_INSTALL_ORDER)}


def sort_key(obj: dict[str, Any]) -> tuple[int, str, str, str]:
    metadata = obj.get("metadata") or {}
    kind = str(obj.get("kind", ""))
    return (
        KIND_RANK.get(kind, len(HELM_INSTALL_ORDER)),
        kind,
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
    )


def objects_of(text: str, source: str) -> list[dict[str, Any]]:
    """The objects of one rendered manifest (documents that are empty or only comments are skipped)."""
    found = []
    for document in yaml.safe_load_all(text):
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document:
            raise ValueError(f"{source} rendered a document that is not a Kubernetes object: {document!r:.200}")
        found.append(document)
    return found


def render(
    chart_dir: str,
    values: dict[str, Any],
    *,
    release: str = "dapr",
    namespace: str = "dapr-system",
    include_crds: bool = False,
) -> list[dict[str, Any]]:
    """Every object of the chart rendered with `values`, in install order. Raises helm_python.HelmError."""
    with helm_python.Chart.load(chart_dir) as chart:
        # Rendering validates the values against values.schema.json first, as helm install does.
        manifests = chart.render(values, name=release, namespace=namespace, is_install=True)
        crds = chart.crds if include_crds else []
    rendered: list[dict[str, Any]] = []
    for path in sorted(manifests):
        if path.endswith("NOTES.txt") or not manifests[path].strip():
            continue
        rendered.extend(objects_of(manifests[path], path))
    rendered.sort(key=sort_key)
    definitions: list[dict[str, Any]] = []
    for crd in crds:
        definitions.extend(objects_of(crd["data"], crd.get("filename") or crd.get("name", "crd")))
    definitions.sort(key=sort_key)
    return definitions + rendered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_values_arguments(parser)
    parser.add_argument("--release", default="dapr", help="release name (default: dapr)")
    parser.add_argument("--namespace", "-n", default="dapr-system", help="release namespace (default: dapr-system)")
    parser.add_argument("--include-crds", action="store_true", help="also print the chart's CRDs")
    parser.add_argument("--output", "-o", choices=["yaml", "json"], default="yaml", help="output format")
    args = parser.parse_args(argv)
    try:
        helm_python.validate_release_name(args.release)
        objects = render(
            chart_path(args),
            gather_values(args),
            release=args.release,
            namespace=args.namespace,
            include_crds=args.include_crds,
        )
    except (helm_python.HelmError, ValueError, OSError, yaml.YAMLError) as error:
        return fail(error)
    if args.output == "json":
        json.dump(objects, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(
            yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True, default_flow_style=False, width=120)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
