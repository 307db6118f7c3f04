/* canvas.h: pictures for the example programs, written with libpng to a
 * temporary file renamed into place. A canvas is RGB, 8 bits a channel. */
#ifndef EXAMPLES_CANVAS_H
#define EXAMPLES_CANVAS_H

#include <stddef.h>

typedef struct {
    size_t w, h;
    unsigned char *rgb; /* h x w x 3 */
} canvas;

int canvas_new(canvas *c, size_t w, size_t h, unsigned char gray);
void canvas_free(canvas *c);
/* Draws a rows x cols image of values in [0, 1] (clipped), scaled up by
 * `zoom`, with its top-left corner at (x, y). */
void canvas_image(canvas *c, size_t x, size_t y, const float *img, size_t rows,
                  size_t cols, size_t zoom);
void canvas_dot(canvas *c, double x, double y, int radius, const unsigned char rgb[3]);
/* 0 on success; -1 with a message in err (len bytes) naming the file. */
int canvas_save(const canvas *c, const char *path, char *err, size_t len);

#endif
