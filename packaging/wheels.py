"""Vendoring helpers for build_zip.sh: a local build tool, never shipped in the zip.

    wheels.py crcmod-wheel SDIST OUTDIR
        Build crcmod-<version>-py3-none-any.whl from crcmod's sdist: its pure-Python
        package (python3/crcmod/, without the test module) plus its LICENSE. crcmod
        publishes no wheel; without its C extension it falls back to _crcfunpy by itself.
    wheels.py check --python X.Y --constraints FILE WHEEL...
        Fail unless every wheel admits Python X.Y in its own METADATA (Requires-Python),
        carries tags that SCF's CentOS x86_64 runtime can load, and is pinned in FILE.
    wheels.py requirements --python X.Y REQUIREMENTS OUT
        Write to OUT the requirements of REQUIREMENTS that apply to CPython X.Y on Linux
        x86_64, environment markers evaluated for that target and dropped. pip download
        --python-version fetches wheels for the target but evaluates markers for the Python
        that runs pip, so requirements.txt's `; python_version < "3.10"` would otherwise
        follow the build machine's Python, not the runtime's.
    wheels.py unpack DEST WHEEL...
        Unpack the wheels' importable files into DEST (a staging folder that may already
        hold the function's own modules), the way an installer lays them out.

Runs with any Python >= 3.8 and the standard library; version specifiers are read with
`packaging` if installed, else with the copy pip vendors (pip is needed for the build).
"""

import argparse
import base64
import email.parser
import hashlib
import os
import posixpath
import re
import sys
import tarfile
import zipfile

# Fixed timestamp for the generated crcmod wheel, so that it is the same bytes every time.
WHEEL_DATE = (1980, 1, 1, 0, 0, 0)

# What of the vendored packages is not needed at run time: their test suites (folders named
# below at any depth: certifi/tests, pycryptodome's Crypto/SelfTest with its test vectors,
# about half of that package), bytecode (SCF compiles its own), type stubs, and RECORD
# (it lists the pruned files too, and nothing reads it at run time).
PRUNE_DIR_NAMES = ("tests", "test", "SelfTest")
PRUNE_SUFFIXES = (".pyc", ".pyo", ".pyi")
PRUNE_FILES = ("RECORD",)  # in *.dist-info

# manylinux tags that CentOS 7 (glibc 2.17), which SCF's Python 3.7+ images run, can load.
MANYLINUX_LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
MAX_GLIBC = (2, 17)
WHEEL_NAME = re.compile(
    r"^(?P<name>[^-]+)-(?P<version>[^-]+)(-(?P<build>\d[^-]*))?"
    r"-(?P<py>[^-]+)-(?P<abi>[^-]+)-(?P<plat>[^-]+)\.whl$"
)


class BuildError(Exception):
    pass


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def specifier_set(text):
    return _vendored_packaging("specifiers").SpecifierSet(text)


def _vendored_packaging(module):
    try:
        return __import__("packaging." + module, fromlist=["_"])
    except ImportError:
        return __import__("pip._vendor.packaging." + module, fromlist=["_"])


def read_metadata(wheel):
    """The wheel's own METADATA headers (name, version, Requires-Python...)."""
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if len(names) != 1:
            raise BuildError("%s: expected one *.dist-info/METADATA, found %d" % (wheel, len(names)))
        text = zf.read(names[0]).decode("utf-8")
    return email.parser.Parser().parsestr(text, headersonly=True)


# ---------------------------------------------------------------- crcmod-wheel


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


def crcmod_wheel(sdist, outdir):
    with tarfile.open(sdist) as tf:
        members = {m.name: m for m in tf.getmembers() if m.isfile()}
        root = os.path.commonpath(list(members)).split("/")[0]

        def read(rel):
            member = members.get(root + "/" + rel)
            if member is None:
                raise BuildError("%s: no %s (not a crcmod sdist?)" % (sdist, rel))
            return tf.extractfile(member).read()

        pkg_info = read("PKG-INFO").decode("utf-8")
        modules = sorted(
            n[len(root + "/python3/"):]
            for n in members
            if re.fullmatch(re.escape(root) + r"/python3/crcmod/[^/]+\.py", n)
        )
        files = [(m, read("python3/" + m)) for m in modules if m != "crcmod/test.py"]
        license_text = read("LICENSE")

    meta = email.parser.Parser().parsestr(pkg_info, headersonly=True)
    name, version = meta["Name"], meta["Version"]
    if canonical(name) != "crcmod":
        raise BuildError("%s: this sdist is %s, not crcmod" % (sdist, name))
    if not any(m == "crcmod/_crcfunpy.py" for m, _ in files):
        raise BuildError("%s: no pure-Python crcmod/_crcfunpy.py" % sdist)

    dist_info = "%s-%s.dist-info" % (name, version)
    # PKG-INFO is Metadata-Version 1.0; wheels want 1.1 or later, of which 1.0 is a subset.
    metadata = re.sub(r"^Metadata-Version: .*$", "Metadata-Version: 1.1", pkg_info, count=1, flags=re.M)
    files += [
        (dist_info + "/METADATA", metadata.encode("utf-8")),
        (dist_info + "/LICENSE", license_text),
        (
            dist_info + "/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: cos2oms packaging/wheels.py\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (dist_info + "/top_level.txt", b"crcmod\n"),
    ]
    record = "".join(_record_line(p, d) + "\n" for p, d in files) + dist_info + "/RECORD,,\n"
    files.append((dist_info + "/RECORD", record.encode("utf-8")))

    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, "%s-%s-py3-none-any.whl" % (name, version))
    tmp = out + ".tmp"
    with zipfile.ZipFile(tmp, "w") as zf:
        for path, data in files:
            info = zipfile.ZipInfo(path, WHEEL_DATE)
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data, compresslevel=6)
    os.replace(tmp, out)
    print(out)


# ---------------------------------------------------------------- check


def _platform_ok(plat):
    if plat == "any":
        return True
    m = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", plat)
    if m:
        return (int(m.group(1)), int(m.group(2))) <= MAX_GLIBC
    m = re.fullmatch(r"(manylinux\d+)_x86_64", plat)
    return bool(m) and MANYLINUX_LEGACY.get(m.group(1), (99, 0)) <= MAX_GLIBC


def _python_ok(py, abi, target):
    """Whether a wheel tagged `py-abi` loads on CPython `target`, a (3, N) tuple."""
    major, minor = target
    abis = abi.split(".")
    own_abis = ("cp%d%d" % target, "cp%d%dm" % target)
    for tag in py.split("."):
        m = re.fullmatch(r"(py|cp)(\d)(\d*)", tag)
        if not m or int(m.group(2)) != major:
            continue
        kind, tag_minor = m.group(1), int(m.group(3)) if m.group(3) else None
        if kind == "py" and "none" in abis and (tag_minor is None or tag_minor <= minor):
            return True  # py3, py2.py3, py37...
        if kind == "cp" and tag_minor == minor and ("none" in abis or any(a in own_abis for a in abis)):
            return True  # cp39-cp39, cp37-cp37m
        if kind == "cp" and "abi3" in abis and tag_minor is not None and tag_minor <= minor:
            return True  # cp35-abi3: any CPython 3.5 or later
    return False


def read_pins(path):
    pins = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;]+)", line)
            if not m:
                raise BuildError("%s:%d: expected `name==version`, got %r" % (path, lineno, line))
            pins[canonical(m.group(1))] = m.group(2)
    return pins


def check(wheels, python, constraints):
    target = tuple(int(p) for p in python.split("."))
    pins = read_pins(constraints)
    problems = []
    seen = set()
    for wheel in wheels:
        base = os.path.basename(wheel)
        m = WHEEL_NAME.match(base)
        if not m:
            problems.append("%s: not a wheel file name" % base)
            continue
        meta = read_metadata(wheel)
        name, version = canonical(meta["Name"]), meta["Version"]
        seen.add(name)
        requires_python = meta.get("Requires-Python")
        if requires_python and not specifier_set(requires_python).contains(python, prereleases=True):
            problems.append(
                "%s %s has Requires-Python %r in its METADATA, which excludes Python %s: "
                "pin an older %s in %s" % (name, version, requires_python.strip(), python, name, constraints)
            )
        if not _python_ok(m.group("py"), m.group("abi"), target):
            problems.append("%s: tags %s-%s do not load on CPython %s" % (base, m.group("py"), m.group("abi"), python))
        if not any(_platform_ok(p) for p in m.group("plat").split(".")):
            problems.append("%s: platform %s does not load on CentOS 7 x86_64 (glibc 2.17)" % (base, m.group("plat")))
        if name not in pins:
            problems.append("%s %s is not pinned in %s: every vendored package must be" % (name, version, constraints))
        elif pins[name] != version:
            problems.append("got %s %s, but %s pins %s" % (name, version, constraints, pins[name]))
    for name in sorted(set(pins) - seen):
        print("wheels.py: warning: %s is pinned in %s but not needed" % (name, constraints), file=sys.stderr)
    if problems:
        raise BuildError("vendored packages unfit for Python %s:\n  " % python + "\n  ".join(problems))
    print("wheels.py: %d wheels fit Python %s and match %s" % (len(wheels), python, constraints), file=sys.stderr)


# ---------------------------------------------------------------- requirements


def target_environment(python):
    """PEP 508 marker variables of SCF's CPython `python` ("3.9") on Linux x86_64."""
    return {
        "python_version": python,
        "python_full_version": python + ".0",
        "implementation_name": "cpython",
        "implementation_version": python + ".0",
        "platform_python_implementation": "CPython",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "sys_platform": "linux",
        "os_name": "posix",
    }


def requirements_for(path, python):
    """The requirement lines of `path` that apply to `python`, markers evaluated and dropped."""
    Requirement = _vendored_packaging("requirements").Requirement
    environment = target_environment(python)
    lines = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = re.sub(r"(^|\s)#.*$", "", line).strip()  # comments, as pip reads them
            if not line:
                continue
            if line.startswith("-"):
                raise BuildError("%s:%d: options are not supported here: %r" % (path, lineno, line))
            try:
                req = Requirement(line)
            except Exception as e:
                raise BuildError("%s:%d: %s" % (path, lineno, e)) from e
            if req.marker is not None and not req.marker.evaluate(environment):
                continue
            req.marker = None
            lines.append(str(req))
    return lines


def write_requirements(path, python, out):
    lines = requirements_for(path, python)
    with open(out, "w", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))
    print("wheels.py: requirements for Python %s: %s" % (python, ", ".join(lines)), file=sys.stderr)


# ---------------------------------------------------------------- unpack


def _destination(name):
    """Where a wheel member goes, relative to the zip root, or None to leave it out."""
    if name.endswith("/"):
        return None  # directory entries: the zip writer makes its own
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise BuildError("unsafe path in wheel: %r" % name)
    if parts[0].endswith(".data"):
        # name-version.data/{purelib,platlib}/... install at the root; scripts, headers
        # and data are not importable and stay out (so no bin/ in the zip).
        if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
            parts = parts[2:]
        else:
            return None
    path = "/".join(parts)
    if "__pycache__" in parts or path.endswith(PRUNE_SUFFIXES):
        return None
    if any(p in PRUNE_DIR_NAMES for p in parts[:-1]):
        return None
    if parts[0].endswith(".dist-info") and parts[-1] in PRUNE_FILES:
        return None
    return path


def unpack(dest, wheels):
    taken = {}  # top-level name -> who put it there
    for entry in os.listdir(dest):
        taken[posixpath.splitext(entry)[0] if entry.endswith(".py") else entry] = "the function's " + entry
    for wheel in sorted(wheels):
        base = os.path.basename(wheel)
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                path = _destination(info.filename)
                if path is None:
                    continue
                top = path.split("/")[0]
                key = top[:-3] if top.endswith(".py") and "/" not in path else top
                owner = taken.setdefault(key, base)
                if owner != base:
                    raise BuildError("%s: %s collides with %s" % (base, path, owner))
                target = os.path.join(dest, *path.split("/"))
                if os.path.exists(target):
                    raise BuildError("%s: %s is already in the staging folder" % (base, path))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    out.write(src.read())


# ---------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("crcmod-wheel")
    p.add_argument("sdist")
    p.add_argument("outdir")
    p = sub.add_parser("check")
    p.add_argument("--python", required=True, help="target version, e.g. 3.9")
    p.add_argument("--constraints", required=True)
    p.add_argument("wheels", nargs="+")
    p = sub.add_parser("requirements")
    p.add_argument("--python", required=True, help="target version, e.g. 3.9")
    p.add_argument("requirements")
    p.add_argument("out")
    p = sub.add_parser("unpack")
    p.add_argument("dest")
    p.add_argument("wheels", nargs="+")
    args = parser.parse_args(argv)
    try:
        if args.command == "crcmod-wheel":
            crcmod_wheel(args.sdist, args.outdir)
        elif args.command == "check":
            check(args.wheels, args.python, args.constraints)
        elif args.command == "requirements":
            write_requirements(args.requirements, args.python, args.out)
        else:
            unpack(args.dest, args.wheels)
    except BuildError as e:
        print("wheels.py: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
