/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_HEX_LEN 65

/* Lower-case hex SHA-256 of @len bytes into @hex (65 bytes, NUL-terminated). -EIO on failure. */
int sha256_hex(const void *data, size_t len, char hex[static SHA256_HEX_LEN]);

/* The same over a whole file, read in large chunks; *ret_size its length. Negative errno on failure. */
int sha256_file(const char *path, char hex[static SHA256_HEX_LEN], uint64_t *ret_size);
/* The same from an open descriptor (left open) of a regular file; -EINVAL for anything else. */
int sha256_fd(int fd, char hex[static SHA256_HEX_LEN], uint64_t *ret_size);
/*
 * The same, calling @step with the bytes read since the last call after each
 * chunk: hashing a large disk image can then report progress and stop early
 * (-ECANCELED when @step returns false).
 */
int sha256_fd_step(int fd, char hex[static SHA256_HEX_LEN], uint64_t *ret_size,
                   bool (*step)(uint64_t bytes, void *userdata), void *userdata);
