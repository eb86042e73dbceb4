# SPDX-License-Identifier: LGPL-2.1-or-later
"""A throwaway PKI for tests, made at run time with GnuTLS's certtool."""
import os
import shutil
import subprocess


def available():
    return shutil.which("certtool") is not None


class Pki:
    def __init__(self, directory, name="Test CA"):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.ca_key = self._key("ca")
        self.ca = self._cert("ca", f'cn = "{name}"\nca\ncert_signing_key\nexpiration_days = 30\n', self_signed=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name):
        key = self.path(name + ".key")
        subprocess.run(["certtool", "--generate-privkey", "--key-type", "ecdsa", "--outfile", key],
                       check=True, capture_output=True)
        os.chmod(key, 0o600)
        return key

    def _cert(self, name, template, self_signed=False):
        tmpl = self.path(name + ".tmpl")
        with open(tmpl, "w") as f:
            f.write(template)
        crt = self.path(name + ".crt")
        if self_signed:
            argv = ["certtool", "--generate-self-signed", "--load-privkey", self.path(name + ".key")]
        else:
            argv = ["certtool", "--generate-certificate", "--load-privkey", self.path(name + ".key"),
                    "--load-ca-certificate", self.ca, "--load-ca-privkey", self.ca_key]
        subprocess.run(argv + ["--template", tmpl, "--outfile", crt], check=True, capture_output=True)
        return crt

    def issue(self, name, cn, dns=(), ips=(), server=False, client=True, extra=""):
        """A certificate for @cn; returns (cert, key) paths."""
        self._key(name)
        t = f'cn = "{cn}"\n' + "".join(f'dns_name = "{d}"\n' for d in dns)
        t += "".join(f'ip_address = "{ip}"\n' for ip in ips)
        t += ("tls_www_server\n" if server else "") + ("tls_www_client\n" if client else "")
        t += extra or "expiration_days = 30\n"
        return self._cert(name, t), self.path(name + ".key")
