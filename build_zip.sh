#!/usr/bin/env bash
# Build the code package to upload to Tencent SCF ("本地上传zip包").
#
#   ./build_zip.sh [python3.6|python3.7|python3.9|python3.10|python3.11|python3.12]
#                                                                   (default: python3.6)
#
# Writes dist/cos2oms-<runtime>.zip and, with the same files, the folder
# dist/cos2oms-<runtime>/ (what serverless.yml deploys). Prints the zip's size in bytes and
# its file count, then its path as the last line.
#
# What goes in, at the zip root:
#   - the function's own files, exactly those listed in packaging/manifest.txt: the
#     top-level index.py, replay.py, audit.py and signer.py, and the cos2oms/ package's modules
#     (*.py only). Nothing else of the work tree, tracked or not: no stray scratch.py,
#     no cos2oms/notes.txt or the work tree's __pycache__, no tests/, local/, bench/, .ci/,
#     requirements*.txt, Makefile, README, serverless.yml, this script, packaging/,
#     dotfiles. The build fails if a listed file is missing, or (in a git work tree) if a
#     tracked cos2oms/*.py is not listed: that zip would lack a module;
#   - the package's bytecode, cos2oms/**/__pycache__/NAME.cpython-3X.pyc, compiled by the runtime's
#     own interpreter (pyenv's $(pyenv root)/versions/3.X*, else python3.X on PATH) by
#     packaging/pycs.py: SCF's code directory is read-only, so without it every cold start compiles
#     every module. 3.7+: checked hash-based pycs; 3.6: timestamp pycs recording the mtime unzip
#     gives the source in UTC (the zip's timestamp). Either way an edited source is compiled instead
#     of its stale pyc. Never for the top-level modules (users edit index.py in the SCF console).
#     Without that interpreter the zip ships the sources alone, saying so on stderr; with
#     REQUIRE_ALL_RUNTIMES=1 (CI) that is an error;
#   - vendored packages, as manylinux2014_x86_64 wheels for that CPython (SCF runs CentOS
#     x86_64), at the versions pinned in packaging/constraints-<runtime>.txt: for each
#     package, the newest release that supports that Python (the file says which and why):
#       python3.7 and later: requirements.txt and packaging/requirements-zip.txt (the
#       audit's OBS SDK, esdk-obs-python);
#       python3.6: packaging/requirements-zip.txt alone (esdk-obs-python and pycryptodome).
#       SCF's Python 3.6 runtime has cos-python-sdk-v5 (as qcloud_cos_v5) and requests 2.21
#       built in; the build fails if a built-in package would be vendored (it would shadow
#       the one the function runs on).
#     Environment markers (python_version) are evaluated for the runtime, not for the
#     Python running pip. The build fails if a wheel's own METADATA says Requires-Python
#     excludes the runtime. crcmod and esdk-obs-python publish no wheel: their pure-Python
#     packages are made into wheels here (cos-python-sdk-v5 uses crcmod only to check the
#     CRC64 of resumable downloads, which the function does not make).
#     *.dist-info folders are kept, minus RECORD: they carry the licences the vendored
#     packages ask to be redistributed with them, and importlib.metadata reads them.
#     Never shipped: the packages' test suites (certifi/tests, pycryptodome's
#     Crypto/SelfTest), __pycache__/*.pyc, *.pyi stubs, bin/ scripts.
#
# The zip is reproducible: sorted entries, one timestamp (SOURCE_DATE_EPOCH, else
# 1980-01-01), modes 0644/0755 (packaging/mkzip.py).
#
# Needs python3 (3.8 or later) with pip; nothing is installed into it. Downloads go to
# build/cache/ (override with COS2OMS_CACHE=dir); once the wheels are there, rebuilding
# makes no network request. PYTHON=/path/to/python3 picks the interpreter that runs pip.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}
log() { printf 'build_zip: %s\n' "$*" >&2; }
die() { printf 'build_zip: error: %s\n' "$*" >&2; exit 1; }

runtime="${1:-python3.6}"
case "$runtime" in
    -h|--help) usage; exit 0 ;;
    python3.6|python3.7|python3.9|python3.10|python3.11|python3.12) ;;
    *) usage >&2; die "unknown runtime '$runtime' (expected python3.6, python3.7, python3.9, python3.10, python3.11 or python3.12)" ;;
esac
[ $# -le 1 ] || { usage >&2; die "expected at most one argument"; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# What SCF's Python 3.6 runtime has built in, which its zip must not vendor (it would shadow them).
SCF36_BUILT_IN="cos-python-sdk-v5,requests,urllib3,idna,chardet,certifi,six,dicttoxml"
py="${PYTHON:-python3}"
cache="${COS2OMS_CACHE:-$repo/build/cache}"
work="$repo/build/$runtime"            # scratch: resolved wheels and the staging folder
stage="$work/stage"
out_dir="$repo/dist/cos2oms-$runtime"
zip="$repo/dist/cos2oms-$runtime.zip"

"$py" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null \
    || die "'$py' must be Python 3.8 or later (set PYTHON=/path/to/python3)"

# ---- the function's own files: those packaging/manifest.txt lists, nothing else -----------
[ -f "$repo/index.py" ] || die "no index.py in $repo: SCF runs index.main_handler, there is nothing to package"
manifest="$repo/packaging/manifest.txt"
[ -f "$manifest" ] || die "$manifest is missing: it lists the function's files to ship"
files=()
while IFS= read -r line || [ -n "$line" ]; do
    line="${line%%#*}"
    line="${line//[[:space:]]/}"
    [ -n "$line" ] || continue
    # A top-level module, or a module of the cos2oms package: *.py, no "..", no other folder.
    [[ "$line" =~ ^(cos2oms/([A-Za-z_][A-Za-z0-9_]*/)*)?[A-Za-z_][A-Za-z0-9_]*\.py$ ]] \
        || die "packaging/manifest.txt: '$line' is not a top-level module or a cos2oms/ module (*.py)"
    [ -f "$repo/$line" ] || die "packaging/manifest.txt lists $line, which is not in $repo"
    for seen in ${files[@]+"${files[@]}"}; do
        [ "$seen" != "$line" ] || die "packaging/manifest.txt lists $line twice"
    done
    files+=("$line")
done < "$manifest"
case " ${files[*]-} " in
    *" index.py "*) ;;
    *) die "packaging/manifest.txt does not list index.py: SCF runs index.main_handler" ;;
esac
if [ -e "$repo/.git" ] && command -v git >/dev/null 2>&1; then
    # A module that is tracked but not listed would leave the zip unable to import it.
    unlisted=()
    while IFS= read -r tracked; do
        case " ${files[*]} " in *" $tracked "*) ;; *) unlisted+=("$tracked") ;; esac
    done < <(git -C "$repo" ls-files -- 'cos2oms/*.py')
    [ ${#unlisted[@]} -eq 0 ] \
        || die "tracked but not in packaging/manifest.txt (the zip would lack them): ${unlisted[*]}"
fi

rm -rf "$work"
mkdir -p "$stage" "$repo/dist"
for path in "${files[@]}"; do
    mkdir -p "$stage/$(dirname "$path")"
    cp "$repo/$path" "$stage/$path"
done
log "$runtime: the function's ${#files[@]} files (packaging/manifest.txt): ${files[*]}"

# ---- the package's bytecode, compiled by the runtime's own interpreter ---------------------
# SCF's code directory is read-only: without __pycache__ in the zip, every cold start compiles every module.
# Only cos2oms/ gets bytecode; the top-level modules never do (users edit index.py's constants in the SCF
# console: their edit must always take effect). packaging/pycs.py says how each pyc stays valid only for
# its unedited source (3.7+: checked hash; 3.6: the mtime unzip gives the source, the zip's time in UTC).
version="${runtime#python}"                      # 3.9
runtime_python=""
pyenv_root="$(pyenv root 2>/dev/null || printf '%s' "${PYENV_ROOT:-$HOME/.pyenv}")"
for candidate in $(ls -d "$pyenv_root/versions/$version".*/bin/"$runtime" 2>/dev/null | sort -V -r) \
                 "$(command -v "$runtime" 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -S -c \
            "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$version'.split('.'))))" 2>/dev/null; then
        runtime_python="$candidate"
        break
    fi
done
package=()
for path in "${files[@]}"; do
    case "$path" in cos2oms/*) package+=("$path") ;; esac
done
if [ -n "$runtime_python" ]; then
    env -u PYTHONPYCACHEPREFIX -u PYTHONOPTIMIZE PYTHONHASHSEED=0 "$runtime_python" -S -s \
        "$repo/packaging/pycs.py" "$stage" "$("$py" "$repo/packaging/mkzip.py" --mtime)" "${package[@]}" \
        || die "$runtime_python could not compile the package (see above)"
    log "$runtime: the package's ${#package[@]} modules compiled by $runtime_python"
elif [ "${REQUIRE_ALL_RUNTIMES:-}" = 1 ]; then
    die "no $runtime interpreter (under $pyenv_root/versions or on PATH) to compile the package with (REQUIRE_ALL_RUNTIMES=1: every zip must ship its bytecode)"
else
    log "$runtime: no $runtime interpreter (under $pyenv_root/versions or on PATH): the zip ships the package's sources only, without bytecode (each cold start will compile them)"
fi

# ---- vendored dependencies -----------------------------------------------------------------
abi="cp${version/./}"                            # cp39
case "$version" in 3.6|3.7) abi="${abi}m" ;; esac  # 3.7 is the last ABI with the "m" flag
constraints="$repo/packaging/constraints-$runtime.txt"
[ -f "$constraints" ] || die "$constraints is missing: it pins what gets vendored for $runtime"
"$py" -c 'import pip' 2>/dev/null || die "'$py' has no pip: pip is needed to fetch the wheels"

# The wheels fetched for this runtime, and only those: resolving offline among another
# runtime's wheels could pick a different, merely compatible one (charset-normalizer's
# cp37-abi3 wheel, fetched for 3.7, instead of the cp310 one the index gives 3.10), and
# the zip would depend on what was built before on this machine.
wheels="$cache/wheels/$runtime"
local_wheels="$cache/local-wheels"               # wheels built here from sdists
mkdir -p "$wheels" "$local_wheels" "$cache/sdists"

# Packages that publish only an sdist (crcmod, esdk-obs-python): make a py3-none-any wheel of
# their pure-Python package, so pip can resolve everything else with --only-binary and the pin
# applies to them like the rest. Each is built when this runtime's constraints pin it.
for sdist_only in crcmod esdk-obs-python; do
    pinned="$(sed -n "s/^$sdist_only==\([^ #]*\).*/\1/p" "$constraints")"
    [ -n "$pinned" ] || continue
    [ -f "$local_wheels/${sdist_only//-/_}-$pinned-py3-none-any.whl" ] && continue
    sdists="$cache/sdists/$sdist_only-$pinned"
    if [ -z "$(ls "$sdists"/*.tar.gz 2>/dev/null)" ]; then
        log "downloading the $sdist_only $pinned sdist"
        "$py" -m pip download --quiet --no-deps --no-binary=:all: --progress-bar off \
            -d "$sdists" "$sdist_only==$pinned" >&2 \
            || die "could not download the $sdist_only $pinned sdist"
    fi
    "$py" "$repo/packaging/wheels.py" sdist-wheel "$sdists"/*.tar.gz "$local_wheels" >/dev/null \
        || die "could not build a wheel from the $sdist_only $pinned sdist"
done

# What gets vendored: requirements.txt (python3.7 and later; SCF's 3.6 runtime has its own
# copies built in) and packaging/requirements-zip.txt (every runtime), markers evaluated for
# the runtime, not for "$py".
requirements="$work/requirements.txt"
: > "$requirements"
sources=("$repo/packaging/requirements-zip.txt")
[ "$runtime" = python3.6 ] || sources=("$repo/requirements.txt" "${sources[@]}")
for source in "${sources[@]}"; do
    "$py" "$repo/packaging/wheels.py" requirements --python "$version" "$source" "$work/part.txt" \
        || die "could not read $source"
    cat "$work/part.txt" >> "$requirements"
done
rm -f "$work/part.txt"

resolved="$work/wheels"
download=(
    "$py" -m pip download --quiet --progress-bar off
    --only-binary=:all: --platform manylinux2014_x86_64
    --implementation cp --python-version "$version" --abi "$abi"
    -r "$requirements" -c "$constraints"
    --find-links "$local_wheels" -d "$resolved"
)
# Offline first, from the wheels already fetched; the index only when that fails.
if "${download[@]}" --no-index --find-links "$wheels" >/dev/null 2>&1; then
    log "$runtime: wheels resolved offline from $wheels"
else
    log "$runtime: fetching wheels (first build, or the pins changed)"
    rm -rf "$resolved"
    "${download[@]}" >&2 \
        || die "pip could not get wheels for $runtime matching its requirements and $constraints (pip's reason above)"
    cp -p "$resolved"/*.whl "$wheels"/
fi

resolved_wheels=("$resolved"/*.whl)
check=("$py" "$repo/packaging/wheels.py" check --python "$version" --constraints "$constraints")
# SCF's 3.6 runtime: a vendored copy of a built-in package would shadow it (the function runs on those).
[ "$runtime" != python3.6 ] || check+=(--built-in "$SCF36_BUILT_IN")
"${check[@]}" "${resolved_wheels[@]}" || die "vendored packages do not fit $runtime (see above)"
"$py" "$repo/packaging/wheels.py" unpack "$stage" "${resolved_wheels[@]}"

# ---- the zip, and the same tree for serverless.yml --------------------------------------
stats="$("$py" "$repo/packaging/mkzip.py" "$stage" "$zip")" || die "could not write $zip"
size="${stats%%$'\n'*}"
count="${stats##*$'\n'}"
rm -rf "$out_dir"
mv "$stage" "$out_dir"
rm -rf "$work"

case "$zip" in
    "$PWD"/*) shown="${zip#"$PWD"/}" ;;
    *) shown="$zip" ;;
esac
echo "size: $size bytes"
echo "files: $count"
echo "$shown"
