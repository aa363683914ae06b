"""The lab framework: notebook magics, self-checking exercises and the teacher's grader.

* :mod:`minik8s.lab.session` - the cluster a notebook talks to (in-process or real);
* :mod:`minik8s.lab.magics` - ``%load_ext minik8s``, ``%kubectl``, ``%%kubectl``, ``%minik8s``;
* :mod:`minik8s.lab.checks` - ``@exercise`` and ``check(name)``;
* :mod:`minik8s.lab.exercises` - one module of checks per chapter;
* :mod:`minik8s.lab.grade` - ``minik8s grade NOTEBOOK...``.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    """``from minik8s.lab import check`` works too (a natural guess in a notebook), without loading the
    checks whenever the package is imported."""
    if name == "check":
        from minik8s.lab.checks import check

        return check
    raise AttributeError(f"module 'minik8s.lab' has no attribute {name!r}")
