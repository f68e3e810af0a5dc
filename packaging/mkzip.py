"""Write a reproducible zip of a folder: a local build tool for build_zip.sh, never shipped.

    mkzip.py SRC_DIR OUT_ZIP
    mkzip.py --mtime          (prints the mtime, in seconds, unzip gives its files in UTC)

Same files in, same bytes out: entries sorted by path, a directory entry before its
contents, every timestamp SOURCE_DATE_EPOCH (if set) or 1980-01-01 00:00:00, modes 0644
for files and 0755 for directories, no extra fields, no comment, deflate level 6 (level 9
takes five times as long for 0.5% less). Symlinks, sockets and the like are refused
rather than followed. Deflate output depends on the zlib build, so "same bytes" holds for
a given Python/zlib; the listing and the file contents always match.
Prints the zip's size in bytes and its number of files, one per line.
"""

import calendar
import os
import sys
import time
import zipfile

EARLIEST = (1980, 1, 1, 0, 0, 0)  # the zip format cannot store an earlier date


def timestamp():
    """Every entry's date_time: SOURCE_DATE_EPOCH in UTC (seconds rounded down to even, as the zip stores
    them: DOS times count two-second steps), or 1980-01-01 00:00:00."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return EARLIEST
    stamp = max(EARLIEST, tuple(time.gmtime(int(epoch))[:6]))
    return stamp[:5] + (stamp[5] - stamp[5] % 2,)


def unzipped_mtime():
    """The mtime unzip gives every file of the zip in a UTC time zone (SCF's default): timestamp() as UTC."""
    return calendar.timegm(timestamp())


def entries(src):
    """(archive name, absolute path, is_dir) for everything under src, sorted by name."""
    found = []
    for dirpath, dirnames, filenames in os.walk(src):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src).replace(os.sep, "/")
            if os.path.islink(path) or not (os.path.isfile(path) or os.path.isdir(path)):
                raise SystemExit("mkzip.py: error: %s is not a regular file or folder" % path)
            is_dir = os.path.isdir(path)
            found.append((rel + "/" if is_dir else rel, path, is_dir))
    return sorted(found)


def write_zip(src, out):
    date_time = timestamp()
    tmp = out + ".tmp"
    files = 0
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, path, is_dir in entries(src):
            info = zipfile.ZipInfo(name, date_time)
            info.create_system = 3  # Unix, so that unzip applies the modes below
            if is_dir:
                info.external_attr = (0o40755 << 16) | 0x10  # 0x10: MS-DOS directory flag
                info.compress_type = zipfile.ZIP_STORED
                zf.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                with open(path, "rb") as f:
                    zf.writestr(info, f.read(), compresslevel=6)
                files += 1
    os.replace(tmp, out)
    return os.path.getsize(out), files


def main(argv):
    if argv == ["--mtime"]:
        print(unzipped_mtime())
        return 0
    if len(argv) != 2 or not os.path.isdir(argv[0]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    size, files = write_zip(argv[0], argv[1])
    print(size)
    print(files)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
