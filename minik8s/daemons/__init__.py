"""The cluster's components as processes of their own, as a kubeadm cluster runs them.

``minik8s server`` runs a whole cluster in one process (:class:`minik8s.cluster.Cluster`); these
modules run one component each, talking to the API server over HTTPS only, each configured by a
kubeconfig as upstream's are:

==========================  =========================================  ============================
command                     module                                     health endpoints
==========================  =========================================  ============================
``minik8s apiserver``       :mod:`minik8s.daemons.apiserver`           its own port (HTTPS)
``minik8s controller-manager``  :mod:`minik8s.daemons.controllermanager`  ``--secure-port`` (10257)
``minik8s scheduler``       :mod:`minik8s.daemons.scheduler`           ``--secure-port`` (10259)
``minik8s kubelet``         :mod:`minik8s.daemons.kubelet`             ``--healthz-port`` (10248, HTTP)
``minik8s proxy``           :mod:`minik8s.daemons.proxy`               ``--healthz-port`` (10256, HTTP)
==========================  =========================================  ============================

Taught in chapter 2 (architecture).
"""
