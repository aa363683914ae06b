"""Exercise checks, one module per chapter (``sample.py`` for labs/00-sample.ipynb, ``pods.py`` for
labs/05-pods.ipynb, ...). Each module registers its checks with :func:`minik8s.lab.checks.exercise`;
:func:`minik8s.lab.checks.load_all` imports them all. Every exercise registers a ``start`` and a
``solution`` function too: ``tests/test_checks.py`` proves each check fails on the first and passes
on the second.
"""
