"""Validation: the rules an object must satisfy before the API server stores it.

After decoding (:mod:`minik8s.api.schema`) and defaulting (:mod:`minik8s.api.defaults`),
the API server validates every create and update. A failure is a 422 Invalid whose
causes are field errors, worded as upstream words them, so that kubectl prints the
same lines against minik8s as against a real cluster::

    The Pod "web" is invalid: spec.containers[0].image: Required value

Rules follow ``k8s.io/kubernetes/pkg/apis/{core,apps,batch}/validation`` and
``k8s.io/apimachinery/pkg/util/validation``, one module per concept:

    names       name formats: DNS-1123 subdomains and labels, DNS-1035 labels, path segments, ports, keys
    printing    values as Go prints them inside messages (%q, %#v, Quantity.String())
    fields      tolerant field accessors and field-error helpers shared by every rule
    meta        object metadata: name, namespace, labels, annotations, finalizers, identity on update
    containers  containers: ports, probes, resources, env, volume mounts
    pods        pod specs and templates: volumes, policies, tolerations; what a pod update may change
    workloads   Deployments, ReplicaSets, StatefulSets, DaemonSets, ReplicationControllers, autoscalers
    batch       Jobs, CronJobs and cron schedules
    storage     PersistentVolumes and PersistentVolumeClaims
    core        Services, ConfigMaps, Secrets, Namespaces, Nodes
    discovery   EndpointSlices
    policy      PodDisruptionBudgets
    ingress     Ingresses and IngressClasses
    networking  NetworkPolicies
    events      Events written through events.k8s.io/v1
    certificates  CertificateSigningRequests

This package holds the single entry point: ``validate`` checks the metadata of any
object, then looks the kind up in a dispatch table for its own rules, and on update
in a second table for what may change.

Interface:
    validate(obj, old=None) -> list[FieldError]   # old is the stored object on update
    immutable(new, old, path) -> list[FieldError]  # upstream ValidateImmutableField
    canonical_quantity(text) -> str                # Quantity.String(), as messages print it
    validate_cron_schedule(text) -> str | None     # why a cron schedule is invalid
    (and the public names of the modules above, re-exported here)

Invariants: ``validate`` never raises on any JSON value (garbage yields errors or
nothing; the schema decoder catches type errors first), never modifies its input,
and reports errors in the order upstream does.

Taught in chapter 3 (the API: defaulting and validation); the workload rules in
chapters 5-8.
"""

from __future__ import annotations

from typing import Any, Callable

from minik8s.api import autoscaling, resources
from minik8s.api.errors import invalid_value
from minik8s.api.validation.admissionregistration import _webhook_configuration
from minik8s.api.validation.apiregistration import _apiservice
from minik8s.api.validation.certificates import _csr, _csr_update
from minik8s.api.validation.batch import _cron_job, _job, _job_update, validate_cron_schedule
from minik8s.api.validation.core import (MAX_SECRET_SIZE, _config_map, _config_map_update, _namespace, _node,
                                         _secret, _secret_update, _service, _service_update)
from minik8s.api.validation.containers import ENV_NAME_MSG
from minik8s.api.validation.discovery import _endpoint_slice, _endpoint_slice_update
from minik8s.api.validation.events import _event, _event_update
from minik8s.api.validation.fields import (IMMUTABLE_MSG, NONNEGATIVE_MSG, POSITIVE_MSG, Errors, Obj, _str,
                                           immutable)
from minik8s.api.validation.ingress import _ingress, _ingress_class, _ingress_class_update
from minik8s.api.validation.meta import (TOTAL_ANNOTATION_SIZE, NameCheck, validate_annotations, validate_object_meta,
                                         validate_object_meta_update)
from minik8s.api.validation.names import (CONFIG_KEY_FMT, CONFIG_KEY_MSG, DNS1035_LABEL_FMT, DNS1035_LABEL_MSG,
                                          DNS1123_LABEL_FMT, DNS1123_LABEL_MSG, DNS1123_SUBDOMAIN_FMT,
                                          DNS1123_SUBDOMAIN_MSG, PERCENT_FMT, PERCENT_MSG, PORT_RANGE_MSG,
                                          is_config_key, is_dns1035_label, is_dns1123_label, is_dns1123_subdomain,
                                          is_path_segment, is_port_name, regex_error)
from minik8s.api.validation.pods import (POD_UPDATABLE_FIELDS, POD_UPDATE_MSG, _pod, _pod_update, validate_pod_spec,
                                         validate_pod_template)
from minik8s.api.validation.networking import _network_policy
from minik8s.api.validation.policy import _pod_disruption_budget
from minik8s.api.validation.printing import canonical_quantity, go_label_selector, go_string_map, go_value
from minik8s.api.validation.rbac import (_binding_update, _cluster_role, _cluster_role_binding, _role,
                                          _role_binding)
from minik8s.api.validation.storage import PVC_UPDATE_MSG, _claim, _claim_update, _persistent_volume
from minik8s.api.validation.workloads import (STS_UPDATE_MSG, _daemon_set, _deployment, _hpa, _replica_set,
                                              _replication_controller, _selector_update, _stateful_set,
                                              _stateful_set_update)

__all__ = [
    "validate", "Validator", "UpdateValidator",
    # names
    "CONFIG_KEY_FMT", "CONFIG_KEY_MSG", "DNS1035_LABEL_FMT", "DNS1035_LABEL_MSG", "DNS1123_LABEL_FMT",
    "DNS1123_LABEL_MSG", "DNS1123_SUBDOMAIN_FMT", "DNS1123_SUBDOMAIN_MSG", "PERCENT_FMT", "PERCENT_MSG",
    "PORT_RANGE_MSG", "is_config_key", "is_dns1035_label", "is_dns1123_label", "is_dns1123_subdomain",
    "is_path_segment", "is_port_name", "regex_error",
    # printing
    "canonical_quantity", "go_label_selector", "go_string_map", "go_value",
    # fields
    "IMMUTABLE_MSG", "NONNEGATIVE_MSG", "POSITIVE_MSG", "Errors", "Obj", "immutable",
    # meta
    "TOTAL_ANNOTATION_SIZE", "NameCheck", "validate_annotations", "validate_object_meta",
    "validate_object_meta_update",
    # containers and pods
    "ENV_NAME_MSG", "POD_UPDATABLE_FIELDS", "POD_UPDATE_MSG", "validate_pod_spec", "validate_pod_template",
    # workloads, batch, storage, core
    "STS_UPDATE_MSG", "validate_cron_schedule", "PVC_UPDATE_MSG", "MAX_SECRET_SIZE",
]

# --- dispatch ------------------------------------------------------------------------------------------------

Validator = Callable[[Obj], Errors]
UpdateValidator = Callable[[Obj, Obj], Errors]

# Name rules per kind; the default is a DNS-1123 subdomain.
_NAME_CHECKS: dict[str, NameCheck] = {
    "v1/Namespace": is_dns1123_label,
    "v1/Service": is_dns1035_label,  # Service names become DNS labels, so they must start with a letter
    "rbac.authorization.k8s.io/v1/Role": is_path_segment,
    "rbac.authorization.k8s.io/v1/ClusterRole": is_path_segment,
    "rbac.authorization.k8s.io/v1/RoleBinding": is_path_segment,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": is_path_segment,
}

_VALIDATORS: dict[str, Validator] = {
    "v1/Pod": _pod,
    "v1/Service": _service,
    "v1/ConfigMap": _config_map,
    "v1/Secret": _secret,
    "v1/Namespace": _namespace,
    "v1/Node": _node,
    "v1/PersistentVolumeClaim": _claim,
    "v1/PersistentVolume": _persistent_volume,
    "v1/ReplicationController": _replication_controller,
    "apps/v1/Deployment": _deployment,
    "apps/v1/ReplicaSet": _replica_set,
    "apps/v1/StatefulSet": _stateful_set,
    "apps/v1/DaemonSet": _daemon_set,
    "batch/v1/Job": _job,
    "batch/v1/CronJob": _cron_job,
    "autoscaling/v2/HorizontalPodAutoscaler": _hpa,
    "autoscaling/v1/HorizontalPodAutoscaler": lambda obj: _hpa(autoscaling.to_v2(obj)),
    "discovery.k8s.io/v1/EndpointSlice": _endpoint_slice,
    "policy/v1/PodDisruptionBudget": _pod_disruption_budget,
    "networking.k8s.io/v1/NetworkPolicy": _network_policy,
    "events.k8s.io/v1/Event": _event,
    "rbac.authorization.k8s.io/v1/Role": _role,
    "rbac.authorization.k8s.io/v1/ClusterRole": _cluster_role,
    "rbac.authorization.k8s.io/v1/RoleBinding": _role_binding,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": _cluster_role_binding,
    "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration": _webhook_configuration,
    "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": _webhook_configuration,
    "apiregistration.k8s.io/v1/APIService": _apiservice,
    "networking.k8s.io/v1/Ingress": _ingress,
    "networking.k8s.io/v1/IngressClass": _ingress_class,
    "certificates.k8s.io/v1/CertificateSigningRequest": _csr,
}

_UPDATE_VALIDATORS: dict[str, UpdateValidator] = {
    "v1/Pod": _pod_update,
    "v1/Service": _service_update,
    "v1/ConfigMap": _config_map_update,
    "v1/Secret": _secret_update,
    "v1/PersistentVolumeClaim": _claim_update,
    "apps/v1/Deployment": _selector_update,
    "apps/v1/ReplicaSet": _selector_update,
    "apps/v1/DaemonSet": _selector_update,
    "apps/v1/StatefulSet": _stateful_set_update,
    "batch/v1/Job": _job_update,
    "discovery.k8s.io/v1/EndpointSlice": _endpoint_slice_update,
    "events.k8s.io/v1/Event": _event_update,
    "rbac.authorization.k8s.io/v1/RoleBinding": _binding_update,
    "rbac.authorization.k8s.io/v1/ClusterRoleBinding": _binding_update,
    "networking.k8s.io/v1/IngressClass": _ingress_class_update,
    "certificates.k8s.io/v1/CertificateSigningRequest": _csr_update,
}


def _namespaced(api_version: str, kind: str) -> bool:
    resource = resources.by_kind(api_version, kind)
    return resource.namespaced if resource is not None else True


def validate(obj: Any, old: Any = None) -> Errors:
    """All field errors of ``obj`` (after defaulting); ``old`` is the stored object on update.

    Returns an empty list when the object is valid. Kinds without specific rules get the
    metadata checks only. Never raises."""
    if not isinstance(obj, dict):
        return [invalid_value("", None, "must be an object")]
    api_version, kind = _str(obj, "apiVersion"), _str(obj, "kind")
    key = f"{api_version}/{kind}"
    errs = validate_object_meta(obj.get("metadata"), _namespaced(api_version, kind),
                                _NAME_CHECKS.get(key, is_dns1123_subdomain))
    validator = _VALIDATORS.get(key)
    if validator is not None:
        errs += validator(obj)
    if isinstance(old, dict):
        errs += validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        update = _UPDATE_VALIDATORS.get(key)
        if update is not None:
            errs += update(obj, old)
    return errs
