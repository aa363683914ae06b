"""The in-tree scheduler plugins, one module per upstream plugin (same names).

Each module registers its plugins with the framework by name when it is imported
(upstream's in-tree registry); importing this package imports them all.

Taught in chapter 11 (Scheduling).
"""

from minik8s.scheduler.plugins.image_locality import ImageLocality
from minik8s.scheduler.plugins.inter_pod_affinity import InterPodAffinity
from minik8s.scheduler.plugins.node_affinity import NodeAffinity
from minik8s.scheduler.plugins.node_name import NodeName
from minik8s.scheduler.plugins.node_ports import NodePorts
from minik8s.scheduler.plugins.node_resources import NodeResourcesBalancedAllocation, NodeResourcesFit
from minik8s.scheduler.plugins.node_unschedulable import NodeUnschedulable
from minik8s.scheduler.plugins.pod_topology_spread import PodTopologySpread
from minik8s.scheduler.plugins.taint_toleration import TaintToleration
from minik8s.scheduler.plugins.volume_binding import VolumeBinding
from minik8s.scheduler.plugins.volume_restrictions import VolumeRestrictions

__all__ = [
    "ImageLocality", "InterPodAffinity", "NodeAffinity", "NodeName", "NodePorts", "NodeResourcesBalancedAllocation",
    "NodeResourcesFit", "NodeUnschedulable", "PodTopologySpread", "TaintToleration", "VolumeBinding",
    "VolumeRestrictions",
]
