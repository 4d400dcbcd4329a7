#!/usr/bin/env bash
# Prove that an outside project can use each of troupe's libraries (the core, troupe-actors,
# troupe-http):
#   (a) as a meson subproject (subprojects/troupe -> SOURCE_ROOT);
#   (b) installed to a prefix and found through pkg-config, both by meson's dependency()
#       and by a plain g++ command line;
#   (c) installed, and found by CMake's find_package(troupe) (imported targets), with no
#       LD_LIBRARY_PATH: the CMake-built programs find the libraries through their rpath;
#   (d) and that a build of the core alone (-Dhttp=disabled -Dobserver=disabled, no tests or
#       samples) looks up none of libcurl, cpp-httplib, nlohmann-json and libevent, and has
#       no HTTP library to compile.
# Usage: check.sh SOURCE_ROOT WORKDIR    (WORKDIR is deleted and recreated)
set -uo pipefail

if (($# != 2)); then
  echo "usage: $0 SOURCE_ROOT WORKDIR" >&2
  exit 2
fi
src=$(realpath -e "$1") || { echo "consumer: no source root '$1'" >&2; exit 2; }
work=$(realpath -m "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
project="$here/project"
expected="balance 42"                            # main.cpp: the core
expected_extras="event set, http client alive"   # extras.cpp: troupe-actors and troupe-http

case "$work" in
  / | "$src" | "$HOME") echo "consumer: refusing to use '$work' as WORKDIR" >&2; exit 2 ;;
esac
if [[ "$src/" == "$work/"* ]]; then
  echo "consumer: refusing to use '$work' as WORKDIR: it contains the source root" >&2
  exit 2
fi
rm -rf "$work"
mkdir -p "$work"


# run STEP-NAME CMD... : run quietly, log to WORKDIR; on failure show the log tail.
run() {
  local step=$1; shift
  local log="$work/${step// /-}.log"
  if "$@" >"$log" 2>&1; then
    return 0
  fi
  echo "consumer: FAILED at step '$step': $*" >&2
  tail -n 40 "$log" | sed 's/^/  | /' >&2
  exit 1
}

# check_output STEP-NAME EXPECTED CMD... : CMD must exit 0 and print the line EXPECTED.
check_output() {
  local name=$1 want=$2; shift 2
  local out
  out=$("$@" 2>&1)
  local rc=$?
  if ((rc != 0)) || ! grep -qxF "$want" <<<"$out"; then
    echo "consumer: FAILED at step '$name': exit status $rc, expected output '$want', got:" >&2
    # shellcheck disable=SC2001  # a prefix on every line
    sed 's/^/  | /' <<<"$out" >&2
    exit 1
  fi
}

# --- (a) troupe as a subproject -------------------------------------------------
cp -r "$project" "$work/sub"
mkdir -p "$work/sub/subprojects"
ln -s "$src" "$work/sub/subprojects/troupe"
# Never pick up an installed troupe here: this step is about the subproject.
if ! meson setup "$work/sub-build" "$work/sub" --force-fallback-for=troupe,troupe-actors,troupe-http \
    >"$work/subproject-setup.log" 2>&1; then
  if grep -qi symlink "$work/subproject-setup.log"; then
    # meson would not follow the symlink: use a copy of the tree instead.
    rm -rf "$work/sub/subprojects/troupe" "$work/sub-build"
    mkdir -p "$work/sub/subprojects/troupe"
    tar -C "$src" --exclude=./build --exclude=./.git -cf - . |
      tar -C "$work/sub/subprojects/troupe" -xf - || { echo "consumer: copying $src failed" >&2; exit 1; }
    run "subproject setup" meson setup "$work/sub-build" "$work/sub" --force-fallback-for=troupe,troupe-actors,troupe-http
  else
    echo "consumer: FAILED at step 'subproject setup'" >&2
    tail -n 40 "$work/subproject-setup.log" | sed 's/^/  | /' >&2
    exit 1
  fi
fi
run "subproject compile" meson compile -C "$work/sub-build" -j 2
check_output "subproject run" "$expected" "$work/sub-build/consumer"
check_output "subproject extras run" "$expected_extras" "$work/sub-build/consumer-extras"

# --- (b) troupe installed, found with pkg-config --------------------------------
prefix="$work/prefix"
run "install setup" meson setup "$work/inst-build" "$src" --prefix="$prefix" \
  -Dtests=false -Dsamples=false -Dconsumer_test=false -Dhttp=enabled
run "install compile" meson compile -C "$work/inst-build" -j 2
run "install" meson install -C "$work/inst-build"

pcfile=$(find "$prefix" -name troupe.pc -print -quit)
if [[ -z "$pcfile" ]]; then
  echo "consumer: FAILED at step 'find troupe.pc': no troupe.pc under $prefix" >&2
  exit 1
fi
pcdir=$(dirname "$pcfile")
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir=$(pkg-config --variable=libdir troupe)
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A plain compiler command line.
flags=$(pkg-config --cflags --libs troupe) || { echo "consumer: FAILED at step 'pkg-config troupe'" >&2; exit 1; }
# shellcheck disable=SC2086  # flags is a list of words
run "pkg-config compile" g++ -std=c++20 "$project/main.cpp" -o "$work/consumer-pc" $flags
check_output "pkg-config run" "$expected" "$work/consumer-pc"
flags=$(pkg-config --cflags --libs troupe-actors troupe-http) ||
  { echo "consumer: FAILED at step 'pkg-config troupe-actors troupe-http'" >&2; exit 1; }
# shellcheck disable=SC2086
run "pkg-config extras compile" g++ -std=c++20 "$project/extras.cpp" -o "$work/extras-pc" $flags
check_output "pkg-config extras run" "$expected_extras" "$work/extras-pc"

# troupe-observer, installed: its header and its pkg-config file.
if [[ ! -f "$(pkg-config --variable=includedir troupe)/troupe/observer.hpp" ]]; then
  echo "consumer: FAILED at step 'observer header': troupe/observer.hpp is not installed" >&2
  exit 1
fi
flags=$(pkg-config --cflags --libs troupe-observer) ||
  { echo "consumer: FAILED at step 'pkg-config troupe-observer'" >&2; exit 1; }
# shellcheck disable=SC2086
run "pkg-config observer compile" g++ -std=c++20 "$project/observer.cpp" -o "$work/observer-pc" $flags
check_output "pkg-config observer run" "observer serving" "$work/observer-pc"

# The consumer's own meson.build, with no subprojects/ dir: dependency() must use pkg-config.
cp -r "$project" "$work/pc"
run "meson pkg-config setup" meson setup "$work/pc-build" "$work/pc"
run "meson pkg-config compile" meson compile -C "$work/pc-build" -j 2
check_output "meson pkg-config run" "$expected" "$work/pc-build/consumer"
check_output "meson pkg-config extras run" "$expected_extras" "$work/pc-build/consumer-extras"

# --- (c) troupe installed, found with CMake -------------------------------------------
if ! command -v cmake >/dev/null 2>&1; then
  echo "consumer: FAILED at step 'cmake': cmake is not installed (scripts/bootstrap installs it)" >&2
  exit 1
fi
run "cmake configure" env -u PKG_CONFIG_PATH cmake -S "$project" -B "$work/cmake-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
run "cmake build" cmake --build "$work/cmake-build" -j 2
check_output "cmake run" "$expected" env -u LD_LIBRARY_PATH "$work/cmake-build/consumer"
check_output "cmake extras run" "$expected_extras" \
  env -u LD_LIBRARY_PATH "$work/cmake-build/consumer-extras"

# --- (d) the core alone needs no HTTP libraries -----------------------------------------
cp -r "$project" "$work/core"
mkdir -p "$work/core/subprojects"
if [[ -L "$work/sub/subprojects/troupe" ]]; then
  ln -s "$src" "$work/core/subprojects/troupe"
else  # (a) had to copy the tree
  cp -r "$work/sub/subprojects/troupe" "$work/core/subprojects/troupe"
fi
run "core-only setup" env -u PKG_CONFIG_PATH meson setup "$work/core-build" "$work/core" --force-fallback-for=troupe,troupe-actors,troupe-http \
  -Dtroupe:http=disabled -Dtroupe:observer=disabled
if grep -E 'libcurl|nlohmann_json|cpp-httplib|httplib\.h|libevent' "$work/core-build/meson-logs/meson-log.txt" |
    grep -E 'found: (YES|NO)|Has header' >"$work/core-only-lookups.log"; then
  echo "consumer: FAILED at step 'core-only lookups': a core-only build looked up:" >&2
  sed 's/^/  | /' "$work/core-only-lookups.log" >&2
  exit 1
fi
if meson introspect --targets "$work/core-build" | grep -qE 'troupe-http|troupe-observer'; then
  echo "consumer: FAILED at step 'core-only targets': troupe-http or troupe-observer would be compiled" >&2
  exit 1
fi

echo "consumer: subproject, pkg-config (g++ and meson) and CMake builds all run; a core-only build needs no HTTP library"
