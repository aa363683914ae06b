"""PodSecurity: the Pod Security Standards, enforced per namespace by its labels.

A namespace opts in with labels, one per mode, each naming a level (``privileged``,
``baseline`` or ``restricted``) and optionally a version (``latest``, ``v1.32``)::

    pod-security.kubernetes.io/enforce: restricted       # refuse violating pods (403)
    pod-security.kubernetes.io/enforce-version: latest
    pod-security.kubernetes.io/warn: baseline            # admit, with a Warning header
    pod-security.kubernetes.io/audit: baseline           # would annotate the audit log

``baseline`` forbids the known privilege escalations (host namespaces, privileged
containers, capabilities beyond the default set, hostPath volumes, host ports,
/proc unmasking, seccomp ``Unconfined``, SELinux types and AppArmor profiles that are not
the defaults, unsafe sysctls); ``restricted`` also requires hardening (only the plain
volume types, ``allowPrivilegeEscalation: false``, ``runAsNonRoot: true``, no
``runAsUser: 0``, seccomp ``RuntimeDefault``/``Localhost``, capabilities dropped to
``ALL`` with ``NET_BIND_SERVICE`` the only one added back). A refusal names every failed
check::

    pods "x" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false
    (container "web" must set securityContext.allowPrivilegeEscalation=false), ...

Workloads (Deployments, Jobs, ...) are never refused: their pod template only earns a
``would violate PodSecurity ...`` warning, so the problem is seen before the pods fail.

Interface:
    PodSecurity(api)                     # the plugin (name "PodSecurity")
    check(level, pod_spec, pod_meta) -> [(reason, detail)]   # the failed checks, in upstream's order
    LEVELS = ("privileged", "baseline", "restricted")

Labelling a namespace with a stricter enforce level refuses nothing that runs, but warns
(``existing pods in namespace "x" violate the new PodSecurity enforce level ...``): with
``--dry-run=server`` that is how to see what a level would break. Labels that do not
parse are refused (422).

Invariants: a pod update that leaves the spec alone is not checked (upstream's rule, so
labels can change on a pod admitted before the namespace tightened); a missing or
unparsable ``warn`` level defaults to the ``enforce`` one; writes to subresources are not
checked, but for ``pods/ephemeralcontainers`` (``kubectl debug``), checked as the pod.

How minik8s differs: every version label is evaluated with the latest standards; the
audit mode is accepted but there is no audit log to annotate; Windows ``hostProcess`` is
not checked. Of what the checks forbid, minik8s's runtimes honour host ports, hostPath
volumes and (docker runtime) privileged and capabilities; the rest is checked as upstream
does, so the same manifests pass and fail.

Taught in chapter 16 (ServiceAccounts and RBAC) and the chapter on security contexts.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable

from minik8s.api import errors
from minik8s.api.errors import FieldError, invalid_value
from minik8s.api import resources as api_resources
from minik8s.apiserver.admission.chain import CREATE, UPDATE, Attributes

if TYPE_CHECKING:
    from minik8s.apiserver.apiserver import APIServer

Obj = dict[str, Any]

LEVELS = ("privileged", "baseline", "restricted")
LABEL = "pod-security.kubernetes.io/"
NAMESPACES = api_resources.get("", "v1", "namespaces")

BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
RESTRICTED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                      "projected", "secret")
SAFE_SYSCTLS = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
                          "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                          "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                          "net.ipv4.tcp_keepalive_probes"})
SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
# Where each workload kind keeps its pod template.
TEMPLATE_PATHS = {"Deployment": ("spec", "template"), "ReplicaSet": ("spec", "template"),
                  "StatefulSet": ("spec", "template"), "DaemonSet": ("spec", "template"),
                  "Job": ("spec", "template"), "ReplicationController": ("spec", "template"),
                  "CronJob": ("spec", "jobTemplate", "spec", "template"), "PodTemplate": ("template",)}

Failure = tuple[str, str]
_VERSION = re.compile(r"v1\.(0|[1-9][0-9]*)")


# --- wording helpers -----------------------------------------------------------------------

def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _who(names: list[str], verb_one: str = "", verb_many: str = "") -> str:
    """``container "web"`` or ``containers "a", "b"`` (with the verb in the right number)."""
    word = "container" if len(names) == 1 else "containers"
    verb = verb_one if len(names) == 1 else verb_many
    return f"{word} {_quoted(names)}" + (f" {verb}" if verb else "")


def _containers(spec: Obj) -> list[Obj]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]


def _sc(container: Obj) -> Obj:
    return container.get("securityContext") or {}


# --- the baseline checks ------------------------------------------------------------------

def _host_namespaces(spec: Obj, meta: Obj) -> Failure | None:
    used = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    return ("host namespaces", ", ".join(used)) if used else None


def _privileged(spec: Obj, meta: Obj) -> Failure | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged")]
    return ("privileged", f"{_who(bad)} must not set securityContext.privileged=true") if bad else None


def _capabilities_baseline(spec: Obj, meta: Obj) -> Failure | None:
    bad, caps = [], []
    for c in _containers(spec):
        added = [cap for cap in ((_sc(c).get("capabilities") or {}).get("add") or []) if cap not in BASELINE_CAPABILITIES]
        if added:
            bad.append(c.get("name", ""))
            caps += added
    if not bad:
        return None
    return ("non-default capabilities",
            f"{_who(bad)} must not include {_quoted(sorted(set(caps)))} in securityContext.capabilities.add")


def _host_path(spec: Obj, meta: Obj) -> Failure | None:
    bad = [v.get("name", "") for v in spec.get("volumes") or [] if "hostPath" in v]
    if not bad:
        return None
    return ("hostPath volumes", f"{'volume' if len(bad) == 1 else 'volumes'} {_quoted(bad)}")


def _host_ports(spec: Obj, meta: Obj) -> Failure | None:
    bad, ports = [], []
    for c in _containers(spec):
        used = [str(p["hostPort"]) for p in c.get("ports") or [] if p.get("hostPort")]
        if used:
            bad.append(c.get("name", ""))
            ports += used
    if not bad:
        return None
    ports = sorted(set(ports))
    return ("hostPort", f"{_who(bad, 'uses', 'use')} {'hostPort' if len(ports) == 1 else 'hostPorts'} "
                        f"{', '.join(ports)}")


def _app_armor(spec: Obj, meta: Obj) -> Failure | None:
    """Unconfined profiles, set in the pod's or a container's securityContext or in the old
    per-container annotations; upstream names who set them and the values, Go-quoted."""
    setters, values = [], set()
    pod_type = ((spec.get("securityContext") or {}).get("appArmorProfile") or {}).get("type")
    if pod_type and pod_type not in ("RuntimeDefault", "Localhost"):
        setters.append("pod")
        values.add(pod_type)
    bad = []
    for c in _containers(spec):
        kind = (_sc(c).get("appArmorProfile") or {}).get("type")
        if kind and kind not in ("RuntimeDefault", "Localhost"):
            bad.append(c.get("name", ""))
            values.add(kind)
    if bad:
        setters.append(_who(bad))
    shown = sorted(values)
    annotations = sorted(f"{key}={json.dumps(value)}" for key, value in (meta.get("annotations") or {}).items()
                         if key.startswith("container.apparmor.security.beta.kubernetes.io/") and value
                         and value != "runtime/default" and not value.startswith("localhost/"))
    if annotations:
        shown += annotations
        setters.append("annotation" if len(annotations) == 1 else "annotations")
    if not setters:
        return None
    reason = "forbidden AppArmor profile" if len(shown) == 1 else "forbidden AppArmor profiles"
    return reason, f"{' and '.join(setters)} must not set AppArmor profile type to {_quoted_go(shown)}"


def _quoted_go(values: list[str]) -> str:
    """Go's %q for each value (escaped quotes), comma-separated."""
    return ", ".join(json.dumps(v) for v in values)


def _selinux(spec: Obj, meta: Obj) -> Failure | None:
    pod_bad, user, role = False, False, False
    bad: list[str] = []
    types: set[str] = set()
    options = [(None, (spec.get("securityContext") or {}).get("seLinuxOptions"))] + \
        [(c.get("name", ""), _sc(c).get("seLinuxOptions")) for c in _containers(spec)]
    for name, opts in options:
        if not opts:
            continue
        wrong = opts.get("type", "") not in SELINUX_TYPES
        if wrong:
            types.add(opts["type"])
        user, role = user or bool(opts.get("user")), role or bool(opts.get("role"))
        if wrong or opts.get("user") or opts.get("role"):
            if name is None:
                pod_bad = True
            else:
                bad.append(name)
    if not pod_bad and not bad:
        return None
    data = [f"{'type' if len(types) == 1 else 'types'} {_quoted(sorted(types))}"] if types else []
    data += ["user may not be set"] if user else []
    data += ["role may not be set"] if role else []
    return ("seLinuxOptions",
            f"{_setters(pod_bad, bad)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}")


def _proc_mount(spec: Obj, meta: Obj) -> Failure | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("procMount", "Default") != "Default"]
    if not bad:
        return None
    mounts = sorted({_sc(c)["procMount"] for c in _containers(spec) if c.get("name", "") in bad})
    return ("procMount", f"{_who(bad)} must not set securityContext.procMount to {_quoted(mounts)}")


def _seccomp_baseline(spec: Obj, meta: Obj) -> Failure | None:
    pod_bad = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type") == "Unconfined"
    names = [c.get("name", "") for c in _containers(spec)
             if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined"]
    if not pod_bad and not names:
        return None
    return ("seccompProfile",
            f'{_setters(pod_bad, names)} must not set securityContext.seccompProfile.type to "Unconfined"')


def _sysctls(spec: Obj, meta: Obj) -> Failure | None:
    bad = [s.get("name", "") for s in ((spec.get("securityContext") or {}).get("sysctls") or [])
           if s.get("name") not in SAFE_SYSCTLS]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


# --- the restricted checks ----------------------------------------------------------------

def _allow_privilege_escalation(spec: Obj, meta: Obj) -> Failure | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False]
    return ("allowPrivilegeEscalation != false",
            f"{_who(bad)} must set securityContext.allowPrivilegeEscalation=false") if bad else None


def _capabilities_restricted(spec: Obj, meta: Obj) -> Failure | None:
    no_drop, bad_add, caps = [], [], []
    for c in _containers(spec):
        capabilities = _sc(c).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            no_drop.append(c.get("name", ""))
        added = [cap for cap in capabilities.get("add") or [] if cap != "NET_BIND_SERVICE"]
        if added:
            bad_add.append(c.get("name", ""))
            caps += added
    parts = []
    if no_drop:
        parts.append(f'{_who(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if bad_add:
        parts.append(f"{_who(bad_add)} must not include {_quoted(sorted(set(caps)))} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(parts)) if parts else None


def _restricted_volumes(spec: Obj, meta: Obj) -> Failure | None:
    bad, kinds = [], []
    for volume in spec.get("volumes") or []:
        kind = next((k for k in volume if k != "name"), "")
        if kind and kind not in RESTRICTED_VOLUMES:
            bad.append(volume.get("name", ""))
            kinds.append(kind)
    if not bad:
        return None
    kinds = sorted(set(kinds))
    return ("restricted volume types",
            f"{'volume' if len(bad) == 1 else 'volumes'} {_quoted(bad)} {'uses' if len(bad) == 1 else 'use'} "
            f"{'restricted volume type' if len(kinds) == 1 else 'restricted volume types'} {_quoted(kinds)}")


def _setters(pod_bad: bool, containers: list[str]) -> str:
    """``pod``, ``container "a"`` or ``pod and containers "a", "b"``: who set a forbidden value."""
    who = (["pod"] if pod_bad else []) + ([_who(containers)] if containers else [])
    return " and ".join(who)


def _run_as_non_root(spec: Obj, meta: Obj) -> Failure | None:
    pod_value = (spec.get("securityContext") or {}).get("runAsNonRoot")
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c.get("name", ""))
        elif value is None and pod_value is not True:
            implicit.append(c.get("name", ""))
    parts = []
    if pod_value is False or explicit:
        parts.append(f"{_setters(pod_value is False, explicit)} must not set securityContext.runAsNonRoot=false")
    if implicit:
        parts.append(f"pod or {_who(implicit)} must set securityContext.runAsNonRoot=true")
    return ("runAsNonRoot != true", "; ".join(parts)) if parts else None


def _run_as_user(spec: Obj, meta: Obj) -> Failure | None:
    pod_bad = (spec.get("securityContext") or {}).get("runAsUser") == 0
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if not pod_bad and not bad:
        return None
    return ("runAsUser=0", f"{_setters(pod_bad, bad)} must not set runAsUser=0")


def _seccomp_restricted(spec: Obj, meta: Obj) -> Failure | None:
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = ((spec.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    parts, bad, kinds, unset = [], [], set(), []
    if pod_type is not None and pod_type not in allowed:
        parts.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    pod_set = pod_type in allowed
    for c in _containers(spec):
        kind = (_sc(c).get("seccompProfile") or {}).get("type")
        if kind is None:
            if not pod_set:
                unset.append(c.get("name", ""))
        elif kind not in allowed:
            bad.append(c.get("name", ""))
            kinds.add(kind)
    if bad:
        parts.append(f"{_who(bad)} must not set securityContext.seccompProfile.type to {_quoted(sorted(kinds))}")
    if unset:
        parts.append(f'pod or {_who(unset)} must set securityContext.seccompProfile.type to "RuntimeDefault" '
                     f'or "Localhost"')
    return ("seccompProfile", "; ".join(parts)) if parts else None


Check = Callable[[Obj, Obj], "Failure | None"]

# In upstream's order: the baseline checks, then the restricted ones, each group in the order
# upstream registers them. A restricted check that replaces a baseline one names it (the baseline
# one is then skipped); the others add to baseline's (a hostPath volume fails both "hostPath
# volumes" and "restricted volume types", as upstream reports it).
CHECKS: list[tuple[str, Check, str | None]] = [
    ("baseline", _app_armor, None),
    ("baseline", _capabilities_baseline, None),
    ("baseline", _host_namespaces, None),
    ("baseline", _host_path, None),
    ("baseline", _host_ports, None),
    ("baseline", _privileged, None),
    ("baseline", _proc_mount, None),
    ("baseline", _selinux, None),
    ("baseline", _seccomp_baseline, None),
    ("baseline", _sysctls, None),
    ("restricted", _allow_privilege_escalation, None),
    ("restricted", _capabilities_restricted, None),
    ("restricted", _restricted_volumes, None),
    ("restricted", _run_as_non_root, None),
    ("restricted", _run_as_user, None),
    ("restricted", _seccomp_restricted, "_seccomp_baseline"),
]


def check(level: str, spec: Obj, meta: Obj | None = None) -> list[Failure]:
    """The checks a pod spec fails at ``level``, each (reason, detail), in upstream's order."""
    if level not in ("baseline", "restricted"):
        return []
    active = [entry for entry in CHECKS if level == "restricted" or entry[0] == "baseline"]
    replaced = {entry[2] for entry in active if entry[2]}
    failed = []
    for _, func, _ in active:
        if func.__name__ in replaced:
            continue
        result = func(spec or {}, meta or {})
        if result is not None:
            failed.append(result)
    return failed


def describe(failures: list[Failure]) -> str:
    return ", ".join(f"{reason} ({detail})" if detail else reason for reason, detail in failures)


# --- the plugin ---------------------------------------------------------------------------

def _policy(labels: dict[str, str], mode: str) -> tuple[str, str] | None:
    """(level, version) of one mode, or None when unset. An unknown level is taken as restricted,
    the safe reading (upstream does the same)."""
    level = labels.get(LABEL + mode)
    if level is None:
        return None
    if level not in LEVELS:
        level = "restricted"
    return level, labels.get(LABEL + mode + "-version") or "latest"


def label_errors(labels: dict[str, str]) -> list[FieldError]:
    """The namespace's PodSecurity labels that do not parse (upstream refuses them: 422)."""
    errs: list[FieldError] = []
    for mode in ("enforce", "audit", "warn"):
        key = LABEL + mode
        if key in labels and labels[key] not in LEVELS:
            errs.append(invalid_value(f"metadata.labels[{key}]", labels[key],
                                      "must be one of privileged, baseline, restricted"))
        version = labels.get(key + "-version")
        if version is not None and version != "latest" and not _VERSION.fullmatch(version):
            errs.append(invalid_value(f"metadata.labels[{key}-version]", version, 'must be "latest" or "v1.x"'))
    return errs


def _template(obj: Obj, kind: str) -> Obj | None:
    node: Any = obj
    for step in TEMPLATE_PATHS[kind]:
        node = (node or {}).get(step) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


class PodSecurity:
    """Enforce refuses pods; warn (defaulting to the enforce level) adds warnings, also for workloads."""

    name = "PodSecurity"

    def __init__(self, api: APIServer):
        self.api = api

    def _labels(self, namespace: str) -> dict[str, str]:
        ns = self.api.store.get((NAMESPACES.qualified, "", namespace))
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def validate(self, attrs: Attributes) -> None:
        kind = attrs.resource.kind
        if attrs.resource is NAMESPACES and attrs.operation in (CREATE, UPDATE) and attrs.obj is not None \
                and not attrs.subresource:
            self._namespace(attrs)
            return
        # ``kubectl debug`` adds containers through pods/ephemeralcontainers: checked as the pod is.
        checked = attrs.subresource == "" or (attrs.subresource == "ephemeralcontainers" and kind == "Pod")
        if attrs.operation not in (CREATE, UPDATE) or not checked or not attrs.namespace or attrs.obj is None:
            return
        if attrs.resource.qualified != "pods" and (kind not in TEMPLATE_PATHS or attrs.resource.group not in
                                                    ("", "apps", "batch")):
            return
        labels = self._labels(attrs.namespace)
        enforce = _policy(labels, "enforce")
        warn = _policy(labels, "warn") or enforce
        if enforce is None and warn is None:
            return
        if attrs.resource.qualified == "pods":
            self._pod(attrs, enforce, warn)
        else:
            template = _template(attrs.obj, kind)
            if template is not None and (attrs.old is None or _template(attrs.old, kind) != template):
                self._warn(attrs, warn, template.get("spec") or {}, template.get("metadata") or {})

    def _namespace(self, attrs: Attributes) -> None:
        """Bad labels are 422; a tightened enforce level warns about the pods that already break it."""
        assert attrs.obj is not None
        labels = (attrs.obj.get("metadata") or {}).get("labels") or {}
        errs = label_errors(labels)
        if errs:
            raise errors.invalid("Namespace", "", attrs.name, errs)
        enforce = _policy(labels, "enforce")
        old = _policy(((attrs.old or {}).get("metadata") or {}).get("labels") or {}, "enforce")
        if attrs.old is None or enforce is None or enforce == old or attrs.warnings is None:
            return
        pods, _ = self.api.store.list("pods", attrs.name)
        groups: dict[str, list[str]] = {}
        for pod in pods:
            failures = check(enforce[0], pod.get("spec") or {}, pod.get("metadata") or {})
            if failures:
                groups.setdefault(", ".join(reason for reason, _ in failures), []).append(pod["metadata"]["name"])
        if not groups:
            return
        attrs.warnings.append(f'existing pods in namespace "{attrs.name}" violate the new PodSecurity enforce '
                              f'level "{enforce[0]}:{enforce[1]}"')
        for reasons, names in groups.items():
            more = {1: "", 2: " (and 1 other pod)"}.get(len(names), f" (and {len(names) - 1} other pods)")
            attrs.warnings.append(f"{names[0]}{more}: {reasons}")

    def _pod(self, attrs: Attributes, enforce: tuple[str, str] | None, warn: tuple[str, str] | None) -> None:
        assert attrs.obj is not None
        spec, meta = attrs.obj.get("spec") or {}, attrs.obj.get("metadata") or {}
        if attrs.old is not None and (attrs.old.get("spec") or {}) == spec:
            return  # a metadata or status change: a pod admitted before is not refused later
        if enforce is not None:
            failures = check(enforce[0], spec, meta)
            if failures:
                why = f'violates PodSecurity "{enforce[0]}:{enforce[1]}": {describe(failures)}'
                name = attrs.name or meta.get("generateName") or "Unknown"
                raise errors.forbidden(attrs.resource.group, attrs.resource.plural, name, why)
        if warn is not None and warn != enforce:
            self._warn(attrs, warn, spec, meta)

    @staticmethod
    def _warn(attrs: Attributes, warn: tuple[str, str] | None, spec: Obj, meta: Obj) -> None:
        if warn is None or attrs.warnings is None:
            return
        failures = check(warn[0], spec, meta)
        if failures:
            attrs.warnings.append(f'would violate PodSecurity "{warn[0]}:{warn[1]}": {describe(failures)}')
