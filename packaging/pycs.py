"""Compile the cos2oms package's staged modules for the zip's runtime: a local build tool for build_zip.sh,
never shipped. Run BY THE RUNTIME'S OWN INTERPRETER (its magic number and cache tag go in the files), so
this file must run on Python 3.6.

    python3.X -S -s pycs.py STAGE_DIR ZIP_EPOCH MODULE...

For each MODULE (a path under STAGE_DIR, e.g. cos2oms/handler.py) writes
STAGE_DIR/cos2oms/__pycache__/handler.cpython-3X.pyc, unoptimised (what `python` without -O reads):

- Python 3.7 and later: a checked hash-based pyc (PEP 552): valid whatever the files' times, and an
  edited source no longer matches its hash, so the import compiles the source instead;
- Python 3.6 (timestamp pycs only): the source's mtime is set to ZIP_EPOCH first (the zip's timestamp read
  as UTC: the mtime unzip gives the file in a UTC time zone, SCF's default), so the pyc records the mtime
  and size the unzipped source will have; an edited source has another mtime and is compiled instead.

The code objects' file name is the module's path in the zip (the importer fixes it to the real path),
so the bytes do not depend on where the build ran; build_zip.sh runs this with PYTHONHASHSEED=0, so
that set constants are marshalled in the same order every time.
"""

import os
import py_compile
import sys


def compile_module(stage, module, epoch):
    source = os.path.join(stage, module)
    folder, name = os.path.split(source)
    cache = os.path.join(folder, "__pycache__", "%s.%s.pyc" % (name[:-3], sys.implementation.cache_tag))
    options = {"cfile": cache, "dfile": module, "doraise": True, "optimize": 0}
    mode = getattr(py_compile, "PycInvalidationMode", None)
    if mode is None:  # 3.6
        os.utime(source, (epoch, epoch))
    else:
        options["invalidation_mode"] = mode.CHECKED_HASH
    py_compile.compile(source, **options)
    return cache


def main(argv):
    if len(argv) < 3 or not argv[1].isdigit():
        sys.stderr.write(__doc__)
        return 2
    stage, epoch = argv[0], int(argv[1])
    for module in argv[2:]:
        compile_module(stage, module, epoch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
