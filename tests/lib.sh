# tests/lib.sh - what the shell tests share.  Sourced from the top of the
# tree (`. tests/lib.sh`), after the test's own `set` line, it sets
#   top    the top of the tree (absolute)
#   CNNC   the compiler, absolute (default build/cnnc; set it first to
#          change the default)
#   tmp    a fresh directory, removed on exit
# and counts results: ok, bad MESSAGE, expect STATUS CMD..., contains FILE
# TEXT, then `summary NAME` prints "NAME: P passed, F failed" and fails
# when F > 0.  expect keeps CMD's stdout and stderr in $tmp/out, $tmp/err.
top=$(pwd)
CNNC=${CNNC:-build/cnnc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0

# absolute PATH: PATH made absolute against the top of the tree.
absolute() { case $1 in /*) echo "$1" ;; *) echo "$top/$1" ;; esac; }
CNNC=$(absolute "$CNNC")

ok()  { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# expect STATUS CMD...: runs CMD, checks its exit status.
expect() {
    want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"; got=$?
    if [ "$got" = "$want" ]; then ok; else bad "$* -> exit $got, want $want: $(head -c 600 "$tmp/err")"; fi
}
contains() { # FILE TEXT
    if grep -qF -- "$2" "$1"; then ok; else bad "$1 lacks '$2': $(head -c 600 "$1")"; fi
}
summary() { # NAME
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
