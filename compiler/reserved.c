/* reserved.c - see reserved.h.
 *
 * The generated code names the model type after the prefix, so the prefix
 * must not be a C keyword (of any standard up to C23, so that a newer
 * compiler still accepts the code), nor an identifier that C reserves
 * (a leading '_'), nor one of the runtime's names (cnn..., CNN...), nor one
 * that the generated C or the headers it includes (math.h, stdlib.h,
 * string.h, stdint.h, stddef.h, immintrin.h, omp.h, and cblas.h with --blas)
 * declare at file scope: a typedef of the same name does not compile.
 * The list of those names was taken from the headers of glibc and
 * OpenBLAS and from the generated code of every mode; tests/gen/prefixes.sh
 * checks it against both again, so that a new name cannot slip through. */
#include "reserved.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const keywords[] = {
    "alignas", "alignof", "asm", "auto", "bool", "break", "case", "char", "const", "constexpr",
    "continue", "default", "do", "double", "else", "enum", "extern", "false", "float", "for",
    "goto", "if", "inline", "int", "long", "nullptr", "register", "restrict", "return", "short",
    "signed", "sizeof", "static", "static_assert", "struct", "switch", "thread_local", "true",
    "typedef", "typeof", "typeof_unqual", "union", "unsigned", "void", "volatile", "while",
};

/* Sorted as strcmp sorts, for bsearch. */
static const char *const taken[] = {
    "ACT", "BCAST8", "BIG_ENDIAN", "BLASLONG", "BLASULONG", "BUFSIZ", "BYTE_ORDER", "DACT", "EOF",
    "EXIT_FAILURE", "EXIT_SUCCESS", "FD_SETSIZE", "FILE", "FILENAME_MAX", "FLAT", "FLOATRET", "FOPEN_MAX",
    "FP_FAST_FMA", "FP_FAST_FMAF", "FP_ILOGB0", "FP_ILOGBNAN", "FP_INFINITE", "FP_NAN", "FP_NORMAL",
    "FP_SUBNORMAL", "FP_ZERO", "HSUM8", "HUGE_VAL", "HUGE_VALF", "HUGE_VALL", "I", "INFINITY",
    "INT16_MAX", "INT16_MIN", "INT32_MAX", "INT32_MIN", "INT64_MAX", "INT64_MIN", "INT8_MAX",
    "INT8_MIN", "INTMAX_MAX", "INTMAX_MIN", "INTPTR_MAX", "INTPTR_MIN", "INT_FAST16_MAX",
    "INT_FAST16_MIN", "INT_FAST32_MAX", "INT_FAST32_MIN", "INT_FAST64_MAX", "INT_FAST64_MIN",
    "INT_FAST8_MAX", "INT_FAST8_MIN", "INT_LEAST16_MAX", "INT_LEAST16_MIN", "INT_LEAST32_MAX",
    "INT_LEAST32_MIN", "INT_LEAST64_MAX", "INT_LEAST64_MIN", "INT_LEAST8_MAX", "INT_LEAST8_MIN",
    "KEEP", "LITTLE_ENDIAN", "LOAD8", "L_ctermid", "L_tmpnam", "MADD8", "MASK", "MATH_ERREXCEPT",
    "MATH_ERRNO", "MB_CUR_MAX", "M_1_PI", "M_2_PI", "M_2_SQRTPI", "M_E", "M_LN10", "M_LN2",
    "M_LOG10E", "M_LOG2E", "M_PI", "M_PI_2", "M_PI_4", "M_SQRT1_2", "M_SQRT2", "NAN", "NFDBITS",
    "NULL", "NUM_TENSORS", "PARALLEL_FOR", "PARALLEL_FOR2", "PARTS", "PDP_ENDIAN", "PTRDIFF_MAX",
    "PTRDIFF_MIN", "P_tmpdir", "RAND_MAX", "SCHED_FIFO", "SCHED_OTHER", "SCHED_RR", "SEEK_CUR",
    "SEEK_END", "SEEK_SET", "SIG_ATOMIC_MAX", "SIG_ATOMIC_MIN", "SIZE_MAX", "STORE8",
    "TASK", "TEAM_BACKWARD", "TEAM_FORWARD", "TEAM_TRAIN", "THREADS", "TMP_MAX", "UINT16_MAX", "UINT32_MAX",
    "UINT64_MAX", "UINT8_MAX", "UINTMAX_MAX", "UINTPTR_MAX", "UINT_FAST16_MAX", "UINT_FAST32_MAX",
    "UINT_FAST64_MAX", "UINT_FAST8_MAX", "UINT_LEAST16_MAX", "UINT_LEAST32_MAX", "UINT_LEAST64_MAX",
    "UINT_LEAST8_MAX", "WCHAR_MAX", "WCHAR_MIN", "WCONTINUED", "WEXITED", "WINT_MAX", "WINT_MIN",
    "WNOHANG", "WNOWAIT", "WSTOPPED", "WUNTRACED", "a00", "a01", "a02", "a10", "a11", "a12", "a20",
    "a21", "a22", "a30", "a31", "a32", "a64l", "abort", "abs", "acc", "acos", "acosf", "acosh",
    "acoshf", "acoshl", "acosl", "act", "aligned_alloc", "all", "alloca", "ar", "arc4random",
    "arc4random_buf", "arc4random_uniform", "arena", "argc", "argv", "asin", "asinf", "asinh",
    "asinhf", "asinhl", "asinl", "at", "at0", "at_quick_exit", "atan", "atan2", "atan2f", "atan2l",
    "atanf", "atanh", "atanhf", "atanhl", "atanl", "atexit", "atof", "atoi", "atol", "atoll",
    "backward_call", "backward_pass", "bcmp", "bcopy", "best", "beta", "bfloat16",
    "blas_serial_begin", "blas_serial_end", "blas_threads", "blasint", "blkcnt_t", "blksize_t",
    "br", "bsearch", "buf0", "buf1", "bzero", "c0", "cabs", "cabsf", "cabsl", "cacos", "cacosf",
    "cacosh",
    "cacoshf", "cacoshl", "cacosl", "caddr_t", "calloc", "carg", "cargf", "cargl", "casin",
    "casinf", "casinh", "casinhf", "casinhl", "casinl", "catan", "catanf", "catanh", "catanhf",
    "catanhl", "catanl", "cbrt", "cbrtf", "cbrtl", "ccos", "ccosf", "ccosh", "ccoshf", "ccoshl",
    "ccosl", "ceil", "ceilf", "ceill", "cexp", "cexpf", "cexpl", "cimag", "cimagf", "cimagl",
    "clearenv", "clearerr", "clearerr_unlocked", "clock_t", "clockid_t", "clog", "clogf", "clogl",
    "col", "cols", "complex", "conj", "conjf", "conjl", "conv", "conv_tile", "conv_tiles",
    "copysign",
    "copysignf", "copysignl", "cos", "cosf", "cosh", "coshf", "coshl", "cosl", "count", "count_pad",
    "cpow",
    "cpowf", "cpowl", "cproj", "cprojf", "cprojl", "cpu_set_t", "creal", "crealf", "creall", "csin",
    "csinf", "csinh", "csinhf", "csinhl", "csinl", "csqrt", "csqrtf", "csqrtl", "ctan", "ctanf",
    "ctanh", "ctanhf", "ctanhl", "ctanl", "ctermid", "d0", "d1", "d2", "d3", "d_backward",
    "d_forward", "d_free", "d_grads", "d_init", "d_load", "d_new", "d_params", "d_save", "d_state",
    "d_train", "da", "dact", "daddr_t", "db", "dbeta", "dd", "dev_t", "dgamma", "dh", "direct",
    "direct_dx", "div", "div_t", "done",
    "dot", "double_t", "dp", "dprintf", "dq", "dqstride", "drand48", "drand48_r", "drem", "dremf",
    "dreml", "dw", "dw_cols", "dw_tile", "dwk", "dwo", "dx", "dxi", "dxp", "dy", "dy_floats",
    "dy_planes", "dyf", "dyg",
    "dyi", "dyp_floats", "ecvt", "ecvt_r", "end", "erand48", "erand48_r", "erf", "erfc", "erfcf",
    "erfcl", "erff",
    "erfl", "exit", "exp", "exp2", "exp2f", "exp2l", "expf", "expl", "explicit_bzero", "expm1",
    "expm1f", "expm1l", "extra", "f", "f0", "f1", "fabs", "fabsf", "fabsl", "fb", "fclose", "fcvt",
    "fcvt_r",
    "fd_mask", "fd_set", "fdim", "fdimf", "fdiml", "fdopen", "feof", "feof_unlocked", "ferror",
    "ferror_unlocked", "fflush", "fflush_unlocked", "ffs", "ffsl", "ffsll", "fgetc",
    "fgetc_unlocked", "fgetpos", "fgets", "fileno", "fileno_unlocked", "finite", "finitef",
    "finitel", "flat", "flipped", "float_t", "flockfile", "floor", "floorf", "floorl", "fma",
    "fmaf", "fmal", "fmax", "fmaxf", "fmaxl", "fmemopen", "fmin", "fminf", "fminl", "fmod", "fmodf",
    "fmodl", "fopen", "forward_call", "forward_pass", "fpos_t", "fprintf", "fputc",
    "fputc_unlocked", "fputs", "fread", "fread_unlocked", "free", "freopen", "frexp", "frexpf",
    "frexpl", "fsblkcnt_t", "fscanf", "fseek", "fseeko", "fsetpos", "fsfilcnt_t", "fsid_t", "ftell",
    "ftello", "ftrylockfile", "funlockfile", "fwrite", "fwrite_unlocked", "g", "g0", "g1", "g2",
    "g3", "gamma", "gammaf", "gammal", "gcvt", "getc", "getc_unlocked", "getchar",
    "getchar_unlocked", "getdelim", "getenv", "getline", "getloadavg", "getsubopt", "getw", "gi",
    "gid_t", "gj", "goto_set_num_threads", "grads", "grp", "h", "h0", "h1", "hi", "hypot", "hypotf",
    "hypotl", "i", "i0", "ia", "ib", "id_t", "ih", "ilogb", "ilogbf", "ilogbl", "im", "images",
    "in", "in_plane", "in_stride", "index", "initstate", "initstate_r", "ino_t", "instance",
    "instance_taken",
    "int16_t", "int32_t", "int64_t", "int8_t", "int_fast16_t", "int_fast32_t", "int_fast64_t",
    "int_fast8_t", "int_least16_t", "int_least32_t", "int_least64_t", "int_least8_t", "intmax_t",
    "intptr_t", "isfinite", "isinf", "isinff", "isinfl", "isnan", "isnanf", "isnanl", "istd",
    "istride", "iw", "j", "j0", "j0f", "j0l", "j1", "j1f", "j1l", "jn", "jnf", "jnl", "jrand48",
    "jrand48_r", "k", "k0", "k1", "k2", "kc", "kd", "kernels", "key_t", "kh", "kind", "kw", "l",
    "l64a",
    "label", "labels", "labs", "lcong48", "lcong48_r", "ld", "ldexp", "ldexpf", "ldexpl", "ldiv",
    "ldiv_t", "lgamma", "lgamma_r", "lgammaf", "lgammaf_r", "lgammal", "lgammal_r", "linux",
    "llabs", "lldiv", "lldiv_t", "llrint", "llrintf", "llrintl", "llround", "llroundf", "llroundl",
    "lo",
    "locale_t", "loff_t", "log", "log10", "log10f", "log10l", "log1p", "log1pf", "log1pl", "log2",
    "log2f", "log2l", "logb", "logbf", "logbl", "logf", "logl", "loss", "loss_and_grad",
    "loss_fused", "lr", "lrand48", "lrand48_r", "lrint", "lrintf", "lrintl", "lround", "lroundf",
    "lroundl", "m", "main", "malloc", "mask", "math_errhandling", "matmul_tiles", "max_align_t",
    "max_batch", "mblen", "mbstowcs", "mbtowc", "mean", "memccpy", "memchr", "memcmp", "memcpy",
    "memmove", "memset", "mkdtemp", "mkstemp", "mkstemps", "mktemp", "mode_t", "modf", "modff",
    "modfl", "most", "mrand48", "mrand48_r", "mu", "n", "nan", "nanf", "nanl", "nc", "nearbyint",
    "nearbyintf", "nearbyintl", "nextafter", "nextafterf", "nextafterl", "nexttoward",
    "nexttowardf", "nexttowardl", "nf", "ng", "nimg", "nin", "nj", "nk", "nlink_t", "nout",
    "nrand48", "nrand48_r", "ns", "nt", "nv", "o", "ob", "od", "off", "off_t", "oh", "on_exit",
    "open_memstream", "opt", "opt1", "opt2", "out", "out_plane", "out_stride", "ow", "p", "pack",
    "packed", "pad", "pad_end",
    "par", "params", "parts", "path", "pclose", "pd", "perror", "ph", "pid_t", "popen", "posix_memalign",
    "pow", "powf",
    "powl", "printf", "pselect", "pthread_attr_t", "pthread_barrier_t", "pthread_barrierattr_t",
    "pthread_cond_t", "pthread_condattr_t", "pthread_key_t", "pthread_mutex_t",
    "pthread_mutexattr_t", "pthread_once_t", "pthread_rwlock_t", "pthread_rwlockattr_t",
    "pthread_spinlock_t", "pthread_t", "ptrdiff_t", "putc", "putc_unlocked", "putchar",
    "putchar_unlocked", "putenv", "puts", "putw", "pw", "py", "q", "qecvt", "qecvt_r", "qfcvt",
    "qfcvt_r",
    "qgcvt", "qsort", "quad_t", "quick_exit", "r", "rand", "rand_r", "random", "random_r",
    "realloc", "reallocarray", "realpath", "register_t", "remainder", "remainderf", "remainderl",
    "remove", "remquo", "remquof", "remquol", "rename", "renameat", "report", "rewind", "rindex",
    "rint", "rintf", "rintl", "rmean", "rng", "round", "roundf", "roundl", "row_step", "rows_out",
    "rpmatch", "rvar", "s0", "scalb", "scalbf", "scalbl", "scalbln", "scalblnf", "scalblnl",
    "scalbn", "scalbnf", "scalbnl", "scale", "scanf", "sched_get_priority_max",
    "sched_get_priority_min", "sched_getparam", "sched_getscheduler", "sched_rr_get_interval",
    "sched_setparam", "sched_setscheduler", "sched_yield", "scratch", "sd", "seed", "seed48",
    "seed48_r",
    "select", "setbuf", "setbuffer", "setenv", "setlinebuf", "setstate", "setstate_r", "setvbuf",
    "sh",
    "shift", "signgam", "significand", "significandf", "significandl", "sigset_t", "sin", "sinf",
    "sinh", "sinhf", "sinhl", "sinl", "size", "size_t", "snprintf", "sprintf", "sq", "sqrt",
    "sqrtf",
    "sqrtl", "srand", "srand48", "srand48_r", "srandom", "srandom_r", "sscanf", "ssize_t", "state",
    "state_values", "stats", "stderr", "stdin", "stdout", "step", "stpcpy", "stpncpy", "strcasecmp",
    "strcasecmp_l", "strcat", "strchr", "strcmp", "strcoll", "strcoll_l", "strcpy", "strcspn",
    "strdup", "strerror", "strerror_l", "strerror_r", "strlen", "strncasecmp", "strncasecmp_l",
    "strncat", "strncmp", "strncpy", "strndup", "strnlen", "strpbrk", "strrchr", "strsep",
    "strsignal", "strspn", "strstr", "strtod", "strtof", "strtok", "strtok_r", "strtol", "strtold",
    "strtoll", "strtoq", "strtoul", "strtoull", "strtouq", "strxfrm", "strxfrm_l", "sum", "sum_dy",
    "sum_dy_xhat", "sums", "suseconds_t", "sw", "synced", "system", "t", "t0", "t1", "tan", "tanf",
    "tanh", "tanhf", "tanhl", "tanl", "taps", "task", "task_floats", "tasks", "tb", "tc", "team", "team_end",
    "team_start", "teams",
    "tempnam", "tgamma", "tgammaf", "tgammal", "threads", "time_t", "timer_t", "tmpfile", "tmpnam", "tmpnam_r", "to",
    "top", "total", "train_step_call", "training", "trunc", "truncf", "truncl", "u", "u0", "u1",
    "u2", "u_char", "u_int", "u_int16_t", "u_int32_t", "u_int64_t", "u_int8_t", "u_long",
    "u_quad_t", "u_short", "uid_t", "uint", "uint16_t", "uint32_t", "uint64_t", "uint8_t",
    "uint_fast16_t", "uint_fast32_t", "uint_fast64_t", "uint_fast8_t", "uint_least16_t",
    "uint_least32_t", "uint_least64_t", "uint_least8_t", "uintmax_t", "uintptr_t", "ulong",
    "ungetc", "unix", "unsetenv", "used", "ushort", "v", "v8f", "va_list", "valloc", "var",
    "vdprintf", "vfprintf", "vfscanf", "vprintf", "vscanf", "vsnprintf", "vsprintf", "vsscanf", "w",
    "w0", "w1", "w2", "w3", "w_in", "w_out", "was", "wc", "wchar_t", "wcstombs", "wctomb",
    "weights", "wg", "wj", "wk", "wo", "wpack_floats", "wv", "x", "x0", "x1", "x2", "x_planes",
    "xc", "xdouble", "xi", "xo",
    "xp", "xp_floats", "xpad_floats", "xpad_planes", "xstride", "xw", "y", "y0", "y0f", "y0l", "y1",
    "y1f", "y1l", "yf", "yi", "yn", "ynf",
    "ynl", "yo", "yp", "yq", "yr", "ystride", "z", "zero",
};

static int compare(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

static int starts_with_nocase(const char *s, const char *start)
{
    for (; *start; s++, start++)
        if (tolower((unsigned char)*s) != *start)
            return 0;
    return 1;
}

const char *prefix_problem(const char *name)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strcmp(name, keywords[i]) == 0)
            return "is a C keyword";
    if (name[0] == '_')
        return "starts with '_', which C reserves for the compiler and its library";
    if (starts_with_nocase(name, "cnn"))
        return "starts with 'cnn', the prefix of the cnnc runtime's names";
    if (starts_with_nocase(name, "cblas") || starts_with_nocase(name, "openblas"))
        return "starts like the names of the BLAS that --blas code calls";
    if (starts_with_nocase(name, "omp_"))
        return "starts with 'omp_', the prefix of OpenMP's names (omp.h)";
    if (bsearch(name, taken, sizeof taken / sizeof taken[0], sizeof taken[0], compare))
        return "is a name that the generated C or a header it includes already uses";
    return NULL;
}

void prefix_suggestion(const char *name, char *buf, size_t size)
{
    while (*name == '_')
        name++;
    snprintf(buf, size, "%s_net", *name ? name : "my");
    if (prefix_problem(buf))
        snprintf(buf, size, "net_%s", name);
    if (prefix_problem(buf))
        snprintf(buf, size, "my_net");
}
