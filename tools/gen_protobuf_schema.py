"""Generate ``minik8s/apiserver/protobuf_fields.json`` from Kubernetes' ``generated.proto`` files.

The real kubectl's typed clients send request bodies as Kubernetes protobuf. Protobuf
on the wire carries only field *numbers*; the names and types live in upstream's
``generated.proto`` files (``k8s.io/api/<group>/<version>/generated.proto`` and the
apimachinery ones for ``ObjectMeta``, ``Time``, ``IntOrString``, ``Quantity``...).
This tool reads a directory of those files, keeps the messages reachable from the
kinds minik8s accepts, and writes a compact fact table that
:mod:`minik8s.apiserver.protobuf` loads at run time. The ``.proto`` files themselves
are not part of the repository, only the table.

Usage::

    python tools/gen_protobuf_schema.py DIR   # DIR holds k8s.io/api/core/v1/generated.proto, ...

(any layout works: every ``*.proto`` under DIR is read; the ``package`` line names it).

Output shape::

    {"packages": {"v1": "k8s.io.api.core.v1", "apps/v1": "k8s.io.api.apps.v1", ...},
     "messages": {"k8s.io.api.core.v1.ConfigMap": {
         "1": ["metadata", "optional", "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"],
         "2": ["data", "map", "string"], ...}, ...}}

A field is ``[json name, optional|repeated|map|inline, type]`` plus a fourth element
``true`` when its zero value must be kept: a Go pointer, mostly (see POINTER_FIELDS); ``inline`` marks an
embedded Go struct whose fields JSON lifts into the parent (see INLINE_FIELDS). The type is a scalar
(``string``, ``int32``, ``bytes``...) or a full message name; for a map it is the
value type (keys are always strings in the Kubernetes API).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minik8s.api.resources import RESOURCES  # noqa: E402

OUT = ROOT / "minik8s" / "apiserver" / "protobuf_fields.json"
META = "k8s.io.apimachinery.pkg.apis.meta.v1"

# API group -> the directory under k8s.io/api that holds its generated.proto.
GROUP_DIRS = {
    "": "core", "apps": "apps", "batch": "batch", "autoscaling": "autoscaling", "policy": "policy",
    "coordination.k8s.io": "coordination", "networking.k8s.io": "networking", "storage.k8s.io": "storage",
    "rbac.authorization.k8s.io": "rbac", "authentication.k8s.io": "authentication", "scheduling.k8s.io": "scheduling",
    "discovery.k8s.io": "discovery", "authorization.k8s.io": "authorization",
    "admissionregistration.k8s.io": "admissionregistration", "events.k8s.io": "events",
    "certificates.k8s.io": "certificates",
}
# Groups whose types live outside k8s.io/api: their protobuf package.
GROUP_PACKAGES = {"apiregistration.k8s.io": "k8s.io.kube_aggregator.pkg.apis.apiregistration"}

# Served kinds whose protobuf messages this table leaves out: CustomResourceDefinitions are defined in
# apiextensions-apiserver's own .proto (its JSON-schema messages carry raw JSON), and kubectl sends them as
# JSON; a protobuf body of one is refused as upstream refuses an unregistered kind.
JSON_ONLY = {("apiextensions.k8s.io/v1", "CustomResourceDefinition")}

# Bodies that travel in requests without being a served resource: subresources
# (eviction, scale, token) and options; and kinds the real kubectl's generators
# create (``autoscale`` posts autoscaling/v1, ``create pdb``, ``create priorityclass``).
EXTRA_ROOTS = [
    ("policy/v1", "Eviction"), ("autoscaling/v1", "Scale"), ("authentication.k8s.io/v1", "TokenRequest"),
    ("meta", "DeleteOptions"), ("autoscaling/v1", "HorizontalPodAutoscaler"), ("policy/v1", "PodDisruptionBudget"),
    ("scheduling.k8s.io/v1", "PriorityClass"),
]

# Proto2 text cannot tell a Go pointer (``*int32``: nil differs from 0) from a value
# (``int32``: 0 means unset). Go's protobuf code writes every value field, zero or
# not, so the decoder drops zero scalars, as Go's JSON ``omitempty`` would, except for
# these pointer fields, where an explicit 0, false or "" is a choice the client made
# (``replicas: 0``, ``automountServiceAccountToken: false``, ``storageClassName: ""``,
# ``maxUnavailable: 0`` for a ``*IntOrString``).
# Taken from the Go types in k8s.io/api (v1.32).
POINTER_FIELDS: dict[str, tuple[str, ...]] = {
    "certificates.v1.CertificateSigningRequestSpec": ("expirationSeconds",),
    # core/v1
    "core.v1.PodSpec": ("terminationGracePeriodSeconds", "activeDeadlineSeconds", "automountServiceAccountToken",
                        "shareProcessNamespace", "priority", "enableServiceLinks", "setHostnameAsFQDN",
                        "hostUsers", "runtimeClassName", "preemptionPolicy"),
    "core.v1.Container": ("restartPolicy",),
    "core.v1.EphemeralContainerCommon": ("restartPolicy",),
    "core.v1.Probe": ("terminationGracePeriodSeconds",),
    "core.v1.SecurityContext": ("privileged", "runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
                                "allowPrivilegeEscalation", "procMount"),
    "core.v1.PodSecurityContext": ("runAsUser", "runAsGroup", "runAsNonRoot", "fsGroup", "fsGroupChangePolicy",
                                   "supplementalGroupsPolicy", "seLinuxChangePolicy"),
    "core.v1.WindowsSecurityContextOptions": ("hostProcess",),
    "core.v1.SeccompProfile": ("localhostProfile",),
    "core.v1.AppArmorProfile": ("localhostProfile",),
    "core.v1.SecretVolumeSource": ("defaultMode", "optional"),
    "core.v1.ConfigMapVolumeSource": ("defaultMode", "optional"),
    "core.v1.ProjectedVolumeSource": ("defaultMode",),
    "core.v1.DownwardAPIVolumeSource": ("defaultMode",),
    "core.v1.DownwardAPIVolumeFile": ("mode",),
    "core.v1.KeyToPath": ("mode",),
    "core.v1.SecretProjection": ("optional",),
    "core.v1.ConfigMapProjection": ("optional",),
    "core.v1.ServiceAccountTokenProjection": ("expirationSeconds",),
    "core.v1.SecretKeySelector": ("optional",),
    "core.v1.ConfigMapKeySelector": ("optional",),
    "core.v1.SecretEnvSource": ("optional",),
    "core.v1.ConfigMapEnvSource": ("optional",),
    "core.v1.CSIVolumeSource": ("readOnly", "fsType"),
    "core.v1.EmptyDirVolumeSource": ("medium",),
    "core.v1.HostPathVolumeSource": ("type",),
    "core.v1.VolumeMount": ("recursiveReadOnly", "mountPropagation"),
    "core.v1.PersistentVolumeClaimSpec": ("storageClassName", "volumeMode", "volumeAttributesClassName"),
    "core.v1.TypedLocalObjectReference": ("apiGroup",),
    "core.v1.TypedObjectReference": ("apiGroup", "namespace"),
    "core.v1.Toleration": ("tolerationSeconds",),
    "core.v1.TopologySpreadConstraint": ("minDomains", "nodeAffinityPolicy", "nodeTaintsPolicy"),
    "core.v1.ServiceSpec": ("allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy",
                            "ipFamilyPolicy", "trafficDistribution"),
    "core.v1.ServicePort": ("appProtocol",),
    "core.v1.ClientIPConfig": ("timeoutSeconds",),
    "core.v1.ServiceAccount": ("automountServiceAccountToken",),
    "core.v1.ConfigMap": ("immutable",),
    "core.v1.Secret": ("immutable",),
    "core.v1.PodDNSConfigOption": ("value",),
    "core.v1.ClusterTrustBundleProjection": ("optional",),
    "core.v1.ReplicationControllerSpec": ("replicas",),
    # Value fields (not pointers) whose zero still means something to a reader:
    # a container that exited 0 succeeded; a Scale to 0 replicas scales to zero.
    "core.v1.ContainerStateTerminated": ("exitCode",),
    "autoscaling.v1.ScaleSpec": ("replicas",),
    # apps/v1
    "apps.v1.DeploymentSpec": ("replicas", "revisionHistoryLimit", "progressDeadlineSeconds"),
    "apps.v1.ReplicaSetSpec": ("replicas",),
    "apps.v1.StatefulSetSpec": ("replicas", "revisionHistoryLimit"),
    "apps.v1.RollingUpdateStatefulSetStrategy": ("partition", "maxUnavailable"),
    "apps.v1.RollingUpdateDeployment": ("maxUnavailable", "maxSurge"),
    "apps.v1.RollingUpdateDaemonSet": ("maxUnavailable", "maxSurge"),
    "apps.v1.DaemonSetSpec": ("revisionHistoryLimit",),
    # batch/v1
    "batch.v1.JobSpec": ("parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "backoffLimitPerIndex",
                         "maxFailedIndexes", "ttlSecondsAfterFinished", "manualSelector", "suspend", "completionMode",
                         "podReplacementPolicy", "managedBy"),
    "batch.v1.CronJobSpec": ("startingDeadlineSeconds", "suspend", "successfulJobsHistoryLimit",
                             "failedJobsHistoryLimit", "timeZone"),
    "batch.v1.PodFailurePolicyOnExitCodesRequirement": ("containerName",),
    "batch.v1.SuccessPolicyRule": ("succeededIndexes", "succeededCount"),
    # discovery.k8s.io/v1: a ready: false endpoint or a port 0 is a statement, not an omission
    "discovery.v1.Endpoint": ("hostname", "nodeName", "zone"),
    "discovery.v1.EndpointConditions": ("ready", "serving", "terminating"),
    "discovery.v1.EndpointPort": ("name", "protocol", "port", "appProtocol"),
    # networking, coordination, autoscaling, policy, authentication, meta
    "networking.v1.IngressSpec": ("ingressClassName",),
    "networking.v1.HTTPIngressPath": ("pathType",),
    "networking.v1.NetworkPolicyPort": ("port", "endPort"),
    "coordination.v1.LeaseSpec": ("holderIdentity", "leaseDurationSeconds", "leaseTransitions", "strategy",
                                  "preferredHolder"),
    "autoscaling.v1.HorizontalPodAutoscalerSpec": ("minReplicas", "targetCPUUtilizationPercentage"),
    "autoscaling.v2.HorizontalPodAutoscalerSpec": ("minReplicas",),
    "autoscaling.v2.HPAScalingRules": ("stabilizationWindowSeconds", "selectPolicy"),
    "policy.v1.PodDisruptionBudgetSpec": ("minAvailable", "maxUnavailable", "unhealthyPodEvictionPolicy"),
    "scheduling.v1.PriorityClass": ("value", "preemptionPolicy"),  # value has no omitempty: 0 is a priority
    "storage.v1.StorageClass": ("reclaimPolicy", "allowVolumeExpansion", "volumeBindingMode"),
    "authentication.v1.TokenRequestSpec": ("expirationSeconds",),
    "meta.v1.DeleteOptions": ("gracePeriodSeconds", "orphanDependents", "propagationPolicy",
                              "ignoreStoreReadErrorWithClusterBreakingPotential"),
    "meta.v1.Preconditions": ("uid", "resourceVersion"),
    "meta.v1.OwnerReference": ("controller", "blockOwnerDeletion"),
    "meta.v1.ObjectMeta": ("deletionGracePeriodSeconds",),
    # admissionregistration/v1
    "admissionregistration.v1.ValidatingWebhook": ("failurePolicy", "matchPolicy", "sideEffects", "timeoutSeconds"),
    "admissionregistration.v1.MutatingWebhook": ("failurePolicy", "matchPolicy", "sideEffects", "timeoutSeconds",
                                                 "reinvocationPolicy"),
    "admissionregistration.v1.ServiceReference": ("path", "port"),
    "admissionregistration.v1.WebhookClientConfig": ("url",),
    "admissionregistration.v1.Rule": ("scope",),
}

# Go structs embedded with ``json:",inline"``: protobuf nests them under a field of
# their own, JSON lifts their fields into the parent (a Volume's ``configMap`` sits
# beside its ``name``, not under ``volumeSource``).
INLINE_FIELDS: dict[str, str] = {
    "core.v1.Volume": "volumeSource",
    "core.v1.PersistentVolumeSpec": "persistentVolumeSource",
    "core.v1.Probe": "handler",
    "core.v1.EphemeralContainer": "ephemeralContainerCommon",
    "core.v1.ConfigMapEnvSource": "localObjectReference",
    "core.v1.ConfigMapKeySelector": "localObjectReference",
    "core.v1.ConfigMapProjection": "localObjectReference",
    "core.v1.ConfigMapVolumeSource": "localObjectReference",
    "core.v1.SecretEnvSource": "localObjectReference",
    "core.v1.SecretKeySelector": "localObjectReference",
    "core.v1.SecretProjection": "localObjectReference",
    "networking.v1.IngressRule": "ingressRuleValue",
    "admissionregistration.v1.RuleWithOperations": "rule",
}

# The few proto field names that are not the JSON name (go-to-protobuf derived them
# from the Go field name, not the json tag).
JSON_NAMES: dict[tuple[str, str], str] = {
    ("authentication.v1.BoundObjectReference", "uID"): "uid",
    ("admissionregistration.v1.MutatingWebhookConfiguration", "Webhooks"): "webhooks",
    ("admissionregistration.v1.ValidatingWebhookConfiguration", "Webhooks"): "webhooks",
    ("networking.v1.IngressClassParametersReference", "aPIGroup"): "apiGroup",
}

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_TOKENS = re.compile(r"[A-Za-z_.][\w.]*|\d+|\"[^\"]*\"|[{}<>=;,\[\]()]")


def _full_name(short: str) -> str:
    """``core.v1.PodSpec`` -> ``k8s.io.api.core.v1.PodSpec``; ``meta.v1.X`` -> the apimachinery one."""
    if short.startswith("meta.v1."):
        return f"{META}.{short[len('meta.v1.'):]}"
    return f"k8s.io.api.{short}"


def parse_proto(text: str) -> dict[str, dict[int, tuple[str, str, str]]]:
    """Parse one proto2 file into ``{full message name: {number: (name, label, type)}}``.

    Understands what go-to-protobuf writes: ``package``, ``import``, ``option``,
    top-level ``message`` blocks of ``optional``/``repeated`` fields and ``map<K, V>``
    fields. Type names may be relative to the package or fully qualified.
    """
    tokens = _TOKENS.findall(_COMMENTS.sub(" ", text))
    package, messages, i = "", {}, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "package":
            package, i = tokens[i + 1], i + 3
        elif tok in ("syntax", "import", "option"):
            i = tokens.index(";", i) + 1
        elif tok == "message":
            name = f"{package}.{tokens[i + 1]}"
            messages[name], i = _parse_fields(tokens, i + 3, package)
        else:
            raise ValueError(f"unexpected {tok!r} at top level")
    return messages


def _parse_fields(tokens: list[str], i: int, package: str) -> tuple[dict[int, tuple[str, str, str]], int]:
    fields: dict[int, tuple[str, str, str]] = {}
    while tokens[i] != "}":
        if tokens[i] == "option":
            i = tokens.index(";", i) + 1
            continue
        if tokens[i] == "map":  # map < K , V > name = N ;
            key, value, name, number = tokens[i + 2], tokens[i + 4], tokens[i + 6], int(tokens[i + 8])
            if key != "string":
                raise ValueError(f"map field {name} has non-string keys")
            fields[number] = (name, "map", _qualify(value, package))
        else:  # optional|repeated|required T name = N [options] ;
            label, typ, name, number = tokens[i], tokens[i + 1], tokens[i + 2], int(tokens[i + 4])
            fields[number] = (name, "repeated" if label == "repeated" else "optional", _qualify(typ, package))
        i = tokens.index(";", i) + 1
    return fields, i + 1


SCALARS = {"string", "bytes", "bool", "int32", "int64", "uint32", "uint64", "sint32", "sint64",
           "fixed32", "fixed64", "sfixed32", "sfixed64", "double", "float"}


def _qualify(typ: str, package: str) -> str:
    if typ in SCALARS:
        return typ
    if typ.startswith("."):
        return typ[1:]
    return typ if "." in typ else f"{package}.{typ}"


def _package_of(api_version: str) -> str:
    if api_version == "meta":
        return META
    group, _, version = api_version.rpartition("/")
    if group in GROUP_PACKAGES:
        return f"{GROUP_PACKAGES[group]}.{version}"
    return f"k8s.io.api.{GROUP_DIRS[group]}.{version}"


def build(all_messages: dict[str, dict[int, tuple[str, str, str]]]) -> dict[str, Any]:
    """Keep the messages reachable from the roots; attach pointer flags."""
    roots = [(r.api_version, r.kind) for r in RESOURCES if (r.api_version, r.kind) not in JSON_ONLY] + EXTRA_ROOTS
    packages = {av: _package_of(av) for av, _ in roots if av != "meta"}
    todo = [f"{_package_of(av)}.{kind}" for av, kind in roots]
    pointers = {_full_name(m): set(names) for m, names in POINTER_FIELDS.items()}
    inline = {(_full_name(m), f) for m, f in INLINE_FIELDS.items()}
    renames = {(_full_name(m), f): json_name for (m, f), json_name in JSON_NAMES.items()}
    out: dict[str, dict[str, list[Any]]] = {}
    while todo:
        name = todo.pop()
        if name in out:
            continue
        if name not in all_messages:
            raise KeyError(f"message {name} is not in the .proto files read")
        out[name] = {}
        for number, (field, label, typ) in sorted(all_messages[name].items()):
            label = "inline" if (name, field) in inline else label
            entry: list[Any] = [renames.get((name, field), field), label, typ]
            if field in pointers.get(name, ()):
                entry.append(True)
            out[name][str(number)] = entry
            if typ not in SCALARS:
                todo.append(typ)
    for message, names in [*pointers.items(), *((m, {f}) for m, f in inline | set(renames))]:
        missing = names - {f for f, *_ in all_messages.get(message, {}).values()}
        if message in out and missing:
            raise KeyError(f"{message} has no field {sorted(missing)}")
    return {"packages": dict(sorted(packages.items())), "messages": dict(sorted(out.items()))}


def _dump(table: dict[str, Any]) -> str:
    """One line per message keeps the file small and its diffs readable."""
    lines = ["{", f' "packages": {json.dumps(table["packages"])},', ' "messages": {']
    items = list(table["messages"].items())
    for n, (name, fields) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        lines.append(f"  {json.dumps(name)}: {json.dumps(fields, separators=(',', ':'))}{comma}")
    lines += [" }", "}", ""]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    messages: dict[str, dict[int, tuple[str, str, str]]] = {}
    for path in sorted(Path(argv[1]).rglob("*.proto")):
        messages.update(parse_proto(path.read_text()))
    table = build(messages)
    OUT.write_text(_dump(table))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(table['messages'])} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
