"""Where a figure came from: the exact command, the code (commit and dirty flag), the date,
the machine, the library versions, the seed, the config and the wall time."""

import datetime
import hashlib
import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys

import jax

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")
_SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command_line(argv: list[str] | None = None) -> str:
    """The command as typed, with the interpreter written `python` (`sys.orig_argv`)."""
    argv = list(sys.orig_argv if argv is None else argv)
    return shlex.join(["python", *argv[1:]])


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", _SOURCE, *args], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def code_version() -> dict:
    """The commit natjax was imported from and whether tracked files other than the records
    under `results/` differ from it (both None outside a git checkout, e.g. an installed
    wheel). Records are not code: a benchmark that records again over its earlier records
    changes them before it writes its own."""
    commit = _git("rev-parse", "HEAD")
    code = ("--", ":(top)", ":(top,exclude)results")
    status = _git("status", "--porcelain", "--untracked-files=no", *code) if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """The host's CPU, cores and 1-minute load average when the record was written (above the
    cores, other work shared them), and the devices JAX computes on."""
    device = jax.devices()[0]
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "platform": device.platform,
        "device": device.device_kind,
        "devices": jax.device_count(),
        "processes": jax.process_count(),
    }


def versions() -> dict:
    """Python's and the installed versions of the libraries the figures depend on."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def config_hash(config) -> str | None:
    """SHA-256 (first 16 hex digits) of the config's sorted JSON: equal configs, equal hashes."""
    if config is None:
        return None
    text = config.to_json_best_effort(sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def collect(*, seed=None, config=None, wall_seconds=None, argv=None) -> dict:
    """Everything a record says about how its figures were made."""
    return {
        "command": command_line(argv),
        **code_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "seed": seed,
        "config_hash": config_hash(config),
        "wall_seconds": None if wall_seconds is None else round(wall_seconds, 1),
    }
