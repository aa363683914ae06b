"""``kubectl describe`` output for pods, deployments, nodes and friends, against an in-memory fake client."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from minik8s.api.errors import StatusError
from minik8s.api.resources import Resource, lookup
from minik8s.kubectl.describe import describe, describe_probe, qos_class, rfc1123z

NOW = datetime(2024, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


class FakeClient:
    """Serves list/get from a list of objects and records the list calls it gets."""

    def __init__(self, *objects: dict) -> None:
        self.objects = list(objects)
        self.calls: list[tuple[str, str | None, str | None, str | None]] = []

    def list(self, resource: Resource, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None, **_: object) -> dict:
        self.calls.append((resource.kind, namespace, label_selector, field_selector))
        items = [o for o in self.objects if o["kind"] == resource.kind
                 and (namespace is None or o["metadata"].get("namespace") == namespace)]
        for term in (field_selector or "").split(","):
            if term:
                key, _, want = term.partition("=")
                items = [o for o in items if _field(o, key) == want]
        if label_selector:
            pairs = dict(t.split("=", 1) for t in label_selector.split(","))
            items = [o for o in items if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in pairs.items())]
        return {"kind": resource.list_kind, "items": items}

    def get(self, resource: Resource, name: str, namespace: str | None = None, **_: object) -> dict:
        for o in self.objects:
            if o["kind"] == resource.kind and o["metadata"]["name"] == name:
                return o
        raise StatusError(404, "NotFound", f'{resource.qualified} "{name}" not found')


def _field(obj: dict, path: str) -> str:
    value: object = obj
    for part in path.split("."):
        value = value.get(part, "") if isinstance(value, dict) else ""
    return str(value)


def event(uid: str, name: str, reason: str, message: str, *, first: str, last: str, count: int = 1,
          kind: str = "Pod", namespace: str = "default", component: str = "kubelet") -> dict:
    return {"kind": "Event", "apiVersion": "v1", "metadata": {"name": f"{name}.{reason}", "namespace": namespace},
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace, "uid": uid},
            "type": "Normal", "reason": reason, "message": message, "source": {"component": component},
            "firstTimestamp": first, "lastTimestamp": last, "count": count}


POD = {
    "kind": "Pod", "apiVersion": "v1",
    "metadata": {"name": "web", "namespace": "default", "uid": "pod-uid", "creationTimestamp": "2024-01-01T11:50:00Z",
                 "labels": {"app": "web", "pod-template-hash": "5d8f"},
                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f",
                                      "uid": "rs-uid", "controller": True}]},
    "spec": {"nodeName": "node-1", "serviceAccountName": "default", "priority": 0,
             "containers": [{"name": "app", "image": "nginx:1.25",
                             "ports": [{"containerPort": 80, "protocol": "TCP"}],
                             "resources": {"limits": {"cpu": "500m", "memory": "128Mi"},
                                           "requests": {"cpu": "250m", "memory": "64Mi"}},
                             "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP"},
                                               "timeoutSeconds": 1, "periodSeconds": 10,
                                               "successThreshold": 1, "failureThreshold": 3},
                             "env": [{"name": "MODE", "value": "prod"}],
                             "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}]}],
             "volumes": [{"name": "data", "emptyDir": {}}],
             "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                              "tolerationSeconds": 300}]},
    "status": {"phase": "Running", "hostIP": "172.18.0.2", "podIP": "10.244.1.7", "podIPs": [{"ip": "10.244.1.7"}],
               "startTime": "2024-01-01T11:50:00Z",
               "conditions": [{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}],
               "containerStatuses": [{
                   "name": "app", "ready": True, "restartCount": 2, "containerID": "containerd://abc",
                   "imageID": "docker.io/library/nginx@sha256:0",
                   "state": {"running": {"startedAt": "2024-01-01T11:55:00Z"}},
                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                "startedAt": "2024-01-01T11:52:00Z",
                                                "finishedAt": "2024-01-01T11:54:59Z"}}}]},
}


def test_pod_describe_lines():
    pulled = event("pod-uid", "web", "Pulled", 'Container image "nginx:1.25" already present',
                   first="2024-01-01T11:50:01Z", last="2024-01-01T11:55:00Z", count=3)
    pulled["involvedObject"]["fieldPath"] = "spec.containers{app}"  # kubectl 1.32 prints the message alone
    client = FakeClient(POD, pulled,
                        event("other", "web", "Killing", "from an older pod with the same name",
                              first="2024-01-01T11:00:00Z", last="2024-01-01T11:00:00Z"))
    lines = describe(client, lookup("pod"), POD, now=NOW).splitlines()
    assert lines[:6] == ["Name:             web", "Namespace:        default", "Priority:         0",
                         "Service Account:  default", "Node:             node-1/172.18.0.2",
                         "Start Time:       Mon, 01 Jan 2024 11:50:00 +0000"]
    for expected in ["Labels:           app=web", "                  pod-template-hash=5d8f",
                     "Annotations:      <none>", "Status:           Running", "IP:               10.244.1.7",
                     "IPs:", "  IP:           10.244.1.7", "Controlled By:  ReplicaSet/web-5d8f",
                     "Containers:", "  app:",
                     "    Container ID:   containerd://abc", "    Port:           80/TCP",
                     "    Host Port:      0/TCP", "    State:          Running",
                     "      Started:      Mon, 01 Jan 2024 11:55:00 +0000", "    Last State:     Terminated",
                     "      Reason:       Error", "      Exit Code:    1", "    Ready:          True",
                     "    Restart Count:  2", "    Limits:", "      cpu:     500m", "      memory:  128Mi",
                     "    Requests:", "      cpu:     250m",
                     "    Liveness:  http-get http://:80/healthz delay=0s timeout=1s period=10s "
                     "#success=1 #failure=3",
                     "    Environment:", "      MODE:  prod", "    Mounts:", "      /data from data (ro)",
                     "Conditions:", "  Type          Status", "  Initialized   True ", "  Ready         True ",
                     "Volumes:", "  data:",
                     "    Type:        EmptyDir (a temporary directory that shares a pod's lifetime)",
                     "QoS Class:       Burstable", "Node-Selectors:  <none>",
                     "Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s",
                     "Events:", "  Type    Reason  Age                 From     Message",
                     "  ----    ------  ----                ----     -------",
                     '  Normal  Pulled  5m (x3 over 9m59s)  kubelet  Container image "nginx:1.25" already present']:
        assert expected in lines, expected
    assert not any("Killing" in line for line in lines)  # another object's events stay out
    assert ("Event", "default", None,
            "involvedObject.name=web,involvedObject.namespace=default,involvedObject.uid=pod-uid") in client.calls


def test_pending_pod_has_no_node_and_no_events():
    pending = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "default", "uid": "u"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]}, "status": {"phase": "Pending"}}
    text = describe(FakeClient(pending), lookup("pod"), pending, now=NOW)
    assert "Node:         <none>\n" in text
    assert "IPs:          <none>\n" in text
    assert text.endswith("Events:           <none>\n")
    assert "QoS Class:        BestEffort\n" in text


def test_terminating_pod_status():
    pod = {**POD, "metadata": {**POD["metadata"], "deletionTimestamp": "2024-01-01T11:59:30Z",
                               "deletionGracePeriodSeconds": 30}}
    text = describe(FakeClient(pod), lookup("pod"), pod, now=NOW)
    assert "Status:                    Terminating (lasts 30s)\n" in text
    assert "Termination Grace Period:  30s\n" in text


DEPLOY = {
    "kind": "Deployment", "apiVersion": "apps/v1",
    "metadata": {"name": "nginx", "namespace": "default", "uid": "d-uid", "creationTimestamp": "2024-01-01T11:00:00Z",
                 "labels": {"app": "nginx"}, "annotations": {"deployment.kubernetes.io/revision": "2"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx"}}, "minReadySeconds": 0,
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
             "template": {"metadata": {"labels": {"app": "nginx"}},
                          "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                   "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}},
    "status": {"replicas": 2, "updatedReplicas": 2, "availableReplicas": 2, "readyReplicas": 2,
               "conditions": [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                              {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]},
}


def replicaset(name: str, image: str, replicas: int, created: str) -> dict:
    return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": "default", "uid": name, "creationTimestamp": created,
                         "labels": {"app": "nginx", "pod-template-hash": name[-4:]},
                         "ownerReferences": [{"kind": "Deployment", "name": "nginx", "uid": "d-uid",
                                              "controller": True}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "nginx"}},
                     "template": {"metadata": {"labels": {"app": "nginx", "pod-template-hash": name[-4:]}},
                                  "spec": {"containers": [{"name": "nginx", "image": image,
                                                           "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}},
            "status": {"replicas": replicas}}


def test_deployment_describe():
    client = FakeClient(DEPLOY, replicaset("nginx-7f98", "nginx:1.25", 2, "2024-01-01T11:30:00Z"),
                        replicaset("nginx-aaaa", "nginx:1.24", 0, "2024-01-01T11:00:00Z"),
                        event("d-uid", "nginx", "ScalingReplicaSet", "Scaled up replica set nginx-7f98 to 2",
                              first="2024-01-01T11:30:00Z", last="2024-01-01T11:30:00Z", kind="Deployment",
                              component="deployment-controller"))
    text = describe(client, lookup("deploy"), DEPLOY, now=NOW)
    lines = text.splitlines()
    assert lines[:9] == [
        "Name:                   nginx", "Namespace:              default",
        "CreationTimestamp:      Mon, 01 Jan 2024 11:00:00 +0000", "Labels:                 app=nginx",
        "Annotations:            deployment.kubernetes.io/revision: 2", "Selector:               app=nginx",
        "Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable",
        "StrategyType:           RollingUpdate", "MinReadySeconds:        0"]
    for expected in ["RollingUpdateStrategy:  25% max unavailable, 25% max surge", "Pod Template:",
                     "  Labels:  app=nginx", "  Containers:", "   nginx:", "    Image:         nginx:1.25",
                     "    Port:          80/TCP", "    Host Port:     0/TCP", "    Environment:   <none>",
                     "    Mounts:        <none>", "  Volumes:         <none>", "  Node-Selectors:  <none>",
                     "  Tolerations:     <none>", "Conditions:", "  Type           Status  Reason",
                     "  ----           ------  ------", "  Available      True    MinimumReplicasAvailable",
                     "  Progressing    True    NewReplicaSetAvailable",
                     "OldReplicaSets:  nginx-aaaa (0/0 replicas created)",
                     "NewReplicaSet:   nginx-7f98 (2/2 replicas created)",
                     "  Normal  ScalingReplicaSet  30m   deployment-controller  Scaled up replica set nginx-7f98 to 2"]:
        assert expected in lines, expected


NODE = {
    "kind": "Node", "apiVersion": "v1",
    "metadata": {"name": "node-1", "uid": "n-uid", "creationTimestamp": "2024-01-01T10:00:00Z",
                 "labels": {"kubernetes.io/hostname": "node-1", "node-role.kubernetes.io/control-plane": ""}},
    "spec": {"podCIDR": "10.244.1.0/24", "taints": [{"key": "node-role.kubernetes.io/control-plane",
                                                     "effect": "NoSchedule"}]},
    "status": {"capacity": {"cpu": "2", "memory": "2Gi", "pods": "110"},
               "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
               "addresses": [{"type": "InternalIP", "address": "172.18.0.2"},
                             {"type": "Hostname", "address": "node-1"}],
               "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "down",
                               "lastHeartbeatTime": "2024-01-01T11:00:00Z",
                               "lastTransitionTime": "2024-01-01T11:00:00Z"}],
               "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "minik8s", "architecture": "amd64",
                            "operatingSystem": "linux"}},
}


def test_node_describe_with_pods_and_allocated_resources():
    lease = {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
             "metadata": {"name": "node-1", "namespace": "kube-node-lease"},
             "spec": {"holderIdentity": "node-1", "renewTime": "2024-01-01T11:59:50Z"}}
    done = {**POD, "metadata": {**POD["metadata"], "name": "done"}, "status": {"phase": "Succeeded"}}
    client = FakeClient(NODE, lease, POD, done)
    lines = describe(client, lookup("node"), NODE, now=NOW).splitlines()
    for expected in ["Name:               node-1", "Roles:              control-plane",
                     "Taints:             node-role.kubernetes.io/control-plane:NoSchedule",
                     "Unschedulable:      false", "Lease:", "  HolderIdentity:  node-1", "  AcquireTime:     <unset>",
                     "  Ready   False   Mon, 01 Jan 2024 11:00:00 +0000   Mon, 01 Jan 2024 11:00:00 +0000   "
                     "KubeletNotReady   down",
                     "  InternalIP:  172.18.0.2", "  cpu:     2", "  Kubelet Version:            v1.32.0",
                     "PodCIDR:                      10.244.1.0/24",
                     "Non-terminated Pods:          (1 in total)",
                     "  default                     web     250m (12%)    500m (25%)  64Mi (3%)        "
                     "128Mi (6%)     10m",
                     "  cpu                250m (12%)  500m (25%)", "  memory             64Mi (3%)   128Mi (6%)",
                     "  ephemeral-storage  0 (0%)      0 (0%)", "Events:              <none>"]:
        assert expected in lines, expected
    assert not any("done" in line for line in lines)


def test_node_without_lease_reports_the_error():
    text = describe(FakeClient(NODE), lookup("node"), NODE, now=NOW)
    assert 'Lease:              Failed to get lease: leases.coordination.k8s.io "node-1" not found' in text


def test_namespace_without_quota_or_limits():
    ns = {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "dev", "labels":
                                                               {"kubernetes.io/metadata.name": "dev"}},
          "status": {"phase": "Active"}}
    assert describe(FakeClient(ns), lookup("ns"), ns, now=NOW) == (
        "Name:         dev\nLabels:       kubernetes.io/metadata.name=dev\nAnnotations:  <none>\n"
        "Status:       Active\n\nNo resource quota.\n\nNo LimitRange resource.\n")


def test_configmap_and_secret():
    cm = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "cfg", "namespace": "default", "uid": "c"},
          "data": {"mode": "prod"}}
    assert describe(FakeClient(cm), lookup("cm"), cm, now=NOW) == (
        "Name:         cfg\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\nData\n====\n"
        "mode:\n----\nprod\n\n\nBinaryData\n====\n\nEvents:  <none>\n")
    secret = {"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s", "namespace": "default"},
              "type": "Opaque", "data": {"password": "c2VjcmV0"}}
    text = describe(FakeClient(secret), lookup("secret"), secret, now=NOW)
    assert text.endswith("\nType:  Opaque\n\nData\n====\npassword:  6 bytes\n")


def test_service_describe_uses_endpoint_slices():
    svc = {"kind": "Service", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default", "uid": "s"},
           "spec": {"type": "ClusterIP", "selector": {"app": "web"}, "clusterIP": "10.96.0.10",
                    "clusterIPs": ["10.96.0.10"], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "sessionAffinity": "None"}}
    # kubectl reads the Service's EndpointSlices (since 1.30), not its Endpoints
    eps = {"kind": "Endpoints", "apiVersion": "v1", "metadata": {"name": "web", "namespace": "default"},
           "subsets": [{"addresses": [{"ip": "10.244.9.9"}], "ports": [{"port": 8080, "protocol": "TCP"}]}]}
    es = {"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
          "metadata": {"name": "web-x", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
          "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.7"], "conditions": {"ready": True}},
                                               {"addresses": ["10.244.1.8"], "conditions": {"ready": False}}],
          "ports": [{"port": 8080, "protocol": "TCP"}]}
    lines = describe(FakeClient(svc, eps, es), lookup("svc"), svc, now=NOW).splitlines()
    for expected in ["Selector:          app=web", "IP Family Policy:  SingleStack", "IP Families:       IPv4",
                     "Port:              <unset>  80/TCP", "TargetPort:        8080/TCP",
                     "Endpoints:         10.244.1.7:8080", "Session Affinity:  None"]:
        assert expected in lines, expected


def test_generic_fallback():
    # A kind with no describer of its own (Roles have one now: describe/rbac.py).
    lease = {"kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
             "metadata": {"name": "reader", "namespace": "default", "uid": "r"},
             "spec": {"holderIdentity": "node-1"}}
    text = describe(FakeClient(lease), lookup("lease"), lease, now=NOW)
    assert text.startswith("Name:         reader\nNamespace:    default\n")
    assert "API Version:  coordination.k8s.io/v1\n" in text and "Kind:         Lease\n" in text
    assert "  UID:  r\n" in text


@pytest.mark.parametrize("probe,text", [
    ({"exec": {"command": ["cat", "/tmp/ok"]}, "initialDelaySeconds": 5},
     "exec [cat /tmp/ok] delay=5s timeout=1s period=10s #success=1 #failure=3"),
    ({"tcpSocket": {"port": 3306}}, "tcp-socket :3306 delay=0s timeout=1s period=10s #success=1 #failure=3"),
    ({"httpGet": {"port": "http", "path": "/", "scheme": "HTTPS"}},
     "http-get https://:http/ delay=0s timeout=1s period=10s #success=1 #failure=3"),
])
def test_probe_descriptions(probe: dict, text: str):
    assert describe_probe(probe) == text


def test_qos_classes_and_time_format():
    guaranteed = {"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}
    assert qos_class(guaranteed) == "Guaranteed"
    assert qos_class(POD) == "Burstable"
    assert qos_class({"spec": {"containers": [{}]}}) == "BestEffort"
    assert rfc1123z("2024-03-05T07:08:09Z") == "Tue, 05 Mar 2024 07:08:09 +0000"


def test_daemonset_and_cronjob_describe_as_kubectl_1_32():
    # kubectl v1.32 prints no Namespace line for a DaemonSet and no Time Zone for a CronJob;
    # a container port is printed without its name.
    template = {"metadata": {"labels": {"app": "agent"}},
                "spec": {"containers": [{"name": "a", "image": "busybox",
                                         "ports": [{"containerPort": 80, "name": "web", "protocol": "TCP"}]}]}}
    ds = {"kind": "DaemonSet", "apiVersion": "apps/v1",
          "metadata": {"name": "agent", "namespace": "default", "uid": "ds-uid"},
          "spec": {"selector": {"matchLabels": {"app": "agent"}}, "template": template},
          "status": {"desiredNumberScheduled": 1, "currentNumberScheduled": 1, "numberReady": 1}}
    lines = describe(FakeClient(ds), lookup("ds"), ds, now=NOW).splitlines()
    assert lines[:3] == ["Name:           agent", "Selector:       app=agent", "Node-Selector:  <none>"]
    assert "    Port:          80/TCP" in lines
    cj = {"kind": "CronJob", "apiVersion": "batch/v1",
          "metadata": {"name": "tick", "namespace": "default", "uid": "cj-uid"},
          "spec": {"schedule": "*/5 * * * *", "timeZone": "Europe/Paris", "concurrencyPolicy": "Allow",
                   "suspend": False, "jobTemplate": {"spec": {"template": template}}}}
    lines = describe(FakeClient(cj), lookup("cj"), cj, now=NOW).splitlines()
    assert lines[5:7] == ["Concurrency Policy:            Allow", "Suspend:                       False"]
    assert lines[7].startswith("Successful Job History Limit:") and not any("Time Zone" in line for line in lines)
