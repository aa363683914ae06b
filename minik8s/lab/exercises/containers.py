"""Checks for chapter 1, Containers (labs/01-containers.ipynb).

The lab builds the image ``hello:1.0`` (FROM busybox, a COPY, an ENV and a CMD),
pushes it to the local registry as ``localhost:5000/hello:1.0`` and runs it as a Pod.
The exercises then run that image differently, the way Kubernetes lets a Pod change
what an image would do:

* ``containers-env``: override the image's ``ENV GREETING`` with the container's ``env``;
* ``containers-args``: replace the image's ``CMD`` with the container's ``args`` (or
  ``command``): Kubernetes' ``command`` stands for Docker's ENTRYPOINT, ``args`` for CMD;
* ``containers-digest``: name the image by its digest (``name@sha256:...``), which,
  unlike a tag, can never point at other bytes.

The checks read the Pods' spec and status through ``kubectl get -o json``; they do not
need the image itself, so they also work on a cluster that cannot run it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

REPOSITORY = "localhost:5000/hello"
IMAGE = f"{REPOSITORY}:1.0"
# What the lab's Dockerfile says (CMD in exec form, no ENTRYPOINT).
IMAGE_CMD = ["sh", "-c", 'echo "$GREETING"; cat message.txt; echo "I am $(hostname)"']
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

# The Pod the lab runs (and the start state of every exercise).
HELLO_POD = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: hello
spec:
  restartPolicy: Never
  containers:
  - name: hello
    image: {IMAGE}
"""


def _pod(name: str, container: str) -> str:
    """A Pod running the lab's image once; ``container`` is extra YAML for its one container."""
    return (f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  restartPolicy: Never\n"
            f"  containers:\n  - name: {name}\n    image: {IMAGE}\n{container}")


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    containers = (pod.get("spec") or {}).get("containers") or [{}]
    return dict(containers[0])


def _failed(pod: dict[str, Any]) -> str | None:
    """Why the Pod's container failed, if it ran and exited with a code other than 0.
    (Pull errors are not judged here: a cluster without the lab's registry cannot pull the image at all,
    and the lab shows the Pod's events and logs next to each check.)"""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (status.get("state") or {}).get("terminated") or {}
        if terminated and terminated.get("exitCode", 0) != 0:
            return f"its container exited with code {terminated['exitCode']} (kubectl logs shows why)"
    return None


def _runs_lab_image(name: str, pod: dict[str, Any]) -> str | None:
    image = str(_container(pod).get("image", ""))
    if not image.startswith(REPOSITORY):
        return f"Pod {name} runs {image or 'no image'}: use the image from the local registry, {IMAGE}"
    return None


# --- containers-env ------------------------------------------------------------------------

@exercise("containers-env", hint="Run the image as a Pod greeter whose environment sets GREETING=Bonjour.")
def containers_env(view: ClusterView) -> str | None:
    pod = view.get("pods", "greeter")
    if pod is None:
        return "there is no Pod named greeter in namespace default"
    wrong = _runs_lab_image("greeter", pod)
    if wrong:
        return wrong
    env = {e.get("name"): e.get("value") for e in _container(pod).get("env") or []}
    if "GREETING" not in env:
        return "Pod greeter's container sets no GREETING, so the image's ENV wins: add env: [{name: GREETING, ...}]"
    if env["GREETING"] != "Bonjour":
        return f"Pod greeter sets GREETING={env['GREETING']!r}; the exercise asks for 'Bonjour'"
    failed = _failed(pod)
    return f"Pod greeter failed: {failed}" if failed else None


@containers_env.start
def _env_start(cluster: "Cluster") -> None:
    cluster.apply(HELLO_POD)


@containers_env.solution
def _env_solution(cluster: "Cluster") -> None:
    cluster.apply(_pod("greeter", "    env:\n    - name: GREETING\n      value: Bonjour\n"))


# --- containers-args -----------------------------------------------------------------------

def effective_command(container: dict[str, Any], entrypoint: list[str], cmd: list[str]) -> list[str]:
    """What a container runs, by upstream's rules: ``command`` replaces the image's ENTRYPOINT (and drops
    its CMD), ``args`` replaces its CMD."""
    command = [str(a) for a in container.get("command") or []]
    args = [str(a) for a in container.get("args") or []]
    if command:
        return command + args
    return entrypoint + (args or cmd)


@exercise("containers-args", hint="Run the image as a Pod lister that runs ls /app instead of the image's CMD.")
def containers_args(view: ClusterView) -> str | None:
    pod = view.get("pods", "lister")
    if pod is None:
        return "there is no Pod named lister in namespace default"
    wrong = _runs_lab_image("lister", pod)
    if wrong:
        return wrong
    argv = effective_command(_container(pod), [], IMAGE_CMD)
    if argv == IMAGE_CMD:
        return "Pod lister still runs the image's CMD: give its container args (or command) to run ls /app"
    words = " ".join(argv).split()
    if "ls" not in words or not any(w.rstrip("/") == "/app" for w in words):
        return f"Pod lister runs {argv}, which does not list /app: the exercise asks for ls /app"
    failed = _failed(pod)
    return f"Pod lister failed: {failed}" if failed else None


@containers_args.start
def _args_start(cluster: "Cluster") -> None:
    cluster.apply(HELLO_POD)


@containers_args.solution
def _args_solution(cluster: "Cluster") -> None:
    cluster.apply(_pod("lister", '    args: ["ls", "/app"]\n'))


# --- containers-digest ---------------------------------------------------------------------

@exercise("containers-digest", hint="Run the image as a Pod pinned, naming it by digest: localhost:5000/hello@sha256:...")
def containers_digest(view: ClusterView) -> str | None:
    pod = view.get("pods", "pinned")
    if pod is None:
        return "there is no Pod named pinned in namespace default"
    image = str(_container(pod).get("image", ""))
    if not image.startswith(REPOSITORY):
        return f"Pod pinned runs {image or 'no image'}: use the image from the local registry, {REPOSITORY}"
    if not DIGEST.search(image):
        return (f"Pod pinned names its image {image}, by tag: name it by digest instead, "
                f"{REPOSITORY}@sha256:<64 hex digits> (minik8s image inspect shows the Id)")
    failed = _failed(pod)
    return f"Pod pinned failed: {failed}" if failed else None


@containers_digest.start
def _digest_start(cluster: "Cluster") -> None:
    cluster.apply(HELLO_POD)


@containers_digest.solution
def _digest_solution(cluster: "Cluster") -> None:
    image = f"{REPOSITORY}@sha256:{'0' * 64}"
    cluster.apply(f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pinned\nspec:\n  restartPolicy: Never\n"
                  f"  containers:\n  - name: pinned\n    image: {image}\n")
