"""The hybrid-files directory apigeectl runs from: the files an overrides file names by relative
paths (`./certs/...`, `./service-accounts/...`), generated as sandbox placeholders.

The certificate is a self-signed placeholder for the virtual host; the service-account files
hold no key (the sandbox talks to no Google API)."""
import json
import subprocess
from pathlib import Path

from . import apigeectl


def populate(directory: Path, overrides: Path) -> list[Path]:
    """Creates, under `directory`, every file `overrides` names that is not there yet."""
    doc = apigeectl.read_overrides(str(overrides))
    made = []
    for rel in apigeectl.referenced_files(doc):
        f = (directory / rel).resolve()
        if f.exists():
            continue
        f.parent.mkdir(parents=True, exist_ok=True)
        if f.suffix == ".json":
            f.write_text(json.dumps({"type": "service_account", "project_id": str((doc.get("gcp") or {}).get("projectID", "sandbox")),
                                     "client_email": f"{f.stem}@sandbox.invalid",
                                     "note": "sandbox placeholder: no key, never sent anywhere"}, indent=2) + "\n")
        elif f.suffix in (".pem", ".crt", ".key"):
            key, crt = f.with_suffix(".key"), f.with_suffix(".pem") if f.suffix != ".crt" else f
            if not (key.exists() and crt.exists()):
                subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
                                "-days", "3650", "-subj", "/CN=sandbox-group.sandbox.invalid"], check=True, capture_output=True)
                key.chmod(0o600)
        else:
            f.write_text("sandbox placeholder\n")
        made.append(f)
    return made
