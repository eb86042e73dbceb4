#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live-migration wall time of one guest through sovd against raw
`virsh migrate`, in the same run, between two private libvirt hosts
(tests/e2e/libvirt_host.py; never the machine's own libvirtd).

Each host has its own sovd; they trust each other over mutual TLS (a test
CA made at run time). The guest goes A -> B and back, alternating how:

  sovd:  POST /v1/vms/{uuid}/migrate {"peer": "b"} to A's agent, then
         GET /v1/jobs/{id} every 10 ms until the job ends. Includes the
         peer's GET /v1/host over mutual TLS, the decision and its audit
         record, the destination XML, the job's records.
  virsh: `virsh migrate --live --p2p --persistent --undefinesource --unsafe`
         to the same destination URI, same flags as sovd passes.

Only A -> B trips are measured; the way back is virsh, unmeasured.
Prints a markdown table (stdout), progress on stderr. Asserts nothing.

Usage (as root, from the source tree, after a Release build):
  python3 bench/bench-migrate.py --sovd build-release/sovd [--rounds 5] [--memory-mib 512]
"""
import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests", "e2e"), os.path.join(HERE, "..", "tests", "integration")]

from libvirt_host import PrivateLibvirtHost, skip_reason  # noqa: E402

A_ADDRESS, B_ADDRESS = "127.0.0.33", "127.0.0.34"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def free_port(address):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sovd", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--memory-mib", type=int, default=512)
    args = ap.parse_args()
    reason = skip_reason()
    if reason:
        log("cannot run:", reason)
        return 2
    os.environ["SOVD_BIN"] = os.path.abspath(args.sovd)
    import pki
    import sovdtest

    work = tempfile.mkdtemp(prefix="sovd-bench-mig-")
    pool_dir = os.path.join(work, "pool")
    os.mkdir(pool_dir)
    hosts, agents = [], []
    try:
        a, b = PrivateLibvirtHost("bench-mig-a", A_ADDRESS), PrivateLibvirtHost("bench-mig-b", B_ADDRESS)
        hosts += [a, b]
        for h in hosts:
            h.start()
            h.define_dir_pool("fr-pool", pool_dir)
        ca = pki.Pki(os.path.join(work, "pki"))
        a_cert, a_key = ca.issue("agent-a", "agent-a", dns=["agent-a.example"], ips=[A_ADDRESS], server=True)
        b_cert, b_key = ca.issue("agent-b", "agent-b", dns=["agent-b.example"], ips=[B_ADDRESS], server=True)
        pools = {"fr-pool": {"tags": dict(sovdtest.FR_PLACE_TAGS)}}
        port_b = free_port(B_ADDRESS)
        sb = sovdtest.Sovd(libvirt_uri=b.uri, config=sovdtest.demo_config(
            storage_pools=pools, tls={"cert": b_cert, "key": b_key, "ca": ca.ca, "roles": {"agent-a": "reader"}},
            migration_uri=b.tcp_uri, migration_data_uri=f"tcp://{B_ADDRESS}"),
            extra_args=["--listen", f"tcp:{B_ADDRESS}:{port_b}"])
        agents.append(sb)
        sb.start(timeout=60)
        sa = sovdtest.Sovd(libvirt_uri=a.uri, config=sovdtest.demo_config(
            storage_pools=pools, tls={"cert": a_cert, "key": a_key, "ca": ca.ca},
            peers={"b": {"url": f"https://{B_ADDRESS}:{port_b}", "subject": "agent-b.example"}},
            migration_shared_storage=True))
        agents.append(sa)
        sa.start(timeout=60)

        r = sa.post("/v1/vms", {"name": "bench-mig", "tenant": "bench", "policy": "fr-sovereign", "vcpus": 1,
                                "memory_mib": args.memory_mib, "disks": [{"pool": "fr-pool", "size_gib": 1}]})
        assert r.status == 201, r
        uuid = r.json["uuid"]
        assert sa.post(f"/v1/vms/{uuid}/start").status == 200
        for h in hosts:  # the disk was made through A; B learns of it
            h.virsh("pool-refresh", "fr-pool")

        def virsh_migrate(src, dst, dst_address):
            src.virsh("migrate", "--live", "--p2p", "--persistent", "--undefinesource", "--unsafe",
                      "bench-mig", dst.tcp_uri, f"tcp://{dst_address}", timeout=300)

        sovd_times, virsh_times = [], []
        for i in range(args.rounds):
            t0 = time.monotonic()
            r = sa.post(f"/v1/vms/{uuid}/migrate", {"peer": "b"})
            assert r.status == 202, r
            while True:
                j = sa.get(f"/v1/jobs/{r.json['id']}").json
                if j["state"] not in ("queued", "running"):
                    break
                time.sleep(0.01)
            sovd_times.append(time.monotonic() - t0)
            assert j["state"] == "succeeded", j
            virsh_migrate(b, a, A_ADDRESS)
            t0 = time.monotonic()
            virsh_migrate(a, b, B_ADDRESS)
            virsh_times.append(time.monotonic() - t0)
            virsh_migrate(b, a, A_ADDRESS)
            log(f"round {i + 1}: sovd {sovd_times[-1]:.3f} s, virsh {virsh_times[-1]:.3f} s")

        ms, mv = statistics.median(sovd_times), statistics.median(virsh_times)
        print(f"| live migration A -> B, {args.memory_mib} MiB guest, median of {args.rounds} | seconds |")
        print("| --- | --- |")
        print(f"| raw `virsh migrate --live --p2p` | {mv:.3f} |")
        print(f"| sovd POST /migrate + poll job (peer check over mTLS, decision, audit) | {ms:.3f} |")
        print(f"| sovd over virsh | {100 * (ms - mv) / mv:+.1f} % |")
        return 0
    finally:
        for s in agents:
            s.cleanup()
        for h in hosts:
            h.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
