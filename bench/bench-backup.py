#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Backup throughput through sovd against raw `virsh backup-begin`, on the
same running guest and the same 1 GiB disk, in the same run.

A private libvirtd + QEMU is started (tests/e2e/libvirt_host.py, never the
machine's own libvirtd); sovd runs against it. The VM's disk is filled with
1 GiB of data (qemu-io, before the guest starts), then rounds alternate:

  sovd:  POST /v1/vms/{uuid}/backups {"mode": "full"} -> 202, then GET
         /v1/jobs/{id} every 10 ms until the job ends. Wall time includes
         the placement decision, the audit records, the SHA-256 of the
         backup file and the manifest: everything sovd adds.
  virsh: `virsh backup-begin` with an equivalent push-mode XML, then
         `virsh domjobinfo --completed` every 10 ms until libvirt reports
         the job completed.

Prints a markdown table (stdout), progress on stderr. Asserts nothing.

Usage (as root, from the source tree, after a Release build):
  python3 bench/bench-backup.py --sovd build-release/sovd [--rounds 5] [--size-gib 1]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests", "e2e"), os.path.join(HERE, "..", "tests", "integration")]

from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def wait_job(sovd, job_id):
    while True:
        j = sovd.get(f"/v1/jobs/{job_id}").json
        if j["state"] not in ("queued", "running"):
            return j
        time.sleep(0.01)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sovd", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--size-gib", type=int, default=1)
    args = ap.parse_args()
    reason = skip_reason()
    if reason:
        log("cannot run:", reason)
        return 2
    os.environ["SOVD_BIN"] = os.path.abspath(args.sovd)
    import sovdtest

    work = tempfile.mkdtemp(prefix="sovd-bench-backup-")
    pool_dir, target_dir, raw_dir = (os.path.join(work, d) for d in ("pool", "backups", "raw"))
    for d in (pool_dir, target_dir, raw_dir):
        os.makedirs(d)
    host = PrivateLibvirtHost("bench-backup", "127.0.0.31")
    sovd = None
    try:
        host.start()
        host.define_dir_pool("default", pool_dir)
        conf = sovdtest.demo_config(backup_targets={
            "bench": {"path": target_dir, "tags": dict(sovdtest.FR_PLACE_TAGS)}})
        sovd = sovdtest.Sovd(libvirt_uri=host.uri, config=conf).start()
        r = sovd.post("/v1/vms", {"name": "bench-vm", "tenant": "bench", "policy": "fr-sovereign", "vcpus": 1,
                                  "memory_mib": 64, "disks": [{"pool": "default", "size_gib": args.size_gib}]})
        assert r.status == 201, r
        vm = r.json
        disk = vm["disks"][0]["path"]
        log(f"filling {disk} with {args.size_gib} GiB of data")
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 0x5a 0 {args.size_gib}G", disk],
                       check=True, capture_output=True)
        assert sovd.post(f"/v1/vms/{vm['uuid']}/start").status == 200
        size = os.path.getsize(disk)

        sovd_times, virsh_times = [], []
        for i in range(args.rounds):
            # sovd
            t0 = time.monotonic()
            r = sovd.post(f"/v1/vms/{vm['uuid']}/backups", {"target": "bench", "mode": "full"})
            assert r.status == 202, r
            while True:
                j = sovd.get(f"/v1/jobs/{r.json['id']}").json
                if j["state"] not in ("queued", "running"):
                    break
                time.sleep(0.01)
            sovd_times.append(time.monotonic() - t0)
            assert j["state"] == "succeeded", j
            shutil.rmtree(os.path.join(target_dir, vm["uuid"]), ignore_errors=True)
            # virsh, same disk, same kind of target file
            out = os.path.join(raw_dir, f"vda-{i}.qcow2")
            xml = os.path.join(work, "backup.xml")
            with open(xml, "w") as f:
                f.write(f"<domainbackup mode='push'><disks><disk name='vda' backup='yes' type='file'>"
                        f"<target file='{out}'/><driver type='qcow2'/></disk></disks></domainbackup>")
            t0 = time.monotonic()
            host.virsh("backup-begin", "bench-vm", xml)
            while True:
                info = host.virsh("domjobinfo", "bench-vm")
                if "None" in info.split("\n")[0] or "Job type:         None" in info:
                    break
                time.sleep(0.01)
            virsh_times.append(time.monotonic() - t0)
            done = host.virsh("domjobinfo", "bench-vm", "--completed")
            assert "Completed" in done, done
            os.unlink(out)
            log(f"round {i + 1}: sovd {sovd_times[-1]:.3f} s, virsh {virsh_times[-1]:.3f} s")

        # Verification of one kept backup: the verify job (read back, SHA-256,
        # audit) against `sha256sum` of the same file, alternating.
        r = sovd.post(f"/v1/vms/{vm['uuid']}/backups", {"target": "bench", "mode": "full"})
        assert r.status == 202, r
        j = wait_job(sovd, r.json["id"])
        assert j["state"] == "succeeded", j
        bid = j["result"]["backup"]
        bfile = os.path.join(target_dir, vm["uuid"], bid, "vda.qcow2")
        bsize = os.path.getsize(bfile)
        verify_times, sum_times = [], []
        for i in range(args.rounds):
            t0 = time.monotonic()
            r = sovd.post(f"/v1/backups/{bid}/verify")
            assert r.status == 202, r
            j = wait_job(sovd, r.json["id"])
            verify_times.append(time.monotonic() - t0)
            assert j["state"] == "succeeded" and j["result"]["ok"], j
            t0 = time.monotonic()
            subprocess.run(["sha256sum", bfile], check=True, capture_output=True)
            sum_times.append(time.monotonic() - t0)
            log(f"verify round {i + 1}: sovd {verify_times[-1]:.3f} s, sha256sum {sum_times[-1]:.3f} s")

        ms = statistics.median(sovd_times)
        mv = statistics.median(virsh_times)
        print(f"| backup of a {args.size_gib} GiB disk ({size / 2**20:.0f} MiB allocated), median of {args.rounds} | seconds | MiB/s |")
        print("| --- | --- | --- |")
        print(f"| raw `virsh backup-begin` + poll domjobinfo | {mv:.3f} | {size / 2**20 / mv:.0f} |")
        print(f"| sovd POST /backups + poll job (incl. SHA-256, manifest, audit) | {ms:.3f} | {size / 2**20 / ms:.0f} |")
        print(f"| sovd over virsh | {100 * (ms - mv) / mv:+.1f} % | |")
        mvf, msum = statistics.median(verify_times), statistics.median(sum_times)
        print()
        print(f"| verification of that backup ({bsize / 2**20:.0f} MiB file, in the page cache), median of {args.rounds} | seconds | MiB/s |")
        print("| --- | --- | --- |")
        print(f"| `sha256sum` (coreutils) | {msum:.3f} | {bsize / 2**20 / msum:.0f} |")
        print(f"| sovd POST /backups/{{id}}/verify + poll job | {mvf:.3f} | {bsize / 2**20 / mvf:.0f} |")
        return 0
    finally:
        if sovd:
            sovd.cleanup()
        host.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
