/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
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
        /* O_NONBLOCK: a FIFO must be refused by sha256_fd(), not block open() for ever. */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), r;

        if (fd < 0)
                return -errno;
        r = sha256_fd(fd, hex, ret_size);
        close(fd);
        return r;
}

int sha256_fd(int fd, char hex[static SHA256_HEX_LEN], uint64_t *ret_size) {
        return sha256_fd_step(fd, hex, ret_size, NULL, NULL);
}

int sha256_fd_step(int fd, char hex[static SHA256_HEX_LEN], uint64_t *ret_size,
                   bool (*step)(uint64_t bytes, void *userdata), void *userdata) {
        static const char digits[] = "0123456789abcdef";
        gnutls_hash_hd_t h;
        unsigned char d[32];
        uint64_t size = 0;
        struct stat st;
        ssize_t n;
        int r = 0;
        /* Large reads: hashing a disk image is bound by this loop, not by syscalls. */
        const size_t chunk = 1024 * 1024;
        unsigned char *buf;

        /* Regular files only: a device (/dev/zero) never ends, a FIFO blocks. */
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EINVAL;
        buf = malloc(chunk);
        if (!buf)
                return -ENOMEM;
        if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
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
                if (step && !step((uint64_t) n, userdata)) {
                        r = -ECANCELED;
                        break;
                }
        }
        gnutls_hash_deinit(h, d);
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
