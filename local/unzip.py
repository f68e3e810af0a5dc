"""Unpack a built zip as unzip (and SCF) does: ``unzip_as_unzip(zip_path, directory)``.

zipfile's ``extractall`` leaves every file with the time it was written; unzip restores each entry's mtime
from its DOS date_time, which holds no time zone and is read in the local one. SCF's runtimes run in UTC
(its default), so this reads it as UTC: the mtimes the Python 3.6 zip's timestamp pycs were compiled for
(build_zip.sh, packaging/pycs.py). Used by the zip tests and ``bench.cold_start --zip``.
"""
import calendar
import os
import zipfile


def unzip_as_unzip(zip_path, directory):
    """Extracts `zip_path` into `directory`, each entry's mtime its date_time read in UTC; returns the files'
    names (entries that are not folders), in the zip's order."""
    with zipfile.ZipFile(str(zip_path)) as zf:
        zf.extractall(str(directory))
        infos = zf.infolist()
    for info in infos:
        stamp = calendar.timegm(info.date_time)
        os.utime(os.path.join(str(directory), info.filename), (stamp, stamp))
    return [info.filename for info in infos if not info.is_dir()]
