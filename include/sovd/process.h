/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Running a helper program (qemu-img) without a shell: arguments go to
 * execve() as they are, so no file name is ever interpreted. The child's
 * stderr is kept (its last few hundred bytes) for the error message.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "sovd/errors.h"

/*
 * Runs @argv[0] (looked up in PATH) with @argv and waits. Returns 0 when it
 * exits 0; otherwise -EIO with @err naming the program, its exit status and
 * what it printed. When @cancel is given, it is called about every 100 ms
 * and a true return kills the child (SIGTERM) and returns -ECANCELED.
 */
int process_run(char *const *argv, bool (*cancel)(void *userdata), void *userdata, struct sovd_err *err);
