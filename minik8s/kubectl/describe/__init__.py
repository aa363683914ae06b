"""``kubectl describe``: one object, its related objects and its events, for humans.

Where ``get`` prints one line per object, ``describe`` prints one object in
depth: a pod's containers with their state, last state and restart count; a
deployment's replica counts, strategy and ReplicaSets; a node's conditions,
capacity and the pods it runs. At the bottom come the Events about the object,
which is where most debugging starts ("why is my pod Pending?").

The text is laid out like upstream's describers (k8s.io/kubectl pkg/describe):
``Field:\\tvalue`` lines written through Go's tabwriter (minimum width 0,
padding 2), indented two spaces per level, so consecutive ``Field:`` lines line
up. The events table is flushed separately, as upstream does.

Interface:
    describe(client, resource, obj, *, now) -> str
    describe_pod_template(template) -> str   # what ``rollout history --revision`` prints

``client`` is any object with ``list(resource, namespace, *, label_selector=None,
field_selector=None)`` and ``get(resource, name, namespace)`` (a
:class:`minik8s.client.base.Client`). Time comes from ``now``.

One module per group of kinds, each with its own describers:

* :mod:`.writer` - the prefix writer, the lines every kind shares, the Events section;
* :mod:`.pods` - Pod, and the container, volume and pod template sections;
* :mod:`.workloads` - Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob;
* :mod:`.nodes` - Node, with the pods it runs and what they request;
* :mod:`.core` - Service, Endpoints, EndpointSlice, Namespace, ConfigMap, Secret, PersistentVolume(Claim);
* :mod:`.rbac` - Role, ClusterRole, RoleBinding, ClusterRoleBinding;
* :mod:`.scheduling` - PriorityClass;
* :mod:`.networking` - NetworkPolicy;
* :mod:`.generic` - every other kind.

This module picks the describer by kind (``DESCRIBERS``), as upstream's
DescriberFor does.

Taught in chapter 3 (kubectl and describing objects) and used in every later one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from minik8s.api.resources import Resource
from minik8s.kubectl.describe.autoscaling import describe_hpa
from minik8s.kubectl.describe.core import (describe_configmap, describe_endpoint_slice, describe_endpoints,
                                           describe_namespace, describe_pv, describe_pvc, describe_secret,
                                           describe_service, describe_storageclass)
from minik8s.kubectl.describe.generic import describe_generic
from minik8s.kubectl.describe.ingress import describe_ingress, describe_ingressclass
from minik8s.kubectl.describe.networking import describe_networkpolicy
from minik8s.kubectl.describe.nodes import describe_node
from minik8s.kubectl.describe.scheduling import describe_priorityclass
from minik8s.kubectl.describe.serviceaccounts import describe_serviceaccount
from minik8s.kubectl.describe.quota import describe_limitrange, describe_resourcequota
from minik8s.kubectl.describe.policy import describe_pdb
from minik8s.kubectl.describe.pods import describe_pod, describe_pod_template, describe_probe, qos_class
from minik8s.kubectl.describe.rbac import describe_binding, describe_role
from minik8s.kubectl.describe.workloads import (describe_cronjob, describe_daemonset, describe_deployment,
                                                describe_job, describe_replicaset, describe_statefulset)
from minik8s.kubectl.describe.writer import Obj, describe_events, rfc1123z, search_events

__all__ = [
    "DESCRIBERS", "describe", "describe_configmap", "describe_cronjob", "describe_daemonset", "describe_deployment",
    "describe_endpoint_slice", "describe_endpoints",
    "describe_events", "describe_generic", "describe_job", "describe_namespace", "describe_node", "describe_pod",
    "describe_pod_template", "describe_probe", "describe_pv", "describe_pvc", "describe_replicaset",
    "describe_secret", "describe_service", "describe_statefulset", "describe_storageclass", "qos_class", "rfc1123z", "search_events",
]


DESCRIBERS: dict[str, Callable[[Any, Obj, datetime], str]] = {
    "Pod": describe_pod, "Deployment": describe_deployment, "ReplicaSet": describe_replicaset,
    "StatefulSet": describe_statefulset, "DaemonSet": describe_daemonset, "Job": describe_job,
    "CronJob": describe_cronjob, "Service": describe_service, "Node": describe_node,
    "Namespace": describe_namespace, "ConfigMap": describe_configmap, "Secret": describe_secret,
    "PersistentVolume": describe_pv, "PersistentVolumeClaim": describe_pvc, "StorageClass": describe_storageclass,
    "Endpoints": describe_endpoints, "EndpointSlice": describe_endpoint_slice,
    "Role": describe_role, "ClusterRole": describe_role, "RoleBinding": describe_binding,
    "ClusterRoleBinding": describe_binding,
    "ServiceAccount": describe_serviceaccount,
    "ResourceQuota": describe_resourcequota, "LimitRange": describe_limitrange,
    "PriorityClass": describe_priorityclass,
    "PodDisruptionBudget": describe_pdb,
    "HorizontalPodAutoscaler": describe_hpa,
    "Ingress": describe_ingress, "IngressClass": describe_ingressclass,
    "NetworkPolicy": describe_networkpolicy,
}


def describe(client: Any, resource: Resource, obj: Obj, *, now: datetime) -> str:
    """What ``kubectl describe <resource> <name>`` prints for ``obj``."""
    return DESCRIBERS.get(resource.kind, describe_generic)(client, obj, now)
