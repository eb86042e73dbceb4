/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <gnutls/crypto.h>

#include "sovd/sha256.h"

int sha256_hex(const void *data, size_t len, char hex[static SHA256_HEX_LEN]) {
        static const char digits[] = "0123456789abcdef";
        unsigned char d[32];

        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d) < 0)
                return -EIO;
        for (size_t i = 0; i < sizeof(d); i++) {
                hex[2 * i] = digits[d[i] >> 4];
                hex[2 * i + 1] = digits[d[i] & 15];
        }
        hex[64] = '\0';
        return 0;
}

int sha256_file(const char *path, char hex[static SHA256_HEX_LEN], uint64_t *ret_size) {
        static const char digits[] = "0123456789abcdef";
        gnutls_hash_hd_t h;
        unsigned char d[32];
        uint64_t size = 0;
        ssize_t n;
        int fd, r = 0;
        /* Large reads: hashing a disk image is bound by this loop, not by syscalls. */
        const size_t chunk = 1024 * 1024;
        unsigned char *buf = malloc(chunk);

        if (!buf)
                return -ENOMEM;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                r = -errno;
                free(buf);
                return r;
        }
        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
                close(fd);
                free(buf);
                return -EIO;
        }
        (void) posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        while ((n = read(fd, buf, chunk)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (gnutls_hash(h, buf, (size_t) n) < 0) {
                        r = -EIO;
                        break;
                }
                size += (uint64_t) n;
        }
        gnutls_hash_deinit(h, d);
        close(fd);
        free(buf);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sizeof(d); i++) {
                hex[2 * i] = digits[d[i] >> 4];
                hex[2 * i + 1] = digits[d[i] & 15];
        }
        hex[64] = '\0';
        if (ret_size)
                *ret_size = size;
        return 0;
}
