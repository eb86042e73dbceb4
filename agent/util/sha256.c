/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
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
