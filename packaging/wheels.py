"""Vendoring helpers for build_zip.sh: a local build tool, never shipped in the zip.

    wheels.py sdist-wheel SDIST OUTDIR
        Build <name>-<version>-py3-none-any.whl from the sdist of a pure-Python package that
        publishes no wheel (SDIST_LAYOUTS: crcmod, esdk-obs-python): its package's modules
        (no tests), METADATA from PKG-INFO plus Requires-Dist from the sdist's requires.txt,
        its licence file if it has one. Prints the wheel's path.
    wheels.py check --python X.Y --constraints FILE [--built-in NAME,...] WHEEL...
        Fail unless every wheel admits Python X.Y in its own METADATA (Requires-Python),
        carries tags that SCF's CentOS x86_64 runtime can load, is pinned in FILE, and is
        none of the runtime's built-in packages (--built-in: SCF's Python 3.6 has requests
        2.21 and cos-python-sdk-v5 1.6.6; a vendored copy would shadow them).
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

# Fixed timestamp for the wheels built from sdists, so that it is the same bytes every time.
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


# ---------------------------------------------------------------- sdist-wheel


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return "%s,sha256=%s,%d" % (path, digest, len(data))


class SdistLayout(object):
    """Where a pure-Python package lies in its sdist, and what of it is left out of the wheel.

    ``source``: the folder (relative to the sdist's root) that holds the importable package ``package``;
    ``left_out``: its modules that are not shipped; ``needed``: a module that must be there (the sdist is
    not what its name says otherwise); ``license``: the licence file to carry, if the sdist has one;
    ``requires``: the sdist's egg-info requires.txt, whose lines become the wheel's Requires-Dist (so that
    pip resolves and pins the package's dependencies like any wheel's)."""

    def __init__(self, source, package, needed, left_out=(), license=None, requires=None):
        self.source, self.package, self.needed = source, package, needed
        self.left_out, self.license, self.requires = left_out, license, requires


# The packages that publish only an sdist, and are pure Python. crcmod: without its C extension it falls back
# to _crcfunpy by itself. esdk-obs-python (the audit's OBS client, cos2oms/obs.py): pure Python, no licence
# file in its sdist (its PKG-INFO says Apache-2.0).
SDIST_LAYOUTS = {
    "crcmod": SdistLayout("python3/", "crcmod", "crcmod/_crcfunpy.py", left_out=("crcmod/test.py",),
                          license="LICENSE"),
    "esdk-obs-python": SdistLayout("", "obs", "obs/client.py", requires="esdk_obs_python.egg-info/requires.txt"),
}


def _requires_dist(text):
    """requires.txt's unconditional requirements (before any ``[extra]`` section), one per line."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            break
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def sdist_wheel(sdist, outdir):
    """Build ``<name>-<version>-py3-none-any.whl`` from the sdist of a package of SDIST_LAYOUTS: its
    pure-Python package (no tests), its METADATA (PKG-INFO, plus Requires-Dist), its licence if any."""
    with tarfile.open(sdist) as tf:
        members = {m.name: m for m in tf.getmembers() if m.isfile()}
        root = os.path.commonpath(list(members)).split("/")[0]

        def read(rel, missing=None):
            member = members.get(root + "/" + rel)
            if member is None:
                if missing is not None:
                    return missing
                raise BuildError("%s: no %s" % (sdist, rel))
            return tf.extractfile(member).read()

        pkg_info = read("PKG-INFO").decode("utf-8").replace("\r\n", "\n")  # some are written with CRLF
        meta = email.parser.Parser().parsestr(pkg_info, headersonly=True)
        name, version = meta["Name"], meta["Version"]
        layout = SDIST_LAYOUTS.get(canonical(name))
        if layout is None:
            raise BuildError("%s: %s is not one of the sdist-only packages this builds (%s)"
                             % (sdist, name, ", ".join(sorted(SDIST_LAYOUTS))))
        prefix = root + "/" + layout.source
        modules = sorted(
            n[len(prefix):]
            for n in members
            if n.startswith(prefix + layout.package + "/") and n.endswith(".py")
        )
        files = [(m, read(layout.source + m)) for m in modules
                 if m not in layout.left_out and not set(m.split("/")[:-1]) & set(PRUNE_DIR_NAMES)]
        license_text = read(layout.license) if layout.license else None
        requires = _requires_dist(read(layout.requires, b"").decode("utf-8")) if layout.requires else []

    if not any(m == layout.needed for m, _ in files):
        raise BuildError("%s: no %s (not a %s sdist?)" % (sdist, layout.needed, name))

    dist_info = "%s-%s.dist-info" % (name.replace("-", "_"), version)
    # PKG-INFO may be Metadata-Version 1.0 (crcmod's); wheels want 1.1 or later, of which 1.0 is a subset.
    metadata = re.sub(r"^Metadata-Version: 1\.0$", "Metadata-Version: 1.1", pkg_info, count=1, flags=re.M)
    if requires:
        if "Metadata-Version: 1." in metadata:
            metadata = re.sub(r"^Metadata-Version: .*$", "Metadata-Version: 2.1", metadata, count=1, flags=re.M)
        head, sep, body = metadata.partition("\n\n")
        metadata = head + "".join("\nRequires-Dist: " + r for r in requires) + "\n" + sep[1:] + body
    files += [(dist_info + "/METADATA", metadata.encode("utf-8"))]
    if license_text is not None:
        files.append((dist_info + "/LICENSE", license_text))
    files += [
        (
            dist_info + "/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: cos2oms packaging/wheels.py\n"
            b"Root-Is-Purelib: true\nTag: py3-none-any\n",
        ),
        (dist_info + "/top_level.txt", (layout.package + "\n").encode("utf-8")),
    ]
    record = "".join(_record_line(p, d) + "\n" for p, d in files) + dist_info + "/RECORD,,\n"
    files.append((dist_info + "/RECORD", record.encode("utf-8")))

    os.makedirs(outdir, exist_ok=True)
    out = os.path.join(outdir, "%s-%s-py3-none-any.whl" % (name.replace("-", "_"), version))
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


def check(wheels, python, constraints, built_in=()):
    target = tuple(int(p) for p in python.split("."))
    built_in = {canonical(name) for name in built_in}
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
        if name in built_in:
            problems.append("%s %s is built into the runtime: a vendored copy would shadow it (pin a release of "
                            "what pulls it in that does without)" % (name, version))
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
    p = sub.add_parser("sdist-wheel")
    p.add_argument("sdist")
    p.add_argument("outdir")
    p = sub.add_parser("check")
    p.add_argument("--python", required=True, help="target version, e.g. 3.9")
    p.add_argument("--constraints", required=True)
    p.add_argument("--built-in", help="comma-separated packages the runtime has built in: none may be vendored")
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
        if args.command == "sdist-wheel":
            sdist_wheel(args.sdist, args.outdir)
        elif args.command == "check":
            check(args.wheels, args.python, args.constraints,
                  [n for n in (args.built_in or "").split(",") if n.strip()])
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
