"""The resource metrics pipeline's server side: :mod:`minik8s.metrics.server`, minik8s's metrics-server.

Taught in chapter 17 (autoscaling: measuring usage).
"""
