"""Checks for the storage lab (labs/15-storage.ipynb, chapter 15).

Three exercises, one for each kind of lifetime a volume can have:

* ``storage-share``: the Pod ``pair`` has a ``writer`` container that writes a page into an
  emptyDir and a ``web`` container (nginx) that should serve it, but does not mount it. An
  emptyDir lives as long as its Pod and is shared only by the containers that mount it;
* ``storage-wait``: a StorageClass ``local-wait`` that waits for the first consumer, a claim
  ``cache`` of that class, and a Pod ``cache-user`` pinned to ``node-2``: the claim is
  provisioned only once the Pod is scheduled, for the Pod's node;
* ``storage-keep``: the claim ``notes`` was deleted; its volume ``archive`` (reclaim policy
  Retain) is ``Released`` with the data still on it. Bind a new claim ``notes-again`` to it and
  mount it in a Pod ``reader``: a Released volume must first be made Available again by
  removing its ``claimRef``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

Obj = dict[str, Any]

NGINX_ROOT = "/usr/share/nginx/html"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
HOSTPATH_PROVISIONER = "minik8s.io/hostpath"
TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"   # mounted into every container by admission

# Exercise 1's starting Pod: the writer fills an emptyDir, but web does not mount it.
PAIR_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: pair
spec:
  volumes:
  - name: html
    emptyDir: {}
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "while true; do date > /html/index.html; sleep 5; done"]
    volumeMounts:
    - name: html
      mountPath: /html
  - name: web
    image: nginx
"""

# What the solution of exercise 1 adds to the web container.
WEB_MOUNT = """\
    volumeMounts:
    - name: html
      mountPath: /usr/share/nginx/html
"""

WAIT_CLASS = """\
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-wait
provisioner: minik8s.io/hostpath
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
"""

CACHE_CLAIM = """\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: cache
spec:
  storageClassName: local-wait
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 1Gi
"""

CACHE_USER_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: cache-user
spec:
  nodeSelector:
    kubernetes.io/hostname: node-2
  volumes:
  - name: cache
    persistentVolumeClaim:
      claimName: cache
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo warm > /cache/state; sleep 3600"]
    volumeMounts:
    - name: cache
      mountPath: /cache
"""

# Exercise 3's history: a static volume kept on Retain, a claim on it, a Pod that wrote notes.
ARCHIVE_VOLUME = """\
apiVersion: v1
kind: PersistentVolume
metadata:
  name: archive
spec:
  capacity:
    storage: 1Gi
  accessModes: ["ReadWriteOnce"]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath:
    path: /mnt/archive
"""


def claim_manifest(name: str) -> str:
    """A 1Gi claim of no class (``storageClassName: ""``): it binds only to a volume of no class."""
    return f"""\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {name}
spec:
  storageClassName: ""
  accessModes: ["ReadWriteOnce"]
  resources:
    requests:
      storage: 1Gi
"""


def pod_manifest(name: str, claim: str, command: str) -> str:
    """A busybox Pod mounting ``claim`` at /notes and running ``command``."""
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  volumes:
  - name: notes
    persistentVolumeClaim:
      claimName: {claim}
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "{command}"]
    volumeMounts:
    - name: notes
      mountPath: /notes
"""


WRITER_POD = pod_manifest("writer", "notes", "echo remember the milk > /notes/todo; sleep 3600")
READER_POD = pod_manifest("reader", "notes-again", "cat /notes/todo; sleep 3600")
REMOVE_CLAIM_REF = '[{"op": "remove", "path": "/spec/claimRef"}]'


def _spec(obj: Obj) -> Obj:
    return dict(obj.get("spec") or {})


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "Pending")


def _mounts(container: Obj) -> dict[str, str]:
    """mountPath -> volume name, without the ServiceAccount token every Pod gets."""
    return {str(m.get("mountPath", "")): str(m.get("name", "")) for m in container.get("volumeMounts") or []
            if m.get("mountPath") != TOKEN_PATH}


def _claims_of(pod: Obj) -> set[str]:
    return {str(v["persistentVolumeClaim"].get("claimName")) for v in _spec(pod).get("volumes") or []
            if isinstance(v.get("persistentVolumeClaim"), dict)}


def _pod_running(pod: Obj) -> str | None:
    name = pod["metadata"]["name"]
    if _phase(pod) != "Running":
        return f"Pod {name} is {_phase(pod)}, not Running; look at its events (kubectl describe pod {name})"
    return None


def _claim_class(claim: Obj) -> str | None:
    return _spec(claim).get("storageClassName")


# --- exercise 1: two containers, one emptyDir ---------------------------------------------------

def _share_problem(pod: Obj) -> str | None:
    containers = {str(c.get("name")): c for c in _spec(pod).get("containers") or []}
    volumes = {str(v.get("name")): v for v in _spec(pod).get("volumes") or []}
    if "writer" not in containers or "web" not in containers:
        return f"Pod pair has containers {sorted(containers)}; keep the two of the lab, writer and web"
    written = next(iter(_mounts(containers["writer"]).values()), None)
    if written is None:
        return "container writer mounts no volume: what it writes stays in its own filesystem"
    source = volumes.get(written) or {}
    if "hostPath" in source:
        return (f"volume {written} is a hostPath: a directory of the node, shared with every Pod there and kept "
                "after pair is gone; a scratch space for one Pod's containers is an emptyDir")
    if "emptyDir" not in source:
        return f"volume {written} is not an emptyDir"
    web_mounts = _mounts(containers["web"])
    if not web_mounts:
        return ("container web mounts no volume: nginx serves its own files from its image, not what writer "
                f"writes; mount volume {written} at {NGINX_ROOT}")
    served = web_mounts.get(NGINX_ROOT)
    if served is None:
        path, name = next(iter(web_mounts.items()))
        return f"container web mounts {name} at {path}, but nginx serves {NGINX_ROOT}"
    if served != written:
        return (f"container web serves volume {served} but writer writes to {written}: two emptyDir volumes are two "
                "separate directories; mount the same volume in both")
    return _pod_running(pod)


@exercise("storage-share", hint="Make container web of Pod pair serve what writer writes: mount the same emptyDir.")
def storage_share(view: ClusterView) -> str | None:
    pod = view.get("pods", "pair")
    if pod is None:
        return "there is no Pod named pair: recreate it (a Pod's volumes and mounts cannot be changed in place)"
    return _share_problem(pod)


@storage_share.start
def _share_start(cluster: "Cluster") -> None:
    cluster.apply(PAIR_POD)
    cluster.advance(5)


@storage_share.solution
def _share_solution(cluster: "Cluster") -> None:
    cluster.kubectl("delete pod pair")
    cluster.apply(PAIR_POD + WEB_MOUNT)
    cluster.advance(5)


# --- exercise 2: provisioned where the Pod runs -------------------------------------------------

def _wait_class_problem(sc: Obj | None) -> str | None:
    if sc is None:
        return "there is no StorageClass named local-wait"
    if sc.get("volumeBindingMode", "Immediate") != "WaitForFirstConsumer":
        return ("StorageClass local-wait binds Immediate: its claims are provisioned at once, before anyone knows "
                "where the Pod will run; it needs volumeBindingMode: WaitForFirstConsumer (a class cannot be "
                "changed: delete it and create it again)")
    if sc.get("provisioner") != HOSTPATH_PROVISIONER:
        return (f"StorageClass local-wait names provisioner {sc.get('provisioner')!r}, which nothing in this "
                f"cluster runs; its claims would stay Pending (use {HOSTPATH_PROVISIONER})")
    return None


def _wait_claim_problem(claim: Obj | None, pod: Obj | None) -> str | None:
    if claim is None:
        return "there is no PersistentVolumeClaim named cache"
    if _claim_class(claim) != "local-wait":
        return (f"claim cache is of class {_claim_class(claim) or '(none)'}; it must name "
                "storageClassName: local-wait (a claim's class cannot be changed: delete it and create it again)")
    if pod is None:
        waiting = "" if _phase(claim) != "Pending" else ", and until then it waits for its first consumer"
        return f"there is no Pod named cache-user: the claim is provisioned when a Pod that uses it is scheduled{waiting}"
    return None


def _wait_pod_problem(pod: Obj) -> str | None:
    if "cache" not in _claims_of(pod):
        return "Pod cache-user does not use claim cache (a volume with persistentVolumeClaim.claimName: cache)"
    node = _spec(pod).get("nodeName")
    if not node:
        return "Pod cache-user is not scheduled yet; let time pass (%minik8s advance 10s) or look at its events"
    if node != "node-2":
        return (f"Pod cache-user runs on {node}; the exercise pins it to node-2 "
                "(nodeSelector kubernetes.io/hostname: node-2)")
    return None


def _node_affinity_hosts(pv: Obj) -> set[str]:
    """The host names a volume's required node affinity allows (empty: any node)."""
    terms = ((_spec(pv).get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    return {str(value) for term in terms for expr in term.get("matchExpressions") or []
            if expr.get("key") == "kubernetes.io/hostname" for value in expr.get("values") or []}


@exercise("storage-wait", hint="Create the WaitForFirstConsumer class local-wait, the claim cache and the Pod "
                               "cache-user on node-2.", nodes=3)
def storage_wait(view: ClusterView) -> str | None:
    problem = _wait_class_problem(view.get("storageclasses", "local-wait", namespace=None))
    if problem:
        return problem
    claim, pod = view.get("persistentvolumeclaims", "cache"), view.get("pods", "cache-user")
    problem = _wait_claim_problem(claim, pod)
    if problem:
        return problem
    assert claim is not None and pod is not None
    problem = _wait_pod_problem(pod)
    if problem:
        return problem
    if _phase(claim) != "Bound":
        return f"claim cache is {_phase(claim)}; let time pass (%minik8s advance 10s) and look at its events"
    selected = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
    if selected != "node-2":
        return f"claim cache was provisioned for node {selected or '(none)'}, not for node-2 where its Pod runs"
    pv = view.get("persistentvolumes", str(_spec(claim).get("volumeName")), namespace=None)
    hosts = _node_affinity_hosts(pv or {})
    if hosts and hosts != {"node-2"}:
        return f"the volume of claim cache may only be used on {sorted(hosts)}, not on node-2"
    return _pod_running(pod)


@storage_wait.start
def _wait_start(cluster: "Cluster") -> None:
    pass  # an empty cluster: only the default class standard (Immediate)


@storage_wait.solution
def _wait_solution(cluster: "Cluster") -> None:
    cluster.apply(WAIT_CLASS + "---\n" + CACHE_CLAIM + "---\n" + CACHE_USER_POD)
    cluster.advance(10)


# --- exercise 3: a retained volume, bound again ------------------------------------------------

def _keep_claim_problem(claim: Obj | None, archive: Obj) -> str | None:
    released = _phase(archive) == "Released"
    unbind = ("archive is Released: its spec.claimRef still names the deleted claim notes, so no other claim may "
              "bind it until an administrator makes it Available again")
    if claim is None:
        return (unbind + "; then create the claim notes-again") if released else \
            "there is no PersistentVolumeClaim named notes-again"
    volume = _spec(claim).get("volumeName")
    if volume and volume != "archive":
        why = ("it names no storageClassName, so it got the default class and a new, empty volume; "
               'set storageClassName: "" (or volumeName: archive)') if _claim_class(claim) else \
            "delete it and create it again so that it binds archive"
        return f"claim notes-again is bound to {volume}, not to archive: {why}"
    if _phase(claim) != "Bound":
        if released:
            return unbind
        return (f"claim notes-again is {_phase(claim)}: archive ({_phase(archive)}) does not match it; a claim binds "
                "a volume of the same class (here none) with enough capacity and its access modes")
    return None


@exercise("storage-keep", hint="Bind a new claim notes-again to the Released volume archive and read it from a Pod "
                               "reader.")
def storage_keep(view: ClusterView) -> str | None:
    archive = view.get("persistentvolumes", "archive", namespace=None)
    if archive is None:
        return "there is no PersistentVolume archive any more (deleting it deleted the notes): restart the lab's cell"
    if _spec(archive).get("persistentVolumeReclaimPolicy") != "Retain":
        return "PersistentVolume archive is no longer reclaimed with Retain: deleting its claim would delete the data"
    problem = _keep_claim_problem(view.get("persistentvolumeclaims", "notes-again"), archive)
    if problem:
        return problem
    pod = view.get("pods", "reader")
    if pod is None:
        return "there is no Pod named reader: mount claim notes-again in a Pod to read the notes back"
    if "notes-again" not in _claims_of(pod):
        return "Pod reader does not use claim notes-again"
    return _pod_running(pod)


@storage_keep.start
def _keep_start(cluster: "Cluster") -> None:
    cluster.apply(ARCHIVE_VOLUME + "---\n" + claim_manifest("notes") + "---\n" + WRITER_POD)
    cluster.advance(5)
    cluster.kubectl("delete pod writer")
    cluster.kubectl("delete pvc notes")
    cluster.advance(5)


@storage_keep.solution
def _keep_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["patch", "pv", "archive", "--type", "json", "-p", REMOVE_CLAIM_REF])
    cluster.apply(claim_manifest("notes-again") + "---\n" + READER_POD)
    cluster.advance(5)
