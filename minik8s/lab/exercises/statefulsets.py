"""Checks for the StatefulSets lab (labs/08-statefulsets.ipynb, chapter 8).

* ``statefulsets-scale``: scaling a StatefulSet adds the next ordinal, with its own claim;
* ``statefulsets-canary``: a rolling update with a ``partition`` updates only the pods
  whose ordinal is at least the partition (here: only ``web-2``);
* ``statefulsets-db``: write a StatefulSet from scratch, with its headless Service and a
  ``volumeClaimTemplates`` entry, and see one bound claim per pod.

The starting state of the first two is the lab's StatefulSet ``web`` (:data:`WEB`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# The lab's StatefulSet: upstream's "web" example (a headless Service nginx, one claim www per pod).
WEB = """\
apiVersion: v1
kind: Service
metadata:
  name: nginx
  labels:
    app: nginx
spec:
  clusterIP: None
  selector:
    app: nginx
  ports:
  - port: 80
    name: web
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  serviceName: nginx
  replicas: 3
  selector:
    matchLabels:
      app: nginx
  template:
    metadata:
      labels:
        app: nginx
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
          name: web
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
"""

OLD_IMAGE, NEW_IMAGE = "nginx:1.25", "nginx:1.27"

# The canary solution: the same StatefulSet with the new image and partition 2.
WEB_CANARY = WEB.split("---\n", 1)[1].replace(f"image: {OLD_IMAGE}", f"image: {NEW_IMAGE}").replace(
    "  serviceName: nginx\n",
    "  serviceName: nginx\n  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate:\n      partition: 2\n")

DB = """\
apiVersion: v1
kind: Service
metadata:
  name: db
spec:
  clusterIP: None
  selector:
    app: db
  ports:
  - port: 8080
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 2
  selector:
    matchLabels:
      app: db
  template:
    metadata:
      labels:
        app: db
    spec:
      containers:
      - name: kvstore
        image: minik8s/kvstore
        volumeMounts:
        - name: data
          mountPath: /data
  volumeClaimTemplates:
  - metadata:
      name: data
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 2Gi
"""


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _image(pod_or_set: dict[str, Any]) -> str:
    spec = _spec(pod_or_set)
    spec = _spec(spec["template"]) if "template" in spec else spec
    containers = spec.get("containers") or [{}]
    return str(containers[0].get("image", ""))


def _ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _pods_ready(view: ClusterView, names: list[str]) -> str | None:
    """None when every named pod exists and is Ready; else what is missing."""
    for name in names:
        pod = view.get("pods", name)
        if pod is None:
            return f"there is no Pod {name} yet; let time pass (%minik8s advance 10s)"
        if not _ready(pod):
            return f"Pod {name} is not Ready yet; let time pass (%minik8s advance 10s)"
    return None


def _claims_bound(view: ClusterView, names: list[str], size: str | None = None) -> str | None:
    for name in names:
        claim = view.get("persistentvolumeclaims", name)
        if claim is None:
            return f"there is no PersistentVolumeClaim {name}"
        phase = (claim.get("status") or {}).get("phase")
        if phase != "Bound":
            return f"PersistentVolumeClaim {name} is {phase}, not Bound yet"
        requested = ((_spec(claim).get("resources") or {}).get("requests") or {}).get("storage")
        if size is not None and requested != size:
            return f"PersistentVolumeClaim {name} requests {requested}, the exercise asks for {size}"
    return None


# --- exercise 1: scale up by one ---------------------------------------------------------------

@exercise("statefulsets-scale", hint="Scale the StatefulSet web to 4 replicas.", nodes=3)
def statefulsets_scale(view: ClusterView) -> str | None:
    sts = view.get("statefulsets", "web")
    if sts is None:
        return "there is no StatefulSet named web: run the cell that creates it first"
    replicas = _spec(sts).get("replicas", 1)
    if replicas != 4:
        return f"StatefulSet web asks for {replicas} replicas, not 4 (kubectl scale sets that)"
    return _pods_ready(view, [f"web-{i}" for i in range(4)]) or _claims_bound(view, ["www-web-3"])


@statefulsets_scale.start
def _scale_start(cluster: "Cluster") -> None:
    cluster.apply(WEB)
    cluster.advance(30)


@statefulsets_scale.solution
def _scale_solution(cluster: "Cluster") -> None:
    cluster.kubectl("scale statefulset web --replicas=4")
    cluster.advance(30)


# --- exercise 2: a canary with partition --------------------------------------------------------

@exercise("statefulsets-canary",
          hint=f"Update web to {NEW_IMAGE} with a partition, so that only web-2 runs the new image.", nodes=3)
def statefulsets_canary(view: ClusterView) -> str | None:
    sts = view.get("statefulsets", "web")
    if sts is None:
        return "there is no StatefulSet named web: run the cell that creates it first"
    if _image(sts) != NEW_IMAGE:
        return f"StatefulSet web's template runs {_image(sts)}; the exercise rolls out {NEW_IMAGE}"
    strategy = dict(_spec(sts).get("updateStrategy") or {})
    partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
    if strategy.get("type") != "RollingUpdate" or partition != 2:
        return (f"updateStrategy is {strategy.get('type')} with partition {partition}: with RollingUpdate "
                "and partition 2 only ordinals 2 and above are updated")
    waiting = _pods_ready(view, ["web-0", "web-1", "web-2"])
    if waiting:
        return waiting
    images = {name: _image(view.get("pods", name) or {}) for name in ("web-0", "web-1", "web-2")}
    if images["web-2"] != NEW_IMAGE:
        return f"web-2 still runs {images['web-2']}; let time pass"
    changed = [n for n in ("web-0", "web-1") if images[n] != OLD_IMAGE]
    if changed:
        return f"{', '.join(changed)} should keep {OLD_IMAGE} (they are below the partition)"
    return None


@statefulsets_canary.start
def _canary_start(cluster: "Cluster") -> None:
    cluster.apply(WEB)
    cluster.advance(30)


@statefulsets_canary.solution
def _canary_solution(cluster: "Cluster") -> None:
    cluster.apply(WEB_CANARY)
    cluster.advance(30)


# --- exercise 3: a StatefulSet from scratch ------------------------------------------------------

@exercise("statefulsets-db",
          hint="Create a headless Service db and a StatefulSet db (2 replicas of minik8s/kvstore, "
               "a claim template data of 2Gi mounted at /data).", nodes=3)
def statefulsets_db(view: ClusterView) -> str | None:
    service = view.get("services", "db")
    if service is None:
        return "there is no Service named db"
    if _spec(service).get("clusterIP") != "None":
        return "Service db is not headless: set clusterIP: None so each pod gets its own DNS name"
    sts = view.get("statefulsets", "db")
    if sts is None:
        return "there is no StatefulSet named db"
    spec = _spec(sts)
    if spec.get("serviceName") != "db":
        return f"StatefulSet db names the Service {spec.get('serviceName')!r}; it should be 'db'"
    if spec.get("replicas", 1) != 2:
        return f"StatefulSet db asks for {spec.get('replicas', 1)} replicas, not 2"
    if _image(sts) != "minik8s/kvstore":
        return f"StatefulSet db runs {_image(sts)}, not minik8s/kvstore"
    templates = [t.get("metadata", {}).get("name") for t in spec.get("volumeClaimTemplates") or []]
    if "data" not in templates:
        return "StatefulSet db has no volumeClaimTemplates entry named data"
    mounts = [m for c in _spec(spec["template"]).get("containers") or [] for m in c.get("volumeMounts") or []]
    if not any(m.get("name") == "data" and m.get("mountPath") == "/data" for m in mounts):
        return "the container does not mount the claim data at /data"
    return _pods_ready(view, ["db-0", "db-1"]) or _claims_bound(view, ["data-db-0", "data-db-1"], "2Gi")


@statefulsets_db.start
def _db_start(cluster: "Cluster") -> None:
    pass  # an empty cluster


@statefulsets_db.solution
def _db_solution(cluster: "Cluster") -> None:
    cluster.apply(DB)
    cluster.advance(30)
