/* svg.c: what the SVG and HTML writers share (plot.c, figures.c,
 * models/compare_html.c): escaped text, 1-2-5 tick steps, a whole file
 * read, and a PNG file inlined as a data URI. */
#define _POSIX_C_SOURCE 200809L

#include "train_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nn__svg_text(FILE *f, const char *s)
{
    for (; *s; s++)
        if (*s == '&') fputs("&amp;", f);
        else if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
}

double nn__svg_tick_step(double lo, double hi)
{
    double raw = (hi - lo) / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

char *nn__read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = malloc((size_t)n + 1)) && fread(b, 1, (size_t)n, f) != (size_t)n)
        free(b), b = NULL;
    if (f)
        fclose(f);
    if (b)
        b[n] = '\0', *len = (size_t)n;
    return b;
}

char *nn__svg_png_uri(const char *path, unsigned *w, unsigned *h)
{
    size_t n = 0;
    unsigned char *b = (unsigned char *)nn__read_file(path, &n);
    if (!b || n < 24 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0) {
        free(b);
        return NULL;
    }
    *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
    *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
    size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL), pre = 22;
    char *uri = malloc(pre + len);
    if (uri) {
        memcpy(uri, "data:image/png;base64,", pre);
        sodium_bin2base64(uri + pre, len, b, n, sodium_base64_VARIANT_ORIGINAL);
    }
    free(b);
    return uri;
}
