"""The address plan: clusters of the process runtime on one machine get disjoint Service blocks."""

from __future__ import annotations

from minik8s import Cluster, addresses


def test_blocks_are_claimed_in_order_and_given_back(tmp_path):
    first = addresses.claim_block("process", tmp_path)
    second = addresses.claim_block("process", tmp_path)
    try:
        assert (first.service_cidr, first.load_balancer_pool) == ("127.96.0.0/12", "127.240.0.0/16")
        assert (second.service_cidr, second.load_balancer_pool) == ("127.112.0.0/12", "127.241.0.0/16")
        first.release()
        again = addresses.claim_block("process", tmp_path)
        assert again.service_cidr == "127.96.0.0/12"   # the first block is free again
        again.release()
    finally:
        first.release()
        second.release()


def test_when_every_block_is_held_the_cluster_shares_the_first_and_says_so(tmp_path, caplog):
    held = [addresses.claim_block("process", tmp_path) for _ in range(addresses.BLOCKS)]
    try:
        assert len({b.service_cidr for b in held}) == addresses.BLOCKS
        extra = addresses.claim_block("process", tmp_path)
        assert extra.service_cidr == "127.96.0.0/12" and "already hold every Service address block" in caplog.text
    finally:
        for block in held:
            block.release()


def test_simulated_clusters_all_have_the_documented_plan(tmp_path):
    one, two = addresses.claim_block("simulated", tmp_path), addresses.claim_block("simulated", tmp_path)
    assert one.service_cidr == two.service_cidr == "10.96.0.0/12"
    assert not list(tmp_path.iterdir())   # nothing locked


def test_two_process_clusters_on_one_machine_never_share_kubernetes_or_kube_dns_addresses():
    with Cluster(nodes=0, runtime="process", clock="virtual", seed=0) as one, \
            Cluster(nodes=0, runtime="process", clock="virtual", seed=0) as two:
        assert one.service_cidr != two.service_cidr

        def ips(c: Cluster) -> set[str]:
            return {c.kubectl("get svc kubernetes -o jsonpath={.spec.clusterIP}"),
                    c.kubectl("get svc kube-dns -n kube-system -o jsonpath={.spec.clusterIP}")}
        assert not ips(one) & ips(two)
