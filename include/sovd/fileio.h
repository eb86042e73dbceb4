/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * Reads a whole regular file of at most @max bytes. *ret is NUL-terminated
 * (the NUL is not counted in *ret_len). -EFBIG beyond @max.
 */
int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len);
/* The same from an open file descriptor (left open), read from its current offset. */
int file_read_fd(int fd, size_t max, char **ret, size_t *ret_len);

/*
 * Replaces @path atomically and durably: write a temporary file in the same
 * directory, fsync it, rename it over @path, fsync the directory. A crash
 * leaves either the old or the new content, never a mix.
 */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* mkdir -p with @mode for the directories it creates. */
int mkdir_p(const char *path, mode_t mode);
