"""minik8s.viz.job_timeline_svg: one bar per pod of a Job, placed on the cluster clock, coloured by outcome."""

from __future__ import annotations

import json
import re

from minik8s.cluster import Cluster
from minik8s.viz import STATES, job_timeline_svg

FILL = {key: colour for key, _, colour in STATES}


def _job(name: str, command: str, **spec: object) -> str:
    return json.dumps({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": {
        **spec, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "main", "image": "busybox", "command": ["sh", "-c", command]}]}}}})


def _bars(svg: str) -> list[tuple[float, float, str, bool]]:
    """(x, width, fill, dashed) of every pod bar (the rects with rx 3 that are not legend swatches)."""
    found = re.findall(r'<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="16" rx="3" fill="(#\w+)" '
                       r'stroke="#424242"( stroke-dasharray="6 4")?/>', svg)
    return [(float(x), float(w), fill, bool(dash)) for x, w, fill, dash in found]


def test_retries_show_as_failed_bars_separated_by_the_back_off() -> None:
    with Cluster(nodes=2, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(_job("flaky", "sleep 2; exit 1", backoffLimit=3))
        c.advance(200)
        svg = str(job_timeline_svg(c, "flaky"))
        assert svg == str(job_timeline_svg(c, "flaky"))   # deterministic
    bars = _bars(svg)
    assert [fill for _, _, fill, _ in bars] == [FILL["failed"]] * 4
    assert not any(dashed for *_, dashed in bars)
    starts = [x for x, *_ in bars]
    ends = [x + w for x, w, *_ in bars]
    gaps = [round(starts[i + 1] - ends[i], 1) for i in range(3)]
    assert abs(gaps[1] - 2 * gaps[0]) < 0.5 and abs(gaps[2] - 2 * gaps[1]) < 0.5   # 10 s, 20 s, 40 s on one scale
    assert svg.count("flaky-") == 4 and "Failed / crashing" in svg and "Succeeded" not in svg


def test_a_running_pod_is_an_open_bar_and_a_job_without_pods_says_so() -> None:
    with Cluster(nodes=1, runtime="simulated", clock="virtual", seed=0) as c:
        c.apply(_job("mixed", "sleep 5", completions=2, parallelism=1))
        c.advance(8)
        bars = _bars(str(job_timeline_svg(c, "mixed")))
        empty = str(job_timeline_svg(c, "nothing"))
    assert [(fill, dashed) for _, _, fill, dashed in bars] == [(FILL["succeeded"], False), (FILL["ready"], True)]
    assert "no pods of Job nothing" in empty
