/* options.h: a program's command line as one table. Each row names an
 * option, its type, where its value goes (holding the default), its range
 * or choices and its help; nn_options_parse checks every value against its
 * row, and nn_options_usage writes the usage from the same rows, so that a
 * name, a range and an error are written once. vae, compare and every
 * model program (through nn_setup_args_with) read their options this way.
 *
 * Lifetimes: the parser keeps nothing; a text option's value points into
 * argv. Errors: "--name: expected ..., got \"...\"" in err. */
#ifndef NN_OPTIONS_H
#define NN_OPTIONS_H

#include <stdint.h>

#include "nn.h"

/* One option, --name VALUE (or --name=VALUE). type:
 *   'r' a number (double *) in [lo, hi]
 *   'i' a whole number (long *) in [lo, hi]
 *   'u' a whole number of 64 bits (uint64_t *), read exactly: a seed
 *   's' a non-empty text (const char **)
 *   'c' one of arg's "a|b|c" (int *: its index)
 *   'f' a flag without a value (int *: set to 1)
 *   'w' the words that are not options, in order (const char *[hi]; their
 *       count in *given): files a program takes, say
 *   '-' no option: a heading "NAME:" in the usage
 * arg: how the value is shown in the usage ("DIR", "LIST"; N, X, TEXT
 * when NULL); for 'c', the choices. help: the usage's text (may be NULL).
 * The usage shows the default, the value before parsing, when it is in
 * range (a choice's index, a non-NULL text, any 'u' unless `given` is
 * watched): so -1 for a whole number from 1 can mean "chosen later", and
 * the help says how. given (may be NULL) is set to 1 when the command line
 * gives the option (for 'w', the count). A table ends with a row whose name is NULL: {0}.
 *
 * The rows are written with the macros below, which check each value's
 * pointer type at compile time:
 *   double beta = 1; long k = 5; int conv = 0; const char *data = NULL;
 *   nn_option opts[] = {
 *       NN_OPT_HEADING("model"),
 *       NN_OPT_REAL("beta", &beta, 0, 1e6, "the KL's weight"),
 *       NN_OPT_INT("k", &k, 1, 10000, "importance samples"),
 *       NN_OPT_FLAG("conv", &conv, "a convolutional body"),
 *       NN_OPT_TEXT("data", &data, "DIR", "IDX files"),
 *       NN_OPT_END};                                                     */
typedef struct {
    const char *name;
    char type;
    void *value;
    double lo, hi;
    const char *arg;
    const char *help;
    int *given;
} nn_option;

#define NN_OPT_PTR_(T, p) ((void *)(1 ? (p) : (T *)0))
#define NN_OPT_REAL(n, p, lo_, hi_, help_) \
    {.name = (n), .type = 'r', .value = NN_OPT_PTR_(double, p), .lo = (lo_), .hi = (hi_), .help = (help_)}
#define NN_OPT_INT(n, p, lo_, hi_, help_) \
    {.name = (n), .type = 'i', .value = NN_OPT_PTR_(long, p), .lo = (lo_), .hi = (hi_), .help = (help_)}
#define NN_OPT_SEED(n, p, given_, help_) \
    {.name = (n), .type = 'u', .value = NN_OPT_PTR_(uint64_t, p), .given = (given_), .help = (help_)}
#define NN_OPT_TEXT(n, p, arg_, help_) \
    {.name = (n), .type = 's', .value = NN_OPT_PTR_(const char *, p), .arg = (arg_), .help = (help_)}
#define NN_OPT_CHOICE(n, p, choices, help_) \
    {.name = (n), .type = 'c', .value = NN_OPT_PTR_(int, p), .arg = (choices), .help = (help_)}
#define NN_OPT_FLAG(n, p, help_) {.name = (n), .type = 'f', .value = NN_OPT_PTR_(int, p), .help = (help_)}
#define NN_OPT_WORDS(n, array, max, count, help_) \
    {.name = (n), .type = 'w', .value = NN_OPT_PTR_(const char *, array), .hi = (max), .given = (count), \
     .help = (help_)}
#define NN_OPT_HEADING(text) {.name = (text), .type = '-'}
#define NN_OPT_END {.name = NULL}

enum { NN_OPTIONS_HELP = 1, NN_OPTIONS_USAGE = 2 };

/* argv[1..argc-1] into the table's values: 0; NN_OPTIONS_HELP for --help
 * or -h (nothing else read); NN_OPTIONS_USAGE with err for an unknown
 * option, a missing or bad value, a word that is not an option (without a
 * 'w' row, or more words than it holds), or a bad row of the table. A later option overrides an earlier one. */
TN_API int nn_options_parse(const nn_option *opts, int argc, char **argv, nn_error *err);

/* "usage: HEAD\n" then a line per row ("  --name ARG (default)  help") into
 * buf (always terminated); returns the length it needed, as snprintf. */
TN_API size_t nn_options_usage(const char *head, const nn_option *opts, char *buf, size_t len);

#endif
