/* plot.c (tape-plot): learning curves of runs already made, from their
 * metrics files, overlaid in one SVG (nn_plot_curves):
 *   tape-plot [--out FILE.svg] [--title TEXT] a.jsonl [b.jsonl ...]      */
#include <stdio.h>
#include <tape/train.h>

int main(int argc, char **argv)
{
    const char *out = "curves.svg", *title = NULL, *files[64];
    int n = 0;
    const nn_option rows[] = {NN_OPT_TEXT("out", &out, "FILE.svg", NULL),
                              NN_OPT_TEXT("title", &title, "TEXT", "above the panels"),
                              NN_OPT_WORDS("METRICS.jsonl", files, 64, &n, "the runs' metrics files (JSON Lines)"),
                              NN_OPT_END};
    nn_error err;
    int rc = nn_options_parse(rows, argc, argv, &err);
    if (rc == NN_OPTIONS_HELP) {
        char usage[2048];
        nn_options_usage("tape-plot [options] METRICS.jsonl ...", rows, usage, sizeof usage);
        fputs(usage, stdout);
        return 0;
    }
    if (!rc && !n)
        rc = nn_fail(&err, "expected one or more metrics files (JSON Lines; see --help)");
    if (rc) {
        fprintf(stderr, "tape-plot: %s\n", err.msg);
        return 2;
    }
    if (nn_plot_curves(out, n, files, NULL, title, &err)) {
        fprintf(stderr, "tape-plot: %s\n", err.msg);
        return 1;
    }
    printf("%s: %d run%s\n", out, n, n > 1 ? "s" : "");
    return 0;
}
