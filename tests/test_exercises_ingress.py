"""The checks of the Ingress and NetworkPolicy lab (chapter 14) on a real in-process cluster: each fails
on the lab's starting state with the hint a student needs, names the plausible wrong answers, and passes
on the solution. The Ingress checks also send the request through the ingress controller."""

from __future__ import annotations

import pytest

from minik8s.cluster import Cluster
from minik8s.lab.checks import evaluate, load_all
from minik8s.lab.exercises import ingress
from minik8s.lab.session import ClusterView, InProcess

load_all()


@pytest.fixture
def cluster():
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        yield c


def check(cluster, name):
    return evaluate(name, ClusterView(InProcess(cluster)))


def recreate(cluster, rules):
    cluster.kubectl("delete ingress --all")
    cluster.kubectl(f"create ingress sites {rules}")
    cluster.advance(5)


# --- ingress-hosts --------------------------------------------------------------------------

def test_hosts_start_state_asks_for_an_ingress(cluster):
    ingress._hosts_start(cluster)
    passed, message = check(cluster, "ingress-hosts")
    assert not passed and message.startswith("there is no Ingress in namespace default yet")


def test_hosts_wrong_answers_get_their_hints(cluster):
    ingress._hosts_start(cluster)
    recreate(cluster, "--rule=/*=shop:80")
    assert check(cluster, "ingress-hosts")[1] == "http://blog.example/ goes to the Service shop, but should go to blog"
    recreate(cluster, "--rule=shop.example/*=shop:9376 --rule=blog.example/*=blog:80")
    assert "names port 9376 of the Service shop" in check(cluster, "ingress-hosts")[1]
    recreate(cluster, "--class=nginx --rule=shop.example/*=shop:80 --rule=blog.example/*=blog:80")
    assert "IngressClass nginx, which does not exist" in check(cluster, "ingress-hosts")[1]
    recreate(cluster, "--rule=shop.example/=shop:80 --rule=blog.example/*=blog:80")
    assert "http://shop.example/any/page matches no rule" in check(cluster, "ingress-hosts")[1]
    recreate(cluster, "--rule=shop.example/*=shop:80 --rule=blog.example/*=blog:80 --rule=/*=shop:80")
    assert "another host (other.example) goes to the Service shop" in check(cluster, "ingress-hosts")[1]
    recreate(cluster, "--rule=shop.example/*=shop:80 --rule=blog.example/*=blog:80")
    assert check(cluster, "ingress-hosts") == (True, "passed")
    status, body = cluster.http_get("blog.example", "/")
    assert status == 200 and body.startswith("blog-")


def test_hosts_a_service_without_ready_pods_is_a_503(cluster):
    ingress._hosts_start(cluster)
    cluster.kubectl("scale deployment blog --replicas=0")
    recreate(cluster, "--rule=shop.example/*=shop:80 --rule=blog.example/*=blog:80")
    assert "Service blog has no ready endpoints" in check(cluster, "ingress-hosts")[1]
    assert cluster.http_get("blog.example", "/")[0] == 503


# --- ingress-404 ----------------------------------------------------------------------------

def patch_path(cluster, path, path_type="Exact"):
    ops = ('[{"op":"replace","path":"/spec/rules/0/http/paths/0/path","value":"%s"},'
           '{"op":"replace","path":"/spec/rules/0/http/paths/0/pathType","value":"%s"}]' % (path, path_type))
    assert cluster.kubectl(["patch", "ingress", "docs", "--type=json", "-p", ops])
    cluster.advance(2)


def test_404_start_state_is_a_404(cluster):
    ingress._404_start(cluster)
    assert cluster.http_get("docs.example", "/guide/intro")[0] == 404
    assert cluster.http_get("docs.example", "/guide")[0] == 200   # Exact: the page itself only
    passed, message = check(cluster, "ingress-404")
    assert not passed and "http://docs.example/guide/intro matches no rule" in message


def test_404_wrong_fixes(cluster):
    ingress._404_start(cluster)
    patch_path(cluster, "/guide/intro")
    message = check(cluster, "ingress-404")[1]
    assert message.startswith("/guide/intro works now, but") and "which pathType" in message
    patch_path(cluster, "/", "Prefix")
    assert "/guidebook reaches docs too" in check(cluster, "ingress-404")[1]
    cluster.kubectl("delete ingress docs")
    assert "fix it rather than delete it" in check(cluster, "ingress-404")[1]


def test_404_prefix_fixes_it(cluster):
    ingress._404_start(cluster)
    ingress._404_solution(cluster)
    assert check(cluster, "ingress-404") == (True, "passed")
    assert cluster.http_get("docs.example", "/guide/setup/linux")[0] == 200
    assert cluster.http_get("docs.example", "/guidebook")[0] == 404


# --- netpol-db ------------------------------------------------------------------------------

def policy(cluster, text):
    cluster.apply(text)
    cluster.advance(1)


def test_netpol_start_state_lets_everyone_in(cluster):
    ingress._netpol_start(cluster)
    passed, message = check(cluster, "netpol-db")
    assert not passed and message.startswith("there is no NetworkPolicy in namespace default")


def test_netpol_wrong_policies(cluster):
    ingress._netpol_start(cluster)
    policy(cluster, ingress.DB_POLICY.replace("    ports:\n    - port: 6379\n", ""))
    assert "frontend may reach db on every port" in check(cluster, "netpol-db")[1]
    policy(cluster, ingress.DB_POLICY.replace("matchLabels: {app: db}", "{}"))
    assert "frontend and batch can no longer talk" in check(cluster, "netpol-db")[1]
    policy(cluster, ingress.DB_POLICY.replace("        matchLabels: {app: frontend}", "        {}"))
    assert "batch still reaches db on port 6379" in check(cluster, "netpol-db")[1]
    policy(cluster, ingress.DB_POLICY.replace("app: frontend", "app: front"))
    assert "frontend cannot reach db on port 6379" in check(cluster, "netpol-db")[1]
    policy(cluster, ingress.DB_POLICY)
    assert check(cluster, "netpol-db") == (True, "passed")


def test_netpol_the_simulated_network_enforces_the_answer(cluster):
    ingress._netpol_start(cluster)
    ingress._netpol_solution(cluster)
    db = cluster.kubectl("get pod db -o jsonpath={.status.podIP}").strip()
    probe = f"wget -T 1 -qO- http://{db}:6379 2>&1 || true"
    assert "timed out" in cluster.kubectl(["exec", "batch", "--", "sh", "-c", probe])
    assert "timed out" not in cluster.kubectl(["exec", "frontend", "--", "sh", "-c", probe])
