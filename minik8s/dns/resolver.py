"""Answering DNS queries from the cluster's records, as CoreDNS answers them: a pure function.

``Resolver(records).answer(query)`` takes a parsed query (:class:`dns.message.Message`) and returns
the response; nothing here touches a socket, so every answer is a unit test away:

* a name with records of the asked type: those records (TTL 30), authoritative (``AA``); an SRV
  answer carries its targets' A records in the additional section, as CoreDNS does;
* a name with a CNAME (an ExternalName Service) and another type asked: the CNAME;
* a name that exists without records of that type (``AAAA`` of a Service, ``svc.cluster.local``
  itself): NOERROR with no answer and the zone's SOA in the authority section;
* a name inside the zone that does not exist: NXDOMAIN with the SOA in the authority section;
* a name outside the zone (and a reverse name we know nothing of): REFUSED. CoreDNS would forward it
  to the node's resolvers; a minik8s cluster has no outside network, and REFUSED (unlike SERVFAIL)
  says at once "not here, do not retry me" so a resolver moves to its next name without waiting;
* not a standard query (opcode): NOTIMP; more or less than one question: FORMERR.

``answer_wire(bytes)`` is what a server calls: it parses (malformed bytes get FORMERR when they carry a
header, and nothing otherwise), answers, and encodes, truncating at record-set boundaries with the
``TC`` flag when the answer does not fit a UDP reply (512 bytes, or the EDNS size the client offers).
Should answering ever raise (a bug), that query gets SERVFAIL and the server goes on.

``lookup(name, namespace, qtype="A")`` is the resolver of a pod's C library in one call: it tries
the search path a ClusterFirst pod gets (``<ns>.svc.cluster.local svc.cluster.local cluster.local``,
``ndots:5``: a name with fewer than five dots tries the search path first) and returns the first
name that has answers: ``(fqdn without the final dot, [answer as text])``; failing that, the first
name that exists without records of that type (NOERROR, no data: an AAAA question for a Service) as
``(fqdn, [])``; or None when every name is NXDOMAIN.

Interface:
    Resolver(records).answer(query) -> response;  .answer_wire(wire, udp=True) -> bytes | None
    .lookup(name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None
    search_path(namespace, domain) -> [domains];  NDOTS

Taught in chapter 13 (the pod network and Services: cluster DNS).
"""

from __future__ import annotations

import logging

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from minik8s.dns.records import TTL, Records

log = logging.getLogger(__name__)

NDOTS = 5                  # the ``options ndots:5`` the kubelet writes for ClusterFirst pods
UDP_SIZE = 512             # a UDP answer without EDNS (RFC 1035)
MAX_UDP_SIZE = 4096        # the most we send over UDP, whatever EDNS size a client offers
REVERSE = dns.name.from_text("in-addr.arpa")


def search_path(namespace: str, domain: str = "cluster.local") -> list[str]:
    """The search domains of a ClusterFirst pod in ``namespace``."""
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]


class Resolver:
    """Answers from one immutable set of records (a new set means a new resolver)."""

    def __init__(self, records: Records):
        self.records = records

    # --- one query ---------------------------------------------------------------------

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        if query.opcode() != dns.opcode.QUERY:
            response.set_rcode(dns.rcode.NOTIMP)
            return response
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        zone = self.records.zone
        name, rdtype = question.name, question.rdtype
        inside = name.is_subdomain(zone)
        if question.rdclass != dns.rdataclass.IN or not (inside or name.is_subdomain(REVERSE)):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        found = self.records.rrsets(name)
        if not inside and found is None:
            response.set_rcode(dns.rcode.REFUSED)   # a reverse name that is none of ours
            return response
        response.flags |= dns.flags.AA
        if found is None and not self.records.exists(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
            self._authority(response)
            return response
        found = found or {}
        if rdtype == dns.rdatatype.ANY:
            wanted = list(found)
        elif rdtype in found:
            wanted = [rdtype]
        else:
            wanted = [dns.rdatatype.CNAME] if dns.rdatatype.CNAME in found else []
        for kind in wanted:
            response.answer.append(dns.rrset.from_rdata_list(name, TTL, found[kind]))
        if not wanted:
            self._authority(response)
        if rdtype == dns.rdatatype.SRV and dns.rdatatype.SRV in found:
            self._srv_targets(response, found[dns.rdatatype.SRV])
        return response

    def _authority(self, response: dns.message.Message) -> None:
        response.authority.append(dns.rrset.from_rdata_list(self.records.zone, TTL, [self.records.soa]))

    def _srv_targets(self, response: dns.message.Message, srvs: list[dns.rdata.Rdata]) -> None:
        for srv in srvs:
            target = srv.target  # type: ignore[attr-defined]
            addresses = (self.records.rrsets(target) or {}).get(dns.rdatatype.A)
            if addresses:
                response.additional.append(dns.rrset.from_rdata_list(target, TTL, addresses))

    # --- bytes in, bytes out (for a server) --------------------------------------------

    def answer_wire(self, wire: bytes, udp: bool = True) -> bytes | None:
        """The reply to a query as received; None when there is nothing to answer (no header, or a response)."""
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _format_error(wire)
        except ValueError:   # some malformed inputs surface as ValueError from the parser
            return _format_error(wire)
        if query.flags & dns.flags.QR:
            return None   # a response sent to us: never answer one (no reflection loops)
        try:
            response = self.answer(query)
        except Exception:  # noqa: BLE001 - a bug must cost one answer, never the server
            log.exception("cluster DNS: answering %s failed", query.question)
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
        if not udp:
            return response.to_wire()
        size = UDP_SIZE if query.edns < 0 else min(max(query.payload, UDP_SIZE), MAX_UDP_SIZE)
        return response.to_wire(max_size=size, prefer_truncation=True)

    # --- a pod's resolver in one call --------------------------------------------------

    def lookup(self, name: str, namespace: str, qtype: str = "A") -> tuple[str, list[str]] | None:
        """The first of the search-path candidates for ``name`` that has answers (see the module docstring)."""
        try:
            rdtype = dns.rdatatype.from_text(qtype)
        except dns.rdatatype.UnknownRdatatype:
            return None
        exists: str | None = None   # the first candidate that is a name without records of this type
        for candidate in _candidates(name, namespace, self.records.zone.to_text(omit_final_dot=True)):
            try:
                query = dns.message.make_query(candidate, rdtype)
            except dns.exception.DNSException:
                return None   # not a name (an empty label, a label over 63 characters)
            response = self.answer(query)
            if response.rcode() == dns.rcode.NOERROR and response.answer:
                return candidate.rstrip("."), [rdata.to_text() for rrset in response.answer for rdata in rrset]
            if response.rcode() == dns.rcode.NOERROR and exists is None:
                exists = candidate.rstrip(".")
        return (exists, []) if exists is not None else None


def _candidates(name: str, namespace: str, domain: str) -> list[str]:
    """The names a resolver with the ClusterFirst search path and ``ndots:5`` tries, in order."""
    if name.endswith("."):
        return [name]
    searched = [f"{name}.{suffix}." for suffix in search_path(namespace, domain)]
    return [f"{name}.", *searched] if name.count(".") >= NDOTS else [*searched, f"{name}."]


def _format_error(wire: bytes) -> bytes | None:
    """FORMERR for bytes that carry a DNS header but no valid message (RFC 1035: echo the id)."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None
    reply = dns.message.Message(id=int.from_bytes(wire[:2], "big"))
    reply.flags = dns.flags.QR | (wire[2] & 0x78) << 8   # keep the opcode the query carried
    reply.set_rcode(dns.rcode.FORMERR)
    return reply.to_wire()
