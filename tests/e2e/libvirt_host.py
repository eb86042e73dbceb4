# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private libvirt host for end-to-end tests.

Follows the recipe in DESIGN.md ("Two libvirt hosts on one machine"): a
mount + UTS namespace with private directories bind-mounted over
/etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
/var/cache/libvirt, its own hostname, and its own virtlogd + libvirtd
listening on an address of its own: a loopback address (the recipe's
simpler variant), or, for migrations, an address in a network namespace of
its own (the full variant; see private_network.py). The machine's own
libvirt (configuration, state, daemons) is never touched.

How the namespace is kept:
  A "holder" process (`unshare --mount --uts --propagation private sh -c
  ...`) makes the mounts, sets the hostname, prints "ready" and then blocks
  reading its stdin, a pipe whose only writer is this Python process. The
  daemons are started inside the holder's namespaces with `nsenter -t PID -m
  -u`. When the pipe closes -- on stop(), or because the test process died,
  even by SIGKILL -- the holder kills every process left in its mount
  namespace and removes the host's directory, so nothing outlives the test.

Clients outside the namespace reach libvirtd through the host path of its
Unix socket: `uri` is `qemu+unix:///system?socket=<base>/run/libvirt-sock`.
Paths *inside* the namespace (pid files, qemu.conf, libvirtd.conf) use the
standard locations, since the private directories are mounted there.

Each test file gives its hosts loopback addresses of their own (ports and
port ranges derive from the address), so test files can run in parallel:
127.0.0.21 test_vm_lifecycle, 127.0.0.31-32 test_private_host.

Debugging: SOVD_E2E_KEEP=1 keeps each host's directory (configs, daemon and
guest logs under log/); SOVD_E2E_LIBVIRT_LOG_LEVEL=1 makes libvirt log debug.

Only Python 3 stdlib is used.
"""
import atexit
import glob
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

# Daemons get a clean, predictable environment (the recipe: hook error text
# and libvirt's own messages do not depend on the caller's locale or env).
DAEMON_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DAEMON_ENV = ["env", "-i", "PATH=" + DAEMON_PATH, "HOME=/root", "LC_ALL=C"]

# Mount points inside the namespace -> name of the private directory under
# the host's base directory. /run is handled separately (see HOLDER_SCRIPT).
PRIVATE_DIRS = {
    "/etc/libvirt": "etc",
    "/run/libvirt": "run",
    "/var/lib/libvirt": "lib",
    "/var/log/libvirt": "log",
    "/var/cache/libvirt": "cache",
}

REQUIRED_TOOLS = ["qemu-system-x86_64", "qemu-img", "libvirtd", "virtlogd", "virsh",
                  "unshare", "nsenter", "setsid", "mount", "hostname"]

# Run by the holder under `unshare`. $1 = base dir, $2 = hostname.
# - A tmpfs goes over /run first: the system may have no /run/libvirt to bind
#   onto (creating one would change the machine), and hiding /run/systemd and
#   /run/dbus keeps libvirt from trying machined/polkit/firewalld there.
# - `mount -n`: otherwise libmount creates /run/mount (its utab lock) on the
#   machine's /run before the tmpfs covers it.
# - After "ready", stdout goes to a file: the harness stops reading the pipe,
#   and a write to it later would kill the shell with SIGPIPE mid-cleanup.
# - The harness's pipe (stdin) moves to fd 3 so that what the shell runs gets
#   /dev/null. stop() kills the daemons itself and then writes "done"; EOF
#   without "done" means the harness died, and then everything still in this
#   mount namespace is killed here (TERM, then KILL after 5 s).
# - Namespace members are found with one `ls -l /proc/*/ns/mnt` parsed by
#   shell builtins: a readlink per process costs seconds on slow-fork VMs.
HOLDER_SCRIPT = r'''
set -eu
B=$1
mount -n -t tmpfs -o mode=0755,size=64m sovd-e2e-run /run
mkdir -p /run/libvirt /run/lock
mount -n --bind "$B/run" /run/libvirt
mount -n --bind "$B/etc" /etc/libvirt
mount -n --bind "$B/lib" /var/lib/libvirt
mount -n --bind "$B/log" /var/log/libvirt
mount -n --bind "$B/cache" /var/cache/libvirt
hostname "$2"
echo ready
exec 3<&0 </dev/null >>"$B/log/holder.log" 2>&1
msg=
read -r msg <&3 || true
exec 3<&-
[ "$msg" = done ] && exit 0
set +e
me=$(ls -l /proc/$$/ns/mnt)
me=${me##* -> }
others() {
    ls -l /proc/[0-9]*/ns/mnt 2>/dev/null | while read -r line; do
        case $line in
        *" -> $me") p=${line#*/proc/}; p=${p%%/*}; [ "$p" = "$$" ] || echo "$p" ;;
        esac
    done
}
# The list also holds the (already gone) pids of the listing pipeline itself.
left=$(others)
echo "holder: harness gone, killing" $left
kill -TERM $left 2>/dev/null
# Alive = not gone and not a zombie (init reaps those in its own time).
alive() {
    for p in $left; do
        while read -r k v _; do
            [ "$k" = State: ] || continue
            [ "$v" = Z ] || return 0
            break
        done </proc/"$p"/status
    done 2>/dev/null
    return 1
}
i=0
while [ $i -lt 50 ] && alive; do sleep 0.1; i=$((i+1)); done
kill -KILL $left 2>/dev/null
[ "${SOVD_E2E_KEEP:-0}" = 1 ] || rm -rf "$B"
exit 0
'''

_live_hosts = []

# libvirtd probes every QEMU binary it finds (qemu-system-x86_64, -i386) the
# first time capabilities are needed: ~8 s under TCG on 2 cores, paid by
# every fresh private host. Hosts share their probe results through this
# directory; libvirtd itself checks a cached entry against the binaries'
# ctimes, its own version and the host CPU, and re-probes when stale.
# SOVD_E2E_CAPS_CACHE="" disables it.
CAPS_CACHE = os.environ.get("SOVD_E2E_CAPS_CACHE",
                            os.path.join(tempfile.gettempdir(), "sovd-e2e-qemu-caps"))


def skip_reason():
    """Why the e2e tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "e2e tests need root (mount namespaces, a private libvirtd)"
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t, path=DAEMON_PATH) is None]
    if missing:
        return "e2e tests need " + ", ".join(missing)
    # Without libvirt-daemon-system's QEMU driver module libvirtd has no qemu:// driver.
    if not glob.glob("/usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so") and \
            not glob.glob("/usr/lib*/libvirt/connection-driver/libvirt_driver_qemu.so"):
        return "e2e tests need libvirt's QEMU driver (libvirt-daemon-system)"
    # Root in a container may still lack CAP_SYS_ADMIN for namespaces.
    try:
        r = subprocess.run(["unshare", "--mount", "--uts", "true"],
                           capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"e2e tests cannot create namespaces: {e}"
    if r.returncode != 0:
        return "e2e tests cannot create namespaces: " + r.stderr.strip()
    return None


def _pid_alive(pid):
    """True when @pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("State:"):
                    return line.split()[1] != "Z"
    except OSError:
        return False
    return False


def _wait_gone(pids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return not any(_pid_alive(p) for p in pids)


def _kill(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def _tail(path, nbytes=4000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - nbytes))
            return f.read().decode(errors="replace")
    except OSError as e:
        return f"<{path}: {e}>"


class PrivateLibvirtHost:
    """One private libvirt host: namespace holder + virtlogd + libvirtd.

    @name becomes the hostname inside the namespace; @address is a loopback
    address other than 127.0.0.1 (libvirt refuses that one for migration),
    e.g. 127.0.0.11. Ports are derived from the address's last octet so two
    hosts with different addresses never collide; pass @port to override.

    With @netns (a network namespace of private_network.PrivateNetwork),
    the host lives in that network namespace too and @address is its
    address there: the recipe's full variant, for migrations between hosts
    that libvirt sees as remote.
    """

    def __init__(self, name, address, port=None, netns=None):
        parts = address.split(".")
        if len(parts) != 4 or (netns is None and (parts[0] != "127" or address == "127.0.0.1")):
            raise ValueError(f"address must be a loopback address other than 127.0.0.1: {address}")
        self.netns = netns
        octet = int(parts[3])
        slot = octet % 64
        self.name = name
        self.address = address
        self.port = port or 16600 + octet
        self.migration_ports = (49152 + slot * 16, 49152 + slot * 16 + 15)
        self.display_ports = (5900 + slot * 16, 5900 + slot * 16 + 15)
        self.host_uuid = str(uuid.uuid4())
        self.base = None
        self.holder = None
        self._mnt_ns = None
        self.libvirtd_start_seconds = None

    # -- paths -------------------------------------------------------------
    def _dir(self, inner):
        """Host path of the private directory mounted at @inner."""
        return os.path.join(self.base, PRIVATE_DIRS[inner])

    @property
    def etc_dir(self):
        return self._dir("/etc/libvirt")

    @property
    def run_dir(self):
        return self._dir("/run/libvirt")

    @property
    def log_dir(self):
        return self._dir("/var/log/libvirt")

    @property
    def lib_dir(self):
        return self._dir("/var/lib/libvirt")

    @property
    def socket_path(self):
        return os.path.join(self.run_dir, "libvirt-sock")

    @property
    def uri(self):
        """URI for clients outside the namespace (sovd, virsh)."""
        return f"qemu+unix:///system?socket={self.socket_path}"

    @property
    def tcp_uri(self):
        return f"qemu+tcp://{self.address}:{self.port}/system"

    @property
    def libvirtd_log(self):
        return os.path.join(self.log_dir, "libvirtd.log")

    def qemu_log(self, domain):
        return os.path.join(self.log_dir, "qemu", domain + ".log")

    # -- configuration -----------------------------------------------------
    def _write_config(self):
        level = os.environ.get("SOVD_E2E_LIBVIRT_LOG_LEVEL", "3")
        # auth "none" on the Unix sockets: the default may be polkit, and
        # there is no polkit/D-Bus for a private daemon to ask.
        libvirtd_conf = f'''\
listen_tls = 0
listen_tcp = 1
listen_addr = "{self.address}"
tcp_port = "{self.port}"
auth_tcp = "none"
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
unix_sock_rw_perms = "0770"
host_uuid = "{self.host_uuid}"
log_outputs = "{level}:file:/var/log/libvirt/libvirtd.log"
'''
        if level == "1":
            # Debug without the event loop's and RPC's noise.
            libvirtd_conf += 'log_filters = "3:event 3:object 3:json 3:rpc 3:util.threadjob"\n'
        # cgroup_controllers = [] and security_driver = "none": no systemd to
        # hand out cgroups, no AppArmor profile for a private daemon.
        # namespaces = []: by default each QEMU gets a mount namespace of its
        # own, and then QEMU is not found (nor killed) as a member of this
        # host's namespace. Distinct migration/display port ranges keep two
        # hosts' QEMUs apart.
        qemu_conf = f'''\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
migration_address = "{self.address}"
migration_host = "{self.address}"
migration_port_min = {self.migration_ports[0]}
migration_port_max = {self.migration_ports[1]}
remote_display_port_min = {self.display_ports[0]}
remote_display_port_max = {self.display_ports[1]}
vnc_listen = "{self.address}"
spice_listen = "{self.address}"
'''
        virtlogd_conf = f'log_outputs = "{level}:file:/var/log/libvirt/virtlogd.log"\n'
        for fname, text in (("libvirtd.conf", libvirtd_conf), ("qemu.conf", qemu_conf),
                            ("virtlogd.conf", virtlogd_conf)):
            with open(os.path.join(self.etc_dir, fname), "w") as f:
                f.write(text)

    def install_hook(self, script_path):
        """Installs @script_path as the QEMU hook. libvirtd reads hooks at
        startup, so this must come before start() (or start_libvirtd())."""
        if self.base is None:
            self._make_dirs()
        elif self.libvirtd_pid:
            raise RuntimeError("install_hook() while libvirtd runs: it would not see the hook")
        hooks = os.path.join(self.etc_dir, "hooks")
        os.makedirs(hooks, exist_ok=True)
        dest = os.path.join(hooks, "qemu")
        shutil.copyfile(script_path, dest)
        os.chmod(dest, 0o755)

    def install_sovd_hook(self, hook_bin, sovd_socket):
        """Installs, as contrib/libvirt-hook-qemu does, a wrapper that runs
        @hook_bin (sovd-hook, an absolute path: libvirtd runs hooks from its
        own directory) against the sovd listening on @sovd_socket. Before
        start(), as install_hook()."""
        script = ("#!/bin/sh\n"
                  f"exec {shlex.quote(hook_bin)} --socket {shlex.quote(sovd_socket)} --timeout-ms 5000 -- \"$@\"\n")
        with tempfile.NamedTemporaryFile("w", suffix="-hook", delete=False) as f:
            f.write(script)
        try:
            self.install_hook(f.name)
        finally:
            os.unlink(f.name)

    def _make_dirs(self):
        self.base = tempfile.mkdtemp(prefix=f"sovd-e2e-{self.name}-")
        for sub in PRIVATE_DIRS.values():
            os.makedirs(os.path.join(self.base, sub))
        # libvirt creates the log dir for QEMU with mode 0700 otherwise;
        # creating it here keeps the guest logs readable to a test.
        os.makedirs(os.path.join(self.log_dir, "qemu"))
        self._copy_caps(CAPS_CACHE, self._caps_dir())

    def _caps_dir(self):
        return os.path.join(self.base, PRIVATE_DIRS["/var/cache/libvirt"], "qemu", "capabilities")

    @staticmethod
    def _copy_caps(src, dst):
        """Copies QEMU capability cache entries from @src to @dst where @dst
        has none or an older one (a re-probe after a QEMU upgrade replaces
        the shared entry). Each lands under a temporary name first, so
        concurrent test processes never see half a file."""
        if not CAPS_CACHE or not os.path.isdir(src):
            return
        os.makedirs(dst, mode=0o700, exist_ok=True)
        for path in glob.glob(os.path.join(src, "*.xml")):
            dest = os.path.join(dst, os.path.basename(path))
            try:
                if os.path.exists(dest) and os.path.getmtime(dest) >= os.path.getmtime(path):
                    continue
                tmp = f"{dest}.{os.getpid()}.tmp"
                shutil.copy2(path, tmp)  # copy2 keeps the mtime compared above
                os.replace(tmp, dest)
            except OSError:
                pass  # a cache: at worst libvirtd probes again

    # -- lifecycle ---------------------------------------------------------
    def start(self, timeout=60):
        """Creates the namespace and starts virtlogd and libvirtd.

        Returns once libvirtd answers on its socket. On failure everything is
        torn down and RuntimeError carries the daemons' logs."""
        if self.holder is not None:
            raise RuntimeError(f"host {self.name} already started")
        if self.base is None:
            self._make_dirs()
        self._write_config()
        _live_hosts.append(self)
        try:
            self._start_holder()
            self._start_daemon(["virtlogd", "-d", "-p", "/run/libvirt/virtlogd.pid"],
                               "virtlogd")
            self._wait_for(lambda: os.path.exists(os.path.join(self.run_dir, "virtlogd-sock")),
                           15, "virtlogd socket", os.path.join(self.log_dir, "virtlogd.log"))
            self.start_libvirtd(timeout=timeout)
            # Pay for the QEMU probe here, within our own timeout, rather
            # than in the first client's (sovd's readiness wait): ~0.1 s with
            # CAPS_CACHE warm, ~8 s cold on 2 cores.
            self.virsh("capabilities", timeout=180)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_holder(self):
        # The holder's stdin is the pipe it blocks on; Popen's pipe ends are
        # non-inheritable, so no other child of ours (sovd, the daemons)
        # keeps it open and EOF arrives exactly when we close it or die.
        env = {"PATH": DAEMON_PATH, "LC_ALL": "C"}
        if os.environ.get("SOVD_E2E_KEEP") == "1":
            env["SOVD_E2E_KEEP"] = "1"
        in_netns = ["ip", "netns", "exec", self.netns] if self.netns else []
        self.holder = subprocess.Popen(
            in_netns + ["unshare", "--mount", "--uts", "--propagation", "private",
                        "sh", "-c", HOLDER_SCRIPT, "holder", self.base, self.name],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        line = self.holder.stdout.readline().decode(errors="replace").strip()
        if line != "ready":
            rest = self.holder.stdout.read().decode(errors="replace")
            self.holder.wait(5)
            raise RuntimeError(f"namespace holder for {self.name} failed: {line}\n{rest}")
        self.holder.stdout.close()
        self._mnt_ns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")

    def _nsenter(self, argv):
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-u"] + (["-n"] if self.netns else []) + ["--"] + argv

    def _start_daemon(self, argv, label):
        """Runs a self-daemonizing daemon (-d) inside the namespace, detached
        from our session (setsid) with a clean environment."""
        out = os.path.join(self.log_dir, label + ".stderr")
        with open(out, "ab") as f:
            r = subprocess.run(self._nsenter(["setsid"] + DAEMON_ENV + argv),
                               stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"{label} on {self.name} exited {r.returncode}:\n{_tail(out)}\n"
                               f"log:\n{_tail(os.path.join(self.log_dir, label + '.log'))}")

    def _wait_for(self, cond, timeout, what, log):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: timed out after {timeout}s waiting for {what}\n"
                           f"--- {log}:\n{_tail(log)}")

    def _read_pid(self, fname):
        try:
            with open(os.path.join(self.run_dir, fname)) as f:
                pid = int(f.read().strip() or 0)
        except (OSError, ValueError):
            return None
        if pid and self._in_namespace(pid):
            return pid
        return None

    def _in_namespace(self, pid):
        try:
            return os.readlink(f"/proc/{pid}/ns/mnt") == self._mnt_ns and _pid_alive(pid)
        except OSError:
            return False

    @property
    def libvirtd_pid(self):
        return self._read_pid("libvirtd.pid")

    def processes(self):
        """Pids of the live processes in this host's namespace, holder excluded."""
        if self._mnt_ns is None:
            return []
        pids = []
        for d in glob.glob("/proc/[0-9]*"):
            pid = int(d[6:])
            if pid != getattr(self.holder, "pid", None) and self._in_namespace(pid):
                pids.append(pid)
        return pids

    def libvirtd_ready(self):
        if not os.path.exists(self.socket_path):
            return False
        try:
            # Connecting proves more than the socket file: libvirtd accepts
            # clients only once its drivers are initialised.
            return self.virsh_result("uri", timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start_libvirtd(self, timeout=60):
        """Starts libvirtd (again), with the same configuration, and waits
        until it accepts connections."""
        if self.libvirtd_pid:
            raise RuntimeError(f"libvirtd already running on {self.name}")
        t0 = time.monotonic()
        self._start_daemon(["libvirtd", "-d", "-l", "-p", "/run/libvirt/libvirtd.pid"],
                           "libvirtd")
        self._wait_for(self.libvirtd_ready, timeout, "libvirtd to accept connections",
                       self.libvirtd_log)
        self.libvirtd_start_seconds = time.monotonic() - t0

    def kill_libvirtd(self, timeout=10):
        """SIGKILLs libvirtd only (QEMU and virtlogd keep running), as a crash would."""
        pid = self.libvirtd_pid
        if not pid:
            raise RuntimeError(f"libvirtd is not running on {self.name}")
        os.kill(pid, signal.SIGKILL)
        if not _wait_gone([pid], timeout):
            raise RuntimeError(f"libvirtd {pid} survived SIGKILL")

    def stop(self):
        """Stops everything in the namespace, unmounts, removes the temp dirs.
        Safe to call twice and after a failed start."""
        if self in _live_hosts:
            _live_hosts.remove(self)
        if self.holder is not None:
            # libvirtd first, so it does not react to its guests dying.
            pid = self.libvirtd_pid
            if pid:
                _kill([pid], signal.SIGTERM)
                if not _wait_gone([pid], 10):
                    _kill([pid], signal.SIGKILL)
                    _wait_gone([pid], 5)
            rest = self.processes()
            _kill(rest, signal.SIGTERM)
            if not _wait_gone(rest, 5):
                _kill(rest, signal.SIGKILL)
                _wait_gone(rest, 5)
            # Closing the pipe lets the holder exit; the namespace and its
            # mounts go with the last process in it.
            if self.holder.stdin and not self.holder.stdin.closed:
                try:
                    self.holder.stdin.write(b"done\n")
                    self.holder.stdin.close()
                except BrokenPipeError:
                    pass
            try:
                self.holder.wait(15)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait()
            self.holder = None
        if self.base:
            self._copy_caps(self._caps_dir(), CAPS_CACHE)
        if self.base and os.environ.get("SOVD_E2E_KEEP") != "1":
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- client helpers ----------------------------------------------------
    @staticmethod
    def _client_env():
        env = dict(os.environ)
        env["LC_ALL"] = "C"
        env.pop("LIBVIRT_DEFAULT_URI", None)
        return env

    def virsh_result(self, *args, timeout=60):
        """Runs `virsh -q -c uri ARGS...`; returns the CompletedProcess (text)."""
        argv = ["virsh", "-q", "-c", self.uri] + [str(a) for a in args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=self._client_env())

    def virsh(self, *args, timeout=60):
        """Runs `virsh -q -c uri ARGS...`; returns its stdout, stripped.
        Raises RuntimeError with virsh's stderr when it fails."""
        r = self.virsh_result(*args, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{shlex.join(r.args)} failed ({r.returncode}): "
                               f"{r.stderr.strip()}")
        return r.stdout.strip()

    def define_dir_pool(self, name, path):
        """Defines, builds, starts and autostarts a directory pool at @path
        (a path on the machine, the same inside and outside the namespace)."""
        self.virsh("pool-define-as", name, "dir", "--target", path)
        self.virsh("pool-build", name)
        self.virsh("pool-start", name)
        self.virsh("pool-autostart", name)

    def logs(self):
        """The daemons' logs, for failure messages."""
        out = []
        for fname in ("libvirtd.stderr", "libvirtd.log", "virtlogd.stderr", "virtlogd.log"):
            p = os.path.join(self.log_dir, fname) if self.base else None
            if p and os.path.exists(p):
                out.append(f"--- {self.name}:{fname}\n{_tail(p)}")
        return "\n".join(out)


@atexit.register
def _stop_all():
    for host in list(_live_hosts):
        host.stop()
