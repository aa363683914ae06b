"""minik8s.healthz: /healthz, /livez and /readyz answered as upstream's components answer them."""

from __future__ import annotations

from minik8s import healthz

CHECKS = [healthz.Check("ping", healthz.ping), healthz.Check("log", healthz.ping)]


def failing(reason: str) -> healthz.Check:
    return healthz.Check("etcd", lambda: reason)


def test_all_passing_is_ok_and_verbose_lists_each_check():
    assert healthz.answer("healthz", CHECKS, "/healthz", {}) == (200, "ok")
    assert healthz.answer("livez", CHECKS, "/livez", {"verbose": ""}) == (200, "[+]ping ok\n[+]log ok\nlivez check passed\n")


def test_a_failing_check_gives_500_lists_every_check_and_withholds_its_reason():
    status, body = healthz.answer("readyz", [*CHECKS, failing("connection refused")], "/readyz", {})
    assert status == 500
    assert body == "[+]ping ok\n[+]log ok\n[-]etcd failed: reason withheld\nreadyz check failed\n"
    assert "refused" not in body


def test_excluded_checks_are_skipped_and_said_so():
    checks = [*CHECKS, failing("down")]
    assert healthz.answer("readyz", checks, "/readyz", {"exclude": "etcd"}) == (200, "ok")
    status, body = healthz.answer("readyz", checks, "/readyz", {"exclude": "etcd", "verbose": ""})
    assert status == 200 and "[+]etcd excluded: ok" in body.splitlines()


def test_one_check_alone_by_its_path():
    checks = [*CHECKS, failing("down")]
    assert healthz.answer("healthz", checks, "/healthz/ping", {}) == (200, "ok")
    assert healthz.answer("healthz", checks, "/healthz/etcd", {}) == (500, "internal server error: reason withheld\n")
    assert healthz.answer("healthz", checks, "/healthz/nothing", {})[0] == 404


def test_a_check_that_raises_is_a_failing_check():
    def broken() -> str | None:
        raise RuntimeError("bug")
    status, body = healthz.answer("healthz", [healthz.Check("broken", broken)], "/healthz", {})
    assert status == 500 and body.startswith("[-]broken failed: reason withheld\n")
