"""NVIDIA Triton Inference Server: the real ``tritonserver`` shipped in the ``nvidia-pytriton`` wheel (CPU,
python backend) and pointed at a repository built by ``inference.triton_repo``.

The wheel holds the server but not in the layout it expects, so :meth:`TritonService.install` copies it into one:
``server/bin/tritonserver``, and under ``server/backends/python/`` the python backend's library, its utilities
module and the backend stub built for this Python version (the wheel keeps the stubs apart, one per version).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

import httpx

from core.errors import StackError
from inference.model_store import (
    TINY_MODEL_NAME,
    TINY_ZH_MODEL_NAME,
    resolve_serving_model,
    resolve_zh_serving_model,
    serving_onnx_file,
    tiny_model_dir,
    tiny_zh_model_dir,
)
from inference.triton_repo import CpuRepositoryOptions, build_cpu_repository
from localdev.stack.base import LOOPBACK, LocalService

__all__ = ["TritonService"]


def _wheel_root() -> Path:
    try:
        import pytriton
    except ImportError as exc:
        raise StackError("triton", "nvidia-pytriton is not installed (uv sync)") from exc
    return Path(pytriton.__file__).resolve().parent / "tritonserver"


class TritonService(LocalService):
    name = "triton"
    start_timeout_s = 120.0

    @property
    def server_home(self) -> Path:
        return self.home / "server"

    @property
    def repository(self) -> Path:
        """The model repository it serves, all of it: one of its own for the tiny models alone."""
        return self.home / ("models-tiny" if self.settings.triton_tiny_only else "models")

    def install(self) -> None:
        wheel = _wheel_root()
        py = f"{sys.version_info.major}.{sys.version_info.minor}"
        files = {
            wheel / "bin" / "tritonserver": self.server_home / "bin" / "tritonserver",
            wheel / "backends/python/libtriton_python.so": self.server_home / "backends/python/libtriton_python.so",
            wheel / "backends/python/triton_python_backend_utils.py": self.server_home
            / "backends/python/triton_python_backend_utils.py",
            wheel / "python_backend_stubs" / py / "triton_python_backend_stub": self.server_home
            / "backends/python/triton_python_backend_stub",
        }
        cache = wheel / "caches" / "local" / "libtritoncache_local.so"
        if cache.exists():
            files[cache] = self.server_home / "caches/local/libtritoncache_local.so"
        for source, target in files.items():
            if not source.exists():
                raise StackError(self.name, f"{source} missing from the nvidia-pytriton wheel")
            if target.exists() and target.stat().st_size == source.stat().st_size:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
            target.chmod(0o755)

    def stale(self) -> bool:
        """A model to serve changed since the server started: it serves its repository as it was at start."""
        before = self._versions()
        self.prepare()
        return self._versions() != before

    def _versions(self) -> dict[str, list[str]]:
        if not self.repository.exists():
            return {}
        return {m.name: sorted(v.name for v in m.iterdir() if v.name.isdigit()) for m in self.repository.iterdir()}

    def prepare(self) -> None:
        batch = max(64, self.settings.max_batch_size)
        # one thread for the tiny models: a batch takes well under a millisecond, and a second thread's pool spun
        # between the tests' many small batches (the stubs took 220 CPU-seconds of a make test with two, 96 with one)
        tiny = CpuRepositoryOptions(model_name=TINY_MODEL_NAME, max_batch_size=batch, threads=1)
        build_cpu_repository(tiny_model_dir(self.settings), self.repository, tiny)
        tiny_zh = CpuRepositoryOptions(model_name=TINY_ZH_MODEL_NAME, max_batch_size=batch, threads=1)
        build_cpu_repository(tiny_zh_model_dir(self.settings), self.repository, tiny_zh)
        if self.settings.triton_tiny_only:
            return
        served = resolve_serving_model(self.settings)
        options = CpuRepositoryOptions(
            model_name="sentiment", max_batch_size=batch, onnx_file=serving_onnx_file(served)
        )
        build_cpu_repository(served, self.repository, options)
        zh = resolve_zh_serving_model(self.settings)
        zh_options = CpuRepositoryOptions(
            model_name="sentiment_zh", max_batch_size=batch, onnx_file=serving_onnx_file(zh)
        )
        build_cpu_repository(zh, self.repository, zh_options)

    def env(self) -> dict[str, str]:
        site = Path(sysconfig.get_paths()["purelib"])
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        venv_bin = str(Path(sys.executable).parent)
        return {
            # the interpreter's own libpython first, or the stub may load a different 3.11 (see the notes)
            "LD_LIBRARY_PATH": f"{libdir}:{site / 'nvidia_pytriton.libs'}:{os.environ.get('LD_LIBRARY_PATH', '')}",
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
        }

    def argv(self) -> list[str]:
        return [
            str(self.server_home / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--backend-directory={self.server_home / 'backends'}",
            f"--cache-directory={self.server_home / 'caches'}",
            # tritonserver binds 0.0.0.0 unless told otherwise; its HTTP API can load and unload models
            f"--http-address={LOOPBACK}",
            f"--http-port={self.settings.triton_http_port}",
            f"--grpc-address={LOOPBACK}",
            f"--grpc-port={self.settings.triton_grpc_port}",
            f"--metrics-address={LOOPBACK}",
            f"--metrics-port={self.settings.triton_metrics_port}",
            "--log-verbose=0",
            "--exit-on-error=true",
        ]

    def probe(self) -> bool:
        url = f"http://{self.settings.triton_http_url}/v2/health/ready"
        return httpx.get(url, timeout=2.0).status_code == 200

    def restart(self) -> None:
        """Serve a newly exported model: rebuild the repository and restart the server we started."""
        if self.process.pid() is not None:
            self.down()
        self.up()

    def detail(self) -> str:
        s = self.settings
        models = f"{TINY_MODEL_NAME}, {TINY_ZH_MODEL_NAME}"
        models = models if s.triton_tiny_only else f"sentiment, sentiment_zh, {models}"
        return f"grpc {s.triton_grpc_url}, http {s.triton_http_url}, models {models}"
