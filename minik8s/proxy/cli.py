"""``minik8s proxy-rules [--node node-1]``: print the iptables rules a node's kube-proxy would write.

Reads Services, EndpointSlices and Nodes through the kubeconfig's current context (as ``minik8s
kubectl`` does) and prints them as ``iptables-save`` would show them on that node
(:mod:`minik8s.proxy.iptables`). Works against any cluster, minik8s or not.

Taught in chapter 13 (the pod network and Services).
"""

from __future__ import annotations

import argparse
import sys

from minik8s import kubeconfig
from minik8s.api import resources
from minik8s.api.errors import StatusError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="minik8s proxy-rules",
                                     description="Print the iptables rules kube-proxy would write for a node.")
    parser.add_argument("--node", default="node-1", help="the node whose rules to print (default node-1)")
    parser.add_argument("--cluster-cidr", default=None,
                        help="the pod network, as kube-proxy's --cluster-cidr (default: from the Nodes' podCIDR)")
    parser.add_argument("--kubeconfig", default=None, help="path to the kubeconfig file")
    parser.add_argument("--context", default=None, help="the kubeconfig context to use")
    args = parser.parse_args(argv)
    from minik8s.client.http import HTTPClient
    from minik8s.proxy import rules

    try:
        ctx = kubeconfig.current(kubeconfig.load(kubeconfig.path(args.kubeconfig)), args.context)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    client = HTTPClient(ctx.server, token=ctx.token, verify=not ctx.insecure, ca_pem=ctx.ca_pem)
    try:
        client.get(resources.get("", "v1", "nodes"), args.node)
        sys.stdout.write(rules(client, args.node, args.cluster_cidr))
    except StatusError as err:
        print(f"Error from server ({err.reason}): {err}", file=sys.stderr)
        return 1
    except ConnectionError as err:   # the client's own wording, as kubectl prints it
        print(err, file=sys.stderr)
        return 1
    return 0
