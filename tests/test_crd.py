"""Custom resources: runtime registration in the resource registry (the hook CRDs build on)."""

import pytest

from minik8s.api import resources
from minik8s.api.resources import Resource

CRONTABS = Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                    singular="crontab", schema={"type": "object"})


@pytest.fixture
def crontabs():
    resources.register(CRONTABS)
    yield CRONTABS
    resources.unregister(CRONTABS)


def test_register_makes_the_resource_findable_and_bumps_generation():
    before = resources.generation
    resources.register(CRONTABS)
    try:
        assert resources.generation > before
        assert CRONTABS in resources.RESOURCES
        assert resources.lookup("ct") is CRONTABS
        assert resources.lookup("crontabs.stable.example.com") is CRONTABS
        assert resources.by_kind("stable.example.com/v1", "CronTab") is CRONTABS
        assert resources.get("stable.example.com", "v1", "crontabs") is CRONTABS
        assert ("stable.example.com", "v1") in resources.groups()
    finally:
        resources.unregister(CRONTABS)
    assert resources.generation > before + 1
    assert resources.lookup("ct") is None
    assert resources.by_plural("stable.example.com", "v1", "crontabs") is None
    assert ("stable.example.com", "v1") not in resources.groups()


def test_register_replaces_the_same_group_version_plural(crontabs):
    renamed = Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("cts",), singular="crontab")
    resources.register(renamed)
    assert [r for r in resources.RESOURCES if r.plural == "crontabs"] == [renamed]
    assert resources.lookup("cts") is renamed
    assert resources.lookup("ct") is None


def test_schema_is_not_part_of_equality():
    assert CRONTABS == Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                                singular="crontab")
    assert hash(CRONTABS) == hash(Resource("stable.example.com", "v1", "CronTab", "crontabs", short_names=("ct",),
                                           singular="crontab", schema={"type": "string"}))


def test_builtin_resources_cannot_be_replaced_or_removed():
    pods = resources.get("", "v1", "pods")
    with pytest.raises(ValueError):
        resources.register(Resource("", "v1", "Pod", "pods"))
    with pytest.raises(ValueError):
        resources.unregister(pods)
    assert resources.lookup("po") is pods
