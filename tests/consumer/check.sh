#!/usr/bin/env bash
# Prove that an outside project can use troupe:
#   (a) as a meson subproject (subprojects/troupe -> SOURCE_ROOT), and
#   (b) installed to a prefix and found through pkg-config, both by meson's
#       dependency('troupe') and by a plain g++ command line.
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
expected="balance 42"

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

# check_output STEP-NAME CMD... : CMD must exit 0 and print "balance 42".
check_output() {
  local name=$1; shift
  local out
  out=$("$@" 2>&1)
  local rc=$?
  if ((rc != 0)) || ! grep -qx "$expected" <<<"$out"; then
    echo "consumer: FAILED at step '$name': exit status $rc, expected output '$expected', got:" >&2
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
if ! meson setup "$work/sub-build" "$work/sub" --force-fallback-for=troupe \
    >"$work/subproject-setup.log" 2>&1; then
  if grep -qi symlink "$work/subproject-setup.log"; then
    # meson would not follow the symlink: use a copy of the tree instead.
    rm -rf "$work/sub/subprojects/troupe" "$work/sub-build"
    mkdir -p "$work/sub/subprojects/troupe"
    tar -C "$src" --exclude=./build --exclude=./.git -cf - . |
      tar -C "$work/sub/subprojects/troupe" -xf - || { echo "consumer: copying $src failed" >&2; exit 1; }
    run "subproject setup" meson setup "$work/sub-build" "$work/sub" --force-fallback-for=troupe
  else
    echo "consumer: FAILED at step 'subproject setup'" >&2
    tail -n 40 "$work/subproject-setup.log" | sed 's/^/  | /' >&2
    exit 1
  fi
fi
run "subproject compile" meson compile -C "$work/sub-build" -j 2
check_output "subproject run" "$work/sub-build/consumer"

# --- (b) troupe installed, found with pkg-config --------------------------------
prefix="$work/prefix"
run "install setup" meson setup "$work/inst-build" "$src" --prefix="$prefix" \
  -Dtests=false -Dsamples=false -Dconsumer_test=false
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
check_output "pkg-config run" "$work/consumer-pc"

# The consumer's own meson.build, with no subprojects/ dir: dependency() must use pkg-config.
cp -r "$project" "$work/pc"
run "meson pkg-config setup" meson setup "$work/pc-build" "$work/pc"
run "meson pkg-config compile" meson compile -C "$work/pc-build" -j 2
check_output "meson pkg-config run" "$work/pc-build/consumer"

echo "consumer: subproject, pkg-config and installed meson builds all print '$expected'"
