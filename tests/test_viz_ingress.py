"""minik8s.viz.ingress_svg: hosts and paths → Services → Pods, drawn from a live cluster."""

from __future__ import annotations

from minik8s import viz
from minik8s.cluster import Cluster
from minik8s.lab.exercises import ingress
from tests import svg_support

SVG_NS = svg_support.SVG_NS
_elements, _texts, _box_behind = svg_support.elements, svg_support.texts, svg_support.box_behind
READY = dict((label, colour) for _, label, colour in viz.STATES)["Running, Ready"]


def test_routes_services_and_pods_of_a_live_cluster() -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(ingress.echo_app("shop") + "---\n" + ingress.echo_app("blog"))
        c.advance(30)
        c.kubectl("create ingress sites --rule=shop.example/*=shop:80 --rule=blog.example/*=blog:80 "
                  "--rule=blog.example/admin=gone:80 --default-backend=shop:80")
        c.advance(5)
        svg = viz.ingress_svg(c, title="sites")
        assert str(svg) == str(viz.ingress_svg(c, title="sites"))   # deterministic
        shop_pods = c.kubectl("get pods -l app=shop -o name").replace("pod/", "").split()
    texts = _texts(svg)
    assert texts[0] == "sites"
    assert [t for t in texts if "example" in t or t.startswith("*")] == [
        "shop.example/", "blog.example/", "blog.example/admin", "* (no rule matched)"]
    assert "Prefix · ingress sites → :80" in texts and "Exact · ingress sites → :80" in texts
    assert "defaultBackend · ingress sites → :80" in texts
    # each Service once, in the order the routes first name it
    assert [t for t in texts if t.startswith("Service/")] == ["Service/shop", "Service/blog", "Service/gone"]
    assert texts.count("port 80 · 2 ready") == 2 and "does not exist: 503" in texts
    assert _box_behind(svg, "Service/gone").get("stroke-dasharray") == "6 4"
    for name in shop_pods:
        assert _box_behind(svg, name).get("fill") == READY
    # 4 routes → their Services, 4 Pods ← their Services
    assert sum(1 for e in _elements(svg) if e.tag == f"{SVG_NS}path") == 8


def test_no_ingress_says_404() -> None:
    with Cluster(nodes=0, runtime="simulated", clock="virtual", seed=0) as c:
        texts = _texts(viz.ingress_svg(c))
    assert "no Ingress in namespace default: every request gets a 404" in texts


def _cells(svg: viz.SVG) -> list[str]:
    """The marks of the matrix's cells, row by row ('.' allowed, 'X' blocked, '?' no such Pod)."""
    return [t for t in _texts(svg) if t in (".", "X", "?")]


def test_connectivity_matrix_follows_the_policies() -> None:
    pods = ["default/db", "default/frontend", "default/batch", "default/nobody"]
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(ingress.DB_PODS)
        c.advance(20)
        before = viz.netpol_svg(c, pods, port=ingress.DB_PORT)
        c.apply(ingress.DB_POLICY)
        c.advance(1)
        after = viz.netpol_svg(c, pods, port=ingress.DB_PORT, title="db")
        on_80 = viz.netpol_svg(c, pods, port=80)
        assert str(after) == str(viz.netpol_svg(c, pods, port=ingress.DB_PORT, title="db"))   # deterministic
    row = [".", ".", ".", "?"]
    assert _cells(before) == row * 3 + ["?"] * 4
    # only batch -> db is blocked on the database's port; on port 80 frontend is blocked too
    assert _cells(after) == row + row + ["X", ".", ".", "?"] + ["?"] * 4
    assert _cells(on_80)[:12] == row + ["X", ".", ".", "?"] * 2
    blocked = dict(viz.CONNECTIVITY)["blocked"]
    assert [e.get("fill") for e in _elements(after) if e.get("fill") == blocked][:1] == [blocked]
    assert "from ↓ to → on 6379/TCP" in _texts(after) and _texts(after)[0] == "db"
