"""Admission: the checks a request passes after it is authenticated and decoded, before it is stored.

kube-apiserver runs a chain of admission plugins on every write (``NamespaceLifecycle``,
``LimitRanger``, ``ResourceQuota``, ...): mutating ones may change the object, validating
ones may only say no, with a ``403 Forbidden`` naming the plugin's reason. minik8s keeps
each plugin in its own module here:

* :mod:`minik8s.apiserver.admission.chain`: the chain itself (mutating plugins, then
  validation, then validating plugins) and the attributes every plugin sees;
* :mod:`minik8s.apiserver.admission.objectcount`: a default per-namespace object-count
  quota, so a typo such as ``replicas: 1000000000`` fills a namespace up to a bound instead
  of filling the machine's memory;
* :mod:`minik8s.apiserver.admission.limitranger`: ``LimitRanger``, default resources and
  min/max bounds from the namespace's LimitRanges;
* :mod:`minik8s.apiserver.admission.podsecurity`: ``PodSecurity``, the Pod Security
  Standards a namespace's labels ask for;
* :mod:`minik8s.apiserver.admission.resourcequota`: ``ResourceQuota``, the namespace's
  ResourceQuotas (last in the chain: it charges what every other plugin let through).

Taught in chapter 2 (architecture: the path of a request through the API server).
"""

from minik8s.apiserver.admission.chain import Attributes, Chain
from minik8s.apiserver.admission.objectcount import DEFAULT_OBJECT_COUNT_LIMIT, ObjectCountQuota

__all__ = ["Attributes", "Chain", "DEFAULT_OBJECT_COUNT_LIMIT", "ObjectCountQuota"]
