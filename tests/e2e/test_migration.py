# SPDX-License-Identifier: LGPL-2.1-or-later
"""End to end: migration between two sovd agents (issue #5), on real QEMU.

Three private libvirt hosts, each in network, mount and UTS namespaces of
its own (private_network.py: one bridge, a veth per host, 198.51.100.0/24),
each with its own sovd running in its host's network namespace:
  - source      198.51.100.27: the VMs are created here through sovd's API;
  - fr-site     198.51.100.28: French, the libvirt hook installed (its sovd
                judges arrivals), a pool "fr-local" that only it has;
  - us-site     198.51.100.29: tagged US, the hook installed too.
The agents trust each other over mutual TLS (one test CA; the source's
certificate is a reader at both destinations). The pool "fr-pool" is one
local directory that every host has as a pool, standing in for shared
storage. Two more agents on the libvirt test driver serve the error paths:
one with a certificate from another CA, one without a migration_uri.

  - live FR -> FR: a "migrate" job; the guest runs at the destination, is
    gone from the source, still managed (same binding) at the destination;
    the source's job outcome and the destination hook's decision carry the
    same migration_id;
  - to the US peer: 403 with the decision before libvirt is called, no job;
  - raw `virsh migrate` to the US host: refused by that host's hook;
  - offline migration of a shut-off VM;
  - copy_storage all into a pool only the destination has;
  - cancel of a (bandwidth-limited) live migration: the VM stays at the
    source, defined only there;
  - errors: unknown, unreachable, untrusted peers, a peer without a
    migration_uri, wrong modes, bad bodies;
  - sovctl vm migrate.
Notes on libvirt (9.0, found with plain virsh between these hosts):
  - the shared fr-pool is a local (ext4) directory, not a shared file
    system: libvirt refuses a live migration without storage copy unless
    VIR_MIGRATE_UNSAFE is given, whatever the disks' cache mode;
  - with copy_storage, libvirt precreates each disk at the destination
    through the pool whose directory holds the destination path (no pool
    with that directory: "Storage pool not found");
  - the hosts' qemu.conf sets migration_host, so a data URI is not needed
    here; without it libvirt hands out the destination's hostname.
Exits 77 (skipped) where e2e cannot run: see libvirt_host.skip_reason().

Run from the source tree:
  SOVD_BIN=build/sovd SOVD_HOOK_BIN=build/sovd-hook \\
  PYTHONPATH=tests/integration:tests/e2e python3 tests/e2e/test_migration.py
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
for _p in (HERE, os.path.join(HERE, "..", "integration")):
    if _p not in sys.path:
        sys.path.append(_p)

from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402
from private_network import PrivateNetwork  # noqa: E402

_reason = skip_reason()
if _reason:
    print(f"SKIP: {_reason}")
    sys.exit(77)

import pki  # noqa: E402
import sovdtest  # noqa: E402

if not pki.available():
    print("SKIP: certtool (gnutls-bin) is not installed")
    sys.exit(77)

# Each host in a network namespace of its own (the recipe's full variant):
# libvirt then sees the destination as a remote machine, as in production.
_net_reason = PrivateNetwork.unavailable()
if _net_reason:
    print(f"SKIP: {_net_reason}")
    sys.exit(77)
NETWORK = PrivateNetwork("mig")
SOURCE_OCTET, DEST_OCTET, US_OCTET = 27, 28, 29
SOURCE_ADDRESS = NETWORK.address(SOURCE_OCTET)
DEST_ADDRESS = NETWORK.address(DEST_OCTET)
US_ADDRESS = NETWORK.address(US_OCTET)

# Absolute: libvirtd runs the hook wrapper from its own working directory.
HOOK_BIN = os.path.abspath(os.environ.get("SOVD_HOOK_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(sovdtest.SOVD_BIN)), "sovd-hook"))
FR_TAGS = dict(sovdtest.FR_PLACE_TAGS)
FR_DEST_TAGS = dict(FR_TAGS, site="par-2")
US_TAGS = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1",
           "operator": "Example Inc", "operator_jurisdiction": "US"}
ACTIVE = ("queued", "running")
PROBLEM = "urn:sovd:problem:"
# Memory of the guest whose migration is cancelled, and the bandwidth it
# gets (MiB/s): a blank guest's RAM is zero pages, and 1 GiB of them takes
# about 5 s at 1 MiB/s; 2 GiB gives the cancel some room.
SLOW_MEMORY_MIB = 2048
SLOW_BANDWIDTH = 1


def free_port(address, netns):
    """A port free on @address, asked inside its network namespace."""
    out = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c",
                          "import socket, sys\n"
                          "s = socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])",
                          address], capture_output=True, text=True, check=True, timeout=30)
    return int(out.stdout)


def start_listening(config, address, netns, libvirt_uri="test:///default", workdir=None):
    """A sovd in @netns on its Unix socket plus tcp:ADDRESS:PORT (a free
    port, retried if taken meanwhile). Returns the started Sovd, with .port
    and .url."""
    for attempt in range(5):
        port = free_port(address, netns)
        wd = workdir
        if wd is not None:
            os.makedirs(wd, exist_ok=True)
        s = sovdtest.Sovd(libvirt_uri=libvirt_uri, config=config, workdir=wd, netns=netns,
                          extra_args=["--listen", f"tcp:{address}:{port}"])
        try:
            s.start(timeout=60)
        except RuntimeError:
            log = s.read_log()
            s.stop()
            if "cannot listen" in log and attempt < 4:
                continue
            raise
        s.port, s.url = port, f"https://{address}:{port}"
        return s
    raise AssertionError("unreachable")


class MigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(HOOK_BIN, os.X_OK):
            raise RuntimeError(f"sovd-hook not found at {HOOK_BIN} (set SOVD_HOOK_BIN)")
        t0 = time.monotonic()
        cls.tmp = tempfile.mkdtemp(prefix="sovd-e2e-mig-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)
        # Stopped last (cleanups run in reverse): the hosts and agents leave their namespaces first.
        NETWORK.start()
        cls.addClassCleanup(NETWORK.stop)
        cls.netns = {o: NETWORK.add_host(o) for o in (SOURCE_OCTET, DEST_OCTET, US_OCTET)}
        # fr-pool: one directory every host has as a pool ("shared" storage);
        # fr-local, us-local: directories only the destination has as pools,
        # us-local tagged US.
        cls.pool_dirs = {p: os.path.join(cls.tmp, p) for p in ("fr-pool", "fr-local", "us-local")}
        for d in cls.pool_dirs.values():
            os.mkdir(d)

        # PKI: the agents' certificates from one CA; an impostor's from another.
        ca = pki.Pki(os.path.join(cls.tmp, "pki"))
        other = pki.Pki(os.path.join(cls.tmp, "other-pki"), name="Other CA")

        def cert(ca_, name, address):
            return ca_.issue(name, name, dns=[f"{name}.example"], ips=[address], server=True)

        src_cert, src_key = cert(ca, "agent-src", SOURCE_ADDRESS)
        dst_cert, dst_key = cert(ca, "agent-dst", DEST_ADDRESS)
        us_cert, us_key = cert(ca, "agent-us", US_ADDRESS)
        aux_cert, aux_key = cert(ca, "agent-aux", SOURCE_ADDRESS)
        imp_cert, imp_key = other.issue("impostor", "agent-dst", dns=["agent-dst.example"], ips=[SOURCE_ADDRESS],
                                        server=True)

        # The hooked hosts' sovd directories exist before their libvirtd
        # starts: the hook wrapper names the socket in them.
        cls.dst_dir = os.path.join(cls.tmp, "sovd-dst")
        cls.us_dir = os.path.join(cls.tmp, "sovd-us")
        cls.src = PrivateLibvirtHost("e2e-mig-src", SOURCE_ADDRESS, netns=cls.netns[SOURCE_OCTET])
        cls.dst = PrivateLibvirtHost("e2e-mig-dst", DEST_ADDRESS, netns=cls.netns[DEST_OCTET])
        cls.us = PrivateLibvirtHost("e2e-mig-us", US_ADDRESS, netns=cls.netns[US_OCTET])
        for host, sovd_dir in ((cls.dst, cls.dst_dir), (cls.us, cls.us_dir)):
            os.mkdir(sovd_dir)
            host.install_sovd_hook(HOOK_BIN, os.path.join(sovd_dir, "sovd.sock"))
        for host in (cls.src, cls.dst, cls.us):
            host.start()
            cls.addClassCleanup(host.stop)
            host.define_dir_pool("fr-pool", cls.pool_dirs["fr-pool"])
        for pool in ("fr-local", "us-local"):
            cls.dst.define_dir_pool(pool, cls.pool_dirs[pool])
        cls.domain_type = "kvm" if "<domain type='kvm'" in cls.src.virsh("capabilities") else "qemu"

        def agent_tls(c, k, ca_=ca, roles=None):
            t = {"cert": c, "key": k, "ca": ca_.ca}
            if roles is not None:
                t["roles"] = roles
            return t

        reader = {"agent-src": "reader"}
        cls.dst_sovd = start_listening(sovdtest.demo_config(
            host_tags=FR_DEST_TAGS,
            storage_pools={"fr-pool": {"tags": dict(FR_TAGS)}, "fr-local": {"tags": dict(FR_DEST_TAGS)},
                           "us-local": {"tags": dict(US_TAGS)}},
            tls=agent_tls(dst_cert, dst_key, roles=reader),
            migration_uri=cls.dst.tcp_uri, migration_data_uri=f"tcp://{DEST_ADDRESS}"),
            DEST_ADDRESS, cls.netns[DEST_OCTET], libvirt_uri=cls.dst.uri, workdir=cls.dst_dir)
        cls.addClassCleanup(cls.dst_sovd.cleanup)
        cls.us_sovd = start_listening(sovdtest.demo_config(
            host_tags=US_TAGS,
            storage_pools={"fr-pool": {"tags": dict(FR_TAGS)}},
            tls=agent_tls(us_cert, us_key, roles=reader),
            migration_uri=cls.us.tcp_uri, migration_data_uri=f"tcp://{US_ADDRESS}"),
            US_ADDRESS, cls.netns[US_OCTET], libvirt_uri=cls.us.uri, workdir=cls.us_dir)
        cls.addClassCleanup(cls.us_sovd.cleanup)
        # French and trusted, but no migration_uri: a peer that takes no migrations.
        cls.aux_sovd = start_listening(sovdtest.demo_config(
            host_tags=FR_DEST_TAGS, tls=agent_tls(aux_cert, aux_key, roles=reader)), SOURCE_ADDRESS,
            cls.netns[SOURCE_OCTET])
        cls.addClassCleanup(cls.aux_sovd.cleanup)
        # The right name, a certificate from another CA.
        cls.imp_sovd = start_listening(sovdtest.demo_config(
            host_tags=FR_DEST_TAGS, migration_uri=cls.dst.tcp_uri,
            tls=agent_tls(imp_cert, imp_key, ca_=other, roles=reader)), SOURCE_ADDRESS, cls.netns[SOURCE_OCTET])
        cls.addClassCleanup(cls.imp_sovd.cleanup)

        peers = {
            "fr-site": {"url": cls.dst_sovd.url, "subject": "agent-dst.example"},
            "us-site": {"url": cls.us_sovd.url, "subject": "agent-us.example"},
            "fr-nouri": {"url": cls.aux_sovd.url, "subject": "agent-aux.example"},
            "impostor": {"url": cls.imp_sovd.url, "subject": "agent-dst.example"},
            "wrong-name": {"url": cls.dst_sovd.url, "subject": "agent-other.example"},
            "down": {"url": f"https://{DEST_ADDRESS}:{free_port(DEST_ADDRESS, cls.netns[DEST_OCTET])}",
                     "subject": "agent-dst.example"},
        }
        cls.src_sovd = sovdtest.Sovd(libvirt_uri=cls.src.uri, config=sovdtest.demo_config(
            storage_pools={"fr-pool": {"tags": dict(FR_TAGS)}},
            tls=agent_tls(src_cert, src_key), peers=peers,
            migration_uri=cls.src.tcp_uri, migration_data_uri=f"tcp://{SOURCE_ADDRESS}",
            # fr-pool is one local directory that all hosts see: shared, but
            # libvirt cannot tell (it refuses without VIR_MIGRATE_UNSAFE).
            migration_shared_storage=True), netns=cls.netns[SOURCE_OCTET])
        cls.addClassCleanup(cls.src_sovd.cleanup)
        cls.src_sovd.start(timeout=60)
        print(f"\n  setup {time.monotonic() - t0:.1f}s ({cls.domain_type})", file=sys.stderr)

    # -- helpers -----------------------------------------------------------
    def diag(self, resp=None, result=None):
        parts = [] if resp is None else [repr(resp)]
        if result is not None:
            parts.append(f"rc={result.returncode} stderr={result.stderr!r}")
        for label, s in (("source", self.src_sovd), ("fr-site", self.dst_sovd), ("us-site", self.us_sovd)):
            parts.append(f"--- {label} sovd log:\n" + s.read_log()[-3000:])
        for h in (self.src, self.dst):
            parts.append(h.logs()[-3000:])
        return "\n".join(parts)

    def expect(self, resp, status):
        self.assertEqual(resp.status, status, self.diag(resp))
        return resp.json

    def assert_problem(self, resp, status, ptype=None):
        self.assertEqual(resp.status, status, self.diag(resp))
        self.assertTrue(resp.headers.get("Content-Type", "").startswith("application/problem+json"), resp)
        self.assertEqual(resp.json.get("status"), status, resp)
        if ptype:
            self.assertEqual(resp.json.get("type"), PROBLEM + ptype, resp)
        return resp.json

    def create_vm(self, name, start=True, memory_mib=64):
        body = {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": memory_mib,
                "disks": [{"pool": "fr-pool", "size_gib": 1}]}
        vm = self.expect(self.src_sovd.post("/v1/vms", body), 201)
        self.addCleanup(self.remove_vm, name)
        if start:
            self.assertEqual(self.expect(self.src_sovd.post(f"/v1/vms/{vm['uuid']}/start"), 200)["state"], "running")
        # The other hosts see the new volume in their fr-pool (the same
        # directory) only once refreshed; their hook maps disk paths to pools
        # through libvirt.
        for h in (self.dst, self.us):
            h.virsh("pool-refresh", "fr-pool")
        return vm

    def remove_vm(self, name):
        for h in (self.src, self.dst, self.us):
            h.virsh_result("destroy", name)
            h.virsh_result("undefine", name)
        for d in self.pool_dirs.values():
            for f in os.listdir(d):
                if f.startswith(name + "-"):
                    os.unlink(os.path.join(d, f))
        for h in (self.src, self.dst, self.us):
            h.virsh_result("pool-refresh", "fr-pool")
        for pool in ("fr-local", "us-local"):
            self.dst.virsh_result("pool-refresh", pool)

    def migrate(self, vm, **body):
        return self.src_sovd.post(f"/v1/vms/{vm['uuid']}/migrate", body)

    def start_migration(self, vm, **body):
        r = self.migrate(vm, **body)
        job = self.expect(r, 202)
        self.assertEqual(r.headers.get("Location"), f"/v1/jobs/{job['id']}", r)
        self.assertEqual((job["kind"], job["vm"]), ("migrate", vm["uuid"]), job)
        self.assertIn(job["state"], ACTIVE + ("succeeded",), job)
        return job

    def wait_job(self, job_id, timeout=120):
        deadline = time.monotonic() + timeout
        while True:
            job = self.expect(self.src_sovd.get(f"/v1/jobs/{job_id}"), 200)
            if job["state"] not in ACTIVE:
                return job
            if time.monotonic() > deadline:
                self.fail(f"job {job_id} still {job['state']} after {timeout} s\n" + self.diag())
            time.sleep(0.1)

    @staticmethod
    def defined(host, name):
        return name in host.virsh("list", "--all", "--name").split()

    def assert_only_at_source(self, vm, state="running"):
        name = vm["name"]
        self.assertEqual(self.src.virsh("domstate", name), state, self.diag())
        self.assertFalse(self.defined(self.dst, name), "defined at fr-site\n" + self.diag())
        self.assertFalse(self.defined(self.us, name), "defined at us-site\n" + self.diag())
        got = self.expect(self.src_sovd.get(f"/v1/vms/{vm['uuid']}"), 200)
        self.assertEqual((got["managed"], got["tenant"], got["policy"]), (True, "acme", "fr-sovereign"), got)

    def assert_no_job(self, vm):
        self.assertEqual(self.expect(self.src_sovd.get(f"/v1/jobs?vm={vm['uuid']}"), 200)["jobs"], [])

    @staticmethod
    def audit(sovd, vm_uuid=None):
        records, cursor = [], None
        while True:
            q = "/v1/audit?limit=1000" + (f"&vm={vm_uuid}" if vm_uuid else "") + (f"&cursor={cursor}" if cursor else "")
            r = sovd.get(q)
            assert r.status == 200, r
            records += r.json["records"]
            cursor = r.json.get("next_cursor")
            if not cursor:
                return records

    def assert_arrived(self, vm, job, state):
        """After a successful migration: at the destination in @state,
        persistent, still managed with the same binding; gone from the source."""
        name, uuid = vm["name"], vm["uuid"]
        self.assertEqual(job["state"], "succeeded", f"{job}\n" + self.diag())
        res = job["result"]
        self.assertEqual(res["peer"], "fr-site", job)
        self.assertEqual(res["destination_uri"], self.dst.tcp_uri, job)
        mid = res["migration_id"]
        self.assertTrue(isinstance(mid, str) and mid, job)
        self.assertEqual(self.dst.virsh("domstate", name), state, self.diag())
        self.assertIn(name, self.dst.virsh("list", "--all", "--persistent", "--name").split(),
                      "not persistent at the destination")
        self.assertFalse(self.defined(self.src, name), "still defined at the source\n" + self.diag())
        self.assert_problem(self.src_sovd.get(f"/v1/vms/{uuid}"), 404)
        there = self.expect(self.dst_sovd.get(f"/v1/vms/{uuid}"), 200)
        self.assertEqual((there["managed"], there["tenant"], there["policy"]), (True, "acme", "fr-sovereign"), there)
        self.assertEqual(there["binding"]["policy_digest"], vm["binding"]["policy_digest"], there)
        self.assertEqual(there["compliance"]["status"], "compliant", there)
        # The binding travels in the metadata, with the migration id.
        self.assertIn(mid, self.dst.virsh("dumpxml", name), "migration id not in the domain's metadata")
        return there, mid

    def assert_audited(self, vm, job, mid):
        """The source's job outcome and the destination hook's decision carry
        the same migration_id; both chains verify."""
        recs = self.audit(self.src_sovd, vm["uuid"])
        decisions = [x for x in recs if x["kind"] == "decision" and x.get("operation") == "migrate"]
        self.assertTrue(decisions and decisions[-1]["decision"]["outcome"] == "allow", recs)
        ends = [x for x in recs if x["kind"] == "operation" and x.get("job") == job["id"]]
        self.assertEqual([(x["operation"], x["outcome"]) for x in ends], [("migrate", "succeeded")], ends)
        self.assertEqual(ends[0]["result"]["migration_id"], mid, ends)
        self.assertEqual(ends[0].get("decision_id"), decisions[-1]["decision"]["id"], ends)
        arrivals = [x for x in self.audit(self.dst_sovd) if x["kind"] == "decision"
                    and x.get("operation") == "migrate-in" and x.get("migration_id") == mid]
        self.assertEqual(len(arrivals), 1, json.dumps(self.audit(self.dst_sovd)[-5:], indent=1))
        a = arrivals[0]
        # The hook asks through POST /v1/admission: its records say source "api".
        self.assertEqual(a["decision"]["outcome"], "allow", a)
        self.assertEqual((a["vm"] or {}).get("name"), vm["name"], a)
        for s in (self.src_sovd, self.dst_sovd):
            self.assertTrue(self.expect(s.get("/v1/audit/verify"), 200)["valid"])

    # -- tests -------------------------------------------------------------
    def test_0_host_and_pools_report(self):
        host = self.expect(self.dst_sovd.get("/v1/host"), 200)
        self.assertEqual(host["libvirt"]["migration_uri"], self.dst.tcp_uri, host)
        self.assertEqual(host["libvirt"].get("migration_data_uri"), f"tcp://{DEST_ADDRESS}", host)
        host = self.expect(self.aux_sovd.get("/v1/host"), 200)
        self.assertIsNone(host["libvirt"]["migration_uri"], host)
        pools = {p["name"]: p for p in self.expect(self.dst_sovd.get("/v1/storage-pools"), 200)["storage_pools"]}
        self.assertEqual(pools["fr-local"]["path"], self.pool_dirs["fr-local"], pools)
        self.assertEqual(pools["fr-pool"]["path"], self.pool_dirs["fr-pool"], pools)
        peers = {p["name"]: p for p in self.expect(self.src_sovd.get("/v1/peers"), 200)["peers"]}
        self.assertTrue(peers["fr-site"]["reachable"], peers["fr-site"])
        self.assertTrue(peers["us-site"]["reachable"], peers["us-site"])
        # Each host and its agent in a network namespace of its own, none the test's.
        def net(pid):
            return os.readlink(f"/proc/{pid}/ns/net")
        hosts = [(h.libvirtd_pid, a.proc.pid) for h, a in ((self.src, self.src_sovd), (self.dst, self.dst_sovd),
                                                           (self.us, self.us_sovd))]
        self.assertEqual([net(lv) for lv, _ in hosts], [net(agent) for _, agent in hosts])
        self.assertEqual(len({net(lv) for lv, _ in hosts} | {net(os.getpid())}), 4, hosts)

    def test_live_fr_to_fr(self):
        vm = self.create_vm("mig-live")
        t0 = time.monotonic()
        job = self.wait_job(self.start_migration(vm, peer="fr-site", mode="live")["id"])
        print(f"\n  live migration {time.monotonic() - t0:.2f}s", file=sys.stderr)
        _, mid = self.assert_arrived(vm, job, "running")
        self.assert_audited(vm, job, mid)

    def test_us_peer_denied_before_libvirt(self):
        vm = self.create_vm("mig-us")
        for body in ({"peer": "us-site"}, {"peer": "us-site", "mode": "live"}):
            with self.subTest(body=body):
                p = self.assert_problem(self.migrate(vm, **body), 403, "policy-denied")
                d = p["decision"]
                self.assertEqual((d["outcome"], d["operation"]), ("deny", "migrate"), d)
                self.assertEqual(d["decided_by"]["kind"], "migration", d)
                self.assertEqual(d["decided_by"]["place"], "us-site", d)
                hosts = [c for c in d["checks"] if c["place"]["type"] == "host"]
                self.assertTrue(any(c["place"]["name"] == "us-site" and c["place"]["tags"]["jurisdiction"] == "US"
                                    and c["outcome"] == "deny" for c in hosts), d)
        self.assert_no_job(vm)
        self.assert_only_at_source(vm)
        self.assertEqual(self.us.virsh("list", "--all", "--name"), "")
        denied = [x for x in self.audit(self.src_sovd, vm["uuid"])
                  if x["kind"] == "decision" and x.get("operation") == "migrate"]
        self.assertEqual([x["decision"]["outcome"] for x in denied], ["deny", "deny"], denied)
        self.assertFalse([x for x in self.audit(self.us_sovd) if x.get("operation") == "migrate-in"
                          and (x["vm"] or {}).get("name") == vm["name"]])

    def test_raw_virsh_to_us_refused_by_hook(self):
        vm = self.create_vm("mig-raw-us")
        name = vm["name"]
        r = self.src.virsh_result("migrate", "--live", "--p2p", "--persistent", "--undefinesource", "--unsafe",
                                  name, self.us.tcp_uri, f"tcp://{US_ADDRESS}", timeout=120)
        self.assertNotEqual(r.returncode, 0, "migration to the US host succeeded\n" + self.diag(result=r))
        self.assertIn(f"sovd: policy fr-sovereign denies incoming migration of {name}", r.stderr,
                      self.diag(result=r))
        self.assertIn("jurisdiction US", r.stderr, self.diag(result=r))
        self.assert_only_at_source(vm)
        arrivals = [x for x in self.audit(self.us_sovd) if x["kind"] == "decision"
                    and x.get("operation") == "migrate-in" and (x["vm"] or {}).get("name") == name]
        self.assertEqual([x["decision"]["outcome"] for x in arrivals], ["deny"], arrivals)
        self.assertEqual(arrivals[0]["decision"]["decided_by"]["kind"], "compute", arrivals)
        # Behind sovd's back: no migration id.
        self.assertIsNone(arrivals[0].get("migration_id"), arrivals)

    def test_offline(self):
        vm = self.create_vm("mig-off", start=False)
        # A shut-off VM cannot migrate live.
        self.assert_problem(self.migrate(vm, peer="fr-site"), 409)
        self.assert_problem(self.migrate(vm, peer="fr-site", mode="live"), 409)
        self.assert_no_job(vm)
        job = self.wait_job(self.start_migration(vm, peer="fr-site", mode="offline")["id"])
        _, mid = self.assert_arrived(vm, job, "shut off")
        self.assert_audited(vm, job, mid)
        # It starts at its new home (the hook judges the start there).
        self.expect(self.dst_sovd.post(f"/v1/vms/{vm['uuid']}/start"), 200)
        self.assertEqual(self.dst.virsh("domstate", vm["name"]), "running")

    def test_copy_storage_into_destination_only_pool(self):
        vm = self.create_vm("mig-copy")
        name = vm["name"]
        src_path = vm["disks"][0]["path"]
        self.assertEqual(os.path.dirname(src_path), self.pool_dirs["fr-pool"])
        fname = os.path.basename(src_path)
        # destination_pool only with copy_storage all, and required with it.
        for body in ({"peer": "fr-site", "copy_storage": "all"},
                     {"peer": "fr-site", "destination_pool": "fr-local"},
                     {"peer": "fr-site", "copy_storage": "none", "destination_pool": "fr-local"}):
            with self.subTest(body=body):
                self.assert_problem(self.migrate(vm, **body), 400)
        # A pool the peer does not have; a US pool of the peer.
        self.assert_problem(self.migrate(vm, peer="fr-site", copy_storage="all", destination_pool="nowhere"), 422)
        p = self.assert_problem(self.migrate(vm, peer="fr-site", copy_storage="all", destination_pool="us-local"),
                                403, "policy-denied")
        self.assertEqual(p["decision"]["decided_by"], {"kind": "storage", "place": "fr-site:us-local"}, p)
        self.assertEqual(os.listdir(self.pool_dirs["us-local"]), [])
        self.assert_no_job(vm)
        self.assert_only_at_source(vm)
        t0 = time.monotonic()
        job = self.start_migration(vm, peer="fr-site", mode="live", copy_storage="all", destination_pool="fr-local")
        job = self.wait_job(job["id"])
        print(f"\n  live migration with storage copy {time.monotonic() - t0:.2f}s", file=sys.stderr)
        there, mid = self.assert_arrived(vm, job, "running")
        dest_path = os.path.join(self.pool_dirs["fr-local"], fname)
        self.assertTrue(os.path.isfile(dest_path), os.listdir(self.pool_dirs["fr-local"]))
        self.assertIn(f"<source file='{dest_path}'", self.dst.virsh("dumpxml", name))
        self.assertEqual([(d["pool"], d["path"]) for d in there["disks"]], [("fr-local", dest_path)], there)
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", dest_path], check=True,
                                         capture_output=True, text=True).stdout)
        self.assertEqual(info["format"], "qcow2", info)
        # The decision judged the destination pool under its peer-qualified name.
        decisions = [x for x in self.audit(self.src_sovd, vm["uuid"])
                     if x["kind"] == "decision" and x.get("operation") == "migrate"]
        places = {(c["kind"], c["place"]["type"], c["place"]["name"]) for c in decisions[-1]["decision"]["checks"]}
        self.assertIn(("storage", "storage_pool", "fr-site:fr-local"), places, decisions[-1])
        self.assertIn(("migration", "host", "fr-site"), places, decisions[-1])
        self.assert_audited(vm, job, mid)

    def test_sovctl(self):
        # The operator's path: sovctl vm migrate, refused then done (offline: quick).
        vm = self.create_vm("mig-cli", start=False)
        name = vm["name"]
        out = self.src_sovd.sovctl("vm", "migrate", name, "--peer", "us-site", "--mode", "offline")
        self.assertNotEqual(out.returncode, 0, out)
        self.assertIn("jurisdiction", out.stderr, out)
        self.assertFalse(self.defined(self.us, name))
        out = self.src_sovd.sovctl("--json", "vm", "migrate", name, "--peer", "fr-site", "--mode", "offline", "--wait")
        self.assertEqual(out.returncode, 0, out)
        job = json.loads(out.stdout)
        self.assertEqual((job["kind"], job["state"], job["result"]["peer"]), ("migrate", "succeeded", "fr-site"), job)
        self.assertEqual(self.dst.virsh("domstate", name), "shut off")
        self.assertFalse(self.defined(self.src, name))

    def timed(self, timings, what, call):
        t = time.monotonic()
        r = call()
        timings.append((what, round(time.monotonic() - t, 2)))
        return r

    def test_cancel(self):
        vm = self.create_vm("mig-cancel", memory_mib=SLOW_MEMORY_MIB)
        name = vm["name"]
        # libvirt keeps a running domain's migration speed for its next
        # migration: 2 GiB of blank guest memory at 1 MiB/s takes ~12 s.
        self.src.virsh("migrate-setspeed", name, str(SLOW_BANDWIDTH))
        t0 = time.monotonic()
        job = self.start_migration(vm, peer="fr-site")
        # libvirt's job, seen on a connection of our own.
        while "Outgoing migration" not in self.src.virsh_result("domjobinfo", name).stdout:
            self.assertLess(time.monotonic() - t0, 10, "libvirt's migration job never showed\n" + self.diag())
            time.sleep(0.1)
        # While it runs: the job answers at once, with progress; no second
        # long operation; then the cancel. (Each answer must come quickly: an
        # API stalled until the migration ends cannot cancel it.)
        timings, t1 = [], time.monotonic()
        while True:
            j = self.expect(self.timed(timings, "GET job", lambda: self.src_sovd.get(f"/v1/jobs/{job['id']}")), 200)
            if j["state"] != "running" or (j["progress"] or {}).get("bytes_total") or time.monotonic() - t1 > 3:
                break
            time.sleep(0.2)
        second = self.timed(timings, "POST migrate again", lambda: self.migrate(vm, peer="fr-site"))
        if second.status == 202:
            self.src_sovd.delete(f"/v1/jobs/{second.json['id']}")
        # Nor anything else that would pull the VM from under the migration.
        uuid = vm["uuid"]
        busy = [(what, self.timed(timings, what, call)) for what, call in [
            ("POST stop", lambda: self.src_sovd.post(f"/v1/vms/{uuid}/stop")),
            ("POST suspend", lambda: self.src_sovd.post(f"/v1/vms/{uuid}/suspend")),
            ("DELETE vm", lambda: self.src_sovd.delete(f"/v1/vms/{uuid}")),
            ("POST snapshot", lambda: self.src_sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "during"})),
        ]]
        state_while_busy = self.src.virsh("domstate", name)
        r = self.timed(timings, "DELETE job", lambda: self.src_sovd.delete(f"/v1/jobs/{job['id']}"))
        t_cancel = time.monotonic()
        job = self.wait_job(job["id"])
        timings.append(("cancel to job end", round(time.monotonic() - t_cancel, 2)))
        print(f"\n  cancel: job {job['state']} after {time.monotonic() - t0:.1f}s; progress {j['progress']}; "
              f"request times {timings}", file=sys.stderr)
        if job["state"] == "succeeded":
            # The migration won the race: then it is whole at the destination.
            self.assert_arrived(vm, job, "running")
        self.assertEqual(sorted({w for w, d in timings if d > 3}), [],
                         f"sovd stalled while migrating, request times (s): {timings}; job {job['state']}")
        self.assertEqual(j["state"], "running", j)
        self.assertTrue(j["progress"] and j["progress"]["bytes_total"] > 0, j)
        self.assert_problem(second, 409)
        for what, answer in busy:
            with self.subTest(busy=what):
                self.assert_problem(answer, 409)
                self.assertIn(job["id"], answer.json["detail"], answer.json)
        self.assertEqual(state_while_busy, "running")
        self.assertEqual(self.src.virsh("snapshot-list", name, "--name").strip(), "")
        self.assertEqual(r.status, 202, r)
        self.assertEqual(job["state"], "cancelled", f"{job}\n" + self.diag())
        self.assertEqual(job["error"]["type"], PROBLEM + "job-cancelled", job)
        self.assertIsNone(job["result"], job)
        self.assert_only_at_source(vm)
        ends = [x for x in self.audit(self.src_sovd, vm["uuid"]) if x["kind"] == "operation" and x.get("job") == job["id"]]
        self.assertEqual([(x["operation"], x["outcome"]) for x in ends], [("migrate", "cancelled")], ends)
        # The VM can still be managed at the source: stop it there.
        self.expect(self.src_sovd.post(f"/v1/vms/{vm['uuid']}/stop"), 200)
        self.assertEqual(self.src.virsh("domstate", name), "shut off")

    def test_errors(self):
        vm = self.create_vm("mig-errors")
        cases = [
            ({"peer": "nowhere"}, 422, None),
            ({"peer": "down"}, 502, "peer-unreachable"),
            ({"peer": "impostor"}, 502, "peer-untrusted"),
            ({"peer": "wrong-name"}, 502, "peer-untrusted"),
            ({"peer": "fr-nouri"}, 409, None),
            ({"peer": "fr-site", "mode": "offline"}, 409, None),  # running
            ({}, 400, None),
            ({"peer": "fr-site", "mode": "teleport"}, 400, None),
            ({"peer": "fr-site", "copy_storage": "some"}, 400, None),
            ({"peer": 7}, 400, None),
            ({"peer": "fr-site", "mode": "offline", "copy_storage": "all", "destination_pool": "fr-local"}, 400, None),
            ({"peer": "fr-site", "colour": "blue"}, 400, None),
        ]
        for body, status, ptype in cases:
            with self.subTest(body=body):
                t0 = time.monotonic()
                p = self.assert_problem(self.migrate(vm, **body), status, ptype)
                self.assertLess(time.monotonic() - t0, 15, p)
        self.assert_problem(self.src_sovd.post("/v1/vms/00000000-0000-4000-8000-000000000000/migrate",
                                               {"peer": "fr-site"}), 404)
        self.assert_no_job(vm)
        self.assert_only_at_source(vm)


if __name__ == "__main__":
    unittest.main(verbosity=2)
