#!/usr/bin/env bash
# Check that a program must NOT compile, and that the compiler's first error names the cause.
#   check.sh PROGRAM.cpp COMPILER [ARGS...]
# PROGRAM.cpp holds a line `// expect: TEXT`; the first line of the compiler's output
# containing "error" must contain TEXT. Exits 0 only then; otherwise prints what it saw.
set -uo pipefail

if (($# < 2)); then
  echo "usage: $0 PROGRAM.cpp COMPILER [ARGS...]" >&2
  exit 2
fi
program=$1
shift

expected=$(sed -n 's|^// expect: ||p' "$program" | head -n 1)
if [[ -z $expected ]]; then
  echo "compile_fail: $program has no '// expect: TEXT' line" >&2
  exit 2
fi

out=$("$@" -fsyntax-only -x c++ "$program" 2>&1)
status=$?
first=$(grep -m 1 "error" <<<"$out")

if ((status == 0)); then
  echo "compile_fail: $(basename "$program") compiled, but it must not"
  exit 1
fi
if [[ $first != *"$expected"* ]]; then
  echo "compile_fail: $(basename "$program"): the first error does not name the cause"
  echo "  expected it to contain: $expected"
  echo "  first error line:       $first"
  echo "  compiler output (first 20 lines):"
  head -n 20 <<<"$out" | sed 's/^/  | /'
  exit 1
fi
echo "compile_fail: $(basename "$program"): refused with \"$expected\""
