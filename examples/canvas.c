/* canvas.c: canvases and PNG writing through libpng into an nn_atomic file
 * (see canvas.h). */
#include "canvas.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

int canvas_new(canvas *c, size_t w, size_t h, unsigned char gray)
{
    c->w = w, c->h = h;
    c->rgb = malloc(w * h * 3);
    if (!c->rgb)
        return -1;
    memset(c->rgb, gray, w * h * 3);
    return 0;
}

void canvas_free(canvas *c)
{
    free(c->rgb);
    c->rgb = NULL;
}

void canvas_image(canvas *c, size_t x, size_t y, const float *img, size_t rows,
                  size_t cols, size_t zoom)
{
    for (size_t r = 0; r < rows * zoom; r++)
        for (size_t q = 0; q < cols * zoom; q++) {
            size_t px = x + q, py = y + r;
            if (px >= c->w || py >= c->h)
                continue;
            float v = img[(r / zoom) * cols + q / zoom];
            v = v < 0 ? 0 : v > 1 ? 1 : v;
            unsigned char g = (unsigned char)(v * 255 + 0.5f);
            memset(c->rgb + (py * c->w + px) * 3, g, 3);
        }
}

void canvas_dot(canvas *c, double x, double y, int radius, const unsigned char rgb[3])
{
    for (int dy = -radius; dy <= radius; dy++)
        for (int dx = -radius; dx <= radius; dx++) {
            if (dx * dx + dy * dy > radius * radius)
                continue;
            long px = (long)(x + dx), py = (long)(y + dy);
            if (px < 0 || py < 0 || (size_t)px >= c->w || (size_t)py >= c->h)
                continue;
            memcpy(c->rgb + ((size_t)py * c->w + (size_t)px) * 3, rgb, 3);
        }
}

int canvas_save(const canvas *c, const char *path, char *err, size_t len)
{
    nn_error e;
    nn_atomic a;
    if (nn_atomic_open(&a, path, &e)) {
        snprintf(err, len, "%s", e.msg);
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        snprintf(err, len, "%s: out of memory", path);
        goto fail;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, len, "%s: libpng could not write the image", path);
        goto fail;
    }
    png_init_io(png, a.f);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (size_t y = 0; y < c->h; y++)
        png_write_row(png, c->rgb + y * c->w * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    if (nn_atomic_commit(&a, 1, &e)) {
        snprintf(err, len, "%s", e.msg);
        return -1;
    }
    return 0;
fail:
    if (png)
        png_destroy_write_struct(&png, info ? &info : NULL);
    nn_atomic_abort(&a);
    return -1;
}
