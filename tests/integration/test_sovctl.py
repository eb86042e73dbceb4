# SPDX-License-Identifier: LGPL-2.1-or-later
"""sovctl against the real sovd on libvirt's test driver (docs/sovctl.md).

- host shows the host tags; vm list shows the driver's own domain "test";
- vm create from a spec file, then vm show by name, start, stop, delete;
- --json output is the server's JSON (compared with a direct GET);
- an API error (start a running VM) prints the problem detail and exits 1;
- a bad spec file exits 2, before anything is sent;
- an unreachable socket exits 3 and names the socket;
- policy list/show/evaluate, pool list and backup-target list against the
  shipped policies and the demo config (host and pools tagged FR): a dry run
  that allows exits 0, one that denies exits 4 and names the violation;
- a create refused by policy (a disk in a pool the config does not tag)
  exits 1 with the decision in words on stderr; a start refused after the
  pool is retagged likewise; vm show prints the compliance.

Run: SOVD_BIN=build/sovd SOVCTL_BIN=build/api/sovctl/sovctl \
     PYTHONPATH=tests/integration /usr/bin/python3 -m unittest -v test_sovctl
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import sovdtest

# What libvirt's test:///default driver provides.
TEST_DOMAIN = "test"
TEST_DOMAIN_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"  # running
TEST_POOL = "default-pool"
TEST_NETWORK = "default"

# Exit codes of docs/sovctl.md.
EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_DENIED = 1, 2, 3, 4

SHIPPED_POLICIES = {"eu-gdpr", "fr-sovereign", "hds", "secnumcloud", "unrestricted"}
US_TAGS = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1", "operator": "Example Inc",
           "operator_jurisdiction": "US", "certifications": ["iso27001"]}

UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def find_binary(name, env):
    """The binary to test, or None when there is none and none was asked for."""
    path = shutil.which(os.environ.get(env, name))
    if path is None and env in os.environ:
        raise AssertionError(f"{env}={os.environ[env]} is not an executable file")
    return path


def vm_spec(name, **overrides):
    spec = {"name": name, "tenant": "acme", "policy": "fr-sovereign",
            "vcpus": 1, "memory_mib": 64,
            "disks": [{"pool": TEST_POOL, "size_gib": 1}],
            "networks": [{"network": TEST_NETWORK}],
            "labels": {"env": "test"}}
    spec.update(overrides)
    return spec


def table_rows(text):
    """`vm list` output as a list of dicts keyed by the header's column names."""
    lines = [l for l in text.splitlines() if l.strip()]
    header = lines[0].split()
    return [dict(zip(header, l.split())) for l in lines[1:]]


def block_value(text, key):
    """The value of the first top-level `key: value` line of a block, or None."""
    m = re.search(rf"^{re.escape(key)}:[ ]+(.*)$", text, re.M)
    return m.group(1) if m else None


class SovctlTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sovd_bin = find_binary("sovd", "SOVD_BIN")
        cls.sovctl_bin = find_binary("sovctl", "SOVCTL_BIN")
        if cls.sovd_bin is None or cls.sovctl_bin is None:
            raise unittest.SkipTest("no sovd or sovctl binary: set SOVD_BIN and SOVCTL_BIN")
        # The harness runs sovdtest.SOVD_BIN / SOVCTL_BIN; point them at what we found.
        sovdtest.SOVD_BIN = cls.sovd_bin
        sovdtest.SOVCTL_BIN = cls.sovctl_bin
        cls.sovd = sovdtest.Sovd(config=sovdtest.demo_config()).start()
        cls.tmp = tempfile.mkdtemp(prefix="sovctl-test-")

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def sovctl(self, *args, expect=0, input=None):
        r = self.sovd.sovctl(*args, input=input)
        self.assertEqual(r.returncode, expect,
                         f"sovctl {' '.join(args)}: exit {r.returncode}\n"
                         f"stdout: {r.stdout}\nstderr: {r.stderr}\n"
                         f"sovd log:\n{self.sovd.read_log()[-3000:]}")
        return r

    def write_spec(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content))
        return path

    def create_vm(self, name):
        """Creates a VM through sovctl; returns its UUID (learnt from the API)."""
        r = self.sovctl("vm", "create", "-f", self.write_spec(name + ".json", vm_spec(name)))
        self.assertEqual(block_value(r.stdout, "name"), name, r.stdout)
        uuid = block_value(r.stdout, "uuid")
        self.assertRegex(uuid or "", "^" + UUID_RE + "$", r.stdout)
        self.addCleanup(self.remove_vm, uuid)
        return uuid

    def remove_vm(self, uuid):
        self.sovd.post(f"/v1/vms/{uuid}/stop")
        self.sovd.delete(f"/v1/vms/{uuid}?delete_storage=true")

    def state_of(self, uuid):
        r = self.sovd.get(f"/v1/vms/{uuid}")
        self.assertEqual(r.status, 200, r)
        return r.json["state"]

    # -- reading -----------------------------------------------------------

    def test_host_shows_jurisdiction(self):
        r = self.sovctl("host")
        self.assertRegex(r.stdout, r"(?m)^\s+jurisdiction:\s+FR$")
        self.assertRegex(r.stdout, r"(?m)^\s+certifications:\s+secnumcloud:3\.2, hds$")
        self.assertEqual(r.stderr, "")

    def test_vm_list_shows_test_domain(self):
        r = self.sovctl("vm", "list")
        self.assertEqual(r.stdout.splitlines()[0].split(),
                         ["UUID", "NAME", "STATE", "TENANT", "POLICY", "VCPUS", "MEMORY"])
        rows = [row for row in table_rows(r.stdout) if row["NAME"] == TEST_DOMAIN]
        self.assertEqual(len(rows), 1, r.stdout)
        self.assertEqual(rows[0]["UUID"], TEST_DOMAIN_UUID)
        self.assertEqual(rows[0]["STATE"], "running")
        # Not created by sovd: no tenant, no policy.
        self.assertEqual(rows[0]["TENANT"], "-")

    def test_vm_list_filters(self):
        r = self.sovctl("vm", "list", "--state", "running")
        self.assertIn(TEST_DOMAIN, [row["NAME"] for row in table_rows(r.stdout)])
        r = self.sovctl("vm", "list", "--state", "shutoff", "--tenant", "nobody")
        self.assertEqual(table_rows(r.stdout), [])

    def test_vm_list_filter_is_escaped(self):
        # Sent unescaped, "&state=x" would become a second parameter; escaped,
        # sovd sees one (invalid) tenant value and says so.
        r = self.sovctl("vm", "list", "--tenant", "no body&state=x", expect=EXIT_API)
        self.assertRegex(r.stderr, r"^sovctl: 400 .*tenant")
        self.assertNotIn("unknown query parameter", r.stderr)

    # -- lifecycle ---------------------------------------------------------

    def test_create_then_show_by_name(self):
        uuid = self.create_vm("ctl-show")
        r = self.sovctl("vm", "show", "ctl-show")
        self.assertEqual(block_value(r.stdout, "uuid"), uuid)
        self.assertEqual(block_value(r.stdout, "state"), "shutoff")
        self.assertEqual(block_value(r.stdout, "tenant"), "acme")
        self.assertEqual(block_value(r.stdout, "policy"), "fr-sovereign")
        self.assertRegex(r.stdout, r"(?m)^\s+env:\s+test$")             # labels
        self.assertRegex(r.stdout, rf"(?m)^\s+(- )?pool:\s+{TEST_POOL}$")  # disks
        self.assertRegex(r.stdout, r"(?m)^binding:$")

    def test_create_from_stdin(self):
        r = self.sovctl("vm", "create", "-f", "-", input=json.dumps(vm_spec("ctl-stdin")))
        uuid = block_value(r.stdout, "uuid")
        self.addCleanup(self.remove_vm, uuid)
        self.assertEqual(self.sovd.get(f"/v1/vms/{uuid}").json["name"], "ctl-stdin")

    def test_start_stop_delete(self):
        uuid = self.create_vm("ctl-life")
        r = self.sovctl("vm", "start", "ctl-life")
        self.assertIn(uuid, r.stdout)
        self.assertIn("state: running", r.stdout)
        self.assertEqual(self.state_of(uuid), "running")

        r = self.sovctl("vm", "stop", uuid)
        self.assertIn("state: shutoff", r.stdout)
        self.assertEqual(self.state_of(uuid), "shutoff")

        self.sovctl("vm", "delete", "ctl-life", "--delete-storage")
        self.assertEqual(self.sovd.get(f"/v1/vms/{uuid}").status, 404)

    def test_idempotency_key_replays_create(self):
        path = self.write_spec("ctl-idem-create.json", vm_spec("ctl-idem-create"))
        key = "sovctl-test-create-" + os.path.basename(self.tmp)
        r = self.sovctl("--idempotency-key", key, "vm", "create", "-f", path)
        uuid = block_value(r.stdout, "uuid")
        self.addCleanup(self.remove_vm, uuid)
        # The same key, method, path and body: the stored answer, not a 409.
        r = self.sovctl("--idempotency-key", key, "vm", "create", "-f", path)
        self.assertEqual(block_value(r.stdout, "uuid"), uuid)
        self.assertIn("replayed", r.stderr)

    def test_idempotency_key_replays_action(self):
        uuid = self.create_vm("ctl-idem")
        key = "sovctl-test-" + uuid
        self.sovctl("--idempotency-key", key, "vm", "start", uuid)
        # api.md: any POST is replayed; a second start without the key is a 409.
        r = self.sovctl("--idempotency-key", key, "vm", "start", uuid)
        self.assertIn("state: running", r.stdout)
        self.assertIn("replayed", r.stderr)

    # -- --json ------------------------------------------------------------

    def test_json_show_matches_api(self):
        uuid = self.create_vm("ctl-json")
        r = self.sovctl("--json", "vm", "show", "ctl-json")
        self.assertEqual(json.loads(r.stdout), self.sovd.get(f"/v1/vms/{uuid}").json)

    def test_json_list_matches_api(self):
        r = self.sovctl("--json", "vm", "list", "--state", "running")
        self.assertEqual(json.loads(r.stdout), self.sovd.get("/v1/vms?state=running").json)

    def test_json_host(self):
        r = self.sovctl("--json", "host")
        self.assertEqual(json.loads(r.stdout)["tags"]["jurisdiction"], "FR")

    # -- errors ------------------------------------------------------------

    def test_api_error_prints_problem(self):
        # Ask the API itself which problem this is, then check sovctl shows it.
        expected = self.sovd.post(f"/v1/vms/{TEST_DOMAIN_UUID}/start", body={})
        self.assertEqual(expected.status, 409, expected)
        r = self.sovctl("vm", "start", TEST_DOMAIN, expect=EXIT_API)
        self.assertEqual(r.stdout, "")
        line = r.stderr.splitlines()[0]
        self.assertTrue(line.startswith("sovctl: 409 "), r.stderr)
        self.assertIn(expected.json["detail"], line)
        self.assertRegex(line, r"\(request [A-Za-z0-9._-]+\)$")

    def test_api_error_json_mode(self):
        r = self.sovctl("--json", "vm", "start", TEST_DOMAIN_UUID, expect=EXIT_API)
        self.assertEqual(json.loads(r.stdout)["status"], 409)
        self.assertIn("409", r.stderr)

    def test_unknown_name(self):
        r = self.sovctl("vm", "show", "no-such-vm", expect=EXIT_API)
        self.assertIn("no-such-vm", r.stderr)

    def test_unknown_uuid(self):
        r = self.sovctl("vm", "show", "00000000-0000-4000-8000-000000000000", expect=EXIT_API)
        self.assertIn("404", r.stderr)

    def test_delete_running_refused(self):
        r = self.sovctl("vm", "delete", TEST_DOMAIN, expect=EXIT_API)
        self.assertIn("409", r.stderr)
        self.assertEqual(self.state_of(TEST_DOMAIN_UUID), "running")

    def test_bad_spec_file(self):
        path = self.write_spec("bad.json", '{"name": "ctl-bad",\n "vcpus": 1,,\n}')
        r = self.sovctl("vm", "create", "-f", path, expect=EXIT_USAGE)
        self.assertIn(path, r.stderr)
        self.assertIn("line 2", r.stderr)
        # Refused before sending: no such VM appeared.
        names = [vm["name"] for vm in self.sovd.get("/v1/vms").json["vms"]]
        self.assertNotIn("ctl-bad", names)

    def test_spec_not_an_object(self):
        path = self.write_spec("array.json", "[]")
        self.sovctl("vm", "create", "-f", path, expect=EXIT_USAGE)

    def test_missing_spec_file(self):
        path = os.path.join(self.tmp, "does-not-exist.json")
        r = self.sovctl("vm", "create", "-f", path, expect=EXIT_USAGE)
        self.assertIn(path, r.stderr)

    def test_usage_errors(self):
        self.sovctl("vm", "frobnicate", expect=EXIT_USAGE)
        self.sovctl("vm", "show", expect=EXIT_USAGE)
        self.sovctl("--no-such-option", "host", expect=EXIT_USAGE)
        self.sovctl("--idempotency-key", "k", "vm", "list", expect=EXIT_USAGE)

    def test_help(self):
        r = self.sovctl("--help")
        for word in ("host", "vm list", "vm create", "vm delete", "--delete-storage",
                     "--socket", "--url", "--json", "--idempotency-key", "policy list",
                     "policy show", "policy evaluate", "pool list", "backup-target list",
                     "audit list", "audit verify"):
            self.assertIn(word, r.stdout)

    def test_unreachable_socket(self):
        path = os.path.join(self.tmp, "nobody-listens.sock")
        r = subprocess.run([self.sovctl_bin, "--socket", path, "host"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, EXIT_UNREACHABLE, r)
        self.assertIn(path, r.stderr)
        self.assertEqual(r.stdout, "")

    # -- policies and places -------------------------------------------------

    def test_policy_list_shows_shipped_policies(self):
        r = self.sovctl("policy", "list")
        self.assertEqual(r.stdout.splitlines()[0].split(),
                         ["NAME", "REVISION", "MODE", "DIGEST", "DESCRIPTION"])
        rows = {row["NAME"]: row for row in table_rows(r.stdout)}
        self.assertEqual(set(rows), SHIPPED_POLICIES)
        for p in self.sovd.get("/v1/policies").json["policies"]:
            self.assertEqual(rows[p["name"]]["DIGEST"], p["digest"][:12])
            self.assertEqual(rows[p["name"]]["MODE"], p["mode"])
            self.assertEqual(rows[p["name"]]["REVISION"], str(p["revision"]))
        self.assertIn("SecNumCloud 3.2: qualified places in France", r.stdout)

    def test_policy_list_json(self):
        r = self.sovctl("--json", "policy", "list")
        self.assertEqual(json.loads(r.stdout), self.sovd.get("/v1/policies").json)

    def test_policy_show_secnumcloud(self):
        r = self.sovctl("policy", "show", "secnumcloud")
        api = self.sovd.get("/v1/policies/secnumcloud").json
        self.assertEqual(block_value(r.stdout, "name"), "secnumcloud")
        self.assertEqual(block_value(r.stdout, "digest"), api["digest"])
        self.assertEqual(block_value(r.stdout, "mode"), "enforce")
        self.assertRegex(r.stdout, r"(?m)^reasoning:$")
        self.assertIn("ANSSI", r.stdout)
        # Every rule in words: the certification requirement, the refs, the backup's other site.
        for kind in ("compute", "storage", "snapshot", "backup", "migration"):
            self.assertRegex(r.stdout, rf"(?m)^  {kind}:$")
        self.assertRegex(r.stdout, r"(?m)^    require certifications:\s+secnumcloud:3\.2\b")
        self.assertRegex(r.stdout, r"(?m)^    allow jurisdiction:\s+@fr$")
        self.assertRegex(r.stdout, r"(?m)^    different site from host:\s+yes$")
        self.assertRegex(r.stdout, r"(?m)^      - SecNumCloud 3\.2 §12\.5\.d: backups under the same location rules$")

    def test_policy_show_unknown(self):
        r = self.sovctl("policy", "show", "no-such-policy", expect=EXIT_API)
        self.assertRegex(r.stderr, r"^sovctl: 404 ")

    def test_evaluate_host_allowed(self):
        r = self.sovctl("policy", "evaluate", "--policy", "secnumcloud", "--kind", "compute", "--host")
        self.assertEqual(block_value(r.stdout, "outcome"), "allow (enforce mode)")
        self.assertEqual(block_value(r.stdout, "policy"), "secnumcloud, revision 1")
        self.assertRegex(r.stdout, r"(?m)^  compute on host '[^']+': allow$")
        self.assertIn("jurisdiction=FR", r.stdout)
        self.assertIn("- SecNumCloud 3.2 §19.2.b", r.stdout)
        self.assertEqual(r.stderr, "")

    def test_evaluate_pool_allowed(self):
        r = self.sovctl("policy", "evaluate", "--policy", "fr-sovereign", "--kind", "storage",
                        "--pool", TEST_POOL)
        self.assertRegex(r.stdout, rf"(?m)^  storage on storage pool '{TEST_POOL}': allow$")

    def test_evaluate_tags_denied(self):
        path = self.write_spec("us-tags.json", US_TAGS)
        r = self.sovctl("policy", "evaluate", "--policy", "fr-sovereign", "--kind", "storage",
                        "--tags", path, expect=EXIT_DENIED)
        self.assertEqual(block_value(r.stdout, "outcome"), "deny (enforce mode)")
        self.assertEqual(block_value(r.stdout, "decided by"), "storage rule on the given tags")
        self.assertRegex(r.stdout, r"(?m)^      - jurisdiction: found US, allowed \{@fr\}$")
        self.assertRegex(r.stdout, r"(?m)^      - operator_jurisdiction: found US, allowed \{@fr\}$")
        self.assertIn("- Customer requirement: data stored in France", r.stdout)

    def test_evaluate_tags_from_stdin_at_time(self):
        # A certification valid until 2027-06-30 no longer counts on 2027-07-01.
        tags = dict(sovdtest.FR_PLACE_TAGS, certifications=[
            {"name": "secnumcloud", "version": "3.2", "valid_until": "2027-06-30"}])
        args = ("policy", "evaluate", "--policy", "secnumcloud", "--kind", "storage", "--tags", "-")
        self.sovctl(*args, "--at", "2027-06-30", input=json.dumps(tags))
        r = self.sovctl(*args, "--at", "2027-07-01T00:00:00Z", input=json.dumps(tags),
                        expect=EXIT_DENIED)
        self.assertEqual(block_value(r.stdout, "time"), "2027-07-01T00:00:00Z")
        self.assertIn("certifications: found 3.2, required {secnumcloud:3.2}; "
                      "certification secnumcloud:3.2 expired on 2027-06-30", r.stdout)

    def test_evaluate_json_keeps_exit_status(self):
        path = self.write_spec("us-tags-json.json", US_TAGS)
        r = self.sovctl("--json", "policy", "evaluate", "--policy", "fr-sovereign", "--kind", "compute",
                        "--tags", path, expect=EXIT_DENIED)
        d = json.loads(r.stdout)
        self.assertEqual((d["outcome"], d["operation"]), ("deny", "evaluate"))
        self.assertEqual(d["checks"][0]["violations"][0]["found"], "US")

    def test_evaluate_unknown_policy_denied(self):
        r = self.sovctl("policy", "evaluate", "--policy", "no-such-policy", "--kind", "compute", "--host",
                        expect=EXIT_DENIED)
        self.assertIn("not loaded", block_value(r.stdout, "policy"))

    def test_evaluate_unconfigured_pool_is_an_error(self):
        r = self.sovctl("policy", "evaluate", "--policy", "fr-sovereign", "--kind", "storage",
                        "--pool", "no-such-pool", expect=EXIT_API)
        self.assertRegex(r.stderr, r"^sovctl: 404 .*no-such-pool")

    def test_evaluate_usage_errors(self):
        base = ("policy", "evaluate", "--policy", "fr-sovereign")
        self.sovctl(*base, "--host", expect=EXIT_USAGE)                               # no --kind
        self.sovctl(*base, "--kind", "storage", expect=EXIT_USAGE)                    # no place
        self.sovctl(*base, "--kind", "storage", "--host", "--pool", TEST_POOL, expect=EXIT_USAGE)
        self.sovctl(*base, "--kind", "restore", "--host", expect=EXIT_USAGE)
        self.sovctl(*base, "--kind", "compute", "--host", "--at", "tomorrow", expect=EXIT_USAGE)
        self.sovctl("policy", "evaluate", "--kind", "compute", "--host", expect=EXIT_USAGE)
        self.sovctl("--idempotency-key", "k", *base, "--kind", "compute", "--host", expect=EXIT_USAGE)
        self.sovctl("policy", "list", "--host", expect=EXIT_USAGE)
        r = self.sovctl(*base, "--kind", "compute", "--tags", self.write_spec("list.json", "[]"),
                        expect=EXIT_USAGE)
        self.assertIn("JSON object", r.stderr)

    def test_pool_list_shows_tags(self):
        r = self.sovctl("pool", "list")
        self.assertEqual(r.stdout.splitlines()[0].split(),
                         ["NAME", "IN-LIBVIRT", "TAGGED", "JURISDICTION", "SITE", "CERTIFICATIONS"])
        rows = {row["NAME"]: row for row in table_rows(r.stdout)}
        self.assertEqual(rows[TEST_POOL]["IN-LIBVIRT"], "yes")
        self.assertEqual(rows[TEST_POOL]["TAGGED"], "yes")
        self.assertEqual(rows[TEST_POOL]["JURISDICTION"], "FR")
        self.assertEqual(rows[TEST_POOL]["SITE"], "par-1")
        self.assertRegex(r.stdout, rf"(?m)^{TEST_POOL} .*secnumcloud:3\.2, hds$")
        # Configured but not in libvirt: listed, so that a typo shows.
        self.assertEqual(rows["ghost-pool"]["IN-LIBVIRT"], "no")

    def test_backup_target_list(self):
        # The demo config has none: the header alone.
        r = self.sovctl("backup-target", "list")
        self.assertEqual(r.stdout.splitlines(),
                         ["NAME  PATH  TAGGED  JURISDICTION  SITE  CERTIFICATIONS"])
        r = self.sovctl("--json", "backup-target", "list")
        self.assertEqual(json.loads(r.stdout), {"backup_targets": []})

    # -- policy doors through sovctl ---------------------------------------

    def test_create_refused_by_policy(self):
        spec = vm_spec("ctl-untagged", disks=[{"pool": "unconfigured-pool", "size_gib": 1}])
        r = self.sovctl("vm", "create", "-f", self.write_spec("ctl-untagged.json", spec),
                        expect=EXIT_API)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.splitlines()
        self.assertRegex(lines[0], r"^sovctl: 403 .*unconfigured-pool.*\(request [A-Za-z0-9._-]+\)$")
        self.assertRegex(r.stderr, r"(?m)^  decided by: storage rule on storage pool 'unconfigured-pool'$")
        self.assertRegex(r.stderr, r"(?m)^  operation:  create$")
        self.assertRegex(r.stderr, r"(?m)^    compute on host '[^']+': allow$")
        self.assertRegex(r.stderr, r"(?m)^    storage on storage pool 'unconfigured-pool': deny$")
        self.assertRegex(r.stderr, r"(?m)^        - untagged: .*unconfigured-pool.*never compliant$")
        self.assertRegex(r.stderr, r"(?m)^        - Customer requirement: data stored in France$")
        names = [vm["name"] for vm in self.sovd.get("/v1/vms").json["vms"]]
        self.assertNotIn("ctl-untagged", names)

    def test_vm_show_prints_compliance(self):
        uuid = self.create_vm("ctl-compliance")
        digest = self.sovd.get("/v1/policies/fr-sovereign").json["digest"]
        r = self.sovctl("vm", "show", uuid)
        self.assertRegex(r.stdout, rf"(?m)^  policy_digest:\s+{digest}$")    # binding
        section = r.stdout[r.stdout.index("\ncompliance:\n"):]
        self.assertRegex(section, r"(?m)^  status:\s+compliant$")
        self.assertRegex(section, r"(?m)^  reasons:\s+\(none\)$")
        self.assertRegex(section, rf"(?m)^  admitted digest:\s+{digest}$")
        self.assertRegex(section, rf"(?m)^  current digest:\s+{digest}$")
        self.assertRegex(section, r"(?m)^  policy changed:\s+no$")
        self.assertRegex(section, r"(?m)^  drift:\s+\(none\)$")

    def test_start_refused_after_pool_retagged(self):
        # A sovd of its own: its config is changed under it.
        conf = sovdtest.demo_config()
        s = sovdtest.Sovd(config=conf).start()
        self.addCleanup(s.cleanup)
        created = s.post("/v1/vms", vm_spec("ctl-moved"))
        self.assertEqual(created.status, 201, created)
        uuid = created.json["uuid"]

        # The operator learns the pool is in fact replicated to the US.
        conf["storage_pools"][TEST_POOL] = {"tags": dict(US_TAGS)}
        s.write_config(conf)
        s.drain_notify()
        s.proc.send_signal(signal.SIGHUP)
        self.assertIsNotNone(s.wait_notify("READY=1", 5), s.read_log())

        r = s.sovctl("vm", "show", "ctl-moved")
        self.assertEqual(r.returncode, 0, r)
        section = r.stdout[r.stdout.index("\ncompliance:\n"):]
        self.assertRegex(section, r"(?m)^  status:\s+non-compliant$")
        self.assertRegex(section, rf"(?m)^    - .*{TEST_POOL}.*US.*$")

        r = s.sovctl("vm", "start", "ctl-moved")
        self.assertEqual(r.returncode, EXIT_API, r)
        self.assertRegex(r.stderr, r"^sovctl: 403 ")
        self.assertRegex(r.stderr, r"(?m)^  operation:  start$")
        self.assertRegex(r.stderr, rf"(?m)^    storage on storage pool '{TEST_POOL}': deny$")
        self.assertRegex(r.stderr, r"(?m)^        - jurisdiction: found US, allowed \{@fr\}$")
        self.assertEqual(s.get(f"/v1/vms/{uuid}").json["state"], "shutoff")


if __name__ == "__main__":
    unittest.main()
