#!/bin/sh
# The include order of compiler/ and runtime/: every `#include "..."` of a
# file may name a header of its own layer or of a layer listed before it in
# the table below, never one of a later layer; within one layer the
# modules (a stem: foo.c, foo.h, foo.l, foo.y) must not include each other
# in a cycle.  A file in no layer, or an include that names no file of the
# tree, fails too, so that the table cannot go stale.
#
# Given the build directory, the same rules hold for what the objects use
# of each other (nm): a declaration in a shared header (driver.h) hides
# from the includes which file defines what another one calls.
# Usage: sh tests/layering.sh [ROOT [BUILD]]   (ROOT: the source tree, .)
set -u
root=${1:-.}
build=${2:-}
case $build in /* | '') ;; *) build=$PWD/$build ;; esac

# The architecture, first layer first.  A stack's files may include their
# own stack's earlier layers and the runtime library (the code that cnnc
# links and that generated C links); never the other stack's.  An entry
# is a stem (every extension), a file, or DIR/* (every file in DIR).
layers='
both     library   runtime/cnnrt.h runtime/cnnrt_net.h runtime/io runtime/model runtime/safetensors
both     library   runtime/kernels runtime/kernels_impl.h runtime/kernels_tile.h runtime/kernels_dw.h runtime/im2col
both     library   runtime/init runtime/optim runtime/rng runtime/team runtime/idx runtime/layers runtime/conv3d_layout.h runtime/geom3d runtime/conv3d runtime/vol3d
compiler base      compiler/util compiler/diag compiler/reserved
compiler ir        compiler/ir
compiler kinds     compiler/kinds
compiler front     compiler/lexstate compiler/lexer compiler/parser compiler/ast compiler/names
compiler front     compiler/layers compiler/expand
compiler check     compiler/check
compiler frontend  compiler/frontend
compiler lower     compiler/lower compiler/plan
compiler report    compiler/report
compiler emitlib   compiler/emit/emit.h compiler/emit/emitter.h compiler/emit/print compiler/emit/index
compiler kernels   compiler/emit/conv compiler/emit/tile compiler/emit/cols compiler/emit/flat
compiler kernels   compiler/emit/blas compiler/emit/layers compiler/emit/embed compiler/emit/vol
compiler emit      compiler/emit/emit.c
compiler main      compiler/options compiler/outputs compiler/main
runtime  dist      runtime/dist
runtime  support   runtime/driver.h runtime/driver_opts runtime/driver_data runtime/driver_bin
runtime  support   runtime/driver_model runtime/progress
runtime  commands  runtime/driver_commands.h runtime/driver_score runtime/driver_train
runtime  commands  runtime/driver_predict runtime/driver_passes runtime/driver_bench
runtime  commands  runtime/driver_gradcheck
runtime  cnn_main  runtime/driver.c
'

# Known violations, printed as warnings (none now; keep the list for
# a change that must land in steps).
known='
'
# Layers whose modules may still call each other, as a warning (none).
knots=''

# The generated headers of flex and bison belong to their sources; the
# scanner and the parser call each other, so they count as one module.
generated='
lexer.h compiler/lexer.l
parser.h compiler/parser.y
'
together='compiler/lexer compiler/parser'

cd "$root" || exit 2
files=$(find compiler runtime -type f \( -name '*.[chly]' \) | LC_ALL=C sort)
[ -n "$files" ] || { echo "layering: no sources under $root" >&2; exit 2; }

# One line per include: I FILE LINE NAME; per global symbol of an object:
# S FILE U|D NAME (used or defined).
for f in $files; do
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed "s|^\([0-9]*\):[^\"]*\"\([^\"]*\)\".*|I $f \1 \2|"
done >"${TMPDIR:-/tmp}/layering.$$"
trap 'rm -f "${TMPDIR:-/tmp}/layering.$$"' EXIT
if [ -n "$build" ]; then
    objs=$(find "$build/compiler" "$build/runtime" -name '*.o' 2>/dev/null)
    [ -n "$objs" ] || { echo "layering: no objects in $build (make first)" >&2; exit 2; }
    for o in $objs; do
        s=${o#"$build"/}; s=${s%.o}
        for src in "$s.c" "$s.l" "$s.y" ''; do [ -f "$src" ] && break; done
        [ -n "$src" ] || continue   # an object whose source is gone
        nm -P -g "$o" | awk -v f="$src" '{ print "S", f, ($2 ~ /^[Uwv]$/ ? "U" : "D"), $1 }'
    done >>"${TMPDIR:-/tmp}/layering.$$"
fi

LAYERS=$layers KNOWN=$known KNOTS=$knots GENERATED=$generated TOGETHER=$together FILES=$files awk '
function stem(p) { sub(/\.[^.\/]*$/, "", p); return p }
function module(p) { p = stem(p); return p in alias ? alias[p] : p }
function dir(p) { if (p !~ /\//) return "."; sub(/\/[^\/]*$/, "", p); return p }
# The layer entry of a file: its own name, its stem, or its folder.
function layer_of(p,   s) {
    if (p in entry) return entry[p]
    s = stem(p)
    if (s in entry) return entry[s]
    if ((dir(p) "/*") in entry) return entry[dir(p) "/*"]
    return ""
}
# Where #include "name" in file p lands: the folder of p, then -I compiler
# and -I runtime (the compiler is built with both, the runtime with its own).
function resolve(p, name,   d, c) {
    if (name in gen) return gen[name]
    d = dir(p)
    c = d "/" name
    if (c in exists) return c
    if (p ~ /^compiler\//) {
        if (("compiler/" name) in exists) return "compiler/" name
        if (("runtime/" name) in exists) return "runtime/" name
    } else if (("runtime/" name) in exists)
        return "runtime/" name
    return ""
}
function allowed(a, b) {   # layer numbers: may a file of a include one of b?
    if (stack[b] == "both") return 1
    return stack[a] == stack[b] && b <= a
}
# Modules: the stems of a layer that have a .c, .l or .y; a header of its own
# (emitter.h, driver.h) is transparent, so that an internal header that
# includes the public one of its module is no cycle.  direct(u, out): the
# modules that the files of u reach through headers alone.
function direct(u, out,   k, n, i, v) {
    n = split(succ[u], k, " ")
    for (i = 1; i <= n; i++) {
        v = k[i]
        if (v == "" || (v in via)) continue
        via[v] = 1
        if (v in real) out[v] = 1
        else direct(v, out)
    }
}
function cyclic(u, path,   out, v) {   # depth-first; keeps the first cycle
    state[u] = 1
    split("", via); direct(u, out)
    for (v in out) {
        if (v == u) continue
        if (state[v] == 1) { cycle = path " -> " v; return 1 }
        if (!state[v] && cyclic(v, path " -> " v)) return 1
    }
    state[u] = 2
    return 0
}
BEGIN {
    n = split(ENVIRON["LAYERS"], L, "\n")
    for (i = 1; i <= n; i++) {
        m = split(L[i], w, " ")
        if (m < 3) continue
        if (w[2] != last) { nl++; name[nl] = w[2]; stack[nl] = w[1]; last = w[2] }
        for (j = 3; j <= m; j++) entry[w[j]] = nl
    }
    n = split(ENVIRON["KNOWN"], L, "\n")
    for (i = 1; i <= n; i++) if (split(L[i], w, " ") == 2) known[w[1] " " w[2]] = 1
    n = split(ENVIRON["KNOTS"], w, " ")
    for (i = 1; i <= n; i++) knot[w[i]] = 1
    n = split(ENVIRON["GENERATED"], L, "\n")
    for (i = 1; i <= n; i++) if (split(L[i], w, " ") == 2) gen[w[1]] = w[2]
    n = split(ENVIRON["TOGETHER"], w, " ")
    for (i = 2; i <= n; i++) alias[w[i]] = w[1]
    n = split(ENVIRON["FILES"], L, "\n")
    for (i = 1; i <= n; i++) {
        exists[L[i]] = 1
        if (layer_of(L[i]) == "") { print L[i] ": in no layer of tests/layering.sh"; bad++; continue }
        if (L[i] !~ /\.h$/) real[layer_of(L[i]) ":" module(L[i])] = 1
    }
}
$1 == "S" && $3 == "D" { def[$4] = $2; next }
$1 == "S" { uses[++nuse] = $2 " " $4; next }
{
    ninc++
    file = $2; line = $3; inc = $4
    to = resolve(file, inc)
    if (to == "") { print file ":" line ": #include \"" inc "\" names no file of the tree"; bad++; next }
    a = layer_of(file); b = layer_of(to)
    if (a == "" || b == "") next
    if (!allowed(a, b)) {
        what = file ":" line ": #include \"" inc "\": layer " name[a] " (" stack[a] ") must not use layer " name[b] " (" stack[b] ")"
        if ((file " " inc) in known) {
            print "warning: " what " (known, being removed)"; warned++
            known_use[file " " b] = 1
        }
        else { print what; bad++ }
        next
    }
    u = a ":" module(file); v = a ":" module(to)
    if (a == b && u != v && index(" " succ[u] " ", " " v " ") == 0)
        succ[u] = succ[u] " " v
}
function check_cycles(what,   u, n, k, i) {
    for (u in real)
        if (!state[u] && cyclic(u, u)) {
            gsub(/[0-9]+:/, "", cycle)
            n = split(cycle, k, / -> /)
            for (i = 1; k[i] != k[n]; i++) ;
            for (cycle = k[i++]; i <= n; i++) cycle = cycle " -> " k[i]
            print what " cycle within a layer: " cycle; bad++; return
        }
}
# What file uses of another: the same order; one warning per known pair.
function use(file, sym,   to, a, b, u, v, what) {
    to = def[sym]; a = layer_of(file); b = layer_of(to)
    if (a == "" || b == "") return
    if (!allowed(a, b)) {
        what = file " uses " sym " of " to ": layer " name[a] " (" stack[a] ") must not use layer " name[b] " (" stack[b] ")"
        if (!((file " " b) in known_use)) { print what; bad++ }
        else if (!((file " " b) in said)) { print "warning: " what " (known, being removed)"; warned++; said[file " " b] = 1 }
        return
    }
    u = a ":" module(file); v = a ":" module(to)
    if (a != b || u == v) return
    if (name[a] in knot) { knotted[name[a]] = 1; return }
    if (index(" " succ[u] " ", " " v " ") == 0) succ[u] = succ[u] " " v
}
END {
    check_cycles("include")
    split("", succ); split("", state)
    for (i = 1; i <= nuse; i++) {
        split(uses[i], w, " ")
        if ((w[2] in def) && def[w[2]] != w[1]) { use(w[1], w[2]); nlinks++ }
    }
    for (k in knotted) { print "warning: the modules of layer " k " call each other (known, being removed)"; warned++ }
    check_cycles("call")
    if (bad) { print bad " layering error(s); the order is the table in tests/layering.sh"; exit 1 }
    print "layering: " ninc " includes" (nlinks ? " and " nlinks " uses between objects" : "") \
        " follow the order" (warned ? " (" warned " known exception(s))" : "")
}' "${TMPDIR:-/tmp}/layering.$$"
