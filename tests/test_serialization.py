"""Objects as upstream serialises them: every field upstream's OpenAPI marks required is there, so the
official client's models (which refuse a missing required field) read every kind the server returns."""

from __future__ import annotations

import base64

import pytest
from kubernetes import client as k8s

from minik8s import Cluster
from minik8s.api import resources

WORKLOADS = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ds}
spec:
  selector: {matchLabels: {app: ds}}
  template:
    metadata: {labels: {app: ds}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: ReplicationController
metadata: {name: rc}
spec:
  replicas: 1
  selector: {app: rc}
  template:
    metadata: {labels: {app: rc}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: sts}
spec:
  serviceName: sts
  replicas: 0
  selector: {matchLabels: {app: sts}}
  template:
    metadata: {labels: {app: sts}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: "1"}
binaryData: {b: AAE=}
"""

# One object of each kind no controller makes by itself, so that every kind the server lists is checked.
EVERY_OTHER_KIND = """
apiVersion: v1
kind: Secret
metadata: {name: token}
stringData: {password: s3cret}
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec: {limits: [{type: Container, default: {cpu: 500m}}]}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota}
spec: {hard: {pods: "50"}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: pv1}
spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /tmp/pv1}, storageClassName: manual}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: claim}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}, storageClassName: manual}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: slow}
provisioner: example.com/none
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox, command: ["true"]}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  maxReplicas: 4
---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: other}
spec: {controller: example.com/ingress}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: check}
webhooks:
- name: check.example.com
  clientConfig: {url: "https://127.0.0.1:9/check"}
  rules: [{operations: [CREATE], apiGroups: [example.com], apiVersions: [v1], resources: [widgets]}]
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Ignore
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: mutate}
webhooks:
- name: mutate.example.com
  clientConfig: {url: "https://127.0.0.1:9/mutate"}
  rules: [{operations: [CREATE], apiGroups: [example.com], apiVersions: [v1], resources: [widgets]}]
  sideEffects: None
  admissionReviewVersions: [v1]
  failurePolicy: Ignore
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1.example.com}
spec: {group: example.com, version: v1, groupPriorityMinimum: 1000, versionPriority: 15}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}
"""

# Every kind the server lists: each one's objects must read into the official client's model.
KINDS = [r.kind for r in resources.RESOURCES if "list" in r.verbs]


def _model(kind: str, group_version: str) -> str:
    version = group_version.rsplit("/", 1)[-1]
    core_v1_event = kind == "Event" and group_version == "v1"   # the client names it apart from events.k8s.io's
    return f"CoreV1{kind}" if core_v1_event else f"{version.capitalize()}{kind}"


@pytest.fixture(scope="module")
def settled():
    with Cluster(nodes=1, runtime="simulated", seed=1) as cluster:
        cluster.apply(WORKLOADS)
        cluster.apply(EVERY_OTHER_KIND)
        cluster.client.create(resources.get("certificates.k8s.io", "v1", "certificatesigningrequests"), _csr())
        cluster.run_until_stable(timeout=30)
        yield cluster


def _csr() -> dict:
    """A CertificateSigningRequest, its request a real PKCS#10 (one cannot be written out by hand)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "alice")])
    pem = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest", "metadata": {"name": "alice"},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": "kubernetes.io/kube-apiserver-client",
                     "usages": ["client auth"]}}


def _deserialize(data: object, model: str) -> object:
    api_client = k8s.ApiClient()   # client-side validation is on: a missing required field raises
    return api_client._ApiClient__deserialize(data, model)  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", KINDS)
def test_every_object_of_the_kind_reads_into_the_official_clients_model(settled, kind):
    res = next(r for r in resources.RESOURCES if r.kind == kind)
    items = settled.api.list(res, None)["items"]
    assert items, f"no {kind} to check"
    model = _model(kind, res.api_version)
    for item in items:
        obj = _deserialize(item, model)
        assert obj.metadata.name == item["metadata"]["name"]
    listed = _deserialize({**settled.api.list(res, None), "apiVersion": res.api_version, "kind": kind + "List"},
                          model.replace(kind, kind + "List"))
    assert len(listed.items) == len(items)


def test_a_new_daemonset_carries_its_required_zero_counters_before_any_controller_ran():
    with Cluster(nodes=0, runtime="simulated", seed=1) as cluster:
        res = resources.lookup("daemonsets")
        created = cluster.api.create(res, "default", {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ds"},
            "spec": {"selector": {"matchLabels": {"app": "ds"}}, "template": {
                "metadata": {"labels": {"app": "ds"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        assert created["status"] == {"currentNumberScheduled": 0, "numberMisscheduled": 0,
                                     "desiredNumberScheduled": 0, "numberReady": 0}
        _deserialize(created, "V1DaemonSet")


REVIEWS = {
    "SelfSubjectAccessReview": {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}},
    "SelfSubjectRulesReview": {"spec": {"namespace": "default"}},
    "SelfSubjectReview": {},
    "SubjectAccessReview": {"spec": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"}}},
    "LocalSubjectAccessReview": {"metadata": {"namespace": "default"},
                                 "spec": {"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods",
                                                                                  "namespace": "default"}}},
    "TokenReview": {"spec": {"token": "not-a-token"}},
}


@pytest.mark.parametrize("kind", sorted(REVIEWS))
def test_every_review_answer_reads_into_the_official_clients_model(settled, kind):
    res = next(r for r in resources.RESOURCES if r.kind == kind)
    body = {"apiVersion": res.api_version, "kind": kind, **REVIEWS[kind]}
    answer = settled.api.create(res, "default" if res.namespaced else None, body)
    review = _deserialize(answer, _model(kind, res.api_version))
    assert review.status is not None
