"""minik8s.runner: the component loop every process runs (Cluster's too), driven with fake components."""

from __future__ import annotations

import threading
from typing import Hashable

import pytest

from minik8s.client.workqueue import WorkQueue
from minik8s.clock import RealClock, VirtualClock
from minik8s.runner import Runner


class Recorder:
    """A component that records the keys it reconciles; key "again" comes back once, 5 s later."""

    def __init__(self, name: str, log: list[tuple[str, Hashable]]):
        self.name = name
        self.queue = WorkQueue()
        self.log = log
        self.retried = False

    def promote(self, now: float) -> None:
        self.queue.promote(now)

    def next_due(self) -> float | None:
        return self.queue.next_due()

    def process_one(self) -> bool:
        key = self.queue.pop()
        if key is None:
            return False
        self.log.append((self.name, key))
        if key == "again" and not self.retried:
            self.retried = True
            self.queue.add_after(key, 5.0)
        return True


class Events:
    """Stands for the informers: each pump applies the queued watch events (adds keys)."""

    def __init__(self) -> None:
        self.pending: list[tuple[Recorder, str]] = []

    def pump(self) -> int:
        applied, self.pending = self.pending, []
        for component, key in applied:
            component.queue.add(key)
        return len(applied)


def test_a_round_applies_events_then_reconciles_what_is_ready_in_component_order():
    log: list[tuple[str, Hashable]] = []
    first, second = Recorder("first", log), Recorder("second", log)
    events = Events()
    runner = Runner(events, VirtualClock(start=0), lambda: [first, second])
    second.queue.add("b")
    events.pending.append((first, "a"))
    assert runner.step() is True
    assert log == [("first", "a"), ("second", "b")]
    assert runner.step() is False   # nothing left: the round did nothing


def test_timers_wait_for_the_clock_and_next_due_says_when():
    log: list[tuple[str, Hashable]] = []
    component = Recorder("c", log)
    clock = VirtualClock(start=0)
    runner = Runner(Events(), clock, lambda: [component])
    component.queue.add("again")
    assert runner.run_until_stable() is True
    assert log == [("c", "again")] and runner.next_due() == 5.0
    clock.set(4.9)
    assert runner.step() is False
    clock.set(5.0)
    assert runner.step() is True
    assert log == [("c", "again"), ("c", "again")] and runner.next_due() is None


def test_the_list_of_components_is_read_each_round():
    log: list[tuple[str, Hashable]] = []
    components: list[Recorder] = []
    runner = Runner(Events(), VirtualClock(start=0), lambda: components)
    late = Recorder("late", log)
    late.queue.add("x")
    assert runner.step() is False
    components.append(late)   # a node joins
    assert runner.step() is True and log == [("late", "x")]


def test_a_loop_that_never_settles_is_reported():
    class Busy(Recorder):
        def process_one(self) -> bool:
            did = super().process_one()
            self.queue.add("spin")   # always more work: a controller fighting itself
            return did

    busy = Busy("busy", [])
    busy.queue.add("spin")
    runner = Runner(Events(), VirtualClock(start=0), lambda: [busy])
    import minik8s.runner as runner_module

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner_module, "MAX_STEPS", 50)
        with pytest.raises(RuntimeError, match="did not settle"):
            runner.run_until_stable()


def test_with_the_real_clock_the_loop_runs_on_its_thread_until_stopped():
    log: list[tuple[str, Hashable]] = []
    component = Recorder("c", log)
    events = Events()
    runner = Runner(events, RealClock(), lambda: [component])
    runner.start()
    try:
        events.pending.append((component, "k"))
        runner.wake()   # what a watch thread does when an event arrives
        assert runner.run_until_stable(timeout=10) is True
        assert log == [("c", "k")]
        assert runner.stalled(60) is None
    finally:
        runner.stop()
    assert runner._thread is not None and not runner._thread.is_alive()


def test_run_returns_when_its_stopping_event_is_set():
    runner = Runner(Events(), RealClock(), lambda: [])
    stopping = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stopping,))
    thread.start()
    stopping.set()
    runner.wake()
    thread.join(timeout=10)
    assert not thread.is_alive()
