# SPDX-License-Identifier: LGPL-2.1-or-later
"""Migration (POST /v1/vms/{uuid}/migrate) between real sovd agents on
libvirt's test driver: everything that happens before libvirt migrates.

The agents trust each other over mutual TLS (one test CA; the source's
client certificate is a reader at every peer):
  - source: testnode.xml, the VMs are created here;
  - fr:     French, a migration_uri and a migration_data_uri; its libvirt
            (testnode.xml) has fr-pool and us-pool, its configuration tags
            us-pool US;
  - us:     tagged US, a migration_uri;
  - bare:   French, no migration_uri (not a destination);
  - impostor: answers as fr's name, certificate from another CA;
  - stranger: certificate of the CA, but the source's certificate is not
            mapped in its tls.roles;
  - down:   a closed port; wrong-name: fr's address, another subject.
Checked: the destination is judged on what the peer says of itself (a US
peer, a pool the peer tags US: 403 with the decision, no job, on record);
every error (400, 404, 409, 422, 502 peer-unreachable / peer-untrusted);
GET /v1/host and GET /v1/storage-pools show what migration needs. The test
driver cannot migrate: an allowed migration becomes a job that reaches
libvirt and fails with libvirt's message, and the VM stays at the source.
Every answer is checked against api/openapi.yaml. sovctl vm migrate too.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
import sovdtest  # noqa: E402

if not pki.available():
    print("SKIP: certtool (gnutls-bin) is not installed")
    sys.exit(77)

import openapi_check  # noqa: E402

SPEC = openapi_check.Spec()
NODE_XML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnode.xml")
NODE_URI = "test://" + NODE_XML
FR_MIGRATION_URI = "qemu+tls://agent-fr.example/system"
FR_DATA_URI = "tcp://127.0.0.1:49152"
US_MIGRATION_URI = "qemu+tcp://agent-us.example/system"
US_TAGS = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1", "operator": "Example Inc",
           "operator_jurisdiction": "US"}
FR_PEER_TAGS = {"jurisdiction": "FR", "region": "FR-HDF", "site": "rbx-1", "operator": "Demo Cloud SAS",
                "operator_jurisdiction": "FR"}
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
LEGACY_UUID = "0d3c1b0e-4a43-4b1b-9d3a-5b6b8f1e2a10"  # testnode.xml's domain sovd did not create
EXIT_API, EXIT_USAGE = 1, 2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spec(name):
    return {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 256,
            "disks": [{"pool": "fr-pool", "size_gib": 1}]}


class MigrationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-migration-")
        cls.agents = []
        try:
            cls._start_agents()
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def _start_agents(cls):
        ca = pki.Pki(os.path.join(cls.tmp, "pki"))
        other = pki.Pki(os.path.join(cls.tmp, "other"), name="Other CA")

        def issue(p, name, cn=None):
            return p.issue(name, cn or name, dns=[f"{cn or name}.example", "localhost"], ips=["127.0.0.1"],
                           server=True)

        src_cert, src_key = issue(ca, "agent-src")
        readers = {"agent-src": "reader"}

        def peer(name, cert_key, ca_path, roles=readers, **conf):
            port = free_port()
            cert, key = cert_key
            agent = sovdtest.Sovd(libvirt_uri=NODE_URI, config=sovdtest.demo_config(
                tls={"cert": cert, "key": key, "ca": ca_path, "roles": roles}, **conf),
                extra_args=["--listen", f"tcp:127.0.0.1:{port}"])
            cls.agents.append(agent)
            agent.start()
            return agent, port

        fr_pools = dict(sovdtest.demo_config()["storage_pools"])
        fr_pools["us-pool"] = {"tags": dict(US_TAGS)}
        cls.fr, fr_port = peer("fr", issue(ca, "agent-fr"), ca.ca, host_tags=dict(FR_PEER_TAGS),
                               storage_pools=fr_pools, migration_uri=FR_MIGRATION_URI,
                               migration_data_uri=FR_DATA_URI)
        cls.us, us_port = peer("us", issue(ca, "agent-us"), ca.ca, host_tags=dict(US_TAGS),
                               migration_uri=US_MIGRATION_URI)
        cls.bare, bare_port = peer("bare", issue(ca, "agent-bare"), ca.ca, host_tags=dict(FR_PEER_TAGS))
        # The right name, the wrong CA.
        _, imp_port = peer("impostor", issue(other, "impostor", cn="agent-fr"), other.ca,
                           host_tags=dict(FR_PEER_TAGS), migration_uri=FR_MIGRATION_URI)
        # The right CA, but it does not know the source.
        _, stranger_port = peer("stranger", issue(ca, "agent-stranger"), ca.ca, roles={},
                                host_tags=dict(FR_PEER_TAGS), migration_uri=FR_MIGRATION_URI)
        peers = {
            "fr": {"url": f"https://127.0.0.1:{fr_port}", "subject": "agent-fr.example"},
            "us": {"url": f"https://127.0.0.1:{us_port}", "subject": "agent-us.example"},
            "bare": {"url": f"https://127.0.0.1:{bare_port}", "subject": "agent-bare.example"},
            "impostor": {"url": f"https://127.0.0.1:{imp_port}", "subject": "agent-fr.example"},
            "stranger": {"url": f"https://127.0.0.1:{stranger_port}", "subject": "agent-stranger.example"},
            "wrong-name": {"url": f"https://127.0.0.1:{fr_port}", "subject": "agent-zz.example"},
            "down": {"url": f"https://127.0.0.1:{free_port()}"},
        }
        cls.src = sovdtest.Sovd(libvirt_uri=NODE_URI, config=sovdtest.demo_config(
            tls={"cert": src_cert, "key": src_key, "ca": ca.ca}, peers=peers))
        cls.agents.append(cls.src)
        cls.src.start()

    @classmethod
    def tearDownClass(cls):
        errors = []
        for a in cls.agents:
            try:
                a.cleanup()
            except RuntimeError as e:
                errors.append(str(e))
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if errors:
            raise RuntimeError("\n".join(errors))

    # -- helpers -----------------------------------------------------------
    def call(self, agent, method, path, body=None, expect=None, **kw):
        """A request checked against openapi.yaml (and against @expect)."""
        r = agent.request(method, path, body=body, **kw)
        problems = SPEC.check_response(method, path, r.status, r.headers, r.raw)
        self.assertEqual(problems, [], f"{method} {path} -> {r.status} does not conform: {problems}\n{r}")
        if expect is not None:
            self.assertEqual(r.status, expect, f"{method} {path} {body!r}: {r}\n"
                             f"source log:\n{self.src.read_log()[-3000:]}")
        return r

    def make_vm(self, name, start=True):
        r = self.call(self.src, "POST", "/v1/vms", spec(name), 201)
        uuid = r.json["uuid"]
        self.addCleanup(self.remove_vm, uuid)
        if start:
            self.call(self.src, "POST", f"/v1/vms/{uuid}/start", {}, 200)
        return uuid

    def remove_vm(self, uuid):
        self.wait_idle(uuid)
        self.src.post(f"/v1/vms/{uuid}/stop")
        self.src.delete(f"/v1/vms/{uuid}?delete_storage=true")

    def migrate(self, uuid, body, expect, problem=None):
        r = self.call(self.src, "POST", f"/v1/vms/{uuid}/migrate", body, expect)
        if problem:
            self.assertEqual(r.json["type"], "urn:sovd:problem:" + problem, r)
        return r

    def jobs(self, uuid):
        return self.call(self.src, "GET", f"/v1/jobs?vm={uuid}", expect=200).json["jobs"]

    def wait_job(self, job_id, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            j = self.call(self.src, "GET", f"/v1/jobs/{job_id}", expect=200).json
            if j["state"] not in ("queued", "running"):
                return j
            time.sleep(0.05)
        self.fail(f"job {job_id} did not end")

    def wait_idle(self, uuid):
        for j in self.src.get(f"/v1/jobs?vm={uuid}").json["jobs"]:
            if j["state"] in ("queued", "running"):
                self.wait_job(j["id"])

    def audit(self, **query):
        q = "&".join(f"{k}={v}" for k, v in query.items())
        r = self.call(self.src, "GET", "/v1/audit?limit=1000" + ("&" + q if q else ""), expect=200)
        return r.json["records"]

    def denial_on_record(self, decision, uuid):
        """The 403's decision is in the source's audit log, denied, with a migration_id."""
        recs = [x for x in self.audit(decision="deny", vm=uuid)
                if x["kind"] == "decision" and x["decision"]["id"] == decision["id"]]
        self.assertEqual(len(recs), 1, f"decision {decision['id']} not on record")
        self.assertEqual(recs[0]["operation"], "migrate")
        self.assertEqual(recs[0]["decision"], decision)
        self.assertRegex(recs[0].get("migration_id", ""), "^" + UUID_RE + "$", recs[0])

    def sovctl(self, *args, expect=0):
        r = self.src.sovctl(*args)
        self.assertEqual(r.returncode, expect, f"sovctl {' '.join(args)}: exit {r.returncode}\n"
                         f"stdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    # -- what migration needs from the agents ------------------------------
    def test_host_reports_migration_uris(self):
        lv = self.call(self.fr, "GET", "/v1/host", expect=200).json["libvirt"]
        self.assertEqual(lv["migration_uri"], FR_MIGRATION_URI)
        self.assertEqual(lv["migration_data_uri"], FR_DATA_URI)
        lv = self.call(self.bare, "GET", "/v1/host", expect=200).json["libvirt"]
        self.assertIsNone(lv["migration_uri"])
        self.assertIsNone(lv["migration_data_uri"])

    def test_storage_pools_report_their_directory(self):
        pools = {p["name"]: p for p in self.call(self.src, "GET", "/v1/storage-pools", expect=200).json[
            "storage_pools"]}
        self.assertEqual(pools["fr-pool"]["path"], "/var/lib/sovd-test/fr-pool")
        self.assertEqual(pools["us-pool"]["path"], "/var/lib/sovd-test/us-pool")
        self.assertFalse(pools["ghost-pool"]["in_libvirt"])
        self.assertIsNone(pools["ghost-pool"]["path"], "a pool libvirt does not have has no directory")

    def test_config_refuses_bad_migration_uris(self):
        for conf, part in [({"migration_uri": "test:///default"}, "migration_uri"),
                           ({"migration_uri": "qemu+tcp://"}, "migration_uri"),
                           ({"migration_uri": "qemu+tcp://h/system extra"}, "migration_uri"),
                           ({"migration_data_uri": "qemu+tcp://h/system"}, "migration_data_uri"),
                           ({"migration_uri": 5}, "migration_uri")]:
            s = sovdtest.Sovd(config=conf)
            try:
                out = subprocess.run([sovdtest.SOVD_BIN, "--config", s.config_path, "--check-config"],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual(out.returncode, 1, (conf, out.stderr))
                self.assertIn(part, out.stderr)
            finally:
                s.cleanup()

    # -- the door: the destination judged on what it says of itself ---------
    def test_us_peer_denied_nothing_happens(self):
        uuid = self.make_vm("mig-us")
        r = self.migrate(uuid, {"peer": "us"}, 403, "policy-denied")
        d = r.json["decision"]
        self.assertEqual(d["operation"], "migrate")
        self.assertEqual(d["outcome"], "deny")
        self.assertEqual(d["decided_by"], {"kind": "migration", "place": "us"})
        host = [c for c in d["checks"] if c["kind"] == "migration"]
        self.assertEqual(len(host), 1, d)
        self.assertEqual(host[0]["place"], {"type": "host", "name": "us", "tags": US_TAGS},
                         "the peer's own tags are judged")
        self.assertFalse(any(c["kind"] == "storage" for c in d["checks"]), "no storage copied, no storage rule")
        self.assertEqual(self.jobs(uuid), [], "a denied migration starts no job")
        vm = self.call(self.src, "GET", f"/v1/vms/{uuid}", expect=200).json
        self.assertEqual(vm["state"], "running")
        self.denial_on_record(d, uuid)

    def test_destination_pool_tagged_us_by_the_peer_denied(self):
        uuid = self.make_vm("mig-pool")
        r = self.migrate(uuid, {"peer": "fr", "copy_storage": "all", "destination_pool": "us-pool"}, 403,
                         "policy-denied")
        d = r.json["decision"]
        self.assertEqual(d["decided_by"], {"kind": "storage", "place": "fr:us-pool"})
        checks = {c["kind"]: c for c in d["checks"]}
        self.assertEqual(checks["migration"]["outcome"], "allow")
        self.assertEqual(checks["migration"]["place"]["name"], "fr")
        self.assertEqual(checks["storage"]["outcome"], "deny")
        # The pool's tags are the peer's (this agent does not tag us-pool at all).
        self.assertEqual(checks["storage"]["place"], {"type": "storage_pool", "name": "fr:us-pool", "tags": US_TAGS})
        self.assertEqual(self.jobs(uuid), [])
        self.denial_on_record(d, uuid)

    # -- errors ------------------------------------------------------------
    def test_peer_errors(self):
        uuid = self.make_vm("mig-errors")
        cases = [
            ({"peer": "nowhere"}, 422, "unresolved-reference", "nowhere"),
            ({"peer": "bare"}, 409, "conflict", "migration_uri"),
            ({"peer": "down"}, 502, "peer-unreachable", "down"),
            ({"peer": "impostor"}, 502, "peer-untrusted", "impostor"),
            ({"peer": "wrong-name"}, 502, "peer-untrusted", "wrong-name"),
            ({"peer": "stranger"}, 502, "peer-untrusted", "tls.roles"),
            ({"peer": "fr", "copy_storage": "all", "destination_pool": "no-such-pool"}, 422,
             "unresolved-reference", "no-such-pool"),
            # Configured (and tagged FR) at the peer, but libvirt there has no such pool: no directory.
            ({"peer": "fr", "copy_storage": "all", "destination_pool": "ghost-pool"}, 422,
             "unresolved-reference", "ghost-pool"),
        ]
        for body, status, problem, word in cases:
            with self.subTest(body=body):
                r = self.migrate(uuid, body, status, problem)
                self.assertIn(word, r.json["detail"])
                self.assertNotIn("decision", r.json)
        self.assertEqual(self.jobs(uuid), [])
        vm = self.call(self.src, "GET", f"/v1/vms/{uuid}", expect=200).json
        self.assertEqual(vm["state"], "running")

    def test_bad_bodies(self):
        uuid = self.make_vm("mig-bodies")
        for body, word in [({"peer": "fr", "speed": 1}, "speed"),
                           ({"peer": "fr", "mode": "warp"}, "mode"),
                           ({"peer": "fr", "copy_storage": "some"}, "copy_storage"),
                           ({"peer": "fr", "destination_pool": "fr-pool"}, "destination_pool"),
                           ({"peer": "fr", "copy_storage": "all"}, "destination_pool"),
                           ({"peer": "fr", "mode": "offline", "copy_storage": "all",
                             "destination_pool": "fr-pool"}, "offline"),
                           ({"peer": "../x"}, "peer"),
                           ({"mode": "live"}, "peer"),
                           ({"peer": 7}, "peer")]:
            with self.subTest(body=body):
                r = self.migrate(uuid, body, 400, "invalid-request")
                self.assertIn(word, r.json["detail"])
        self.call(self.src, "POST", f"/v1/vms/{uuid}/migrate", None, 400)
        self.assertEqual(self.jobs(uuid), [])
        self.call(self.src, "POST", "/v1/vms/00000000-0000-4000-8000-000000000000/migrate", {"peer": "fr"}, 404)

    def test_state_conflicts(self):
        off = self.make_vm("mig-off", start=False)
        r = self.migrate(off, {"peer": "fr"}, 409, "conflict")
        self.assertIn("shutoff", r.json["detail"])
        on = self.make_vm("mig-on")
        r = self.migrate(on, {"peer": "fr", "mode": "offline"}, 409, "conflict")
        self.assertIn("offline", r.json["detail"])
        r = self.migrate(LEGACY_UUID, {"peer": "fr", "mode": "offline"}, 409, "conflict")
        self.assertIn("not managed by sovd", r.json["detail"])
        self.assertEqual(self.jobs(off) + self.jobs(on), [])

    # -- allowed: a job that reaches libvirt -------------------------------
    def allowed_fails_in_libvirt(self, uuid, body):
        r = self.migrate(uuid, body, 202)
        job = r.json
        self.assertEqual(job["kind"], "migrate")
        self.assertEqual(job["vm"], uuid)
        self.assertEqual(r.headers["Location"], f"/v1/jobs/{job['id']}")
        job = self.wait_job(job["id"])
        # The test driver cannot migrate: libvirt's refusal is the job's error.
        self.assertEqual(job["state"], "failed", job)
        self.assertIsNone(job["result"])
        detail = job["error"]["detail"]
        self.assertIn("migration of domain", detail)
        # libvirt's own words ("p2p migration is not supported by the source host"), not a placeholder.
        self.assertIn("is not supported by the source host", detail)
        # The VM stays here, as it was; it did not appear at the peer.
        self.call(self.src, "GET", f"/v1/vms/{uuid}", expect=200)
        self.call(self.fr, "GET", f"/v1/vms/{uuid}", expect=404)
        # On record: the allow decision and the job's outcome, under one migration_id.
        recs = self.audit(vm=uuid)
        decisions = [x for x in recs if x["kind"] == "decision" and x["operation"] == "migrate"]
        self.assertEqual(decisions[-1]["decision"]["outcome"], "allow")
        mid = decisions[-1].get("migration_id")
        self.assertRegex(mid or "", "^" + UUID_RE + "$", decisions[-1])
        ops = [x for x in recs if x["kind"] == "operation" and x["operation"] == "migrate"]
        self.assertEqual(ops[-1]["outcome"], "failed")
        self.assertEqual(ops[-1]["job"], job["id"])
        self.assertEqual(ops[-1]["decision_id"], decisions[-1]["decision"]["id"])
        self.assertEqual(ops[-1].get("migration_id"), mid)
        return job

    def test_allowed_live_migration_reaches_libvirt(self):
        uuid = self.make_vm("mig-live")
        self.allowed_fails_in_libvirt(uuid, {"peer": "fr"})
        self.assertEqual(self.call(self.src, "GET", f"/v1/vms/{uuid}", expect=200).json["state"], "running")

    def test_allowed_copy_storage_reaches_libvirt(self):
        uuid = self.make_vm("mig-copy")
        self.allowed_fails_in_libvirt(uuid, {"peer": "fr", "mode": "live", "copy_storage": "all",
                                             "destination_pool": "fr-pool"})

    def test_allowed_offline_migration_reaches_libvirt(self):
        uuid = self.make_vm("mig-offline", start=False)
        self.allowed_fails_in_libvirt(uuid, {"peer": "fr", "mode": "offline"})
        self.assertEqual(self.call(self.src, "GET", f"/v1/vms/{uuid}", expect=200).json["state"], "shutoff")

    # -- sovctl ------------------------------------------------------------
    def test_sovctl_migrate(self):
        uuid = self.make_vm("mig-cli")
        # Refused by policy: exit 1, the decision in words.
        r = self.sovctl("vm", "migrate", "mig-cli", "--peer", "us", expect=EXIT_API)
        self.assertIn("403", r.stderr)
        self.assertIn("decided by: migration rule on host 'us'", r.stderr)
        self.assertIn("operation:  migrate", r.stderr)
        r = self.sovctl("vm", "migrate", uuid, "--peer", "fr", "--copy-storage", "--destination-pool",
                        "us-pool", expect=EXIT_API)
        self.assertIn("decided by: storage rule on storage pool 'fr:us-pool'", r.stderr)
        r = self.sovctl("vm", "migrate", "mig-cli", "--peer", "down", expect=EXIT_API)
        self.assertIn("502", r.stderr)
        self.assertEqual(self.jobs(uuid), [])

        # Started: one line, exit 0.
        r = self.sovctl("vm", "migrate", "mig-cli", "--peer", "fr")
        m = re.match(rf"^job ({UUID_RE}) \(migrate of VM {uuid}\) started; state: \w+$", r.stdout.strip())
        self.assertTrue(m, r.stdout)
        self.wait_job(m.group(1))
        # --wait: the job's failure is the exit status, libvirt's message on stderr.
        r = self.sovctl("vm", "migrate", "mig-cli", "--peer", "fr", "--mode", "live", "--wait", expect=EXIT_API)
        self.assertRegex(r.stderr, rf"job {UUID_RE} failed: Job failed: migration of domain")
        r = self.sovctl("--json", "vm", "migrate", uuid, "--peer", "fr", "--copy-storage", "--destination-pool",
                        "fr-pool", "--wait", expect=EXIT_API)
        self.assertIn('"kind":"migrate"', r.stdout.replace(" ", ""))
        self.assertIn('"state":"failed"', r.stdout.replace(" ", ""))
        self.assertEqual(self.call(self.src, "GET", f"/v1/vms/{uuid}", expect=200).json["state"], "running")

    def test_sovctl_migrate_usage(self):
        for args, word in [((), "--peer"),
                           (("--peer", "fr", "--mode", "warp"), "--mode"),
                           (("--peer", "fr", "--copy-storage"), "--destination-pool"),
                           (("--peer", "fr", "--destination-pool", "fr-pool"), "--copy-storage"),
                           (("--peer", "fr", "--mode", "offline", "--copy-storage", "--destination-pool",
                             "fr-pool"), "offline"),
                           (("--peer", "../fr"), "--peer"),
                           (("--peer", "fr", "--copy-storage", "--destination-pool", "a/b"), "--destination-pool"),
                           (("--peer", "fr", "--target", "x"), "--target")]:
            with self.subTest(args=args):
                r = self.sovctl("vm", "migrate", "any-vm", *args, expect=EXIT_USAGE)
                self.assertIn(word, r.stderr)
        self.sovctl("vm", "migrate", "--peer", "fr", expect=EXIT_USAGE)


if __name__ == "__main__":
    unittest.main(verbosity=2)
