/* pngcheck.c: prints "WIDTH HEIGHT COLOURS" for a PNG, for tests/cli/plot_files.sh.
 *
 * The file is read as what it claims to be: the signature and IHDR are checked,
 * the IDAT chunks inflated with zlib and the scanline filters undone (8-bit grey,
 * RGB, palette, grey+alpha or RGBA, not interlaced), and the distinct pixel
 * values counted, so a blank or one-colour picture shows as 1. Exit status 1,
 * with a reason on stderr, when it is not such a PNG. The idea follows png_read
 * in tests/unit/test_plot.c.
 *
 *   cc -o pngcheck tests/plot/pngcheck.c -lz && ./pngcheck fig.png   # 900 360 412
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int fail(const char *path, const char *why)
{
    fprintf(stderr, "pngcheck: %s: %s\n", path, why);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pngcheck FILE.png\n");
        return 2;
    }
    FILE *fp = fopen(argv[1], "rb");
    if (!fp)
        return fail(argv[1], "cannot open");
    size_t cap = 1 << 16, n = 0, got;
    unsigned char *s = malloc(cap);
    while ((got = fread(s + n, 1, cap - n, fp)) > 0)
        if ((n += got) == cap)
            s = realloc(s, cap *= 2);
    fclose(fp);
    if (n < 33 || memcmp(s, "\x89PNG\r\n\x1a\n", 8) != 0 || memcmp(s + 12, "IHDR", 4) != 0)
        return fail(argv[1], "no PNG signature and header");
    uint32_t width = be32(s + 16), height = be32(s + 20);
    int depth = s[24], ctype = s[25];
    int channels = ctype == 0 ? 1 : ctype == 2 ? 3 : ctype == 3 ? 1 : ctype == 4 ? 2 : 4;
    if (depth != 8 || s[28] != 0)
        return fail(argv[1], "not an 8-bit non-interlaced PNG");
    unsigned char *idat = NULL;
    size_t nidat = 0;
    int ended = 0;
    for (size_t at = 8; at + 12 <= n;) {
        uint32_t len = be32(s + at);
        if (at + 12 + len > n)
            return fail(argv[1], "a chunk runs past the end of the file");
        if (memcmp(s + at + 4, "IDAT", 4) == 0) {
            idat = realloc(idat, nidat + len);
            memcpy(idat + nidat, s + at + 8, len);
            nidat += len;
        }
        if (memcmp(s + at + 4, "IEND", 4) == 0)
            ended = 1;
        at += 12 + len;
    }
    if (!ended)
        return fail(argv[1], "no IEND chunk: the file is cut short");
    size_t stride = (size_t)width * channels;
    uLongf raw_len = (uLongf)((stride + 1) * height);
    unsigned char *raw = malloc(raw_len), *img = malloc(stride * height);
    if (uncompress(raw, &raw_len, idat, nidat) != Z_OK || raw_len != (stride + 1) * height)
        return fail(argv[1], "the image data does not inflate to its size");
    for (uint32_t y = 0; y < height; y++) {
        unsigned char ft = raw[y * (stride + 1)], *in = raw + y * (stride + 1) + 1;
        unsigned char *out = img + y * stride, *up = y ? out - stride : NULL;
        for (size_t x = 0; x < stride; x++) {
            int a = x >= (size_t)channels ? out[x - channels] : 0, b = up ? up[x] : 0;
            int c = up && x >= (size_t)channels ? up[x - channels] : 0;
            int pred = ft == 1 ? a : ft == 2 ? b : ft == 3 ? (a + b) / 2 : ft == 4 ? paeth(a, b, c) : 0;
            out[x] = (unsigned char)(in[x] + pred);
        }
    }
    size_t npix = (size_t)width * height;
    uint32_t *px = malloc((npix ? npix : 1) * sizeof *px);
    for (size_t i = 0; i < npix; i++) {
        uint32_t v = 0;
        for (int k = 0; k < channels; k++)
            v = v << 8 | img[i * channels + k];
        px[i] = v;
    }
    qsort(px, npix, sizeof *px, cmp_u32);
    size_t colours = npix ? 1 : 0;
    for (size_t i = 1; i < npix; i++)
        colours += px[i] != px[i - 1];
    printf("%u %u %zu\n", width, height, colours);
    free(px);
    free(img);
    free(raw);
    free(idat);
    free(s);
    return 0;
}
