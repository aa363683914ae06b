"""The ``minik8s`` command: ``server``, ``kubectl``, and the tools around them."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "kubectl":
        from minik8s.kubectl.main import main as kubectl_main

        return kubectl_main(argv[1:])
    if argv and argv[0] == "image":
        from minik8s.imagecli import main as image_main

        return image_main(argv[1:])
    if argv and argv[0] == "proxy-rules":
        from minik8s.proxy.cli import main as proxy_rules_main

        return proxy_rules_main(argv[1:])
    if argv and argv[0] == "grade":
        from minik8s.lab.grade import main as grade_main

        return grade_main(argv[1:])
    if argv and argv[0] == "node":
        from minik8s.nodecontrol import main as node_main
        from minik8s.server import DEFAULT_DATA_DIR

        return node_main(argv[1:], DEFAULT_DATA_DIR)
    if argv and argv[0] == "classroom":
        from minik8s.classroom import main as classroom_main

        return classroom_main(argv[1:])
    if argv and argv[0] == "cleanup":
        from minik8s.hostnet import main as cleanup_main
        from minik8s.server import DEFAULT_DATA_DIR

        return cleanup_main(argv[1:], DEFAULT_DATA_DIR)
    if argv and argv[0] == "token":
        from minik8s.tokencli import main as token_main

        return token_main(argv[1:])
    if argv and argv[0] == "join":
        from minik8s.join import main as join_main

        return join_main(argv[1:])
    parser = argparse.ArgumentParser(prog="minik8s", description="A Kubernetes textbook that runs.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    server = sub.add_parser("server", help="run a cluster and serve the Kubernetes API over HTTP")
    from minik8s import server as server_module

    server_module.add_arguments(server)
    daemons = _add_daemons(sub)
    sub.add_parser("kubectl", help="a kubectl-compatible client (minik8s kubectl get pods)")
    sub.add_parser("image", help="build, push, pull and list images (minik8s image build -t app:1.0 .)")
    sub.add_parser("proxy-rules", help="print the iptables rules kube-proxy would write (minik8s proxy-rules --node node-1)")
    sub.add_parser("grade", help="run lab notebooks and tabulate their exercise checks (minik8s grade *.ipynb)")
    sub.add_parser("node", help="stop or start a node's kubelet, add or remove a node of the running server "
                                "(minik8s node stop node-2)")
    sub.add_parser("classroom", help="a namespace, rights, a quota and a kubeconfig per student on one cluster "
                                     "(minik8s classroom students.txt)")
    sub.add_parser("cleanup", help="remove what a crashed netns-mode server left on this machine "
                                   "(namespaces, links, rules): minik8s cleanup --data-dir DIR")
    sub.add_parser("token", help="create, list and delete bootstrap tokens (minik8s token create "
                                 "--print-join-command)")
    sub.add_parser("join", help="join this machine to a cluster as a node (minik8s join URL --token T "
                                "--discovery-token-ca-cert-hash sha256:H)")
    args = parser.parse_args(argv)
    if args.command == "server":
        return server_module.main(args)
    if args.command in daemons:
        return int(daemons[args.command].main(args))
    parser.print_help()
    return 0 if args.command is None else 2


def _add_daemons(sub: Any) -> dict[str, Any]:
    """The components as processes of their own (:mod:`minik8s.daemons`), as a kubeadm cluster runs them."""
    from minik8s.daemons import apiserver, controllermanager, kubelet, proxy, scheduler

    commands = {
        "apiserver": (apiserver, "the API server alone, over HTTPS; writes admin.conf and the components' "
                                 "kubeconfigs into --data-dir"),
        "controller-manager": (controllermanager, "the controllers (kube-controller-manager), through --kubeconfig"),
        "scheduler": (scheduler, "the scheduler (kube-scheduler), through --kubeconfig"),
        "kubelet": (kubelet, "one node's kubelet and container runtime, through --kubeconfig"),
        "proxy": (proxy, "kube-proxy for one node, through --kubeconfig"),
    }
    for name, (module, help_text) in commands.items():
        module.add_arguments(sub.add_parser(name, help=help_text))
    return {name: module for name, (module, _) in commands.items()}


if __name__ == "__main__":
    sys.exit(main())
