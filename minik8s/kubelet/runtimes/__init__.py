"""Container runtimes behind the CRI-like interface of :mod:`minik8s.kubelet.cri`:
``simulated`` (states on a clock), ``process`` (OS processes) and ``docker``."""
