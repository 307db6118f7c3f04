/* plot.c (tape-plot): learning curves of runs already made, from their
 * metrics files, overlaid in one SVG (nn_plot_curves):
 *   tape-plot [--out FILE.svg] [--title TEXT] a.jsonl [b.jsonl ...]      */
#include <stdio.h>
#include <string.h>
#include <tape/train.h>

int main(int argc, char **argv)
{
    const char *out = "curves.svg", *title = NULL, *files[64];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tape-plot [--out FILE.svg (curves.svg)] [--title TEXT] METRICS.jsonl ...\n");
            return 0;
        }
        if ((!strcmp(argv[i], "--out") || !strcmp(argv[i], "--title")) && i + 1 < argc) {
            *(argv[i][2] == 'o' ? &out : &title) = argv[i + 1];
            i++;
        } else if (!strncmp(argv[i], "--", 2)) {
            fprintf(stderr, "tape-plot: %s: unknown option, or its value missing (see --help)\n", argv[i]);
            return 2;
        } else if (n == 64) {
            fprintf(stderr, "tape-plot: more than 64 metrics files\n");
            return 2;
        } else {
            files[n++] = argv[i];
        }
    }
    if (!n) {
        fprintf(stderr, "tape-plot: expected one or more metrics files (JSON Lines; see --help)\n");
        return 2;
    }
    nn_error err;
    if (nn_plot_curves(out, n, files, NULL, title, &err)) {
        fprintf(stderr, "tape-plot: %s\n", err.msg);
        return 1;
    }
    printf("%s: %d run%s\n", out, n, n > 1 ? "s" : "");
    return 0;
}
