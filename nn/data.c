/* data.c: loaders for IDX (MNIST, Fashion-MNIST), Frey Face's MAT v5 file,
 * binarized MNIST's .amat text and CSV tables. Every file goes through zlib,
 * so gzipped and plain files read alike; every size is checked against what
 * the file holds, and every error names the file and the field. */
#define _POSIX_C_SOURCE 200809L

#include "nn_internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

nn_dataset *nn__dataset_new(size_t n, size_t dim, int with_labels)
{
    nn_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->n = n, d->dim = dim;
    if ((dim && n > SIZE_MAX / sizeof(tn_real) / dim) ||
        !(d->x = malloc((n && dim) ? n * dim * sizeof(tn_real) : 1)) ||
        (with_labels && !(d->labels = calloc(n ? n : 1, sizeof(int))))) {
        nn_dataset_free(d);
        return NULL;
    }
    return d;
}

void nn_dataset_free(nn_dataset *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->x8);
    free(d->labels);
    free(d);
}

const tn_real *nn_data_rows(const nn_dataset *d, size_t start, size_t n, tn_real *buf)
{
    if (d->x)
        return d->x + start * d->dim;
    const uint8_t *b = d->x8 + start * d->dim;
    for (size_t i = 0; i < n * d->dim; i++)
        buf[i] = (tn_real)(d->x8_scale * b[i]);
    return buf;
}

int nn_data_floats(nn_dataset *d, nn_error *err)
{
    if (d->x || !d->x8)
        return 0;
    tn_real *x = malloc(d->n * d->dim * sizeof *x + 1);
    if (!x)
        return nn_fail(err, "data: out of memory for %zu x %zu values", d->n, d->dim);
    nn_data_rows(d, 0, d->n, x);
    free(d->x8);
    d->x = x, d->x8 = NULL;
    return 0;
}

/* ---- IDX ------------------------------------------------------------------ */

typedef struct {
    int ndim;
    uint32_t dims[8];
    uint64_t count; /* product of dims */
} idx_header;

static int read_exact(gzFile g, void *buf, size_t len, size_t *got)
{
    unsigned char *p = buf;
    *got = 0;
    while (*got < len) {
        unsigned chunk = len - *got > (1u << 30) ? 1u << 30 : (unsigned)(len - *got);
        int r = gzread(g, p + *got, chunk);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* Opens a data file, plain or gzipped; a folder or a missing file is named
 * as such. */
static gzFile open_input(const char *path, nn_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return nn_fail_null(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return nn_fail_null(err, "%s: is a folder, expected a file", path);
    gzFile g = gzopen(path, "rb");
    if (!g)
        return nn_fail_null(err, "%s: cannot open: %s", path, strerror(errno));
    return g;
}

/* Why a gzread failed, for a message. */
static const char *read_error(gzFile g)
{
    int e;
    const char *m = gzerror(g, &e);
    return e == Z_ERRNO ? strerror(errno) : e == Z_DATA_ERROR ? "not a valid gzip stream" : m;
}

/* A gzipped file must be gzip members and nothing else: zlib's gzread
 * ignores bytes after the last member, so the container is checked with
 * inflate, which says where each member ends. 0, or -1 with err. */
static int gzip_whole(const char *path, nn_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail(err, "%s: cannot open: %s", path, strerror(errno));
    z_stream z = {0};
    unsigned char in[65536], out[65536];
    int rc = inflateInit2(&z, 16 + MAX_WBITS), done = 0;
    long long pos = 0;
    if (rc != Z_OK) {
        fclose(f);
        return nn_fail(err, "%s: out of memory for zlib", path);
    }
    for (rc = 0; rc == 0;) {
        if (z.avail_in == 0) {
            z.avail_in = (uInt)fread(in, 1, sizeof in, f);
            z.next_in = in;
            if (z.avail_in == 0)
                break;
        }
        if (done) { /* after a member: another one, or the end */
            if (z.next_in[0] != 0x1f || (z.avail_in > 1 && z.next_in[1] != 0x8b)) {
                rc = nn_fail(err, "%s: bytes after the gzip stream (at byte %lld), expected the end "
                                  "of the file", path, pos);
                break;
            }
            inflateReset(&z);
            done = 0;
        }
        z.next_out = out, z.avail_out = sizeof out;
        uInt before = z.avail_in;
        int r = inflate(&z, Z_NO_FLUSH);
        pos += before - z.avail_in;
        if (r == Z_STREAM_END)
            done = 1;
        else if (r != Z_OK && r != Z_BUF_ERROR)
            rc = nn_fail(err, "%s: not a valid gzip stream (at byte %lld: %s)", path, pos,
                         z.msg ? z.msg : "zlib error");
    }
    if (rc == 0 && !done)
        rc = nn_fail(err, "%s: the gzip stream is cut short (after %lld bytes)", path, pos);
    inflateEnd(&z);
    fclose(f);
    return rc;
}

/* Reads the header and the payload of one IDX file: *out holds count bytes. */
/* The magic number and the dimensions into h (count: their product). */
static int idx_header_read(const char *path, gzFile g, idx_header *h, nn_error *err)
{
    unsigned char m[4], db[32];
    size_t got;
    if (read_exact(g, m, 4, &got))
        return nn_fail(err, "%s: magic: cannot read: %s", path, read_error(g));
    if (got < 4)
        return nn_fail(err, "%s: magic: the file ends after %zu bytes, expected a 4-byte magic number", path, got);
    if (m[0] || m[1])
        return nn_fail(err, "%s: magic: 0x%02x%02x%02x%02x is not IDX (expected 0x0000TTNN)", path, m[0], m[1],
                       m[2], m[3]);
    if (m[2] != 0x08)
        return nn_fail(err, "%s: magic: element type 0x%02x is not supported (expected 0x08, unsigned byte)",
                       path, m[2]);
    h->ndim = m[3];
    if (h->ndim < 1 || h->ndim > 8)
        return nn_fail(err, "%s: magic: %d dimensions (expected 1 to 8)", path, h->ndim);
    size_t need = 4 * (size_t)h->ndim;
    if (read_exact(g, db, need, &got) || got < need)
        return nn_fail(err, "%s: dimensions: the file ends inside the header (%zu of %zu bytes)", path, got, need);
    h->count = 1;
    for (int i = 0; i < h->ndim; i++) {
        h->dims[i] = (uint32_t)db[4 * i] << 24 | (uint32_t)db[4 * i + 1] << 16 | (uint32_t)db[4 * i + 2] << 8 |
                     db[4 * i + 3];
        if (h->dims[i] && h->count > (UINT64_MAX >> 1) / h->dims[i])
            return nn_fail(err, "%s: dimensions: their product overflows", path);
        h->count *= h->dims[i];
    }
    if (h->count > SIZE_MAX / 8)
        return nn_fail(err, "%s: dimensions: %llu elements is more than this machine can address", path,
                       (unsigned long long)h->count);
    return 0;
}

/* A plain file's size is known: it must hold exactly the promised bytes
 * (checked before allocating). */
static int idx_size_fits(const char *path, gzFile g, const idx_header *h, nn_error *err)
{
    struct stat st;
    if (!gzdirect(g) || stat(path, &st) != 0)
        return 0;
    uint64_t holds = (uint64_t)st.st_size - 4 - 4 * (uint64_t)h->ndim;
    if (holds < h->count)
        return nn_fail(err, "%s: data: truncated: the dimensions promise %llu bytes, the file holds %llu", path,
                       (unsigned long long)h->count, (unsigned long long)holds);
    if (holds > h->count)
        return nn_fail(err, "%s: data: %llu extra bytes after the %llu the dimensions promise", path,
                       (unsigned long long)(holds - h->count), (unsigned long long)h->count);
    return 0;
}

/* The h->count data bytes into *out, in growing chunks, so that a lying
 * gzipped header fails as truncated instead of asking for a huge block;
 * nothing may follow them. */
static int idx_data_read(const char *path, gzFile g, const idx_header *h, unsigned char **out, nn_error *err)
{
    size_t cap = h->count < (1u << 24) ? (size_t)h->count : 1u << 24, have = 0, got;
    int e;
    unsigned char extra;
    *out = malloc(cap ? cap : 1);
    while (*out && have < h->count) {
        if (have == cap) {
            cap = h->count - cap < cap ? (size_t)h->count : 2 * cap;
            unsigned char *n = realloc(*out, cap);
            if (!n)
                break;
            *out = n;
        }
        size_t want = cap - have;
        if (read_exact(g, *out + have, want, &got))
            return nn_fail(err, "%s: data: %s", path, gzerror(g, &e));
        have += got;
        if (got < want) /* read_exact stops short only at the end */
            return nn_fail(err, "%s: data: truncated: the dimensions promise %llu bytes, the file holds %zu", path,
                           (unsigned long long)h->count, have);
    }
    if (!*out || have < h->count)
        return nn_fail(err, "%s: data: out of memory for %llu bytes", path, (unsigned long long)h->count);
    if (gzread(g, &extra, 1) != 0)
        return nn_fail(err, "%s: data: extra bytes after the %llu the dimensions promise", path,
                       (unsigned long long)h->count);
    return 0;
}

static int idx_read(const char *path, idx_header *h, unsigned char **out,
                    nn_error *err)
{
    *out = NULL;
    gzFile g = open_input(path, err);
    if (!g)
        return -1;
    int rc = (!gzdirect(g) && gzip_whole(path, err)) || idx_header_read(path, g, h, err) ||
                     idx_size_fits(path, g, h, err) || idx_data_read(path, g, h, out, err)
                 ? -1
                 : 0;
    gzclose(g);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

nn_dataset *nn_load_idx(const char *images, const char *labels, nn_error *err)
{
    return nn__load_idx(images, labels, 0, err);
}

nn_dataset *nn__load_idx(const char *images, const char *labels, int bytes, nn_error *err)
{
    idx_header hi, hl;
    unsigned char *px = NULL, *lb = NULL;
    nn_dataset *d = NULL;
    if (idx_read(images, &hi, &px, err))
        return NULL;
    if (hi.ndim < 2) {
        nn_fail(err, "%s: dimensions: %d, expected at least 2 for images (count, pixels...)", images, hi.ndim);
        goto out;
    }
    if (labels && idx_read(labels, &hl, &lb, err))
        goto out;
    if (labels && (hl.ndim != 1 || hl.dims[0] != hi.dims[0])) {
        nn_fail(err, "%s: dimensions: expected 1 dimension of %u labels (one per image of %s)", labels,
                 hi.dims[0], images);
        goto out;
    }
    size_t n = hi.dims[0], dim = n ? (size_t)(hi.count / n) : 0;
    if (!(d = nn__dataset_new(bytes ? 0 : n, dim, labels != NULL))) {
        nn_fail(err, "%s: out of memory", images);
        goto out;
    }
    if (bytes) { /* the file's bytes are the data: no copy */
        d->n = n, d->x8 = px, d->x8_scale = 1, px = NULL;
        free(d->x), d->x = NULL;
        int *lab = labels ? realloc(d->labels, (n ? n : 1) * sizeof(int)) : NULL;
        if (labels && lab)
            d->labels = lab;
        if (labels && !lab) {
            nn_dataset_free(d), d = NULL;
            nn_fail(err, "%s: out of memory", labels);
            goto out;
        }
    }
    for (size_t i = 0; !bytes && i < n * dim; i++)
        d->x[i] = px[i];
    for (size_t i = 0; lb && i < n; i++)
        d->labels[i] = lb[i];
    if (hi.ndim == 3)
        d->rows = hi.dims[1], d->cols = hi.dims[2];
out:
    free(px);
    free(lb);
    return d;
}

/* ---- MAT v5 (Frey Face) ------------------------------------------------------ */

enum { MI_INT8 = 1, MI_UINT8 = 2, MI_INT32 = 5, MI_UINT32 = 6, MI_MATRIX = 14, MI_COMPRESSED = 15 };
enum { MX_UINT8_CLASS = 9 };

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One data element at buf[*at]: its type, size and payload; advances *at
 * past it (payloads are padded to 8 bytes, small elements live in 8). */
static int mat_element(const unsigned char *buf, size_t len, size_t *at, uint32_t *type,
                       uint32_t *nbytes, const unsigned char **payload)
{
    if (len - *at < 8)
        return -1;
    uint32_t t = le32(buf + *at), nb = le32(buf + *at + 4);
    if (t >> 16) { /* small data element: size in the high half */
        *type = t & 0xffff, *nbytes = t >> 16, *payload = buf + *at + 4;
        if (*nbytes > 4)
            return -1;
        *at += 8;
        return 0;
    }
    *type = t, *nbytes = nb, *payload = buf + *at + 8;
    if (nb > len - *at - 8)
        return -1;
    size_t padded = ((size_t)nb + 7) / 8 * 8;
    *at += 8 + (padded <= len - *at - 8 ? padded : nb);
    return 0;
}

/* The whole file into memory (*len bytes), or NULL with err. */
static unsigned char *read_all(const char *path, size_t *len, nn_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return nn_fail_null(err, "%s: is a folder, expected a file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail_null(err, "%s: cannot open: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t cap = 0, r;
    *len = 0;
    do {
        if (*len == cap) {
            unsigned char *n = realloc(buf, cap = cap ? 2 * cap : 1 << 20);
            if (!n) {
                free(buf), fclose(f);
                return nn_fail_null(err, "%s: out of memory", path);
            }
            buf = n;
        }
        *len += r = fread(buf + *len, 1, cap - *len, f);
    } while (r);
    fclose(f);
    return buf;
}

/* The 128-byte header and the first element, which must be an
 * uncompressed matrix: its payload in *pl (nb bytes). 0, or -1 with err. */
static int mat_first_matrix(const char *path, const unsigned char *buf, size_t len, const unsigned char **pl,
                            uint32_t *nb, nn_error *err)
{
    size_t at = 128;
    uint32_t type;
    if (len < 128 || memcmp(buf, "MATLAB 5.0 MAT-file", 19) != 0)
        return nn_fail(err, "%s: header: expected a 128-byte header starting \"MATLAB 5.0 MAT-file\"", path);
    if (buf[126] != 'I' || buf[127] != 'M')
        return nn_fail(err, "%s: header: endian indicator \"%c%c\" (only little-endian \"IM\" is supported)",
                       path, buf[126], buf[127]);
    if (mat_element(buf, len, &at, &type, nb, pl))
        return nn_fail(err, "%s: first data element: truncated", path);
    if (type == MI_COMPRESSED)
        return nn_fail(err, "%s: first data element: compressed (miCOMPRESSED); save with -v6 or -v4", path);
    if (type != MI_MATRIX)
        return nn_fail(err, "%s: first data element: type %u, expected a matrix (miMATRIX, 14)", path, type);
    return 0;
}

/* Inside the matrix: flags (uint8 class), dimensions, name, real part;
 * the faces as a dataset (column-major: each of the cols faces is rows
 * contiguous bytes). NULL with err. */
static nn_dataset *mat_uint8_matrix(const char *path, const unsigned char *buf, const unsigned char *pl,
                                    uint32_t nb, nn_error *err)
{
    size_t end = (size_t)(pl - buf) + nb, sub = (size_t)(pl - buf);
    const unsigned char *flags, *dims, *name, *re;
    uint32_t tf, nf, td, nd, tn, nn, tr, nr;
    if (mat_element(buf, end, &sub, &tf, &nf, &flags) || tf != MI_UINT32 || nf != 8)
        return nn_fail_null(err, "%s: array flags: expected 8 bytes of miUINT32", path);
    if ((flags[0] & 0xff) != MX_UINT8_CLASS)
        return nn_fail_null(err, "%s: array flags: class %u, expected uint8 (9)", path, flags[0] & 0xffu);
    if (mat_element(buf, end, &sub, &td, &nd, &dims) || td != MI_INT32 || nd != 8)
        return nn_fail_null(err, "%s: dimensions: expected 2 of miINT32 (a matrix)", path);
    uint32_t rows = le32(dims), cols = le32(dims + 4);
    if (mat_element(buf, end, &sub, &tn, &nn, &name) || tn != MI_INT8)
        return nn_fail_null(err, "%s: array name: expected miINT8 text", path);
    if (mat_element(buf, end, &sub, &tr, &nr, &re) || tr != MI_UINT8 || (uint64_t)nr != (uint64_t)rows * cols)
        return nn_fail_null(err, "%s: real part: expected %llu bytes of miUINT8 (%u x %u), found type %u with "
                                 "%u bytes", path, (unsigned long long)rows * cols, rows, cols, tr, nr);
    nn_dataset *d = nn__dataset_new(cols, rows, 0);
    if (!d)
        return nn_fail_null(err, "%s: out of memory", path);
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        d->x[i] = re[i];
    if (rows == 560)
        d->rows = 28, d->cols = 20;
    return d;
}

nn_dataset *nn_load_frey(const char *path, nn_error *err)
{
    size_t len = 0;
    unsigned char *buf = read_all(path, &len, err);
    const unsigned char *pl;
    uint32_t nb;
    nn_dataset *d = buf && !mat_first_matrix(path, buf, len, &pl, &nb, err) ? mat_uint8_matrix(path, buf, pl, nb, err)
                                                                             : NULL;
    free(buf);
    return d;
}

/* ---- text: .amat and CSV ------------------------------------------------------- */

/* One line of any length into *buf (without the newline); 0 at end of file,
 * -1 on a read error. */
static int read_line(gzFile g, char **buf, size_t *cap, size_t *len)
{
    *len = 0;
    for (;;) {
        if (*cap - *len < 2) {
            char *n = realloc(*buf, *cap = *cap ? 2 * *cap : 4096);
            if (!n)
                return -1;
            *buf = n;
        }
        if (!gzgets(g, *buf + *len, (int)(*cap - *len))) {
            int e;
            gzerror(g, &e);
            if (e != Z_OK && e != Z_STREAM_END)
                return -1;
            return *len > 0;
        }
        *len += strlen(*buf + *len);
        if (*len && (*buf)[*len - 1] == '\n') {
            (*buf)[--*len] = '\0';
            if (*len && (*buf)[*len - 1] == '\r')
                (*buf)[--*len] = '\0';
            return 1;
        }
    }
}

/* Appends a row of values; grows the dataset's storage. */
static int push_row(nn_dataset *d, size_t *cap_rows, const tn_real *row)
{
    if (d->n == *cap_rows) {
        size_t c = *cap_rows ? 2 * *cap_rows : 1024;
        tn_real *x = realloc(d->x, c * d->dim * sizeof(tn_real));
        if (!x)
            return -1;
        d->x = x, *cap_rows = c;
    }
    memcpy(d->x + d->n * d->dim, row, d->dim * sizeof(tn_real));
    d->n++;
    return 0;
}

/* A whole cell as a number (spaces around allowed). */
static int parse_number(const char *s, const char *e, double *v)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (s == e)
        return -1;
    if (e - s == 1 && (*s == '0' || *s == '1')) { /* the common case */
        *v = *s - '0';
        return 0;
    }
    char tmp[64];
    if ((size_t)(e - s) >= sizeof tmp)
        return -1;
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = '\0';
    char *end;
    errno = 0;
    *v = strtod(tmp, &end);
    return *end || errno == ERANGE ? -1 : 0;
}

/* The cells of a line: split on `sep`, or for sep == ' ' on runs of spaces
 * and tabs (leading and trailing ones ignored). Calls back with each cell's
 * [p, q); stops early when it returns nonzero. Returns the cell count. */
typedef int (*cell_fn)(void *ctx, size_t k, const char *p, const char *q);
static size_t each_cell(const char *line, char sep, cell_fn f, void *ctx)
{
    size_t n = 0;
    const char *p = line;
    for (;;) {
        if (sep == ' ')
            while (*p == ' ' || *p == '\t')
                p++;
        if (sep == ' ' && !*p)
            break;
        const char *q = p;
        while (*q && *q != sep && !(sep == ' ' && *q == '\t'))
            q++;
        if (f && f(ctx, n, p, q))
            return n;
        n++;
        if (!*q)
            break;
        p = q + 1;
    }
    return n;
}

/* What went wrong in a row: the cell, why, and the cell's text. */
typedef struct {
    tn_real *row;
    size_t max;
    int binary;          /* values must be 0 or 1 */
    long bad;            /* the first bad cell, or -1 */
    const char *why, *p, *q;
} row_ctx;

static int take_cell(void *ctx, size_t k, const char *p, const char *q)
{
    row_ctx *c = ctx;
    double v;
    c->why = parse_number(p, q, &v) ? "is not a number"
             : !isfinite(v) || fabs(v) > TN_REAL_MAX ? "is not a finite number that fits"
             : c->binary && v != 0 && v != 1 ? "is not 0 or 1, as binary pixels must be"
                                             : NULL;
    if (c->why) {
        c->bad = (long)k, c->p = p, c->q = q;
        return 1;
    }
    if (k < c->max)
        c->row[k] = (tn_real)v;
    return 0;
}

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return !*s;
}

static nn_dataset *load_text(const char *path, char sep, int header, int binary, nn_error *err)
{
    gzFile g = open_input(path, err);
    if (!g)
        return NULL;
    if (!gzdirect(g) && gzip_whole(path, err)) {
        gzclose(g);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0, len, cap_rows = 0, lineno = 0;
    tn_real *row = NULL;
    nn_dataset *d = calloc(1, sizeof *d);
    int r, ok = 0;
    if (!d)
        goto oom;
    while ((r = read_line(g, &line, &cap, &len)) == 1) {
        lineno++;
        if (blank(line))
            continue; /* blank lines, as at the end */
        row_ctx c = {row, d->dim, binary, -1, NULL, NULL, NULL};
        if (!row) { /* the first row fixes the width */
            d->dim = each_cell(line, sep, NULL, NULL);
            if (!(row = malloc(d->dim * sizeof(tn_real))))
                goto oom;
            c.row = row, c.max = d->dim;
            each_cell(line, sep, take_cell, &c);
            if (header == 1 || (header < 0 && c.bad >= 0))
                continue; /* a header row */
            c.bad = -1;
        }
        size_t n = each_cell(line, sep, take_cell, &c);
        if (c.bad >= 0) {
            int w = (int)(c.q - c.p);
            nn_fail(err, "%s: line %zu, column %ld: \"%.*s\" %s", path, lineno, c.bad + 1,
                    w > 40 ? 40 : w, c.p, c.why);
            goto out;
        }
        if (n != d->dim) {
            nn_fail(err, "%s: line %zu: %zu values, expected %zu as in the first row", path, lineno, n,
                    d->dim);
            goto out;
        }
        if (push_row(d, &cap_rows, row))
            goto oom;
    }
    if (r < 0) {
        nn_fail(err, "%s: line %zu: cannot read: %s", path, lineno + 1, read_error(g));
        goto out;
    }
    if (d->n == 0) {
        nn_fail(err, "%s: no data rows (%zu lines read)", path, lineno);
        goto out;
    }
    ok = 1;
    goto out;
oom:
    nn_fail(err, "%s: out of memory at line %zu", path, lineno);
out:
    gzclose(g);
    free(line);
    free(row);
    if (!ok) {
        nn_dataset_free(d);
        return NULL;
    }
    return d;
}

nn_dataset *nn_load_amat(const char *path, nn_error *err)
{
    nn_dataset *d = load_text(path, ' ', 0, 1, err);
    if (d && d->dim == 784) /* binarized MNIST */
        d->rows = d->cols = 28;
    return d;
}

nn_dataset *nn_load_csv(const char *path, int header, nn_error *err)
{
    return load_text(path, ',', header, 0, err);
}
