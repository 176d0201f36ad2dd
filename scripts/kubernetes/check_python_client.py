#!/usr/bin/env python3
"""Checks a control plane with the official `kubernetes` Python client (run by check-real-clients.sh).

Usage: check_python_client.py NAMESPACE   (the namespace must exist; KUBECONFIG names the cluster)

Lists namespaces, watches ConfigMaps in NAMESPACE while creating, patching and deleting one, and checks that the
watch saw ADDED, MODIFIED and DELETED for it and that the patch took effect. Exits non-zero on any failure.
"""

import sys
import threading

from kubernetes import client, config, watch


def check(condition, message):
    if not condition:
        print(f"python: FAILED: {message}", file=sys.stderr)
        sys.exit(1)
    print(f"python: ok: {message}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    namespace = sys.argv[1]
    config.load_kube_config()
    core = client.CoreV1Api()

    names = [ns.metadata.name for ns in core.list_namespace().items]
    check({"default", "kube-system", namespace} <= set(names), f"list namespaces: {', '.join(sorted(names))}")

    # Watch from the list's resourceVersion, so no event is missed however late the watch request is sent.
    listed = core.list_namespaced_config_map(namespace)
    events = []
    done = threading.Event()

    def watch_config_maps():
        stream = watch.Watch()
        for event in stream.stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=listed.metadata.resource_version,
            timeout_seconds=30,
        ):
            obj = event["object"]
            if obj.metadata.name == "python-check":
                events.append((event["type"], dict(obj.data or {})))
                if event["type"] == "DELETED":
                    stream.stop()
        done.set()

    watcher = threading.Thread(target=watch_config_maps, daemon=True)
    watcher.start()

    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="python-check"), data={"greeting": "hello"})
    core.create_namespaced_config_map(namespace, body)
    check(True, "create ConfigMap python-check")

    # A dict body is sent as a strategic merge patch.
    patched = core.patch_namespaced_config_map("python-check", namespace, {"data": {"answer": "42"}})
    check(patched.data == {"greeting": "hello", "answer": "42"}, f"patch ConfigMap: data is now {patched.data}")

    core.delete_namespaced_config_map("python-check", namespace)
    check(True, "delete ConfigMap python-check")

    done.wait(30)
    types = [event_type for event_type, _ in events]
    check(types == ["ADDED", "MODIFIED", "DELETED"], f"watch saw {types}")
    check(events[0][1] == {"greeting": "hello"}, f"ADDED event carries the created data {events[0][1]}")
    check(events[1][1].get("answer") == "42", f"MODIFIED event carries the patch {events[1][1]}")


if __name__ == "__main__":
    main()
