# SPDX-License-Identifier: LGPL-2.1-or-later
"""GET /metrics against libvirt's test driver: well-formed Prometheus text,
and figures that follow what happens through the API."""
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sovdtest  # noqa: E402

NODE_XML = os.path.join(os.path.dirname(os.path.abspath(__file__)), "testnode.xml")
URI = "test://" + NODE_XML
SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z_]+="[^"\\\n]*"(?:,[a-z_]+="[^"\\\n]*")*\})? (-?[0-9]+(?:\.[0-9]+)?)$')
US_TAGS = {"jurisdiction": "US", "region": "US-VA", "site": "iad-1", "operator": "Example Inc",
           "operator_jurisdiction": "US"}


def spec(name, pool="fr-pool"):
    return {"name": name, "tenant": "acme", "policy": "fr-sovereign", "vcpus": 1, "memory_mib": 256,
            "disks": [{"pool": pool, "size_gib": 1}]}


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        conf = sovdtest.demo_config()
        conf["storage_pools"]["us-pool"] = {"tags": dict(US_TAGS)}
        cls.sovd = sovdtest.Sovd(libvirt_uri=URI, config=conf).start()

    @classmethod
    def tearDownClass(cls):
        cls.sovd.cleanup()

    def scrape(self):
        """{(name, labels): value}, after checking the text's form line by line."""
        r = self.sovd.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8")
        text = r.raw.decode()
        self.assertTrue(text.endswith("\n"))
        samples, typed = {}, {}
        for line in text.splitlines():
            if line.startswith("# HELP "):
                self.assertRegex(line, r"^# HELP [a-z_]+ \S")
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                self.assertIn(kind, ("gauge", "counter"), line)
                self.assertNotIn(name, typed, f"{name} typed twice")
                typed[name] = kind
                continue
            m = SAMPLE.match(line)
            self.assertIsNotNone(m, f"not a sample: {line!r}")
            name, labels, value = m.groups()
            self.assertIn(name, typed, f"{name} sampled before its TYPE")
            if typed[name] == "counter":
                self.assertTrue(name.endswith("_total"), name)
            key = (name, labels or "")
            self.assertNotIn(key, samples, f"{key} twice")
            samples[key] = float(value)
        return samples

    def wait_job(self, job_id, timeout=30):
        return self.sovd.wait_job(job_id, timeout)

    def test_form_and_fixed_figures(self):
        m = self.scrape()
        self.assertEqual(m[("sovd_libvirt_connected", "")], 1)
        self.assertEqual(m[("sovd_policies_loaded", "")], len(self.sovd.get("/v1/policies").json["policies"]))
        self.assertTrue(any(k[0] == "sovd_build_info" for k in m), m)
        self.assertAlmostEqual(m[("sovd_start_time_seconds", "")], time.time(), delta=600)
        vms = self.sovd.get("/v1/vms").json["vms"]
        for state in ("running", "shutoff", "paused"):
            self.assertEqual(m[("sovd_vms", f'{{state="{state}"}}')],
                             len([v for v in vms if v["state"] == state]), state)
        # Every registered kind and state is a series, so a dashboard never misses one.
        for kind in ("snapshot", "backup", "restore", "migrate", "verify"):
            for state in ("queued", "running", "succeeded", "failed", "cancelled"):
                self.assertIn(("sovd_jobs", f'{{kind="{kind}",state="{state}"}}'), m)

    def test_figures_follow_the_api(self):
        before = self.scrape()

        def delta(after, name, labels=""):
            return after.get((name, labels), 0) - before.get((name, labels), 0)

        # Two 404s, one allowed create, one create denied by policy, a snapshot job.
        for _ in range(2):
            self.assertEqual(self.sovd.get("/v1/vms/00000000-0000-4000-8000-000000000000").status, 404)
        r = self.sovd.post("/v1/vms", spec("metrics-ok"))
        self.assertEqual(r.status, 201, r)
        uuid = r.json["uuid"]
        self.assertEqual(self.sovd.post("/v1/vms", spec("metrics-us", pool="us-pool")).status, 403)
        self.assertEqual(self.sovd.post(f"/v1/vms/{uuid}/start").status, 200)
        r = self.sovd.post(f"/v1/vms/{uuid}/snapshots", {"name": "m1", "kind": "full"})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.wait_job(r.json["id"])["state"], "succeeded")

        after = self.scrape()
        self.assertEqual(delta(after, "sovd_http_requests_total", '{code="404"}'), 2)
        self.assertGreaterEqual(delta(after, "sovd_http_requests_total", '{code="201"}'), 1)
        self.assertEqual(delta(after, "sovd_http_requests_total", '{code="403"}'), 1)
        self.assertEqual(delta(after, "sovd_policy_decisions_total", '{outcome="deny"}'), 1)
        # The create, the start, the snapshot: each one decision.
        self.assertEqual(delta(after, "sovd_policy_decisions_total", '{outcome="allow"}'), 3)
        self.assertEqual(delta(after, "sovd_vms_managed"), 1)
        self.assertEqual(delta(after, "sovd_vms", '{state="running"}'), 1)
        self.assertEqual(delta(after, "sovd_jobs", '{kind="snapshot",state="succeeded"}'), 1)
        self.assertGreater(delta(after, "sovd_audit_records"), 0)


if __name__ == "__main__":
    unittest.main()
