# -*- coding: utf-8 -*-
"""build_zip.sh, end to end: what each runtime's zip holds, that it imports on that runtime, that it is reproducible.

Marked ``zip`` (select with ``-m zip``, leave out with ``-m "not zip"``). The builds run in a scratch copy of
the repository, with decoy files that must stay out of the zip (a stray ``scratch.py`` at the root, notes and
an unlisted module in ``cos2oms/``...), and share the repository's wheel cache (build/cache): the first run
downloads the wheels, later runs make no network request.

A zip holds exactly the function's files (packaging/manifest.txt, which must match ``git ls-files``) plus the
packages vendored at the versions packaging/constraints-<runtime>.txt pins: the audit's OBS SDK in every zip, and
from python3.7 on requirements.txt's packages too (SCF's Python 3.6 runtime has those built in).

Each zip is run on its own interpreter: pyenv's 3.7 to 3.12, and .venv36 (the emulated SCF Python 3.6 runtime).
A missing one skips those tests, naming it, on a developer's machine; with REQUIRE_ALL_RUNTIMES=1 (which .ci/run
exports) it is a failure, so CI cannot pass without running every zip.
"""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from local.unzip import unzip_as_unzip
from tests.support import TASK

pytestmark = pytest.mark.zip

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNTIMES = ["python3.6", "python3.7", "python3.9", "python3.10", "python3.11", "python3.12"]
VENDORING = [r for r in RUNTIMES if r != "python3.6"]
# Top-level names every zip from 3.7 on must hold: requirements.txt and its dependencies, and the audit's OBS SDK.
VENDORED = ["qcloud_cos", "requests", "urllib3", "crcmod", "Crypto", "six", "xmltodict", "idna", "certifi",
            "charset_normalizer", "obs"]
# The 3.6 zip: the audit's OBS SDK (esdk-obs-python) and what it needs beyond SCF's built-in packages, only.
VENDORED_36 = ["obs", "Crypto"]
# SCF's Python 3.6 runtime has these built in: its zip must not shadow them.
BUILT_IN_36 = ["qcloud_cos", "qcloud_cos_v5", "requests", "urllib3", "idna", "chardet", "certifi", "six",
               "dicttoxml"]
DIST_INFO = re.compile(r"^[A-Za-z0-9_.]+-[^/-]+\.dist-info$")
# The function's files: these top-level modules, and the cos2oms package's tracked modules.
TOP_LEVEL_MODULES = ["index.py", "replay.py", "audit.py", "signer.py"]
MANIFEST = REPO_ROOT / "packaging" / "manifest.txt"
# Files planted in the scratch copy; none may reach the zip.
DECOYS = ["scratch.py", "cos2oms/scratch_notes.txt", "cos2oms/notes.txt", "cos2oms/scratch.py",
          "cos2oms/__pycache__/handler.cpython-311.pyc", "cos2oms/sub/decoy.py", "setup.py",
          "local/decoy.py", "bench/decoy.py", ".ci/decoy.py", ".decoy.py", "conftest.py", "tests/decoy_test.py",
          "__pycache__/index.cpython-311.pyc", "packaging/decoy.py", "dist/stale.py", ".env"]
DECOY_TEXT = "raise SystemExit('decoy: must not be in the zip')\n"
FORBIDDEN_PARTS = {"tests", "test", "SelfTest", "local", "bench", "dist", "build", "packaging", "bin", "__pycache__"}
FORBIDDEN_NAMES = {"Makefile", "build_zip.sh", "serverless.yml", "README.md", "requirements.txt",
                   "requirements-dev.txt", "conftest.py", "setup.py", "RECORD", "decoy.py", "scratch.py",
                   "scratch_notes.txt", "notes.txt", "manifest.txt"}
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".pyi")
BUILD_TIMEOUT = 900  # seconds: the first build of a runtime downloads its wheels
REQUIRE_ALL = "REQUIRE_ALL_RUNTIMES"
LOG_BUCKET = "logs-1250000000"
VENV36_PYTHON = REPO_ROOT / ".venv36" / "bin" / "python"


def pyenv_python(runtime):
    """The pyenv interpreter for `python3.X`, or None."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    try:
        root = subprocess.run(["pyenv", "root"], stdout=subprocess.PIPE, universal_newlines=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    version = runtime[len("python"):]
    candidates = sorted(Path(root, "versions").glob(version + ".*/bin/" + runtime))
    return str(candidates[-1]) if candidates else None


def missing_interpreter(reason):
    """A runtime's interpreter is not here: a skip (saying which) for a developer; a failure with
    REQUIRE_ALL_RUNTIMES=1, where a skipped runtime would let the tests pass without proving its zip."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail("%s (%s=1: every runtime's zip must run)" % (reason, REQUIRE_ALL), pytrace=False)
    pytest.skip(reason)


def require_python(runtime):
    python = pyenv_python(runtime)
    if python is None:
        missing_interpreter("%s not found under $(pyenv root)/versions: `pyenv install %s`"
                            % (runtime, runtime[len("python"):]))
    return python


def require_venv36():
    """The emulated SCF Python 3.6 runtime (built-in qcloud_cos_v5 and requests), as `make unit-py36` builds it."""
    if not VENV36_PYTHON.exists():
        missing_interpreter("python3.6: .venv36 not found: `make unit-py36` builds the emulated SCF Python 3.6 "
                            "runtime")
    return str(VENV36_PYTHON)


def git_ls_files(*pathspecs):
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git work tree: the function's files are defined by what git tracks")
    result = subprocess.run(["git", "ls-files", "--"] + list(pathspecs), cwd=str(REPO_ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, check=True)
    return result.stdout.split()


def function_files():
    """What every zip must ship of the repository: the top-level entry modules and cos2oms/*.py, as tracked."""
    tracked_top = set(git_ls_files(*TOP_LEVEL_MODULES))
    assert tracked_top == set(TOP_LEVEL_MODULES), "index.py, replay.py, audit.py and signer.py must be tracked"
    package = git_ls_files("cos2oms/*.py")
    assert "cos2oms/__init__.py" in package
    return sorted(TOP_LEVEL_MODULES + package)


def cache_tag(runtime):
    return "cpython-" + runtime[len("python"):].replace(".", "")  # cpython-36


def shipped_pycs(runtime, modules):
    """The bytecode a runtime's zip ships: cos2oms/X.py -> cos2oms/__pycache__/X.cpython-3Y.pyc, for the package's
    modules only (never the top-level ones: users edit index.py's constants in the SCF console)."""
    return sorted("%s/__pycache__/%s.%s.pyc" % (m.rsplit("/", 1)[0], m.rsplit("/", 1)[1][:-3], cache_tag(runtime))
                  for m in modules if m.startswith("cos2oms/"))


def read_manifest(path=MANIFEST):
    lines = (re.sub(r"#.*", "", line).strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def read_pins(runtime):
    return {name.lower(): version for name, version in re.findall(
        r"^([A-Za-z0-9_.-]+)==(\S+)", (REPO_ROOT / "packaging" / ("constraints-%s.txt" % runtime)).read_text(
            encoding="utf-8"), re.M)}


def version_tuple(text):
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """A copy of the repository's work tree (no .git, build or dist) plus decoys."""
    repo = tmp_path_factory.mktemp("repo") / "cos2oms"
    shutil.copytree(str(REPO_ROOT), str(repo), ignore=shutil.ignore_patterns(
        ".git", "build", "dist", ".venv*", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"))
    for decoy in DECOYS:
        path = repo / decoy
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DECOY_TEXT)
    return repo


def run_build(repo, runtime, **env_overrides):
    env = dict(os.environ, COS2OMS_CACHE=str(REPO_ROOT / "build" / "cache"))
    env.pop("SOURCE_DATE_EPOCH", None)
    env.update(env_overrides)
    result = subprocess.run(["./build_zip.sh", runtime], cwd=str(repo), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, "build_zip.sh %s failed:\n%s%s" % (runtime, result.stdout, result.stderr)
    return result


class Build(object):
    def __init__(self, repo, runtime, result):
        self.runtime = runtime
        self.result = result
        self.lines = result.stdout.splitlines()
        self.zip_path = repo / self.lines[-1]
        self.tree = repo / "dist" / ("cos2oms-" + runtime)
        with zipfile.ZipFile(str(self.zip_path)) as zf:
            self.infos = zf.infolist()
        self.names = [i.filename for i in self.infos]
        self.files = [n for n in self.names if not n.endswith("/")]
        self.top_level = {n.split("/")[0] for n in self.names}

    def sha256(self):
        return hashlib.sha256(self.zip_path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def build(scratch):
    built = {}

    def get(runtime):
        if runtime not in built:
            built[runtime] = Build(scratch, runtime, run_build(scratch, runtime))
        return built[runtime]

    return get


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_reports_size_count_and_path_last(build, runtime):
    b = build(runtime)
    assert b.lines[-1] == "dist/cos2oms-%s.zip" % runtime
    assert "size: %d bytes" % b.zip_path.stat().st_size in b.lines[:-1]
    assert "files: %d" % len(b.files) in b.lines[:-1]


def test_manifest_lists_exactly_the_tracked_function_files():
    """packaging/manifest.txt (what build_zip.sh ships) is index.py, replay.py, audit.py, signer.py and cos2oms/*.py
    as git tracks them: a new module of the package must be added to it, a removed one taken out."""
    listed = read_manifest()
    assert len(listed) == len(set(listed)), "a file is listed twice"
    assert sorted(listed) == function_files()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_zip_holds_exactly_the_function_files_and_vendored_packages(build, runtime):
    b = build(runtime)
    expected = function_files()

    def vendored(name):
        top = name.split("/")[0]
        return DIST_INFO.match(top) or (top[:-3] if top.endswith(".py") and "/" not in name else top) in (
            VENDORED_36 if runtime == "python3.6" else VENDORED)

    own = sorted(n for n in b.files if not vendored(n))
    # no decoy: scratch.py, cos2oms/scratch_notes.txt, cos2oms/scratch.py...; the package's bytecode, index.py's none
    expected = sorted(expected + shipped_pycs(runtime, expected))
    assert own == expected
    with zipfile.ZipFile(str(b.zip_path)) as zf:
        for decoy in DECOYS:
            if decoy in expected:  # 3.11's handler.cpython-311.pyc: compiled by the build, never the planted one
                assert zf.read(decoy) != DECOY_TEXT.encode()
            else:
                assert decoy not in b.names
    # cos2oms/, cos2oms/commands/ and their __pycache__/
    folders = {f.rsplit("/", 1)[0] + "/" for f in expected if "/" in f}
    assert [n for n in b.names if n.startswith("cos2oms/")] == sorted(
        folders | {f for f in expected if f.startswith("cos2oms/")})
    if runtime == "python3.6":  # SCF's 3.6 runtime has the COS SDK and requests built in: none shadowed
        assert b.top_level == {n.split("/")[0] for n in expected} | set(VENDORED_36) | {
            "esdk_obs_python-%s.dist-info" % read_pins(runtime)["esdk-obs-python"],
            "pycryptodome-%s.dist-info" % read_pins(runtime)["pycryptodome"]}
        assert not b.top_level & set(BUILT_IN_36) and not {n[:-3] for n in b.top_level} & set(BUILT_IN_36)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_nothing_that_is_not_the_function(build, runtime):
    b = build(runtime)
    bytecode = shipped_pycs(runtime, function_files())
    allowed = set(bytecode) | {name.rsplit("/", 1)[0] + "/" for name in bytecode}  # the package's bytecode alone
    bad = []
    for name in set(b.names) - allowed:
        parts = name.rstrip("/").split("/")
        stems = {p.rsplit(".", 1)[0] if p.endswith(".py") else p for p in parts}
        if (stems & FORBIDDEN_PARTS or parts[-1] in FORBIDDEN_NAMES or name.endswith(FORBIDDEN_SUFFIXES)
                or any(p.startswith(".") for p in parts)):
            bad.append(name)
    assert sorted(bad) == []


@pytest.mark.parametrize("runtime", VENDORING)
def test_dependencies_vendored(build, runtime):
    b = build(runtime)
    for name in VENDORED:
        assert name in b.top_level or name + ".py" in b.top_level, "%s missing from the %s zip" % (name, runtime)
    own_tag = "cpython-%s" % runtime[len("python"):].replace(".", "")  # cpython-39, cpython-37(m)
    foreign = [n for n in b.files if n.endswith(".so") and "cpython-" in n and own_tag not in n]
    assert foreign == [], "extension modules built for another Python"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_entries_are_normalised(build, runtime):
    b = build(runtime)
    assert b.names == sorted(b.names)
    for info in b.infos:
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
        assert info.extra == b"" and info.comment == b"", info.filename
        assert info.create_system == 3, info.filename
        mode = info.external_attr >> 16
        assert mode == (0o40755 if info.is_dir() else 0o100644), (info.filename, oct(mode))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_dist_folder_holds_the_zip_s_files(build, runtime):
    b = build(runtime)
    on_disk = sorted(str(p.relative_to(b.tree)).replace(os.sep, "/") for p in b.tree.rglob("*") if p.is_file())
    assert on_disk == sorted(b.files)


@pytest.mark.parametrize("runtime", VENDORING)
def test_vendored_packages_import_on_their_runtime(build, runtime, tmp_path):
    python = require_python(runtime)
    b = build(runtime)
    with zipfile.ZipFile(str(b.zip_path)) as zf:
        zf.extractall(str(tmp_path))
    probe = r"""
import json, os, sys
sys.path.insert(0, '.')
import qcloud_cos, requests, crcmod, crcmod.predefined, urllib3, Crypto, six, xmltodict
from qcloud_cos import CosConfig, CosS3Client
from Crypto.Cipher import AES
client = CosS3Client(CosConfig(Region='ap-beijing', SecretId='id', SecretKey='key'), retry=1)
crc64 = crcmod.predefined.mkCrcFun('crc-64-jones')(b'123456789')
aes = AES.new(b'k' * 16, AES.MODE_ECB)
modules = [qcloud_cos, requests, crcmod, urllib3, Crypto, six, xmltodict]
print(json.dumps({
    'files': [os.path.relpath(m.__file__) for m in modules],
    'requests': requests.__version__,
    'urllib3': urllib3.__version__,
    'crc64': crc64,
    'aes': aes.decrypt(aes.encrypt(b'x' * 16)).decode(),
    'pycache': sys.dont_write_bytecode,
}))
"""
    result = subprocess.run([python, "-S", "-B", "-c", probe], cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert all(not f.startswith("..") and not os.path.isabs(f) for f in report["files"]), report["files"]
    pins = read_pins(runtime)
    assert (report["requests"], report["urllib3"]) == (pins["requests"], pins["urllib3"])
    python = version_tuple(runtime)
    if python >= (3, 8):  # CVE-2024-35195 and CVE-2024-47081 are fixed in 2.32.4, the first for 3.8+
        assert version_tuple(report["requests"]) >= (2, 32, 4)
    # urllib3 2 needs OpenSSL 1.1.1+: only from Python 3.10 on (which needs it too) is it certain to be there.
    assert version_tuple(report["urllib3"])[0] == (2 if python >= (3, 10) else 1)
    assert report["crc64"] == 0xCAA717168609F281  # CRC-64/Jones check value, from crcmod's pure-Python code
    assert report["aes"] == "x" * 16


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_entry_points_import_on_their_runtime(build, scratch, runtime, tmp_path):
    b = build(runtime)
    with zipfile.ZipFile(str(b.zip_path)) as zf:
        zf.extractall(str(tmp_path))
    if runtime == "python3.6":
        # The zip relies on SCF's built-in qcloud_cos_v5 and requests: the emulated runtime (.venv36) has them.
        command = [require_venv36(), "-B"]
    else:
        command = [require_python(runtime), "-S", "-B"]  # -S: nothing but the zip's own files
    probe = "import sys; sys.path.insert(0, '.'); import index, replay; " \
            "assert callable(index.main_handler) and callable(replay.main_handler)"
    result = subprocess.run(command + ["-c", probe], cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_rebuild_is_identical_and_offline(build, scratch, runtime):
    first = build(runtime).sha256()
    # An unreachable index: the second build must come from the wheel cache alone.
    result = run_build(scratch, runtime, PIP_INDEX_URL="http://127.0.0.1:9/simple")
    if runtime in VENDORING:
        assert "resolved offline" in result.stderr
    assert Build(scratch, runtime, result).sha256() == first


def test_zip_does_not_depend_on_what_the_cache_held(build, scratch, tmp_path):
    """A build with an empty wheel cache gives the same zip as one with the shared cache, which also holds the wheels
    of the other runtimes (3.7's cp37-abi3 charset-normalizer could stand in for 3.10's cp310 one)."""
    build("python3.7")
    shared = build("python3.10")
    names, sha256 = shared.names, shared.sha256()  # the fresh build overwrites the same zip
    fresh = Build(scratch, "python3.10", run_build(scratch, "python3.10", COS2OMS_CACHE=str(tmp_path / "cache")))
    assert fresh.names == names
    assert fresh.sha256() == sha256


def test_unknown_runtime_is_refused(scratch):
    result = subprocess.run(["./build_zip.sh", "python3.8"], cwd=str(scratch), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert result.returncode != 0
    assert "python3.6, python3.7, python3.9, python3.10, python3.11 or python3.12" in result.stderr


@pytest.mark.parametrize("required", [None, "0", "1"])
def test_a_missing_interpreter_skips_or_fails(monkeypatch, tmp_path, required):
    """A developer without pyenv's 3.9 gets a skip that names it; REQUIRE_ALL_RUNTIMES=1 (CI) gets a failure."""
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))                # no versions/ under it
    monkeypatch.setenv("PATH", str(tmp_path))                      # and no `pyenv` to ask for another root
    monkeypatch.setattr(sys.modules[__name__], "VENV36_PYTHON", tmp_path / "none" / "python")
    if required is None:
        monkeypatch.delenv(REQUIRE_ALL, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_ALL, required)
    outcome = pytest.fail.Exception if required == "1" else pytest.skip.Exception
    for check, named in ((lambda: require_python("python3.9"), "python3.9 not found"),
                         (require_venv36, "python3.6: .venv36 not found")):
        with pytest.raises(outcome) as stopped:
            check()
        assert named in str(stopped.value)
        assert (REQUIRE_ALL in str(stopped.value)) is (required == "1")


def test_ci_requires_every_runtime():
    """.ci/run exports REQUIRE_ALL_RUNTIMES=1 before `make test`, so CI fails where a runtime is missing."""
    lines = [line.strip() for line in (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    assert "export %s=1" % REQUIRE_ALL in lines
    assert "make test" in lines
    assert lines.index("export %s=1" % REQUIRE_ALL) < lines.index("make test")


def test_no_index_py_no_zip(tmp_path):
    shutil.copy(str(REPO_ROOT / "build_zip.sh"), str(tmp_path))
    shutil.copytree(str(REPO_ROOT / "packaging"), str(tmp_path / "packaging"))
    result = subprocess.run(["./build_zip.sh"], cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=60)
    assert result.returncode != 0
    assert "no index.py" in result.stderr
    assert not (tmp_path / "dist" / "cos2oms-python3.6.zip").exists()


def small_repo(tmp_path, manifest, files, tracked=()):
    """build_zip.sh and packaging/ with `manifest` as packaging/manifest.txt, `files` created, `tracked` git-added."""
    shutil.copy(str(REPO_ROOT / "build_zip.sh"), str(tmp_path))
    shutil.copytree(str(REPO_ROOT / "packaging"), str(tmp_path / "packaging"))
    (tmp_path / "packaging" / "manifest.txt").write_text(manifest)
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    if tracked:
        git = ["git", "-c", "init.defaultBranch=main"]
        subprocess.run(git + ["init", "-q"], cwd=str(tmp_path), check=True)
        subprocess.run(git + ["add", "--"] + list(tracked), cwd=str(tmp_path), check=True)
    return tmp_path


def run_small_build(repo):
    """python3.6's build (it vendors only the OBS SDK), from the shared wheel cache."""
    return subprocess.run(["./build_zip.sh", "python3.6"], cwd=str(repo), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, timeout=BUILD_TIMEOUT,
                          env=dict(os.environ, COS2OMS_CACHE=str(REPO_ROOT / "build" / "cache")))


def test_manifest_alone_decides_what_ships(tmp_path):
    repo = small_repo(tmp_path, "# comment\nindex.py\ncos2oms/__init__.py  # trailing comment\ncos2oms/a.py\n\n",
                      ["index.py", "cos2oms/__init__.py", "cos2oms/a.py", "scratch.py", "cos2oms/scratch.py",
                       "cos2oms/notes.txt"])
    result = run_small_build(repo)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(str(repo / result.stdout.splitlines()[-1])) as zf:
        own = [n for n in zf.namelist() if n.split("/")[0] not in VENDORED_36 and not DIST_INFO.match(n.split("/")[0])]
    expected = ["cos2oms/", "cos2oms/__init__.py", "cos2oms/a.py", "index.py"]
    if pyenv_python("python3.6"):  # and the listed package modules' bytecode (none for index.py)
        expected += ["cos2oms/__pycache__/"] + shipped_pycs("python3.6", ["cos2oms/__init__.py", "cos2oms/a.py"])
    assert own == sorted(expected)


@pytest.mark.parametrize("manifest, message", [
    ("index.py\ncos2oms/__init__.py\ncos2oms/gone.py\n", "lists cos2oms/gone.py, which is not in"),
    ("index.py\ncos2oms/__init__.py\ncos2oms/notes.txt\n", "'cos2oms/notes.txt' is not a top-level module"),
    ("index.py\ncos2oms/../scratch.py\n", "'cos2oms/../scratch.py' is not a top-level module"),
    ("index.py\nlocal/demo.py\n", "'local/demo.py' is not a top-level module"),
    ("index.py\nindex.py\n", "lists index.py twice"),
    ("cos2oms/__init__.py\n", "does not list index.py"),
])
def test_bad_manifest_no_zip(tmp_path, manifest, message):
    repo = small_repo(tmp_path, manifest, ["index.py", "cos2oms/__init__.py", "cos2oms/notes.txt", "scratch.py",
                                           "local/demo.py"])
    result = run_small_build(repo)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert not (repo / "dist" / "cos2oms-python3.6.zip").exists()


def test_tracked_module_missing_from_the_manifest_no_zip(tmp_path):
    """A module git tracks but the manifest forgot would make a zip that cannot import it: refused, by name."""
    repo = small_repo(tmp_path, "index.py\ncos2oms/__init__.py\n",
                      ["index.py", "cos2oms/__init__.py", "cos2oms/new_module.py", "cos2oms/untracked.py"],
                      tracked=["index.py", "cos2oms/__init__.py", "cos2oms/new_module.py"])
    result = run_small_build(repo)
    assert result.returncode != 0
    assert "tracked but not in packaging/manifest.txt" in result.stderr and "cos2oms/new_module.py" in result.stderr
    assert "untracked.py" not in result.stderr  # an untracked scratch module neither ships nor blocks the build
    assert not (repo / "dist" / "cos2oms-python3.6.zip").exists()


def test_requirement_markers_follow_the_runtime_not_the_build_python(tmp_path):
    """pip download --python-version evaluates markers for the Python running pip: wheels.py evaluates them for
    the runtime, so each zip gets the requests/urllib3 lines of requirements.txt meant for its Python."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text('# comment\nplain==1.0  # why\nold==1; python_version < "3.10"\n'
                            'new>=2; python_version >= "3.10"\n')
    for python, expected in [("3.7", ["plain==1.0", "old==1"]), ("3.9", ["plain==1.0", "old==1"]),
                             ("3.10", ["plain==1.0", "new>=2"]), ("3.12", ["plain==1.0", "new>=2"])]:
        out = tmp_path / ("out-%s.txt" % python)
        subprocess.run([sys.executable, str(REPO_ROOT / "packaging" / "wheels.py"), "requirements", "--python",
                        python, str(requirements), str(out)], check=True, stderr=subprocess.PIPE, timeout=60)
        assert out.read_text().splitlines() == expected, python


def make_wheel(directory, name, version, requires_python):
    path = directory / ("%s-%s-py3-none-any.whl" % (name, version))
    with zipfile.ZipFile(str(path), "w") as zf:
        zf.writestr("%s.py" % name, "")
        zf.writestr("%s-%s.dist-info/METADATA" % (name, version),
                    "Metadata-Version: 2.1\nName: %s\nVersion: %s\nRequires-Python: %s\n"
                    % (name, version, requires_python))
    return path


def test_requires_python_check_refuses_a_wheel_for_a_newer_python(tmp_path):
    """The guard behind the build: a wheel whose own METADATA excludes the target fails it, by name."""
    wheel = make_wheel(tmp_path, "newish", "3.20", ">=3.9")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("newish==3.20\n")
    check = [sys.executable, str(REPO_ROOT / "packaging" / "wheels.py"), "check", "--constraints", str(constraints)]

    refused = subprocess.run(check + ["--python", "3.7", str(wheel)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             universal_newlines=True, timeout=60)
    assert refused.returncode == 1
    assert "newish 3.20" in refused.stderr and ">=3.9" in refused.stderr and "3.7" in refused.stderr

    accepted = subprocess.run(check + ["--python", "3.9", str(wheel)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert accepted.returncode == 0, accepted.stderr

    for pins, message in [("newish==3.19\n", "pins 3.19"), ("other==1.0\n", "newish 3.20 is not pinned")]:
        constraints.write_text(pins)
        unpinned = subprocess.run(check + ["--python", "3.9", str(wheel)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
        assert unpinned.returncode == 1 and message in unpinned.stderr


def test_a_built_in_package_of_the_runtime_is_never_vendored(tmp_path):
    """SCF's 3.6 runtime has requests 2.21 built in: a zip that vendored another requests would shadow the one the
    function runs on. The check refuses it by name (an OBS SDK pin that pulled requests in would hit this)."""
    wheel = make_wheel(tmp_path, "requests", "2.34.2", ">=3.6")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("requests==2.34.2\n")
    check = [sys.executable, str(REPO_ROOT / "packaging" / "wheels.py"), "check", "--constraints", str(constraints),
             "--python", "3.6", str(wheel)]
    refused = subprocess.run(check + ["--built-in", "cos-python-sdk-v5,requests,urllib3"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert refused.returncode == 1 and "requests 2.34.2 is built into the runtime" in refused.stderr
    accepted = subprocess.run(check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                              timeout=60)
    assert accepted.returncode == 0, accepted.stderr


def test_sdist_only_package_becomes_a_wheel_with_its_requirements(tmp_path):
    """esdk-obs-python publishes only an sdist: wheels.py makes a py3-none-any wheel of its obs package, with the
    requirements of its requires.txt as Requires-Dist (so that pip pins them), and nothing else of the sdist."""
    import io
    import tarfile
    sdist = tmp_path / "esdk_obs_python-9.9.9.tar.gz"
    members = {
        "PKG-INFO": "Metadata-Version: 2.1\r\nName: esdk-obs-python\r\nVersion: 9.9.9\r\n\r\nOBS Python SDK\r\n",
        "esdk_obs_python.egg-info/requires.txt": "pycryptodome>=3.10.1\nrequests>=2.27.0\n\n[extra]\nnope\n",
        "obs/__init__.py": "", "obs/client.py": "", "obs/tests/test_x.py": "", "setup.py": "", "tests/t.py": "",
    }
    with tarfile.open(str(sdist), "w:gz") as tf:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo("esdk-obs-python-9.9.9/" + name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    out = subprocess.run([sys.executable, str(REPO_ROOT / "packaging" / "wheels.py"), "sdist-wheel", str(sdist),
                          str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, timeout=60)
    assert out.returncode == 0, out.stderr
    wheel = Path(out.stdout.strip())
    assert wheel.name == "esdk_obs_python-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(str(wheel)) as zf:
        names = sorted(zf.namelist())
        metadata = zf.read("esdk_obs_python-9.9.9.dist-info/METADATA").decode()
    assert [n for n in names if not n.startswith("esdk_obs_python-9.9.9.dist-info/")] == ["obs/__init__.py",
                                                                                        "obs/client.py"]
    headers = metadata.split("\n\n")[0].splitlines()
    assert [h for h in headers if h.startswith("Requires-Dist")] == ["Requires-Dist: pycryptodome>=3.10.1",
                                                                     "Requires-Dist: requests>=2.27.0"]
    assert "\r" not in metadata


INVOKE_HANDLER = REPO_ROOT / "tests" / "e2e" / "invoke_handler.py"
# The SCF console's COS PUT test event. Its q-ak=AKID... is the console sample's placeholder, not a credential.
CONSOLE_PUT = REPO_ROOT / "tests" / "events" / "cos_put_console.json"


def runtime_command(runtime):
    """How to run the unzipped function on `runtime`: 3.6 is the emulated SCF runtime (built-in
    qcloud_cos_v5 and requests); 3.7+ run with -S, so nothing but the zip's own files is importable."""
    if runtime == "python3.6":
        return [require_venv36(), "-B"]
    return [require_python(runtime), "-S", "-B"]


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unzipped_artifact_syncs_the_console_put_event(build, runtime, tmp_path, oms_server, cos_server):
    from local.world import environment

    command = runtime_command(runtime)
    with zipfile.ZipFile(str(build(runtime).zip_path)) as zf:
        zf.extractall(str(tmp_path))
    env = environment(oms_server, cos_server, project="proj", task="task-1", log_bucket=LOG_BUCKET,
                      PATH=os.environ.get("PATH", ""))
    result = subprocess.run(command + ["-c", INVOKE_HANDLER.read_text(encoding="utf-8"), str(CONSOLE_PUT)],
                            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["result"] is True, result.stderr
    assert report["python"] == [3, int(runtime[len("python3."):])]
    assert Path(report["index"]).parent == tmp_path  # the unzipped copy ran, not the repository's
    assert (report["qcloud_cos"], report["qcloud_cos_v5"]) == ((False, True) if runtime == "python3.6"
                                                               else (True, False))
    [request] = oms_server.requests
    assert request.verified and request.keys_unquote == ["/1253970026/testpic/testfile"]
    assert cos_server.keys(LOG_BUCKET) == ["oms_source_record/task-1/success_object//1253970026/testpic/testfile"]


@pytest.fixture
def trickle_url():
    """An HTTP server that answers 200 with a 600-byte body sent one byte every 50 ms (30 s in all): each read
    gets a byte well within any read timeout, so only the transport's whole-request watchdog can cut it short."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def trickle(conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 600\r\n\r\n")
                for _ in range(600):
                    if stop.wait(0.05):
                        return
                    conn.sendall(b"x")
            except OSError:  # the client shut the connection down: what the watchdog does
                return

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=trickle, args=(conn,), daemon=True).start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield "http://127.0.0.1:%d/trickle" % server.getsockname()[1]
    stop.set()
    acceptor.join(5)
    server.close()


TRICKLE_PROBE = r"""
import json, sys, time
sys.path.insert(0, '')
import requests, urllib3
from cos2oms import transport
url = sys.argv[1]
session = transport.new_session(environ={})
pool = session.get_adapter(url).poolmanager.connection_from_url(url)
start = time.monotonic()
try:
    with transport.time_limit(1.0):
        session.get(url, timeout=30)
    outcome = 'answered'
except transport.OutOfTime:
    outcome = 'OutOfTime'
except Exception as e:
    outcome = '%s: %s' % (type(e).__name__, e)
print(json.dumps({'outcome': outcome, 'seconds': time.monotonic() - start, 'urllib3': urllib3.__version__,
                  'pool_module': type(pool).__module__,
                  'pool_is_urllib3s': isinstance(pool, urllib3.HTTPConnectionPool)}))
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unzipped_transport_cuts_a_trickling_answer_at_the_time_limit(build, runtime, tmp_path, trickle_url):
    """The transport's pool classes (``cos2oms.watch``'s urllib3 pool subclasses overriding _get_conn/_put_conn,
    installed through HTTPAdapter.init_poolmanager) work on the urllib3 each zip vendors (1.26 to 3.9, 2.x from
    3.10), and on SCF's built-in one for 3.6: the watchdog finds the connection and ends a request at its time limit."""
    command = runtime_command(runtime)
    with zipfile.ZipFile(str(build(runtime).zip_path)) as zf:
        zf.extractall(str(tmp_path))
    result = subprocess.run(command + ["-c", TRICKLE_PROBE, trickle_url], cwd=str(tmp_path),
                            env={"PATH": os.environ.get("PATH", "")}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["pool_module"] == "cos2oms.watch" and report["pool_is_urllib3s"], report
    assert report["outcome"] == "OutOfTime", report
    assert 0.9 <= report["seconds"] < 5, report
    if runtime != "python3.6":
        assert report["urllib3"] == read_pins(runtime)["urllib3"]


AUDIT_PROBE = r"""
import json, sys
sys.path.insert(0, '')
import audit
raised = None
try:
    outcome = audit.main_handler({'Type': 'Timer', 'TriggerName': 'audit-timer', 'Time': '2024-05-02T00:00:00Z'},
                                 {'request_id': 'zip-audit', 'time_limit_in_ms': 60000})
except Exception as exc:
    outcome, raised = None, '%s: %s' % (type(exc).__name__, exc)
obs = sys.modules.get('obs')
print(json.dumps({'outcome': outcome, 'raised': raised, 'python': list(sys.version_info[:2]), 'audit': audit.__file__,
                  'obs': obs and obs.__file__}))
"""


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unzipped_audit_completes_a_pass_and_writes_its_report(build, runtime, tmp_path, oms_server, cos_server,
                                                               obs_server):
    """The audit (audit.main_handler, as the timer calls it) runs from each unzipped zip on its own runtime, the OBS
    SDK it lists the destination with coming from the zip: one pass over a small source bucket, against the
    loopback OMS, COS and OBS stand-ins, finds what was seeded, resubmits what needs it and writes its report."""
    from cos2oms import markers
    from local.obs_server import read_object
    from tests.e2e import migration

    command = runtime_command(runtime)
    with zipfile.ZipFile(str(build(runtime).zip_path)) as zf:
        zf.extractall(str(tmp_path))
    for key in ("copied.jpg", "differs.jpg", "failed.jpg", "never arrived.jpg"):
        migration.source(cos_server, key)
    migration.destination(obs_server, "copied.jpg")
    migration.destination(obs_server, "differs.jpg", body=b"another size")
    migration.marker(cos_server, markers.FAILED, "failed.jpg", migration.T0 + 1)
    env = migration.environ(oms_server, cos_server, obs_server, PATH=os.environ.get("PATH", ""))
    result = subprocess.run(command + ["-c", AUDIT_PROBE], cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["raised"] is None, (report["raised"], result.stderr)
    assert report["python"] == [3, int(runtime[len("python3."):])]
    assert Path(report["audit"]).parent == tmp_path  # the unzipped copy ran, not the repository's
    assert Path(report["obs"]).parent == tmp_path / "obs"  # and the zip's OBS SDK: no runtime has one
    outcome = report["outcome"]
    assert (outcome["outcome"], outcome["complete"]) == ("pass_done", True), outcome
    counts = {k: outcome["counts"][k] for k in ("source", "matched", "missing", "missing_unmarked",
                                                "missing_failed", "differ", "errors", "resubmitted")}
    assert counts == {"source": 4, "matched": 1, "missing": 2, "missing_unmarked": 1, "missing_failed": 1,
                      "differ": 1, "errors": 0, "resubmitted": 2}
    stored = json.loads(read_object(cos_server, migration.LOG_BUCKET, outcome["report"]).decode("utf-8"))
    assert outcome["report"].startswith("oms_source_record/%s/audit/reports/" % TASK)
    assert (stored["complete"], stored["missing_unmarked"], stored["resubmitted"]) == (True, 1, 2)
    assert oms_server.received_keys() == [migration.EVENT_PREFIX + "differs.jpg",
                                          migration.EVENT_PREFIX + "never arrived.jpg"]
    assert "audit pass done" in result.stderr


IMPORT_EVERYTHING = r"""
import importlib.util, json, sys
sys.path.insert(0, '')
import index, replay, audit, signer
for module in sys.argv[1:]:
    if module.endswith('.__main__'):  # importing it would run the command line: get its code as runpy does
        importlib.util.find_spec(module).loader.get_code(module)
    else:
        importlib.import_module(module)
import cos2oms.retry
print(json.dumps({'backoff_cap': cos2oms.retry.BACKOFF_CAP, 'python': list(sys.version_info[:2]),
                  'dont_write_bytecode': sys.dont_write_bytecode}))
"""
CODE_OBJECT_FROM = re.compile(r"^# code object from '?(.+?)'?$", re.M)


def import_unzipped(runtime, directory, files):
    """Import the entry modules and every module of the package from `directory` (unzip_as_unzip: mtimes as
    unzip gives them in UTC) on `runtime`, as SCF would (TZ=UTC), with -v, writing nothing
    (PYTHONDONTWRITEBYTECODE=1, every folder read-only). Returns the probe's report, the bytecode files (relative
    to `directory`) the importer took code objects from, and the sources it compiled instead."""
    modules = sorted(f[:-3].replace("/", ".").replace(".__init__", "") for f in files
                     if f.startswith("cos2oms/") and f.endswith(".py"))
    folders = [p for p in [directory] + list(directory.rglob("*")) if p.is_dir()]
    before = sorted(p for p in directory.rglob("*"))
    for folder in folders:
        folder.chmod(0o555)
    try:
        result = subprocess.run(runtime_command(runtime) + ["-v", "-c", IMPORT_EVERYTHING] + modules,
                                cwd=str(directory), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                universal_newlines=True, timeout=120,
                                env={"PATH": os.environ.get("PATH", ""), "TZ": "UTC",
                                     "PYTHONDONTWRITEBYTECODE": "1"})
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p for p in directory.rglob("*")) == before  # nothing compiled to disk
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["python"] == [3, int(runtime[len("python3."):])] and report["dont_write_bytecode"]
    # -v says "code object from" for each module, naming the bytecode it read or the source it compiled.
    loaded = [os.path.relpath(path, str(directory)).replace(os.sep, "/")
              for path in CODE_OBJECT_FROM.findall(result.stderr) if Path(path).is_relative_to(directory)]
    return report, sorted(p for p in loaded if p.endswith(".pyc")), sorted(p for p in loaded if p.endswith(".py"))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_unzipped_package_runs_from_its_shipped_bytecode(build, runtime, tmp_path):
    """SCF's code directory is read-only: each cold start would compile every module the zip ships as source. The
    package's bytecode in the zip, compiled by the runtime's interpreter, is valid as unzip leaves the files (3.7+:
    checked hash; 3.6: the source's mtime and size as unzipped in UTC): every module of cos2oms comes from it, the
    top-level entry modules (users edit index.py in the console) and the vendored packages from their sources."""
    files = unzip_as_unzip(build(runtime).zip_path, tmp_path)
    report, used, compiled = import_unzipped(runtime, tmp_path, files)
    assert used == shipped_pycs(runtime, function_files())
    assert set(TOP_LEVEL_MODULES) <= set(compiled)  # index.py, replay.py... from their sources, always
    assert [p for p in compiled if p.startswith("cos2oms/")] == []
    assert report["backoff_cap"] == 4.0


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_an_edited_package_module_takes_effect_over_its_bytecode(build, runtime, tmp_path):
    """A module of the package edited after unzipping (a constant changed, the file's size the same) is compiled from
    its source: its shipped bytecode, now stale, is never used; the other modules still come from theirs."""
    files = unzip_as_unzip(build(runtime).zip_path, tmp_path)
    source = tmp_path / "cos2oms" / "retry.py"
    text = source.read_text(encoding="utf-8")
    assert text.count("BACKOFF_CAP = 4.0\n") == 1
    source.write_text(text.replace("BACKOFF_CAP = 4.0\n", "BACKOFF_CAP = 7.0\n"), encoding="utf-8")
    report, used, compiled = import_unzipped(runtime, tmp_path, files)
    assert report["backoff_cap"] == 7.0
    stale = "cos2oms/__pycache__/retry.%s.pyc" % cache_tag(runtime)
    assert used == [p for p in shipped_pycs(runtime, function_files()) if p != stale]
    assert [p for p in compiled if p.startswith("cos2oms/")] == ["cos2oms/retry.py"]


@pytest.mark.parametrize("required", ["0", "1"])
def test_no_runtime_interpreter_no_bytecode_unless_required(tmp_path, required):
    """Without the runtime's interpreter (none under $(pyenv root)/versions, none on PATH) the zip is built without
    the package's bytecode, saying so on stderr; with REQUIRE_ALL_RUNTIMES=1 (CI) that is an error and no zip."""
    (tmp_path / "repo").mkdir()
    repo = small_repo(tmp_path / "repo", "index.py\ncos2oms/__init__.py\n", ["index.py", "cos2oms/__init__.py"])
    (tmp_path / "pyenv").mkdir()
    env = dict(os.environ, COS2OMS_CACHE=str(REPO_ROOT / "build" / "cache"), PYENV_ROOT=str(tmp_path / "pyenv"),
               PATH="/usr/bin:/bin", PYTHON=sys.executable, REQUIRE_ALL_RUNTIMES=required)
    result = subprocess.run(["./build_zip.sh", "python3.6"], cwd=str(repo), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, timeout=BUILD_TIMEOUT, env=env)
    zip_path = repo / "dist" / "cos2oms-python3.6.zip"
    if required == "1":
        assert result.returncode != 0
        assert "no python3.6 interpreter" in result.stderr and "REQUIRE_ALL_RUNTIMES=1" in result.stderr
        assert not zip_path.exists()
    else:
        assert result.returncode == 0, result.stderr
        assert "no python3.6 interpreter" in result.stderr and "without bytecode" in result.stderr
        with zipfile.ZipFile(str(zip_path)) as zf:
            names = zf.namelist()
        assert "cos2oms/__init__.py" in names and not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_python36_bytecode_matches_a_source_date_epoch_zip(scratch, tmp_path):
    """With SOURCE_DATE_EPOCH (here an odd second: the zip stores two-second steps, so the files unzip at the even
    second below it) the 3.6 pycs record the mtime unzip gives the sources in UTC: the bytecode is still used."""
    repo = tmp_path / "repo"
    shutil.copytree(str(scratch), str(repo), ignore=shutil.ignore_patterns("dist", "build"))
    b = Build(repo, "python3.6", run_build(repo, "python3.6", SOURCE_DATE_EPOCH="1700000001"))
    assert {i.date_time for i in b.infos} == {(2023, 11, 14, 22, 13, 20)}
    files = unzip_as_unzip(b.zip_path, tmp_path / "unzipped")
    assert os.stat(str(tmp_path / "unzipped" / "cos2oms" / "retry.py")).st_mtime == 1700000000
    _, used, compiled = import_unzipped("python3.6", tmp_path / "unzipped", files)
    assert used == shipped_pycs("python3.6", function_files())
    assert [p for p in compiled if p.startswith("cos2oms/")] == []
