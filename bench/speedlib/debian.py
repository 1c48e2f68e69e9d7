"""Programs the benchmarks need from Debian, installed when missing (as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

_SBIN = "/usr/sbin:/usr/local/sbin"  # where Debian puts daemons, often not on a user's PATH


def ensure_program(program: str, package: str, otherwise: str = "") -> str:
    """The path of ``program``; installs Debian's ``package`` when it is missing and we are root.

    Without root it stops with the command to run (and ``otherwise``, another
    way round, if given).
    """
    found = shutil.which(program) or shutil.which(program, path=_SBIN)
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit(f"{program} is missing: install it (sudo apt-get install -y {package}){otherwise}")
    print(f"installing {program}: apt-get install -y {package}", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, env=env)
    found = shutil.which(program) or shutil.which(program, path=_SBIN)
    if not found:
        sys.exit(f"{package} is installed, but no {program} was found")
    return found
