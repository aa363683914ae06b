"""Checks for the ConfigMaps and Secrets lab (labs/12-configuration.ipynb, chapter 12).

Three exercises, each about one thing a student meets when configuration lives outside the image:

* ``configuration-env-and-file``: the same ConfigMap key reaches a container twice, as an
  environment variable and as a file of a ``configMap`` volume. After the ConfigMap changes, the
  file follows (the kubelet rewrites the volume) while the variable keeps the value the container
  started with. The check reads both from inside the running container (``kubectl exec``), so it
  passes only when the cluster really behaved that way.
* ``configuration-config-error``: a Pod stuck in ``CreateContainerConfigError`` because the
  ConfigMap its environment refers to does not exist. The fix is to create it (with the right
  key); the kubelet keeps retrying and starts the container by itself.
* ``configuration-secret-file``: a Secret mounted with ``items`` (one key, at a chosen path) and a
  file mode (``defaultMode`` or the item's ``mode``) of 0400.

The checks read objects with ``kubectl get -o json`` and files with ``kubectl exec``, so they work
the same on minik8s and on a real cluster.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from minik8s.lab.checks import exercise
from minik8s.lab.session import ClusterView

if TYPE_CHECKING:
    from minik8s.cluster import Cluster

SLEEPER_IMAGE = "busybox:1.36"
READ_ONLY_OWNER = 0o400   # r-------- : the mode exercise 3 asks for (256 in JSON, which has no octal)

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  COLOR: blue
"""

API_POD = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: api
spec:
  containers:
  - name: api
    image: {SLEEPER_IMAGE}
    command: ["sh", "-c", "echo mode=$MODE; sleep 3600"]
    env:
    - name: MODE
      valueFrom:
        configMapKeyRef:
          name: api-config
          key: MODE
"""

DB_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: db-credentials
type: Opaque
stringData:
  username: admin
  password: s3cr3t-passw0rd
"""


# --- reading Pods ------------------------------------------------------------------------------

def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("metadata") or {})


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return dict(obj.get("spec") or {})


def _phase(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def _waiting(pod: dict[str, Any]) -> tuple[str, str] | None:
    """(reason, message) of the first container that is waiting, if any."""
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("reason") or ""), str(waiting.get("message") or "")
    return None


def _not_running(pod: dict[str, Any], name: str) -> str | None:
    """A hint when the Pod's container is not running yet, saying why as its status does."""
    if _phase(pod) == "Running" and _waiting(pod) is None:
        return None
    waiting = _waiting(pod)
    if waiting:
        reason, message = waiting
        return (f"Pod {name} is waiting: {reason}" + (f" ({message})" if message else "") +
                f"; kubectl describe pod {name} shows its events")
    return f"Pod {name} is {_phase(pod)}; let time pass (%minik8s advance 10s) and check again"


def _volume_of(pod: dict[str, Any], kind: str, name_field: str, name: str) -> dict[str, Any] | None:
    """The Pod's volume of ``kind`` (``configMap``, ``secret``) that refers to the object ``name``."""
    for volume in _spec(pod).get("volumes") or []:
        source = volume.get(kind)
        if isinstance(source, dict) and source.get(name_field) == name:
            return dict(volume)
    return None


def _mount_path(pod: dict[str, Any], volume: str) -> str | None:
    for container in _spec(pod).get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") == volume:
                return str(mount.get("mountPath") or "")
    return None


def _mount(pod: dict[str, Any], volume: str) -> dict[str, Any]:
    for container in _spec(pod).get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            if mount.get("name") == volume:
                return dict(mount)
    return {}


def _env_from_configmap(pod: dict[str, Any], variable: str, configmap: str, key: str) -> bool:
    """Does a container get ``variable`` from ``configmap``'s ``key`` (valueFrom, or envFrom of the whole map)?"""
    for container in _spec(pod).get("containers") or []:
        for var in container.get("env") or []:
            ref = (var.get("valueFrom") or {}).get("configMapKeyRef") or {}
            if var.get("name") == variable and ref.get("name") == configmap and ref.get("key") == key:
                return True
        for source in container.get("envFrom") or []:
            ref = source.get("configMapRef") or {}
            if ref.get("name") == configmap and variable == str(source.get("prefix") or "") + key:
                return True
    return False


def _exec(view: ClusterView, pod: str, *command: str) -> str | None:
    """What ``command`` prints inside the Pod (stripped), or None when it fails."""
    result = view.kubectl(["exec", pod, "--", *command])
    return result.out.strip() if result.ok else None


# --- exercise 1: one key as a variable and as a file ----------------------------------------------

@exercise("configuration-env-and-file",
          hint="Run a Pod reader that gets COLOR from the ConfigMap settings as an environment variable and "
               "as a file under /etc/settings, then change COLOR to green in the ConfigMap.")
def configuration_env_and_file(view: ClusterView) -> str | None:
    settings = view.get("configmaps", "settings")
    if settings is None:
        return "there is no ConfigMap settings any more; the exercise changes it, it does not delete it"
    pod = view.get("pods", "reader")
    if pod is None:
        return "there is no Pod reader yet: write one (busybox:1.36, sleep 3600) that uses the ConfigMap settings"
    problem = _reader_spec_problem(pod)
    if problem:
        return problem
    problem = _not_running(pod, "reader")
    if problem:
        return problem
    color = (settings.get("data") or {}).get("COLOR")
    if color != "green":
        return (f"the ConfigMap settings still says COLOR={color}; change it to green (kubectl edit, or "
                "kubectl apply of a new version)")
    in_file = _exec(view, "reader", "cat", "/etc/settings/COLOR")
    if in_file != "green":
        return (f"/etc/settings/COLOR in reader still says {in_file}: the kubelet rewrites the files of a "
                "configMap volume on its next sync; let time pass (%minik8s advance 60s) and check again")
    in_env = _exec(view, "reader", "printenv", "COLOR")
    if in_env != "blue":
        return (f"COLOR in reader's environment is {in_env}, but the container started with blue: was reader "
                "re-created after the change? Create it with COLOR=blue, then change the ConfigMap")
    return None


def _reader_spec_problem(pod: dict[str, Any]) -> str | None:
    if not _env_from_configmap(pod, "COLOR", "settings", "COLOR"):
        return ("reader has no environment variable COLOR taken from the key COLOR of the ConfigMap settings "
                "(env[].valueFrom.configMapKeyRef, or envFrom)")
    volume = _volume_of(pod, "configMap", "name", "settings")
    if volume is None:
        return "reader has no volume of the ConfigMap settings (volumes[].configMap.name: settings)"
    mount = _mount(pod, str(volume.get("name")))
    if mount.get("mountPath") != "/etc/settings":
        where = mount.get("mountPath") or "nowhere"
        return f"reader mounts the volume {volume.get('name')} at {where}; the exercise asks for /etc/settings"
    if mount.get("subPath"):
        return ("reader mounts one file with subPath: a subPath mount is never updated; mount the whole volume "
                "at /etc/settings")
    return None


@configuration_env_and_file.start
def _env_and_file_start(cluster: "Cluster") -> None:
    cluster.apply(SETTINGS)


READER = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: reader
spec:
  containers:
  - name: reader
    image: {SLEEPER_IMAGE}
    command: ["sleep", "3600"]
    env:
    - name: COLOR
      valueFrom:
        configMapKeyRef:
          name: settings
          key: COLOR
    volumeMounts:
    - name: settings
      mountPath: /etc/settings
  volumes:
  - name: settings
    configMap:
      name: settings
"""


@configuration_env_and_file.solution
def _env_and_file_solution(cluster: "Cluster") -> None:
    cluster.apply(READER)
    cluster.advance(10)
    cluster.kubectl(["patch", "configmap", "settings", "-p", '{"data":{"COLOR":"green"}}'])
    cluster.advance(60)


# --- exercise 2: CreateContainerConfigError -----------------------------------------------------------

@exercise("configuration-config-error",
          hint="Find out why the Pod api does not start (kubectl describe pod api) and give it what it needs, "
               "without deleting it.")
def configuration_config_error(view: ClusterView) -> str | None:
    pod = view.get("pods", "api")
    if pod is None:
        return "the Pod api is gone; the exercise asks you to fix what it needs, not to delete it"
    configmap = view.get("configmaps", "api-config")
    if configmap is None:
        problem = _not_running(pod, "api")
        return problem or "Pod api runs, but there is no ConfigMap api-config"
    data = dict(configmap.get("data") or {})
    if "MODE" not in data:
        keys = ", ".join(sorted(data)) or "none"
        return (f"the ConfigMap api-config has no key MODE (its keys: {keys}); the Pod's variable MODE comes "
                "from the key MODE")
    return _not_running(pod, "api")


@configuration_config_error.start
def _config_error_start(cluster: "Cluster") -> None:
    cluster.apply(API_POD)
    cluster.advance(20)


@configuration_config_error.solution
def _config_error_solution(cluster: "Cluster") -> None:
    cluster.kubectl("create configmap api-config --from-literal=MODE=production")
    cluster.advance(20)


# --- exercise 3: one key of a Secret, as a file only its owner may read ------------------------------

@exercise("configuration-secret-file",
          hint="Run a Pod db-client that mounts only the key password of the Secret db-credentials, as the "
               "file /etc/db/password, with mode 0400.")
def configuration_secret_file(view: ClusterView) -> str | None:
    secret = view.get("secrets", "db-credentials")
    if secret is None:
        return "there is no Secret db-credentials any more; run the exercise's first cell again"
    pod = view.get("pods", "db-client")
    if pod is None:
        return "there is no Pod db-client yet"
    volume = _volume_of(pod, "secret", "secretName", "db-credentials")
    if volume is None:
        return "db-client has no volume of the Secret db-credentials (volumes[].secret.secretName)"
    problem = _secret_volume_problem(pod, volume)
    if problem:
        return problem
    problem = _not_running(pod, "db-client")
    if problem:
        return problem
    listing = _exec(view, "db-client", "ls", "/etc/db")
    if listing is None or listing.split() != ["password"]:
        return f"ls /etc/db in db-client shows {listing!r}; only the file password should be there"
    expected = base64.b64decode(str((secret.get("data") or {}).get("password") or "")).decode()
    if _exec(view, "db-client", "cat", "/etc/db/password") != expected:
        return "/etc/db/password in db-client does not hold the Secret's password"
    return None


def _secret_volume_problem(pod: dict[str, Any], volume: dict[str, Any]) -> str | None:
    source = dict(volume.get("secret") or {})
    items = list(source.get("items") or [])
    if [item.get("key") for item in items] != ["password"]:
        return ("db-client's volume projects the keys "
                f"{', '.join(str(i.get('key')) for i in items) or 'all (no items)'}; list only the key password "
                "under items")
    if items[0].get("path") != "password" or _mount_path(pod, str(volume.get("name"))) != "/etc/db":
        return "the password must be the file /etc/db/password: mount the volume at /etc/db, item path password"
    mode = items[0].get("mode", source.get("defaultMode", 0o644))
    if mode != READ_ONLY_OWNER:
        return (f"the file's mode is {mode:04o} (decimal {mode} in JSON); set defaultMode (or the item's mode) "
                "to 0400: in YAML write 0400, YAML reads it as octal")
    return None


@configuration_secret_file.start
def _secret_file_start(cluster: "Cluster") -> None:
    cluster.apply(DB_SECRET)


DB_CLIENT = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: db-client
spec:
  containers:
  - name: db-client
    image: {SLEEPER_IMAGE}
    command: ["sleep", "3600"]
    volumeMounts:
    - name: credentials
      mountPath: /etc/db
      readOnly: true
  volumes:
  - name: credentials
    secret:
      secretName: db-credentials
      defaultMode: 0400
      items:
      - key: password
        path: password
"""


@configuration_secret_file.solution
def _secret_file_solution(cluster: "Cluster") -> None:
    cluster.apply(DB_CLIENT)
    cluster.advance(20)
