/* checkpoint.c: safetensors files. Layout: 8-byte little-endian header
 * length N, N bytes of JSON ({"name": {"dtype", "shape", "data_offsets"},
 * "__metadata__": {string: string}}), then the raw little-endian data.
 * Saves go through nn_atomic (a temporary file renamed into place); loads validate
 * every field before copying anything. */
#define _POSIX_C_SOURCE 200809L

#include "nn_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sys/stat.h>
#include <stddef.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint.c writes host-order floats: little-endian hosts only"
#endif

#define HEADER_MAX ((uint64_t)100 << 20) /* a sane bound: 100 MiB of JSON */

/* ---- metadata --------------------------------------------------------------- */

void nn_meta_free(nn_meta *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->key[i]), free(m->value[i]);
    free(m->key), free(m->value);
    *m = (nn_meta)NN_META_INIT;
}

int nn_meta_copy(nn_meta *dst, const nn_meta *src)
{
    nn_meta c = NN_META_INIT;
    for (int i = 0; i < src->n; i++)
        if (nn_meta_set(&c, src->key[i], src->value[i])) {
            nn_meta_free(&c);
            nn_meta_free(dst);
            return -1;
        }
    nn_meta_free(dst);
    *dst = c;
    return 0;
}

static char *dup_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    return d ? memcpy(d, s, n) : NULL;
}

int nn_meta_set(nn_meta *m, const char *key, const char *value)
{
    if (!key || !*key || !value)
        return -1;
    char *v = dup_text(value);
    if (!v)
        return -1;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->key[i], key) == 0) {
            free(m->value[i]);
            m->value[i] = v;
            return 0;
        }
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 32;
        char **k = realloc(m->key, (size_t)cap * sizeof *k);
        if (k)
            m->key = k;
        char **vs = k ? realloc(m->value, (size_t)cap * sizeof *vs) : NULL;
        if (!vs) {
            free(v);
            return -1;
        }
        m->value = vs, m->cap = cap;
    }
    if (!(m->key[m->n] = dup_text(key))) {
        free(v);
        return -1;
    }
    m->value[m->n++] = v;
    return 0;
}

int nn_meta_setf(nn_meta *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = w >= 0 ? malloc((size_t)w + 1) : NULL;
    if (!buf)
        return -1;
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)w + 1, fmt, ap);
    va_end(ap);
    int rc = nn_meta_set(m, key, buf);
    free(buf);
    return rc;
}

const char *nn_meta_get(const nn_meta *m, const char *key)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->key[i], key) == 0)
            return m->value[i];
    return NULL;
}

int nn_meta_put_rng(nn_meta *m, const char *prefix, const tn_rng *r)
{
    char k[4][300];
    static const char *const field[4] = {"state", "inc", "seed", "spare"};
    for (int i = 0; i < 4; i++)
        if ((size_t)snprintf(k[i], sizeof k[i], "%s.%s", prefix, field[i]) >= sizeof k[i])
            return -1;
    int rc = nn_meta_setf(m, k[0], "%" PRIu64, r->state) | nn_meta_setf(m, k[1], "%" PRIu64, r->inc) |
             nn_meta_setf(m, k[2], "%" PRIu64, r->seed);
    rc |= r->has_spare ? nn_meta_setf(m, k[3], "%a", r->spare) /* hex: exact round trip */
                       : nn_meta_set(m, k[3], "");
    return rc ? -1 : 0;
}

static int get_u64(const nn_meta *m, const char *prefix, const char *field,
                   uint64_t *out)
{
    char k[300], *end;
    snprintf(k, sizeof k, "%s.%s", prefix, field);
    const char *v = nn_meta_get(m, k);
    if (!v || !*v)
        return -1;
    errno = 0;
    *out = strtoull(v, &end, 10);
    return errno || *end ? -1 : 0;
}

int nn_meta_get_rng(const nn_meta *m, const char *prefix, tn_rng *r)
{
    tn_rng t = {0};
    char k[300], *end;
    if (get_u64(m, prefix, "state", &t.state) || get_u64(m, prefix, "inc", &t.inc) ||
        get_u64(m, prefix, "seed", &t.seed))
        return -1;
    snprintf(k, sizeof k, "%s.spare", prefix);
    const char *s = nn_meta_get(m, k);
    if (!s)
        return -1;
    if (*s) {
        t.spare = strtod(s, &end);
        if (*end)
            return -1;
        t.has_spare = 1;
    }
    *r = t;
    return 0;
}

/* ---- what a checkpoint holds ---------------------------------------------------- */

typedef struct {
    char name[160];
    tn_real *data;      /* where the values live in memory */
    const tn_tensor *shape;
} entry;

/* Parameters, then each optimizer slot per parameter. *n_out entries. */
static entry *entries_of(nn_params *p, nn_optim *o, int *n_out)
{
    int np = nn_params_count(p), ns = o ? nn_optim_slots(o) : 0;
    entry *e = calloc((size_t)np * (size_t)(1 + ns) + 1, sizeof *e);
    if (!e)
        return NULL;
    int n = 0;
    for (int k = -1; k < ns; k++)
        for (int i = 0; i < np; i++) {
            tn_tensor *v = nn_params_value(p, i);
            if (k < 0) {
                snprintf(e[n].name, sizeof e[n].name, "%s", nn_params_name(p, i));
                e[n].data = v->data;
            } else {
                snprintf(e[n].name, sizeof e[n].name, "optim.%s.%s",
                         nn_optim_slot_name(o, k), nn_params_name(p, i));
                e[n].data = nn_optim_slot(o, k) + (v->data - nn_params_values(p));
            }
            e[n].shape = v;
            n++;
        }
    *n_out = n;
    return e;
}

static const char *const DTYPE = sizeof(tn_real) == 4 ? "F32" : "F64";

int nn_save(const char *path, nn_params *p, nn_optim *o, const nn_meta *meta,
            nn_error *err)
{
    if (!nn_params_values(p))
        return nn_fail(err, "%s: parameters are not allocated", path);
    int bad;
    size_t at;
    if (nn_params_nonfinite(p, 0, &bad, &at)) /* a checkpoint holds numbers only */
        return nn_fail(err, "%s: not saved: %s[%zu] is %g", path, nn_params_name(p, bad), at,
                       (double)nn_params_value(p, bad)->data[at]);
    for (int k = 0; o && k < nn_optim_slots(o); k++)
        for (size_t i = 0; i < nn_params_size(p); i++)
            if (!isfinite(nn_optim_slot(o, k)[i]))
                return nn_fail(err, "%s: not saved: the optimizer's %s[%zu] is %g", path,
                               nn_optim_slot_name(o, k), i, (double)nn_optim_slot(o, k)[i]);
    int n = 0, rc = -1;
    entry *e = entries_of(p, o, &n);
    cJSON *root = cJSON_CreateObject(), *md = cJSON_CreateObject();
    char *json = NULL;
    int md_owned = 1; /* until root holds it */
    if (!e || !root || !md)
        goto oom;
    cJSON_AddItemToObject(root, "__metadata__", md);
    md_owned = 0;
    for (int i = 0; meta && i < meta->n; i++)
        if (!cJSON_AddStringToObject(md, meta->key[i], meta->value[i]))
            goto oom;
    if (o) {
        char buf[32];
        snprintf(buf, sizeof buf, "%ld", nn_optim_steps(o));
        if (!cJSON_AddStringToObject(md, "optim.kind", nn_optim_name(nn_optim_config_of(o)->kind)) ||
            !cJSON_AddStringToObject(md, "optim.steps", buf))
            goto oom;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *t = cJSON_CreateObject();
        if (!t)
            goto oom;
        cJSON_AddItemToObject(root, e[i].name, t);
        cJSON_AddStringToObject(t, "dtype", DTYPE);
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; sh && d < e[i].shape->ndim; d++)
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e[i].shape->shape[d]));
        size_t bytes = e[i].shape->size * sizeof(tn_real);
        cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
        if (!sh || !offs)
            goto oom;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    if (!(json = cJSON_PrintUnformatted(root)))
        goto oom;
    size_t jlen = strlen(json), padded = (jlen + 7) / 8 * 8;
    unsigned char len8[8];
    for (int b = 0; b < 8; b++)
        len8[b] = (unsigned char)((uint64_t)padded >> (8 * b));

    nn_atomic a;
    if (nn_atomic_open(&a, path, err))
        goto out;
    int ok = fwrite(len8, 1, 8, a.f) == 8 && fwrite(json, 1, jlen, a.f) == jlen;
    for (size_t i = jlen; ok && i < padded; i++)
        ok = fputc(' ', a.f) != EOF;
    for (int i = 0; ok && i < n; i++)
        ok = fwrite(e[i].data, sizeof(tn_real), e[i].shape->size, a.f) == e[i].shape->size;
    if (nn_atomic_commit(&a, ok, err))
        goto out;
    rc = 0;
    goto out;
oom:
    nn_fail(err, "%s: out of memory while saving", path);
out:
    free(json);
    cJSON_Delete(root);
    if (md_owned)
        cJSON_Delete(md);
    free(e);
    return rc;
}

/* ---- loading ----------------------------------------------------------------------- */

typedef struct {
    const char *name;
    int f64;           /* dtype F64 (else F32) */
    int ndim;
    size_t shape[TN_MAX_DIMS];
    uint64_t begin, end;
} found;

/* A JSON number that is a whole number in [0, 2^53]. */
static int whole(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return 0;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || floor(v) != v)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

static int by_begin(const void *a, const void *b)
{
    const found *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

static char *shape_text(int ndim, const size_t *shape, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, i ? ", %zu" : "%zu", shape[i]);
    if (used < len)
        snprintf(buf + used, len - used, "]");
    return buf;
}

/* Reads the file and validates its structure; fills the tensor list and the
 * metadata. The caller frees *buf and *root. */
/* The whole file into *buf (*size bytes); a folder or a device refused. */
static int read_whole(const char *path, unsigned char **buf, size_t *size, nn_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return nn_fail(err, "%s: is %s, expected a checkpoint file", path,
                       S_ISDIR(st.st_mode) ? "a folder" : "not a regular file");
    FILE *f = fopen(path, "rb");
    if (!f)
        return nn_fail(err, "%s: cannot open: %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return nn_fail(err, "%s: cannot find its size", path);
    }
    *size = (size_t)len;
    *buf = malloc(*size ? *size : 1);
    if (!*buf || fread(*buf, 1, *size, f) != *size) {
        fclose(f);
        return nn_fail(err, "%s: cannot read %zu bytes", path, *size);
    }
    fclose(f);
    return 0;
}

/* The header: its length field, the JSON object, nothing but spaces after
 * it, every name once; its length in *hlen. */
static int parse_header(const char *path, const unsigned char *buf, size_t size, cJSON **root, uint64_t *hlen,
                        nn_error *err)
{
    if (size < 8)
        return nn_fail(err, "%s: header length: the file has %zu bytes, fewer than the 8 of the length field",
                       path, size);
    *hlen = 0;
    for (int b = 7; b >= 0; b--)
        *hlen = *hlen << 8 | buf[b];
    if (*hlen > HEADER_MAX)
        return nn_fail(err, "%s: header length: %" PRIu64 " bytes is over the %" PRIu64 " allowed", path, *hlen,
                       HEADER_MAX);
    if (*hlen > size - 8)
        return nn_fail(err, "%s: header length: %" PRIu64 " bytes runs past the end of the file (%zu bytes)",
                       path, *hlen, size);
    const char *hend = NULL, *h = (const char *)buf + 8;
    *root = cJSON_ParseWithLengthOpts(h, (size_t)*hlen, &hend, 0);
    if (!*root || !cJSON_IsObject(*root))
        return nn_fail(err, "%s: header: not a JSON object", path);
    for (const char *q = hend; q < h + *hlen; q++) /* the format pads with spaces only */
        if (*q != ' ' && *q != '\0') {
            int w = h + *hlen - q < 20 ? (int)(h + *hlen - q) : 20; /* not NUL-terminated */
            return nn_fail(err, "%s: header: \"%.*s\" after the JSON object (at byte %td of %" PRIu64
                                "), expected nothing but spaces", path, w, q, (ptrdiff_t)(q - h) + 8, *hlen + 8);
        }
    /* names must be unique: with two, which one would be meant? */
    for (const cJSON *a = (*root)->child; a; a = a->next)
        for (const cJSON *b = (*root)->child; b != a; b = b->next)
            if (strcmp(a->string, b->string) == 0)
                return nn_fail(err, "%s: header: the name \"%s\" appears twice", path, a->string);
    return 0;
}

/* __metadata__: an object of strings, each key once, into meta (may be NULL). */
static int read_metadata(const char *path, const cJSON *it, nn_meta *meta, nn_error *err)
{
    if (!cJSON_IsObject(it))
        return nn_fail(err, "%s: __metadata__: expected an object", path);
    const cJSON *kv;
    cJSON_ArrayForEach(kv, it) {
        if (!cJSON_IsString(kv))
            return nn_fail(err, "%s: __metadata__.%s: expected a string value", path, kv->string);
        for (const cJSON *b = it->child; b != kv; b = b->next)
            if (strcmp(b->string, kv->string) == 0)
                return nn_fail(err, "%s: __metadata__.%s: the key appears twice", path, kv->string);
        if (meta && nn_meta_set(meta, kv->string, kv->valuestring) != 0)
            return nn_fail(err, "%s: __metadata__.%s: an empty key, or out of memory", path, kv->string);
    }
    return 0;
}

/* One tensor's entry: dtype, shape and offsets inside a data area of dsize
 * bytes that match the shape and dtype. */
static int parse_entry(const char *path, const cJSON *it, uint64_t dsize, found *t, nn_error *err)
{
    const char *name = it->string;
    t->name = name;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
    if (!cJSON_IsObject(it))
        return nn_fail(err, "%s: tensor %s: expected an object", path, name);
    if (!cJSON_IsString(dt))
        return nn_fail(err, "%s: tensor %s: field dtype: expected a string", path, name);
    if (strcmp(dt->valuestring, "F32") != 0 && strcmp(dt->valuestring, "F64") != 0)
        return nn_fail(err, "%s: tensor %s: field dtype: \"%s\" is not supported (expected F32 or F64)", path,
                       name, dt->valuestring);
    t->f64 = strcmp(dt->valuestring, "F64") == 0;
    if (!cJSON_IsArray(sh) || cJSON_GetArraySize(sh) > TN_MAX_DIMS)
        return nn_fail(err, "%s: tensor %s: field shape: expected an array of at most %d sizes", path, name,
                       TN_MAX_DIMS);
    uint64_t elems = 1, v;
    const cJSON *d;
    cJSON_ArrayForEach(d, sh) {
        if (!whole(d, &v))
            return nn_fail(err, "%s: tensor %s: field shape: expected whole numbers >= 0", path, name);
        if (v && elems > UINT64_MAX / v)
            return nn_fail(err, "%s: tensor %s: field shape: the element count overflows", path, name);
        elems *= v;
        t->shape[t->ndim++] = (size_t)v;
    }
    size_t esize = t->f64 ? 8 : 4;
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 || !whole(cJSON_GetArrayItem(of, 0), &t->begin) ||
        !whole(cJSON_GetArrayItem(of, 1), &t->end) || t->begin > t->end)
        return nn_fail(err, "%s: tensor %s: field data_offsets: expected [begin, end] with begin <= end", path,
                       name);
    if (t->end > dsize)
        return nn_fail(err, "%s: tensor %s: field data_offsets: [%" PRIu64 ", %" PRIu64 "] runs past the data "
                            "area of %" PRIu64 " bytes", path, name, t->begin, t->end, dsize);
    if (elems > UINT64_MAX / esize || elems * esize != t->end - t->begin)
        return nn_fail(err, "%s: tensor %s: field data_offsets: spans %" PRIu64 " bytes but shape x dtype needs "
                            "%" PRIu64, path, name, t->end - t->begin, elems * esize);
    return 0;
}

/* The data area is covered exactly once: no overlap, no hole. */
static int check_coverage(const char *path, found *list, int count, uint64_t dsize, nn_error *err)
{
    qsort(list, (size_t)count, sizeof *list, by_begin);
    uint64_t at = 0;
    for (int i = 0; i < count; i++) {
        found *t = &list[i];
        if (t->begin < at)
            return nn_fail(err, "%s: tensor %s: field data_offsets: overlaps the tensor before it", path, t->name);
        if (t->begin > at && t->end > t->begin)
            return nn_fail(err, "%s: tensor %s: field data_offsets: leaves a hole of %" PRIu64 " bytes before it",
                           path, t->name, t->begin - at);
        if (t->end > at)
            at = t->end;
    }
    if (at != dsize)
        return nn_fail(err, "%s: data area: %" PRIu64 " bytes, of which %" PRIu64 " belong to no tensor", path,
                       dsize, dsize - at);
    return 0;
}

static int parse_file(const char *path, unsigned char **buf, size_t *size,
                      cJSON **root, found **list, int *count,
                      const unsigned char **data, nn_meta *meta, nn_error *err)
{
    *buf = NULL, *root = NULL, *list = NULL, *count = 0;
    uint64_t hlen = 0;
    if (read_whole(path, buf, size, err) || parse_header(path, *buf, *size, root, &hlen, err))
        return -1;
    *data = *buf + 8 + hlen;
    uint64_t dsize = *size - 8 - hlen;
    *list = calloc((size_t)cJSON_GetArraySize(*root) + 1, sizeof **list);
    if (!*list)
        return nn_fail(err, "%s: out of memory", path);
    const cJSON *it; /* meta: an empty one of the caller's, who frees it */
    cJSON_ArrayForEach(it, *root) {
        int rc = strcmp(it->string, "__metadata__") == 0 ? read_metadata(path, it, meta, err)
                                                         : parse_entry(path, it, dsize, &(*list)[(*count)++], err);
        if (rc)
            return -1;
    }
    return check_coverage(path, *list, *count, dsize, err);
}

int nn_load_meta(const char *path, nn_meta *meta, nn_error *err)
{
    unsigned char *buf;
    size_t size;
    cJSON *root;
    found *list;
    int count;
    const unsigned char *data;
    nn_meta local = NN_META_INIT;
    int rc = parse_file(path, &buf, &size, &root, &list, &count, &data, &local, err);
    free(buf), cJSON_Delete(root), free(list);
    if (rc == 0 && meta) { /* the caller's entries replaced */
        nn_meta_free(meta);
        *meta = local;
    } else {
        nn_meta_free(&local);
    }
    return rc;
}

/* The optimizer's kind and step count in the metadata match o. */
static int check_optim_meta(const char *path, const nn_meta *m, nn_optim *o, nn_error *err)
{
    const char *kind = nn_meta_get(m, "optim.kind"), *steps = nn_meta_get(m, "optim.steps");
    const char *want = nn_optim_name(nn_optim_config_of(o)->kind);
    char *end;
    if (!kind || strcmp(kind, want) != 0)
        return nn_fail(err, "%s: __metadata__.optim.kind: expected \"%s\", found %s%s%s", path, want,
                       kind ? "\"" : "", kind ? kind : "none", kind ? "\"" : "");
    errno = 0;
    long st = steps ? strtol(steps, &end, 10) : -1;
    if (!steps || *steps < '0' || *steps > '9' || *end || errno || st > (1L << 50))
        return nn_fail(err, "%s: __metadata__.optim.steps: expected a whole number from 0 to 2^50, found \"%s\"",
                       path, steps ? steps : "(missing)");
    return 0;
}

/* Each of the model's n tensors e[j] matched to the file's (match[j]): every
 * tensor of the file one the model expects (an optimizer's state skipped
 * when o is NULL), every expected one there, shaped alike. */
static int match_tensors(const char *path, const entry *e, int n, const found *list, int count, int with_optim,
                         const found **match, nn_error *err)
{
    for (int i = 0; i < count; i++) {
        int j = 0;
        while (j < n && strcmp(e[j].name, list[i].name) != 0)
            j++;
        if (j == n && !with_optim && strncmp(list[i].name, "optim.", 6) == 0)
            continue; /* optimizer state nobody asked for */
        if (j == n)
            return nn_fail(err, "%s: tensor %s: not a parameter of this model (another architecture?)", path,
                           list[i].name);
        match[j] = &list[i];
    }
    for (int j = 0; j < n; j++) {
        char a[80], b[80];
        const found *t = match[j];
        if (!t)
            return nn_fail(err, "%s: tensor %s: missing from the file", path, e[j].name);
        if (t->ndim != e[j].shape->ndim || memcmp(t->shape, e[j].shape->shape, (size_t)t->ndim * sizeof(size_t)))
            return nn_fail(err, "%s: tensor %s: field shape: expected %s (the model's), found %s", path, e[j].name,
                           shape_text(e[j].shape->ndim, e[j].shape->shape, a, sizeof a),
                           shape_text(t->ndim, t->shape, b, sizeof b));
    }
    return 0;
}

/* Value k of a tensor of the file, as a double. */
static double value_at(const found *t, const unsigned char *data, size_t k)
{
    const unsigned char *src = data + t->begin;
    if (t->f64) {
        double v;
        memcpy(&v, src + 8 * k, 8);
        return v;
    }
    float f;
    memcpy(&f, src + 4 * k, 4);
    return f;
}

int nn_load(const char *path, nn_params *p, nn_optim *o, nn_meta *meta,
            nn_error *err)
{
    unsigned char *buf;
    size_t size;
    cJSON *root;
    found *list;
    int count, n = 0, rc = -1;
    const unsigned char *data;
    nn_meta local = NN_META_INIT;
    entry *e = NULL;
    const found **match = NULL;
    if (parse_file(path, &buf, &size, &root, &list, &count, &data, &local, err))
        goto out;
    if (!nn_params_values(p)) {
        nn_fail(err, "%s: the model's parameters are not allocated", path);
        goto out;
    }
    if (o && check_optim_meta(path, &local, o, err))
        goto out;
    if (!(e = entries_of(p, o, &n)) || !(match = calloc((size_t)n + 1, sizeof *match))) {
        nn_fail(err, "%s: out of memory", path);
        goto out;
    }
    if (match_tensors(path, e, n, list, count, o != NULL, match, err))
        goto out;
    /* every value finite (and, in the float build, within float's range):
     * weights that are not numbers are refused, naming where */
    for (int j = 0; j < n; j++)
        for (size_t k = 0; k < e[j].shape->size; k++) {
            double v = value_at(match[j], data, k);
            if (!isfinite(v) || fabs(v) > TN_REAL_MAX) {
                nn_fail(err, "%s: tensor %s: element %zu is %g, expected a finite %s", path, e[j].name, k, v,
                        TN_REAL_NAME);
                goto out;
            }
        }
    /* all checked: copy */
    for (int j = 0; j < n; j++)
        for (size_t k = 0; k < e[j].shape->size; k++)
            e[j].data[k] = (tn_real)value_at(match[j], data, k);
    if (o) /* checked above: digits, at most 2^50 */
        nn_optim_set_steps(o, strtol(nn_meta_get(&local, "optim.steps"), NULL, 10));
    if (meta) { /* the caller's entries replaced */
        nn_meta_free(meta);
        *meta = local;
        local = (nn_meta)NN_META_INIT;
    }
    rc = 0;
out:
    nn_meta_free(&local);
    free(buf), cJSON_Delete(root), free(list), free(e), free(match);
    return rc;
}
