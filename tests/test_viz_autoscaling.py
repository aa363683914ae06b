"""minik8s.viz.autoscaling_svg: replicas and CPU utilization as step lines over time, from the samples
the lab's LoadDriver records on a live cluster (and from hand-made samples for the edge cases)."""

from __future__ import annotations

from minik8s import viz
from minik8s.cluster import Cluster
from minik8s.lab.autoscaling import AutoscalingSample, LoadDriver
from minik8s.lab.exercises import autoscaling as ex
from minik8s.lab.session import InProcess
from tests import svg_support

SVG_NS = svg_support.SVG_NS


def _polylines(svg: viz.SVG) -> dict[str, list[tuple[float, float]]]:
    out = {}
    for e in svg_support.elements(svg):
        if e.tag == f"{SVG_NS}polyline":
            name = e.find(f"{SVG_NS}title")
            assert name is not None
            out[name.text or ""] = [tuple(map(float, p.split(","))) for p in e.get("points", "").split()]
    return out


def test_a_live_scale_up_is_a_rising_step_line() -> None:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(ex.WEB)
        c.advance(10)
        c.kubectl("autoscale deployment web --min=2 --max=8 --cpu-percent=50")
        driver = LoadDriver(InProcess(c), "web", show=False)
        driver.drive(80, 45)
        driver.drive(300, 60)
    svg = driver.svg(title="web under load")
    assert str(svg) == str(viz.autoscaling_svg(driver.samples, title="web under load"))   # deterministic
    lines = _polylines(svg)
    replicas = lines["replicas"]
    # a step line: every point after the first comes as a pair with the x of the next sample
    ys = [y for _, y in replicas]
    assert ys[0] == ys[1] and ys[-1] < ys[0]          # more replicas is higher up
    xs = [x for x, _ in replicas]
    assert xs == sorted(xs)
    assert all(a == b for a, b in zip(xs[1::2], xs[2::2]))   # vertical risers
    assert "CPU utilization" in lines
    texts = svg_support.texts(svg)
    assert "web under load" in texts and "replicas" in texts and "6" in texts
    # time runs from the driver's start (0s) to its last sample (105s), no tick beyond
    assert [t for t in texts if t.endswith("s") and t[:-1].isdigit()] == ["0s", "50s", "100s"]
    assert min(x for x, _ in replicas) > 48   # the first sample is at 15 s, right of the axis
    assert any(e.tag == f"{SVG_NS}line" and (e.find(f"{SVG_NS}title") is not None)
               and e.find(f"{SVG_NS}title").text == "target 50%" for e in svg_support.elements(svg))


def test_unknown_utilization_is_left_out_and_no_samples_says_so() -> None:
    samples = [AutoscalingSample(15, 100, None, 1, 60), AutoscalingSample(30, 100, 80, 1, 60),
               AutoscalingSample(45, 100, 40, 2, 60)]
    lines = _polylines(viz.autoscaling_svg(samples))
    assert len(lines["CPU utilization"]) == 3    # two known points: first, then a step of two
    assert len(lines["replicas"]) == 5
    empty = viz.autoscaling_svg([])
    assert "no samples yet" in svg_support.texts(empty) and not _polylines(empty)


def test_names_are_escaped() -> None:
    svg = viz.autoscaling_svg([AutoscalingSample(0, 0, 0, 1)], title="<web & co>")
    assert "&lt;web &amp; co&gt;" in str(svg)
