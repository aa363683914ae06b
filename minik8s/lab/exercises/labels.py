"""Checks for the labels lab (labs/05-labels.ipynb, chapter 05-labels).

The lab runs five Pods: the seed's ``nginx`` (``app=nginx,env=prod``) and four more
spread over the ``app``, ``env`` and ``tier`` labels (:data:`PODS`). The exercises ask
the student to label a group of Pods through a selector, to change and remove a
label, and to attach an annotation (not a label).

Each check reads the cluster through :class:`~minik8s.lab.session.ClusterView`, so it
works against minik8s and a real cluster alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

# (name, app, env, tier); tier None means "no tier label" (the seed's nginx has none).
PODS: list[tuple[str, str, str, str | None]] = [
    ("nginx", "nginx", "prod", None),
    ("web-prod", "web", "prod", "frontend"),
    ("web-test", "web", "test", "frontend"),
    ("api-prod", "api", "prod", "backend"),
    ("db-prod", "db", "prod", "database"),
]


def pod_yaml(name: str, app: str, env: str, tier: str | None) -> str:
    """The lab's Pod manifest for one row of :data:`PODS`."""
    tier_line = f"\n    tier: {tier}" if tier else ""
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {app}\n"
            f"    env: {env}{tier_line}\nspec:\n  containers:\n  - name: main\n    image: nginx:alpine\n")


def all_pods_yaml() -> str:
    """Every Pod of the lab, as one multi-document manifest."""
    return "---\n".join(pod_yaml(*row) for row in PODS)


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _missing_pods(view: ClusterView) -> str | None:
    names = {(p.get("metadata") or {}).get("name") for p in view.list("pods")}
    missing = [row[0] for row in PODS if row[0] not in names]
    if missing:
        return f"Pod(s) {', '.join(missing)} are missing from namespace default: run the lab's apply cells first"
    return None


def _start(cluster: "Cluster") -> None:
    cluster.apply(all_pods_yaml())


# --- 1: label a group of Pods through a selector ---------------------------------------------

@exercise("labels-release", nodes=0,
          hint="Give every Pod with env=prod, and only those, the label release=stable (one kubectl label with -l).")
def labels_release(view: ClusterView) -> str | None:
    if (missing := _missing_pods(view)) is not None:
        return missing
    for pod in view.list("pods"):
        name, labels = pod["metadata"]["name"], _labels(pod)
        prod = labels.get("env") == "prod"
        if prod and labels.get("release") != "stable":
            have = f"release={labels['release']}" if "release" in labels else "no label release"
            return f"Pod {name} has env=prod but {have}: select the Pods with -l env=prod"
        if not prod and "release" in labels:
            return f"Pod {name} is not in env=prod but got release={labels['release']}: label only the prod Pods"
    return None


@labels_release.start
def _release_start(cluster: "Cluster") -> None:
    _start(cluster)


@labels_release.solution
def _release_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["label", "pods", "release=stable", "-l", "env=prod"])


# --- 2: change one label, remove another ----------------------------------------------------

@exercise("labels-change", nodes=0,
          hint="On Pod web-test, change env to staging (it already has a value: --overwrite) and remove the label tier.")
def labels_change(view: ClusterView) -> str | None:
    pod = view.get("pods", "web-test")
    if pod is None:
        return "there is no Pod web-test in namespace default: run the lab's apply cells first"
    labels = _labels(pod)
    if labels.get("env") != "staging":
        return f"Pod web-test has env={labels.get('env', '<none>')}; set env=staging (kubectl label ... --overwrite)"
    if "tier" in labels:
        return f"Pod web-test still has tier={labels['tier']}: remove it with kubectl label pod web-test tier-"
    if labels.get("app") != "web":
        return "Pod web-test lost its label app=web: change and remove only env and tier"
    return None


@labels_change.start
def _change_start(cluster: "Cluster") -> None:
    _start(cluster)


@labels_change.solution
def _change_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["label", "pod", "web-test", "env=staging", "tier-", "--overwrite"])


# --- 3: an annotation, not a label ----------------------------------------------------------

OWNER_KEY = "example.com/owner"
OWNER_VALUE = "Alice Smith <alice@example.com>"


@exercise("labels-annotate", nodes=0,
          hint=f"Annotate Pod api-prod with {OWNER_KEY}='{OWNER_VALUE}' (kubectl annotate, not kubectl label).")
def labels_annotate(view: ClusterView) -> str | None:
    pod = view.get("pods", "api-prod")
    if pod is None:
        return "there is no Pod api-prod in namespace default: run the lab's apply cells first"
    if OWNER_KEY in _labels(pod):
        return f"{OWNER_KEY} is a label on api-prod; the exercise asks for an annotation (kubectl annotate)"
    notes = _annotations(pod)
    if OWNER_KEY not in notes:
        return f"Pod api-prod has no annotation {OWNER_KEY} yet"
    if notes[OWNER_KEY] != OWNER_VALUE:
        return (f"the annotation {OWNER_KEY} is {notes[OWNER_KEY]!r}, not {OWNER_VALUE!r} "
                "(quote the value: it has spaces)")
    return None


@labels_annotate.start
def _annotate_start(cluster: "Cluster") -> None:
    _start(cluster)


@labels_annotate.solution
def _annotate_solution(cluster: "Cluster") -> None:
    cluster.kubectl(["annotate", "pod", "api-prod", f"{OWNER_KEY}={OWNER_VALUE}"])
