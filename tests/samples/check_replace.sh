#!/usr/bin/env bash
# replace: real files in a temporary folder. Every occurrence is replaced, permissions are
# kept, no temporary file is left behind; a file that cannot be read or rewritten is
# reported on stderr, left intact, and makes the exit status non-zero while the other files
# are still edited.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

d=$work/files
mkdir "$d"
printf 'ids\nsome ids and more ids\n' >"$d/a.txt"
printf 'nothing to see\n' >"$d/b.txt"
printf 'idsids' >"$d/c.txt"
chmod 640 "$d/c.txt"
for i in $(seq 1 40); do printf 'line ids %d\n' "$i" >"$d/many$i.txt"; done

run ids id "$d"/*.txt
expect_ok "a normal run"
[[ $(cat "$d/a.txt") == $'id\nsome id and more id' ]] || fail "a.txt: $(cat "$d/a.txt")"
[[ $(cat "$d/b.txt") == "nothing to see" ]] || fail "b.txt changed"
[[ $(cat "$d/c.txt") == "idid" ]] || fail "c.txt: $(cat "$d/c.txt")"
[[ $(stat -c %a "$d/c.txt") == 640 ]] || fail "c.txt lost its mode"
has "a\.txt: 3 replacement\(s\)$" out
has "b\.txt: 0 replacement\(s\)$" out
has "^45 replacement\(s\) in 43 file\(s\), 0 failed" out
for i in 1 17 40; do [[ $(cat "$d/many$i.txt") == "line id $i" ]] || fail "many$i.txt"; done
[[ -z $(find "$d" -name '.*' -type f) ]] || fail "temporary files left: $(find "$d" -name '.*')"

# A missing file and a folder: each reported, the good file still edited.
printf 'ids\n' >"$d/good.txt"
mkdir "$d/folder"
run ids id "$d/missing.txt" "$d/good.txt" "$d/folder"
expect_failure "a missing file"
has "cannot open .*missing\.txt: No such file or directory" err
has "cannot read .*folder: Is a directory" err
has "^1 replacement\(s\) in 3 file\(s\), 2 failed" out
[[ $(cat "$d/good.txt") == "id" ]] || fail "good.txt was not edited"

# A file whose folder cannot be written: the new content cannot be put in place, so the
# file must stay exactly as it was. /proc refuses new files even to root.
ln -s /proc/self/status "$d/unwritable.txt"
run Name NAME "$d/unwritable.txt"
expect_failure "an unwritable folder"
has "cannot create a temporary file next to /proc/" err
if [[ $(id -u) != 0 ]]; then  # the same with a read-only folder (root writes anyway)
  mkdir "$d/ro" && printf 'ids\n' >"$d/ro/x.txt" && chmod 555 "$d/ro"
  run ids id "$d/ro/x.txt"
  chmod 755 "$d/ro"
  expect_failure "a read-only folder"
  [[ $(cat "$d/ro/x.txt") == "ids" ]] || fail "the file in the read-only folder changed"
fi

run "" x "$d/a.txt"
expect_failure "an empty OLD"
has "OLD must not be empty" err

run --demo
expect_ok "--demo"
has "^30 replacement\(s\) in 10 file\(s\), 0 failed" out
demo=$(sed -nE 's/^demo: 10 files in (.*)$/\1/p' <<<"$out")
[[ -n $demo && ! -e $demo ]] || fail "the demo folder was not removed"
echo "replace sample: ok"
