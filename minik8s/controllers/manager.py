"""The controller manager: which controllers run, in which order.

kube-controller-manager is one process running many independent controllers;
each watches what it cares about and reconciles. Here they are listed once and
the cluster's loop gives each its turn. Order matters only for determinism:
with a virtual clock, the same order gives the same names and the same output.
"""

from __future__ import annotations

from typing import Callable

from minik8s.controllers.controller import Context, Controller
from minik8s.controllers.cronjob import CronJobController
from minik8s.controllers.deployment import DeploymentController
from minik8s.controllers.garbagecollector import GarbageCollector
from minik8s.controllers.replicaset import ReplicaSetController
from minik8s.controllers.job import JobController
from minik8s.controllers.ttlafterfinished import TTLAfterFinishedController
from minik8s.controllers.namespace import NamespaceController
from minik8s.controllers.nodelifecycle import NodeLifecycleController
from minik8s.controllers.tainteviction import TaintEvictionController
from minik8s.controllers.daemonset import DaemonSetController
from minik8s.controllers.statefulset import StatefulSetController
from minik8s.controllers.volume import PersistentVolumeController
from minik8s.controllers.ephemeralvolume import EphemeralVolumeController
from minik8s.controllers.endpointslice import EndpointSliceController
from minik8s.controllers.endpoints import EndpointsController
from minik8s.controllers.loadbalancer import LoadBalancerController
from minik8s.controllers.clusterroleaggregation import ClusterRoleAggregationController
from minik8s.controllers.serviceaccount import ServiceAccountController, TokensController
from minik8s.controllers.rootcacertpublisher import RootCACertPublisher
from minik8s.controllers.resourcequota import ResourceQuotaController
from minik8s.controllers.disruption import DisruptionController
from minik8s.controllers.podautoscaler import HorizontalPodAutoscalerController
from minik8s.controllers.bootstrap import TokenCleaner
from minik8s.controllers.csrapproving import CSRApprovingController
from minik8s.controllers.csrsigning import CSRSigningController

# Add a controller here (one line each) when it exists.
CONTROLLERS: list[Callable[[Context], Controller]] = [
    NamespaceController,
    NodeLifecycleController,
    TaintEvictionController,
    DaemonSetController,
    DeploymentController,
    ReplicaSetController,
    GarbageCollector,
    StatefulSetController,
    JobController,
    CronJobController,
    TTLAfterFinishedController,
    PersistentVolumeController,
    EphemeralVolumeController,
    EndpointSliceController,
    EndpointsController,
    LoadBalancerController,
    ClusterRoleAggregationController,
    ServiceAccountController,
    TokensController,
    RootCACertPublisher,
    ResourceQuotaController,
    DisruptionController,
    HorizontalPodAutoscalerController,
    TokenCleaner,
    CSRApprovingController,
    CSRSigningController,
]
