"""The autoscaling lab's checks (chapter 17): each fails on the lab's starting state with the hint that
state deserves, and the hints for the wrong answers a student may plausibly give, on an in-process
virtual-clock cluster. (tests/test_checks.py also proves every check passes on its solution.) Also the
lab's load generator, minik8s.lab.autoscaling, driving the real metrics pipeline and HPA."""

from __future__ import annotations

import json

from minik8s.cluster import Cluster
from minik8s.lab.autoscaling import LoadDriver, spread_load
from minik8s.lab.checks import REGISTRY
from minik8s.lab.exercises import autoscaling as ex
from minik8s.lab.session import InProcess
from tests.exercise_support import fresh as _cluster
from tests.exercise_support import started as _started
from tests.exercise_support import verdict as _verdict


# --- the load generator -------------------------------------------------------------------------

def test_spread_load_shares_the_total_among_ready_pods_and_top_sees_it() -> None:
    with _cluster() as c:
        c.apply(ex.WEB)
        c.advance(10)
        names = spread_load(InProcess(c), "app=web", 150)
        assert len(names) == 2
        for name in names:
            pod = json.loads(c.kubectl(f"get pod {name} -o json"))
            assert json.loads(pod["metadata"]["annotations"]["sim.minik8s.io/app"]) == {"cpuMillicores": 75}
        c.advance(30)   # two scrapes of metrics-server
        top = c.kubectl("top pods -l app=web --no-headers").splitlines()
        assert [line.split()[1] for line in top] == ["75m", "75m"]


def test_the_driver_records_the_autoscaler_following_a_ramp() -> None:
    with _cluster() as c:
        c.apply(ex.WEB)
        c.advance(10)
        c.kubectl("autoscale deployment web --min=2 --max=8 --cpu-percent=50")
        driver = LoadDriver(InProcess(c), "web", show=False)
        driver.drive(80, 60)
        driver.drive(300, 90)
        low, high = driver.samples[:4], driver.samples[4:]
        assert [s.replicas for s in low] == [2, 2, 2, 2]
        assert low[-1].utilization == 40 and low[-1].target == 50   # 80m / 2 pods / 100m
        # 300m on 2 pods is 150%: ceil(2 × 150 / 50) = 6, at most double (or 4) per sync: 2 → 4 → 6
        assert [s.replicas for s in high] == [4, 6, 6, 6, 6, 6]
        assert high[-1].utilization == 50
        assert [s.time for s in driver.samples] == [15.0 * i for i in range(1, 11)]
        table = driver.table().splitlines()
        assert table[0].split() == ["TIME", "LOAD", "CPU", "REPLICAS"]
        assert table[4].split() == ["60s", "80m", "40%", "2"]


def test_expected_replicas_is_the_formula_clamped() -> None:
    assert ex.expected_replicas(80, 100, 50, 2, 8) == 2      # 1.6 → 2
    assert ex.expected_replicas(300, 100, 50, 2, 8) == 6
    assert ex.expected_replicas(1200, 100, 50, 2, 8) == 8    # 24, capped


# --- autoscale-web ------------------------------------------------------------------------------

def test_web_fails_on_the_start_state() -> None:
    with _started("autoscale-web") as c:
        passed, message = _verdict(c, "autoscale-web")
    assert (passed, message) == (False, "there is no HorizontalPodAutoscaler whose scaleTargetRef is Deployment web")


def test_web_hints_for_the_default_minimum_a_wrong_maximum_and_an_average_value() -> None:
    with _started("autoscale-web") as c:
        c.kubectl("autoscale deployment web --max=8 --cpu-percent=50")
        passed, message = _verdict(c, "autoscale-web")
        assert not passed and "minReplicas 1" in message and "--min=2" in message
        c.kubectl("delete hpa web")
        c.kubectl("autoscale deployment web --min=2 --max=10 --cpu-percent=50")
        passed, message = _verdict(c, "autoscale-web")
        assert not passed and message == "HPA web has maxReplicas 10, not 8 (--max=8)"
        c.kubectl("delete hpa web")
        c.apply(ex.autoscaler("web", 2, 8, 50).replace("type: Utilization\n        averageUtilization: 50",
                                                        "type: AverageValue\n        averageValue: 50m"))
        passed, message = _verdict(c, "autoscale-web")
    assert not passed and "AverageValue" in message and "percentage of each pod's CPU request" in message


def test_web_names_an_autoscaler_aimed_at_something_else() -> None:
    with _started("autoscale-web") as c:
        c.apply(ex.autoscaler("web", 2, 8, 50).replace("name: web\n  minReplicas", "name: wbe\n  minReplicas"))
        passed, message = _verdict(c, "autoscale-web")
    assert not passed and "found web (→ Deployment/wbe)" in message


def test_web_replay_catches_an_autoscaler_that_cannot_scale_up() -> None:
    frozen = "  behavior:\n    scaleUp:\n      selectPolicy: Disabled\n"
    with _started("autoscale-web") as c:
        c.apply(ex.autoscaler("web", 2, 8, 50, behavior=frozen))
        passed, message = _verdict(c, "autoscale-web")
    assert not passed and "under a load of 300m in all" in message and "settled at 2 replicas, not 6" in message


def test_web_passes_on_a_correct_autoscaler_and_leaves_the_lab_cluster_alone() -> None:
    with _started("autoscale-web") as c:
        c.kubectl("autoscale deployment web --min=2 --max=8 --cpu-percent=50")
        assert _verdict(c, "autoscale-web") == (True, "passed")
        # the ramp ran on a scratch cluster: the lab's Deployment was not scaled
        assert c.kubectl("get deployment web -o jsonpath={.spec.replicas}").strip("'") == "2"


# --- autoscale-why ------------------------------------------------------------------------------

def test_why_fails_on_the_start_state_where_the_hpa_shows_unknown() -> None:
    with _started("autoscale-why") as c:
        assert "cpu: <unknown>/60%" in c.kubectl("get hpa api")
        active = json.loads(c.kubectl("get hpa api -o json"))["status"]["conditions"]
        assert {x["type"]: x["status"] for x in active}["ScalingActive"] == "False"
        passed, message = _verdict(c, "autoscale-why")
    assert not passed and message.startswith("container app of Deployment api requests no CPU")


def test_why_asks_for_time_after_the_fix_and_refuses_a_changed_target() -> None:
    with _started("autoscale-why") as c:
        c.apply(ex.API_FIXED)
        passed, message = _verdict(c, "autoscale-why")
        assert not passed and "let time pass" in message
        c.advance(60)
        assert _verdict(c, "autoscale-why") == (True, "passed")
        c.apply(ex.API_HPA.replace("type: Utilization\n        averageUtilization: 60",
                                   "type: AverageValue\n        averageValue: 100m"))
        passed, message = _verdict(c, "autoscale-why")
    assert not passed and "no longer aims at a CPU utilization" in message


# --- autoscale-gentle ---------------------------------------------------------------------------

def _gentle(c: Cluster, policies: str, select: str = "") -> tuple[bool, str]:
    c.apply(ex.WORKER_HPA + "  behavior:\n    scaleDown:\n" + select + "      policies:\n" + policies)
    return _verdict(c, "autoscale-gentle")


def test_gentle_fails_on_the_start_state() -> None:
    with _started("autoscale-gentle") as c:
        passed, message = _verdict(c, "autoscale-gentle")
    assert not passed and message.startswith("HPA worker has no behavior.scaleDown")


def test_gentle_hints_for_percent_wrong_values_and_max_of_two_policies() -> None:
    with _started("autoscale-gentle") as c:
        passed, message = _gentle(c, "      - {type: Percent, value: 10, periodSeconds: 60}\n")
        assert not passed and "Percent policy" in message
        passed, message = _gentle(c, "      - {type: Pods, value: 2, periodSeconds: 60}\n")
        assert not passed and "removes 2 pods per period" in message
        passed, message = _gentle(c, "      - {type: Pods, value: 1, periodSeconds: 15}\n")
        assert not passed and "per 15s, not per minute" in message
        two = "      - {type: Pods, value: 1, periodSeconds: 60}\n      - {type: Percent, value: 50, periodSeconds: 60}\n"
        passed, message = _gentle(c, two)
        assert not passed and "selectPolicy Max" in message
        assert _gentle(c, two, select="      selectPolicy: Min\n") == (True, "passed")


def test_gentle_really_removes_one_pod_per_minute() -> None:
    with _started("autoscale-gentle") as c:
        solution = REGISTRY["autoscale-gentle"].solution_state
        assert solution is not None
        solution(c)
        c.advance(300)   # idle pods: the stabilization window passes, then one pod per minute goes
        seen = []
        for _ in range(8):
            c.advance(15)
            seen.append(int(c.kubectl("get deployment worker -o jsonpath={.spec.replicas}").strip("'")))
    drops = [a - b for a, b in zip(seen, seen[1:]) if a != b]
    assert drops and set(drops) == {1} and seen[-1] < 4
