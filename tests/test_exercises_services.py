"""The hints of the Services lab's checks (chapter 13), on canned cluster states: each wrong answer a
student may plausibly give gets a hint that names what is wrong. (tests/test_checks.py runs every
exercise's start and solution on a real in-process cluster.)"""

from __future__ import annotations

import json

from minik8s.lab.checks import evaluate, load_all
from minik8s.lab.exercises import services
from minik8s.lab.session import ClusterView, KubectlResult

load_all()


class FakeCluster:
    """Answers the kubectl commands the checks run (get one, list with -l, logs) from canned objects."""

    def __init__(self, objects: dict[str, list[dict]], logs: dict[str, str] | None = None):
        self.objects = objects
        self.logs = logs or {}

    def kubectl(self, args, stdin=None):
        if args[0] == "logs":
            if args[1] in self.logs:
                return KubectlResult(0, self.logs[args[1]], "")
            return KubectlResult(1, "", f'Error from server (NotFound): pods "{args[1]}" not found\n')
        kind, rest = args[1], args[2:]
        items = self.objects.get(kind, [])
        if rest[0] != "-o":  # get KIND NAME
            found = [o for o in items if o["metadata"]["name"] == rest[0]]
            if not found:
                return KubectlResult(1, "", f'Error from server (NotFound): {kind} "{rest[0]}" not found\n')
            return KubectlResult(0, json.dumps(found[0]), "")
        if "-l" in rest:
            wanted = dict(term.split("=") for term in rest[rest.index("-l") + 1].split(","))
            items = [o for o in items if all(o["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())]
        return KubectlResult(0, json.dumps({"kind": "List", "items": items}), "")


def pod(name, app, phase="Running", ready=True, restarts=0, args=None, port_name="http", port=9376):
    container = {"name": "c", "image": "x", "ports": [{"name": port_name, "containerPort": port}]}
    if args is not None:
        container = {"name": "c", "image": "busybox:1.36", "args": args}
    return {"metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
            "spec": {"containers": [container]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": str(ready)}],
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def service(name, selector, port=80, target=9376, **spec):
    return {"metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "selector": selector,
                     "ports": [{"port": port, "targetPort": target, "protocol": "TCP"}], **spec}}


def endpoint_slice(service_name, pods, ready=None):
    ready = ready if ready is not None else [True] * len(pods)
    endpoints = [{"addresses": [f"10.244.1.{i + 2}"], "targetRef": {"kind": "Pod", "name": p},
                  "conditions": {"ready": r}} for i, (p, r) in enumerate(zip(pods, ready))]
    return {"metadata": {"name": f"{service_name}-abcde", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service_name}},
            "endpoints": endpoints, "ports": [{"port": 9376, "protocol": "TCP"}]}


def deployment(name, replicas=3):
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {"replicas": replicas}}


HELLO_PODS = [pod(f"hello-7d9c-{s}", "hello") for s in ("aaaaa", "bbbbb", "ccccc")]
HELLO_NAMES = [p["metadata"]["name"] for p in HELLO_PODS]


def check(name, objects, logs=None):
    return evaluate(name, ClusterView(FakeCluster(objects, logs)))


def hello_state(svc=None, client_args=None, log=None, slices=None):
    objects = {"deployments": [deployment("hello")], "pods": list(HELLO_PODS),
               "services": [svc] if svc else [], "endpointslices": slices if slices is not None else
               ([endpoint_slice("hello", HELLO_NAMES)] if svc else [])}
    logs = {}
    if client_args is not None:
        objects["pods"].append(pod(services.CLIENT, "client", phase="Succeeded", args=client_args))
        logs[services.CLIENT] = log or ""
    return objects, logs


# --- services-expose ------------------------------------------------------------------------

def test_expose_passes_when_the_client_got_an_answer_from_a_pod():
    objects, logs = hello_state(service("hello", {"app": "hello"}), ["wget", "-qO-", "http://hello"],
                                HELLO_NAMES[1] + "\n")
    assert check("services-expose", objects, logs) == (True, "passed")


def test_expose_without_target_port_names_the_port_the_pods_listen_on():
    objects, _ = hello_state(service("hello", {"app": "hello"}, target=80))
    passed, message = check("services-expose", objects)
    assert not passed and "port 80 of the Pods, but they listen on 9376" in message


def test_expose_accepts_a_named_target_port():
    objects, logs = hello_state(service("hello", {"app": "hello"}, target="http"), ["wget", "-qO-", "http://hello"],
                                HELLO_NAMES[0])
    assert check("services-expose", objects, logs) == (True, "passed")


def test_expose_wrong_port_and_wrong_selector():
    objects, _ = hello_state(service("hello", {"app": "hello"}, port=8080))
    assert check("services-expose", objects)[1] == ("Service hello listens on port(s) 8080; the exercise asks "
                                                    "for port 80")
    objects, _ = hello_state(service("hello", {"app": "helo"}))
    passed, message = check("services-expose", objects)
    assert not passed and "selects app=helo, which matches none" in message and "app=hello" in message


def test_expose_headless_is_not_enough():
    objects, _ = hello_state(service("hello", {"app": "hello"}, clusterIP="None"))
    assert "headless" in check("services-expose", objects)[1]


def test_expose_asks_for_the_client_then_for_the_name():
    objects, _ = hello_state(service("hello", {"app": "hello"}))
    assert "run a Pod hello-client" in check("services-expose", objects)[1]
    objects, logs = hello_state(service("hello", {"app": "hello"}), ["wget", "-qO-", "http://10.96.0.20"],
                                HELLO_NAMES[0])
    passed, message = check("services-expose", objects, logs)
    assert not passed and "does not ask for the Service by its name" in message


def test_expose_a_refused_client_must_run_again():
    objects, logs = hello_state(service("hello", {"app": "hello"}), ["wget", "-qO-", "http://hello"],
                                "wget: can't connect to remote host (10.96.0.20): Connection refused\n")
    passed, message = check("services-expose", objects, logs)
    assert not passed and "Connection refused" in message and "delete hello-client and run it again" in message


def test_expose_no_ready_endpoints_yet():
    not_ready = endpoint_slice("hello", HELLO_NAMES, ready=[False, False, False])
    objects, _ = hello_state(service("hello", {"app": "hello"}), slices=[not_ready])
    assert "no ready endpoints yet" in check("services-expose", objects)[1]


# --- services-readiness ---------------------------------------------------------------------

API_NAMES = ["api-5c6d-aaaaa", "api-5c6d-bbbbb", "api-5c6d-ccccc"]


def api_state(ready=(True, True, True), pods=None, replicas=3):
    pods = pods if pods is not None else [pod(n, "api", ready=r) for n, r in zip(API_NAMES, ready)]
    names = [p["metadata"]["name"] for p in pods]
    readiness = [r for r, _ in zip(ready, names)]
    return {"deployments": [deployment("api", replicas)], "services": [service("api", {"app": "api"}, target=80)],
            "pods": pods, "endpointslices": [endpoint_slice("api", names, readiness)]}


def test_readiness_passes_with_two_ready_of_three_running():
    assert check("services-readiness", api_state(ready=(True, False, True))) == (True, "passed")


def test_readiness_all_ready_is_the_start():
    passed, message = check("services-readiness", api_state())
    assert not passed and "all three Pods of api are ready endpoints" in message


def test_readiness_a_restarted_pod_is_not_the_answer():
    pods = [pod(API_NAMES[0], "api", ready=False, restarts=1)] + [pod(n, "api") for n in API_NAMES[1:]]
    passed, message = check("services-readiness", api_state(ready=(False, True, True), pods=pods))
    assert not passed and f"Pod {API_NAMES[0]} was restarted" in message


def test_readiness_scaling_down_is_not_the_answer():
    passed, message = check("services-readiness", api_state(replicas=2))
    assert not passed and "asks for 2 replica(s)" in message


def test_readiness_taking_out_two_is_too_many():
    passed, message = check("services-readiness", api_state(ready=(False, False, True)))
    assert not passed and "only 1 Pod(s) of api are ready endpoints" in message


# --- services-no-endpoints ------------------------------------------------------------------

SHOP_NAMES = ["shop-6f7b-aaaaa", "shop-6f7b-bbbbb", "shop-6f7b-ccccc"]


def shop_state(selector, slice_pods, pods=None):
    pods = pods if pods is not None else [pod(n, "shop") for n in SHOP_NAMES]
    slices = [endpoint_slice("shop", slice_pods)] if slice_pods else [endpoint_slice("shop", [])]
    return {"deployments": [deployment("shop")], "services": [service("shop", selector)], "pods": pods,
            "endpointslices": slices}


def test_no_endpoints_start_and_fix():
    passed, message = check("services-no-endpoints", shop_state({"app": "shopp"}, []))
    assert not passed and message.startswith("Service shop has no endpoints, so connections to it are refused")
    assert check("services-no-endpoints", shop_state({"app": "shop"}, SHOP_NAMES)) == (True, "passed")


def test_no_endpoints_relabelled_pods_are_not_the_fix():
    strays = [pod(f"shop-6f7b-{s}", "shopp") for s in ("xxxxx", "yyyyy", "zzzzz")]
    state = shop_state({"app": "shopp"}, [p["metadata"]["name"] for p in strays],
                       pods=[pod(n, "shop") for n in SHOP_NAMES] + strays)
    passed, message = check("services-no-endpoints", state)
    assert not passed and "change the Service's selector, not the Pods' labels" in message


def test_no_endpoints_deleting_the_service_is_not_the_fix():
    state = shop_state({"app": "shop"}, SHOP_NAMES)
    state["services"] = []
    assert "fix the Service rather than delete it" in check("services-no-endpoints", state)[1]


def test_helpers():
    assert services.matches({"app": "web"}, {"app": "web", "tier": "x"})
    assert not services.matches({}, {"app": "web"})
    assert services.is_ready({"conditions": {}}) and not services.is_ready({"conditions": {"ready": False}})
    assert services.selector_text({"b": "2", "a": "1"}) == "a=1,b=2"
