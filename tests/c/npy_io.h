/* .npy reading and writing for the C ABI tests (tests/c/test_*.c): float32,
 * C order, format 1.0, the subset convergent writes and reads. Static inline:
 * each test is one translation unit and uses what it needs. */
#ifndef CONVERGENT_TESTS_C_NPY_IO_H
#define CONVERGENT_TESTS_C_NPY_IO_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Reads the float32 payload of a .npy file written by convergent. */
static inline int read_npy(const char *path, float *out, int count) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    unsigned char head[10];
    if (fread(head, 1, 10, f) != 10) { fclose(f); return -1; }
    long header_len = head[8] | (head[9] << 8);
    fseek(f, 10 + header_len, SEEK_SET);
    size_t got = fread(out, sizeof(float), (size_t)count, f);
    fclose(f);
    return got == (size_t)count ? 0 : -1;
}

/* Writes a C-order float32 .npy file (format 1.0) of any rank <= 4. */
static inline int write_npy(const char *path, const float *data, int ndim, const int64_t *shape) {
    char dict[160], dims[96] = "";
    size_t count = 1;
    for (int d = 0; d < ndim; ++d) {
        char one[24];
        snprintf(one, sizeof one, "%lld, ", (long long)shape[d]);
        strcat(dims, one);
        count *= (size_t)shape[d];
    }
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", dims);
    int total = 10 + n + 1;
    int pad = (64 - total % 64) % 64;
    unsigned short header_len = (unsigned short)(n + pad + 1);
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    unsigned char len[2] = {(unsigned char)(header_len & 0xFF), (unsigned char)(header_len >> 8)};
    fwrite(len, 1, 2, f);
    fwrite(dict, 1, (size_t)n, f);
    for (int i = 0; i < pad; ++i) fputc(' ', f);
    fputc('\n', f);
    fwrite(data, sizeof(float), count, f);
    return fclose(f);
}

/* A 2-D rows x cols array. */
static inline int write_npy_2d(const char *path, const float *data, int rows, int cols) {
    const int64_t shape[2] = {rows, cols};
    return write_npy(path, data, 2, shape);
}

#endif /* CONVERGENT_TESTS_C_NPY_IO_H */
