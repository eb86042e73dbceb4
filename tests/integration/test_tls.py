# SPDX-License-Identifier: LGPL-2.1-or-later
"""The TCP listener with mutual TLS, seen from a remote client.

A throw-away PKI is made with GnuTLS certtool at run time: a CA, a second
unrelated CA, a server certificate for localhost/127.0.0.1 and client
certificates for each case (roles by CN and by DNS SAN, unmapped, other
CA, expired, not yet valid). sovd runs against libvirt's test driver with
the demo config plus a "tls" section, listening on a free port of
127.0.0.1, and is driven with Python's ssl module and with sovctl --url.

- AuthenticationTest: no certificate, another CA's, an expired or a not
  yet valid one is 401 unauthenticated before any handler (even /healthz);
  a verified but unmapped certificate is 403 (role none).
- RoleTest: reader, operator (create in default-pool, start) and admin by
  DNS SAN (admission), highest role of CN and SANs wins; the audit
  record names the certificate. Idempotency-Key scoping per certificate
  is an expected failure (known bug: every TLS caller shares uid 0's scope).
- HandshakeTest: TLS 1.0/1.1 are refused at the handshake, 1.2 and 1.3
  are served; the server certificate verifies against the CA for
  localhost and 127.0.0.1, and not for another name or another CA.
- SovctlTlsTest: sovctl --url/--cert/--key/--cacert: a reader lists (0) and
  may not create (1, 403); without a certificate the handshake completes
  and sovctl shows the 401 (exit 1); an untrusted server certificate
  exits 3.
- RevocationTest: removing a certificate's role mapping and reloading
  (SIGHUP) takes effect on the next request.

Skips (exit 77) when certtool (gnutls-bin) is missing.
Run: SOVD_BIN=build/sovd SOVCTL_BIN=build/api/sovctl/sovctl PYTHONPATH=tests/integration \
     /usr/bin/python3 tests/integration/test_tls.py
"""
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

CERTTOOL = shutil.which("certtool")

UNAUTHENTICATED = "urn:sovd:problem:unauthenticated"
FORBIDDEN = "urn:sovd:problem:forbidden"
TEST_DOMAIN_UUID = "6695eb01-f6a4-8304-79aa-97f2502e193f"  # "test", running in test:///default
EXIT_API, EXIT_USAGE, EXIT_UNREACHABLE = 1, 2, 3

ROLES = {
    "auditor": "reader",
    "orchestrator": "operator",
    "admin.sovd.example": "admin",
}


class Pki:
    """A CA, an unrelated CA, a server certificate and the client certificates, made with certtool."""

    # name -> (signing CA, template); every key is ECDSA P-256.
    CLIENTS = {
        "reader": ("ca", 'cn = "auditor"\ntls_www_client\nexpiration_days = 2\n'),
        "operator": ("ca", 'cn = "orchestrator"\ntls_www_client\nexpiration_days = 2\n'),
        # Admin by its DNS SAN only: the CN is mapped to nothing.
        "admin": ("ca", 'cn = "ops-console-7"\ndns_name = "admin.sovd.example"\ntls_www_client\n'
                        'expiration_days = 2\n'),
        # CN reader, a SAN operator: the highest role wins.
        "multi": ("ca", 'cn = "auditor"\ndns_name = "unmapped.example"\ndns_name = "orchestrator"\n'
                        'tls_www_client\nexpiration_days = 2\n'),
        "unmapped": ("ca", 'cn = "stranger"\ntls_www_client\nexpiration_days = 2\n'),
        # A mapped CN, but signed by the unrelated CA.
        "foreign": ("other-ca", 'cn = "orchestrator"\ntls_www_client\nexpiration_days = 2\n'),
        "expired": ("ca", 'cn = "orchestrator"\ntls_www_client\n'
                          'activation_date = "2020-01-01 00:00:00"\nexpiration_date = "2020-02-01 00:00:00"\n'),
        "not-yet-valid": ("ca", 'cn = "orchestrator"\ntls_www_client\n'
                                'activation_date = "2098-01-01 00:00:00"\nexpiration_date = "2099-01-01 00:00:00"\n'),
    }

    def __init__(self, directory):
        self.dir = directory
        # Certificate names double as file names: keep them distinct from the CAs'.
        assert not {"ca", "other-ca", "server"} & set(self.CLIENTS)
        self.make_ca("ca", "Test CA")
        self.make_ca("other-ca", "Unrelated CA")
        self.make_cert("server", "ca", 'cn = "localhost"\ndns_name = "localhost"\nip_address = "127.0.0.1"\n'
                                       'tls_www_server\nexpiration_days = 2\n')
        for name, (ca, template) in self.CLIENTS.items():
            self.make_cert(name, ca, template)

    def path(self, name, ext):
        return os.path.join(self.dir, f"{name}.{ext}")

    def cert(self, name):
        return self.path(name, "pem")

    def key(self, name):
        return self.path(name, "key")

    def certtool(self, *args):
        r = subprocess.run([CERTTOOL, *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"certtool {' '.join(args)} failed: {r.stderr}")

    def make_key(self, name):
        self.certtool("--generate-privkey", "--key-type", "ecdsa", "--outfile", self.key(name))
        os.chmod(self.key(name), 0o600)

    def write_template(self, name, text):
        with open(self.path(name, "tmpl"), "w") as f:
            f.write(text)
        return self.path(name, "tmpl")

    def make_ca(self, name, cn):
        self.make_key(name)
        tmpl = self.write_template(name, f'cn = "{cn}"\nca\ncert_signing_key\nexpiration_days = 30\n')
        self.certtool("--generate-self-signed", "--load-privkey", self.key(name), "--template", tmpl,
                      "--outfile", self.cert(name))

    def make_cert(self, name, ca, template):
        self.make_key(name)
        tmpl = self.write_template(name, template)
        self.certtool("--generate-certificate", "--load-privkey", self.key(name),
                      "--load-ca-certificate", self.cert(ca), "--load-ca-privkey", self.key(ca),
                      "--template", tmpl, "--outfile", self.cert(name))

    def context(self, client=None, ca="ca"):
        """A client context trusting @ca (hostname checked) and presenting @client's certificate."""
        ctx = ssl.create_default_context(cafile=self.cert(ca))
        if client:
            ctx.load_cert_chain(self.cert(client), self.key(client))
        return ctx


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tls_config(pki, roles=None):
    return sovdtest.demo_config(tls={"cert": pki.cert("server"), "key": pki.key("server"), "ca": pki.cert("ca"),
                                     "roles": dict(ROLES if roles is None else roles)})


def start_tls_sovd(pki, roles=None):
    """sovd on its Unix socket plus tcp:127.0.0.1:PORT. The harness's --listen replaces the config's
    list, so the TCP listener goes on the command line too; a port taken meanwhile is retried."""
    for attempt in range(5):
        port = free_port()
        s = sovdtest.Sovd(config=tls_config(pki, roles), extra_args=["--listen", f"tcp:127.0.0.1:{port}"])
        try:
            s.start()
        except RuntimeError:
            log = s.read_log()
            s.cleanup()
            if "cannot listen" in log and attempt < 4:
                continue
            raise
        s.port = port
        return s
    raise AssertionError("unreachable")


def spec(name):
    return {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 256,
            "disks": [{"pool": "default-pool", "size_gib": 1}], "labels": {"env": "test"}}


UNBOUND_XML = "<domain type='kvm'><name>tls-hook</name></domain>"


class TlsCase(unittest.TestCase):
    """One PKI and one sovd for the class."""

    roles = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sovd-tls-")
        cls.pki = Pki(cls.tmp)
        cls.sovd = start_tls_sovd(cls.pki, cls.roles)

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def request(self, client, method, path, body=None, headers=None, ctx=None):
        ctx = ctx or self.pki.context(client)
        conn = http.client.HTTPSConnection("127.0.0.1", self.sovd.port, context=ctx, timeout=30)
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            return sovdtest.Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    def assertProblem(self, r, status, ptype, *detail_parts):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.headers["Content-Type"], "application/problem+json", r)
        self.assertEqual(r.json["type"], ptype, r.json)
        self.assertEqual(r.json["status"], status, r.json)
        self.assertEqual(r.json["request_id"], r.headers["X-Request-Id"], r.json)
        for part in detail_parts:
            self.assertIn(part, r.json["detail"], r.json)
        return r.json

    def remove_vm(self, uuid):
        self.sovd.post(f"/v1/vms/{uuid}/stop")
        self.sovd.delete(f"/v1/vms/{uuid}?delete_storage=true")


class AuthenticationTest(TlsCase):
    def test_no_client_certificate(self):
        for path in ("/healthz", "/readyz", "/v1/host", "/v1/vms"):
            with self.subTest(path=path):
                p = self.assertProblem(self.request(None, "GET", path), 401, UNAUTHENTICATED,
                                       "client certificate")
                self.assertEqual(p["instance"], path)
        # Refused before routing: no 404 or 405 either, and no handler ran.
        self.assertProblem(self.request(None, "GET", "/v1/no-such-thing"), 401, UNAUTHENTICATED)
        self.assertProblem(self.request(None, "DELETE", "/healthz"), 401, UNAUTHENTICATED)
        self.assertProblem(self.request(None, "POST", "/v1/vms", spec("tls-nocert")), 401, UNAUTHENTICATED)
        self.assertNotIn("tls-nocert", {v["name"] for v in self.sovd.get("/v1/vms").json["vms"]})

    def test_other_ca(self):
        p = self.assertProblem(self.request("foreign", "GET", "/healthz"), 401, UNAUTHENTICATED,
                               "client certificate refused")
        self.assertIn("issuer", p["detail"].lower(), p)
        self.assertProblem(self.request("foreign", "GET", "/v1/vms"), 401, UNAUTHENTICATED)

    def test_expired(self):
        p = self.assertProblem(self.request("expired", "GET", "/v1/vms"), 401, UNAUTHENTICATED,
                               "client certificate refused")
        self.assertIn("expired", p["detail"], p)

    def test_server_only_certificate_refused_as_client(self):
        # Signed by the right CA, but its key purposes do not include TLS client authentication.
        p = self.assertProblem(self.request("server", "GET", "/v1/vms"), 401, UNAUTHENTICATED,
                               "client certificate refused")
        self.assertIn("purpose", p["detail"].lower(), p)

    def test_not_yet_valid(self):
        p = self.assertProblem(self.request("not-yet-valid", "GET", "/v1/vms"), 401, UNAUTHENTICATED,
                               "client certificate refused")
        self.assertIn("not yet", p["detail"], p)

    def test_refusals_are_logged(self):
        # A 401 is answered before routing; the request log line carries the reason.
        self.request("expired", "GET", "/readyz", headers={"X-Request-Id": "tls-expired-probe"})
        deadline, line = time.monotonic() + 5, ""
        while not line and time.monotonic() < deadline:
            line = next((x for x in self.sovd.read_log().splitlines() if "SOVD_REQUEST_ID=tls-expired-probe" in x), "")
            time.sleep(0 if line else 0.05)
        self.assertIn("SOVD_STATUS=401", line)
        self.assertIn("expired", line)

    def test_unmapped_is_forbidden(self):
        p = self.assertProblem(self.request("unmapped", "GET", "/v1/vms"), 403, FORBIDDEN,
                               "CN=stranger", "role none")
        self.assertIn("reader", p["detail"])
        # Verified but unmapped: the health endpoints answer, like any local user on the socket.
        r = self.request("unmapped", "GET", "/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"status": "ok"})


class RoleTest(TlsCase):
    def test_reader(self):
        r = self.request("reader", "GET", "/v1/vms")
        self.assertEqual(r.status, 200, r)
        self.assertIn(TEST_DOMAIN_UUID, {v["uuid"] for v in r.json["vms"]})
        self.assertProblem(self.request("reader", "POST", "/v1/vms", spec("tls-by-reader")), 403, FORBIDDEN,
                           "CN=auditor", "role reader", "operator")
        self.assertProblem(self.request("reader", "POST", f"/v1/vms/{TEST_DOMAIN_UUID}/start", {}), 403,
                           FORBIDDEN, "role reader")
        self.assertProblem(self.request("reader", "POST", "/v1/admission",
                                        {"operation": "start", "domain": "tls-hook", "domain_xml": UNBOUND_XML}),
                           403, FORBIDDEN, "admin")
        self.assertNotIn("tls-by-reader", {v["name"] for v in self.sovd.get("/v1/vms").json["vms"]})

    def test_operator_create_start_and_audit(self):
        r = self.request("operator", "POST", "/v1/vms", spec("tls-op-1"))
        self.assertEqual(r.status, 201, r)
        uuid = r.json["uuid"]
        self.addCleanup(self.remove_vm, uuid)
        self.assertEqual(r.headers["Location"], f"/v1/vms/{uuid}")
        r = self.request("operator", "POST", f"/v1/vms/{uuid}/start", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["state"], "running")
        # An operator may not answer the hook's admission question.
        self.assertProblem(self.request("operator", "POST", "/v1/admission",
                                        {"operation": "start", "domain": "tls-hook", "domain_xml": UNBOUND_XML}),
                           403, FORBIDDEN, "role operator", "admin")

        # The audit record of the create names the certificate, not a uid.
        records = self.request("reader", "GET", f"/v1/audit?vm={uuid}&limit=1000").json["records"]
        creates = [x for x in records if x["kind"] == "api" and x["method"] == "POST" and x["path"] == "/v1/vms"]
        self.assertEqual(len(creates), 1, records)
        self.assertEqual(creates[0]["status"], 201)
        self.assertEqual(creates[0]["role"], "operator")
        self.assertIn("CN=orchestrator", creates[0]["caller"])
        self.assertRegex(creates[0]["caller"], r"^cert CN=orchestrator serial=[0-9a-f]+$")
        self.assertNotIn("uid=", creates[0]["caller"])
        decisions = [x for x in records if x["kind"] == "decision"]
        self.assertTrue(decisions, records)
        self.assertTrue(all("CN=orchestrator" in x["caller"] for x in decisions), decisions)

    def test_refused_call_is_audited_with_certificate(self):
        self.request("reader", "POST", "/v1/vms", spec("tls-audit-refused"))
        records = self.sovd.get("/v1/audit?limit=1000").json["records"]
        refused = [x for x in records if x["kind"] == "api" and x["status"] == 403 and "CN=auditor" in x["caller"]]
        self.assertTrue(refused, records)
        self.assertEqual(refused[-1]["role"], "reader")

    def test_admin_by_dns_san(self):
        r = self.request("admin", "POST", "/v1/admission",
                         {"operation": "start", "domain": "tls-hook", "domain_xml": UNBOUND_XML})
        self.assertEqual(r.status, 200, r)
        self.assertIs(r.json["allowed"], True)
        self.assertIsNone(r.json["decision"])
        # The admission call is audited; the caller is named by its CN though the role came from the SAN.
        records = self.sovd.get("/v1/audit?limit=1000").json["records"]
        mine = [x for x in records if x["request_id"] == r.headers["X-Request-Id"]]
        self.assertEqual(len(mine), 1, records)
        self.assertEqual(mine[0]["path"], "/v1/admission")
        self.assertEqual(mine[0]["role"], "admin")
        self.assertRegex(mine[0]["caller"], r"^cert CN=ops-console-7 serial=[0-9a-f]+$")

    def test_highest_role_of_cn_and_sans_wins(self):
        # CN auditor (reader) + SAN orchestrator (operator) + an unmapped SAN: operator.
        r = self.request("multi", "POST", "/v1/vms", spec("tls-multi"))
        self.assertEqual(r.status, 201, r)
        self.addCleanup(self.remove_vm, r.json["uuid"])
        self.assertProblem(self.request("multi", "POST", "/v1/admission",
                                        {"operation": "start", "domain": "tls-hook", "domain_xml": UNBOUND_XML}),
                           403, FORBIDDEN, "CN=auditor", "role operator")

    def test_idempotency_keys_scoped_by_certificate(self):
        # docs/api.md: keys are scoped by caller. KNOWN BUG: a TLS caller has no uid, so every
        # certificate gets the scope "uid:0" -- root's on the Unix socket -- and a second
        # certificate sending the same key and body is replayed the first one's answer.
        body = spec("tls-idem-1")
        first = self.request("operator", "POST", "/v1/vms", body, headers={"Idempotency-Key": "tls-idem-key"})
        self.assertEqual(first.status, 201, first)
        self.addCleanup(self.remove_vm, first.json["uuid"])
        for again in (self.request("multi", "POST", "/v1/vms", body, headers={"Idempotency-Key": "tls-idem-key"}),
                      self.sovd.post("/v1/vms", body, headers={"Idempotency-Key": "tls-idem-key"})):
            self.assertIsNone(again.headers.get("Idempotent-Replayed"), again)
            self.assertEqual(again.status, 409, again)  # a new request: the name is taken

    def test_socket_still_served(self):
        # The Unix socket keeps working beside the TCP listener, with its own identities.
        r = self.sovd.get("/v1/vms")
        self.assertEqual(r.status, 200, r)


class HandshakeTest(TlsCase):
    def handshake(self, ctx, server_hostname="localhost"):
        with socket.create_connection(("127.0.0.1", self.sovd.port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
                return s.version(), s.getpeercert()

    def old_protocol_context(self, maximum):
        ctx = self.pki.context("operator")
        # Let OpenSSL actually offer the old protocols, so that the server is what refuses them.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = maximum
        return ctx

    def test_old_protocols_refused(self):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            old = (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
        for version in old:
            with self.subTest(version=version.name):
                with self.assertRaises(ssl.SSLError) as cm:
                    self.handshake(self.old_protocol_context(version))
                self.assertNotIn("NO_PROTOCOLS_AVAILABLE", str(cm.exception))
                self.assertNotIsInstance(cm.exception, ssl.SSLCertVerificationError)
        # The same client, allowed up to TLS 1.2, gets in: the protocol version was the reason.
        self.assertEqual(self.handshake(self.old_protocol_context(ssl.TLSVersion.TLSv1_2))[0], "TLSv1.2")

    def test_tls12_and_tls13_served(self):
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            with self.subTest(version=version.name):
                ctx = self.pki.context("reader")
                ctx.minimum_version = ctx.maximum_version = version
                self.assertEqual(self.handshake(ctx)[0], {"TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3"}[version.name])
                r = self.request(None, "GET", "/v1/host", ctx=ctx)
                self.assertEqual(r.status, 200, r)

    def test_server_certificate(self):
        ctx = self.pki.context()
        self.assertTrue(ctx.check_hostname)
        self.assertEqual(ctx.verify_mode, ssl.CERT_REQUIRED)
        _, cert = self.handshake(ctx, "localhost")
        self.assertIn((("commonName", "localhost"),), cert["subject"])
        self.assertIn(("DNS", "localhost"), cert["subjectAltName"])
        self.handshake(ctx, "127.0.0.1")  # the IP SAN
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.handshake(ctx, "not-this-host.example")
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.handshake(self.pki.context(ca="other-ca"), "localhost")

    def test_handshake_without_client_certificate_completes(self):
        # Without a client certificate the handshake completes (the server asks, it does not
        # require) and the HTTP answer is the 401.
        version, _ = self.handshake(self.pki.context())
        self.assertIn(version, ("TLSv1.2", "TLSv1.3"))


class SovctlTlsTest(TlsCase):
    def sovctl(self, *args, client="reader", cacert="ca", expect=0):
        argv = [sovdtest.SOVCTL_BIN, "--url", f"https://127.0.0.1:{self.sovd.port}"]
        if client:
            argv += ["--cert", self.pki.cert(client), "--key", self.pki.key(client)]
        if cacert:
            argv += ["--cacert", self.pki.cert(cacert)]
        r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, expect,
                         f"sovctl {' '.join(argv[1:] + list(args))}: exit {r.returncode}\n"
                         f"stdout: {r.stdout}\nstderr: {r.stderr}\nsovd log:\n{self.sovd.read_log()[-3000:]}")
        return r

    def write_spec(self, name):
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(spec(name), f)
        return path

    def test_reader_lists(self):
        r = self.sovctl("vm", "list")
        self.assertIn("test", r.stdout)
        r = self.sovctl("--json", "vm", "list")
        self.assertIn(TEST_DOMAIN_UUID, {v["uuid"] for v in json.loads(r.stdout)["vms"]})

    def test_reader_may_not_create(self):
        r = self.sovctl("vm", "create", "-f", self.write_spec("tls-ctl-reader"), expect=EXIT_API)
        self.assertTrue(r.stderr.startswith("sovctl: 403 "), r.stderr)
        self.assertIn("role reader", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_operator_creates(self):
        r = self.sovctl("--json", "vm", "create", "-f", self.write_spec("tls-ctl-op"), client="operator")
        vm = json.loads(r.stdout)
        self.addCleanup(self.remove_vm, vm["uuid"])
        self.assertEqual(vm["name"], "tls-ctl-op")

    def test_without_certificate(self):
        # The handshake succeeds without a client certificate; sovd answers 401 and sovctl shows it.
        r = self.sovctl("vm", "list", client=None, expect=EXIT_API)
        self.assertTrue(r.stderr.startswith("sovctl: 401 "), r.stderr)
        self.assertIn("a client certificate signed by this agent's CA is required", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_expired_certificate(self):
        r = self.sovctl("vm", "list", client="expired", expect=EXIT_API)
        self.assertTrue(r.stderr.startswith("sovctl: 401 "), r.stderr)
        self.assertIn("expired", r.stderr)

    def test_server_not_trusted(self):
        # sovd's certificate does not verify against another CA: sovctl gives up at the handshake.
        r = self.sovctl("vm", "list", cacert="other-ca", expect=EXIT_UNREACHABLE)
        self.assertTrue(r.stderr.strip(), r)
        self.assertEqual(r.stdout, "")


class RevocationTest(TlsCase):
    """Removing a certificate's role mapping and reloading is how access is withdrawn."""

    def test_unmapping_takes_effect_on_reload(self):
        self.assertEqual(self.request("operator", "GET", "/v1/vms").status, 200)
        roles = dict(ROLES)
        del roles["orchestrator"]
        self.sovd.write_config(tls_config(self.pki, roles))
        self.sovd.drain_notify()
        self.sovd.proc.send_signal(signal.SIGHUP)
        self.assertTrue(self.sovd.wait_notify("READY=1", 10), self.sovd.read_log())
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            r = self.request("operator", "GET", "/v1/vms")
            if r.status == 403:
                break
            time.sleep(0.1)
        self.assertProblem(r, 403, FORBIDDEN, "CN=orchestrator", "role none")
        self.assertEqual(self.request("reader", "GET", "/v1/vms").status, 200)


if __name__ == "__main__":
    if not CERTTOOL:
        print("certtool (gnutls-bin) is not installed; skipping", file=sys.stderr)
        sys.exit(77)
    unittest.main(verbosity=2)
