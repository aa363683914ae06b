"""kubectl's text rendering: tabwriter layout, table decorations, formats, JSONPath, durations."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from minik8s.api.resources import lookup
from minik8s.apiserver.tables import to_table
from minik8s.api.duration import age, human_duration, short_human_duration
from minik8s.kubectl.printing import (TableWatchPrinter, as_list, custom_columns, jsonpath, no_resources_message,
                                      render_table, tabwrite, to_json, to_name, to_yaml)

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


# --- human_duration: upstream duration.HumanDuration -------------------------------------------

@pytest.mark.parametrize("seconds,text", [
    (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"), (125, "2m5s"), (599, "9m59s"), (600, "10m"),
    (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (3 * 3600 + 5 * 60, "3h5m"), (8 * 3600, "8h"), (47 * 3600, "47h"),
    (48 * 3600, "2d"), (51 * 3600, "2d3h"), (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"),
    (800 * 86400, "2y70d"), (8 * 365 * 86400, "8y"), (-1.5, "0s"), (-2, "<invalid>"),
])
def test_human_duration(seconds: float, text: str):
    assert human_duration(seconds) == text


@pytest.mark.parametrize("seconds,text", [(45, "45s"), (90, "1m"), (3 * 3600 + 5, "3h"), (3 * 86400, "3d"),
                                          (400 * 86400, "1y"), (-5, "<invalid>")])
def test_short_human_duration(seconds: float, text: str):
    assert short_human_duration(seconds) == text


@given(st.floats(min_value=0, max_value=20 * 365 * 86400))
def test_human_duration_is_short_and_well_formed(seconds: float):
    text = human_duration(seconds)
    assert 2 <= len(text) <= 7 and text[0].isdigit() and text[-1] in "smhdy"


def test_age_of_missing_timestamp():
    assert age(None, NOW) == "<unknown>"
    assert age("2024-01-01T11:59:00Z", NOW) == "60s"


# --- tabwriter and render_table --------------------------------------------------------------

def test_tabwriter_pads_to_widest_plus_three_and_leaves_last_cell_alone():
    assert tabwrite(["NAME\tAGE", "nginx-deployment\t18s"]) == "NAME               AGE\nnginx-deployment   18s\n"
    # minimum width six
    assert tabwrite(["A\tB", "x\ty"]) == "A     B\nx     y\n"


def _pod(name: str, ns: str = "default", labels: dict | None = None) -> dict:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels or {},
                                        "creationTimestamp": "2024-01-01T11:59:42Z"},
            "spec": {"containers": [{"name": "c"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.244.0.7"}],
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "c", "ready": True, "restartCount": 0,
                                              "state": {"running": {}}}]}}


def pods_table(*pods: dict) -> dict:
    return to_table(lookup("pods"), list(pods), now=NOW)


def test_render_matches_kubectl_documented_pod_listing():
    # From the Kubernetes Deployment docs: `kubectl get pods`.
    expected = ("NAME                                READY   STATUS    RESTARTS   AGE\n"
                "nginx-deployment-66b6c48dd5-4jw2p   1/1     Running   0          18s\n")
    assert render_table(pods_table(_pod("nginx-deployment-66b6c48dd5-4jw2p"))) == expected


def test_render_deployment_like_documented():
    deploy = {"kind": "Deployment",
              "metadata": {"name": "nginx-deployment", "creationTimestamp": "2024-01-01T11:59:42Z"},
              "spec": {"replicas": 3}, "status": {"readyReplicas": 3, "updatedReplicas": 3, "availableReplicas": 3}}
    expected = ("NAME               READY   UP-TO-DATE   AVAILABLE   AGE\n"
                "nginx-deployment   3/3     3            3           18s\n")
    assert render_table(to_table(lookup("deploy"), [deploy], now=NOW)) == expected


def test_wide_namespace_and_labels():
    out = render_table(pods_table(_pod("a", labels={"env": "prod", "app": "web"}), _pod("bb", "kube-system")),
                       wide=True, with_namespace=True, show_labels=True)
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED",
                                "NODE", "READINESS", "GATES", "LABELS"]
    assert lines[1].startswith("default       a    ") and lines[1].endswith("app=web,env=prod")
    assert lines[2].endswith("<none>")
    assert all(line == line.rstrip() for line in lines)


def test_label_columns_and_no_headers():
    out = render_table(pods_table(_pod("a", labels={"app.kubernetes.io/name": "web"})),
                       label_columns=["app.kubernetes.io/name", "tier"], no_headers=True)
    assert out == "a     1/1   Running   0     18s   web   \n"


def test_resource_prefix_names_rows_by_kind():
    out = render_table(pods_table(_pod("a")), resource_prefix="pod")
    assert out.splitlines()[1].startswith("pod/a   ")


def test_empty_table_prints_nothing_and_message():
    assert render_table(pods_table()) == ""
    assert no_resources_message("default", False) == "No resources found in default namespace."
    assert no_resources_message(None, False) == "No resources found"
    assert no_resources_message("default", True) == "No resources found"


def test_boolean_and_float_cells_print_like_go():
    table = {"columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "priority": 0},
                                   {"name": "On", "type": "boolean", "format": "", "priority": 0},
                                   {"name": "N", "type": "integer", "format": "", "priority": 0}],
             "rows": [{"cells": ["x", False, 3.0]}]}
    assert render_table(table) == "NAME   ON      N\nx      false   3\n"


def test_watch_printer_prints_header_once_and_keeps_widths():
    printer = TableWatchPrinter()
    first = printer.print(pods_table(_pod("web-1")))
    second = printer.print({"columnDefinitions": [], "rows": pods_table(_pod("w"))["rows"]})
    assert first.startswith("NAME    READY")
    assert second == "w       1/1     Running   0          18s\n"


# --- formats ---------------------------------------------------------------------------------

def test_yaml_sorted_keys_and_go_quoting():
    obj = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "creationTimestamp": "2024-01-01T00:00:00Z",
                                                          "resourceVersion": "12"},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}, "data": {"empty": "", "multi": "a\nb\n"}}
    text = to_yaml(obj)
    assert text.splitlines()[0] == "apiVersion: v1"
    assert 'creationTimestamp: "2024-01-01T00:00:00Z"' in text
    assert 'resourceVersion: "12"' in text and 'empty: ""' in text
    assert "  containers:\n  - image: nginx\n    name: c\n" in text
    assert "multi: |\n    a\n    b\n" in text
    assert yaml.safe_load(text) == obj


def test_json_four_spaces_sorted_and_html_escaped():
    assert to_json({"b": "<a&b>", "a": 1}) == '{\n    "a": 1,\n    "b": "\\u003ca\\u0026b\\u003e"\n}'


def test_list_wrapper_and_names():
    assert as_list([]) == {"apiVersion": "v1", "items": [], "kind": "List", "metadata": {"resourceVersion": ""}}
    assert to_name(lookup("pods"), {"metadata": {"name": "nginx"}}) == "pod/nginx"
    assert to_name(lookup("deploy"), {"metadata": {"name": "nginx"}}) == "deployment.apps/nginx"


# --- JSONPath ----------------------------------------------------------------------------------

NODE = {"metadata": {"name": "n1", "labels": {"kubernetes.io/hostname": "n1"}},
        "status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
                   "capacity": {"cpu": "4"}, "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}]}}
LIST = as_list([NODE, {**NODE, "metadata": {"name": "n2"}}])


@pytest.mark.parametrize("template,expected", [
    ("{.metadata.name}", "n1"),
    ("{.status.conditions[0].status}", "False"),
    ("{.status.conditions[-1].type}", "Ready"),
    ('{.status.conditions[?(@.type=="Ready")].status}', "True"),
    ("{.status.conditions[*].type}", "MemoryPressure Ready"),
    ("{.status.capacity}", '{"cpu":"4"}'),
    ("{.metadata.labels.kubernetes\\.io/hostname}", "n1"),
    ("{.metadata.missing}", ""),
    ("name={.metadata.name} ip={.status.addresses[0].address}", "name=n1 ip=10.0.0.1"),
    ("{..type}", "InternalIP MemoryPressure Ready"),  # map keys walked in sorted order
])
def test_jsonpath_on_one_object(template: str, expected: str):
    assert jsonpath(template, NODE) == expected


def test_jsonpath_on_lists_and_ranges():
    assert jsonpath("{.items[*].metadata.name}", LIST) == "n1 n2"
    assert jsonpath('{range .items[*]}{.metadata.name}{"\\t"}{.kind}{"\\n"}{end}', LIST) == "n1\t\nn2\t\n"
    assert jsonpath("{.items[0:1].metadata.name}", LIST) == "n1"
    assert jsonpath("{.kind}", LIST) == "List"


def test_custom_columns():
    out = custom_columns("NAME:.metadata.name,CPU:.status.capacity.cpu,ZONE:.metadata.labels.zone",
                         LIST["items"])
    assert out == "NAME   CPU   ZONE\nn1     4     <none>\nn2     4     <none>\n"
