"""Certificates with openssl: control-plane PKI and Cassandra internode TLS issued from a CA."""
import subprocess
import tempfile
from pathlib import Path


def _run(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(key: Path, crt: Path, cn: str) -> None:
    key.parent.mkdir(parents=True, exist_ok=True)
    _run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "3650", "-subj", f"/CN={cn}",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    key.chmod(0o600)


def issue(ca_key: Path, ca_crt: Path, key: Path, crt: Path, cn: str, org: str | None = None,
          ips: tuple[str, ...] = (), dns: tuple[str, ...] = (), client: bool = False, server: bool = False) -> None:
    """A leaf certificate signed by the CA."""
    key.parent.mkdir(parents=True, exist_ok=True)
    subj = f"/CN={cn}" + (f"/O={org}" if org else "")
    usages = ",".join(u for u, on in (("serverAuth", server), ("clientAuth", client)) if on)
    sans = ",".join([f"IP:{i}" for i in ips] + [f"DNS:{d}" for d in dns])
    with tempfile.TemporaryDirectory() as tmp:
        ext = Path(tmp) / "ext.cnf"
        lines = ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature,keyEncipherment"]
        if usages:
            lines.append(f"extendedKeyUsage={usages}")
        if sans:
            lines.append(f"subjectAltName={sans}")
        ext.write_text("\n".join(lines) + "\n")
        csr = Path(tmp) / "req.csr"
        _run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", subj)
        _run("x509", "-req", "-in", str(csr), "-CA", str(ca_crt), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(crt), "-days", "3650", "-extfile", str(ext))
    key.chmod(0o600)


def make_rsa_keypair(private: Path, public: Path) -> None:
    _run("genrsa", "-out", str(private), "2048")
    _run("rsa", "-in", str(private), "-pubout", "-out", str(public))
    private.chmod(0o600)
