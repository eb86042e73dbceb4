/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sovctl's subcommands. Each takes the words after the command name
 * (argv[0] is the subcommand itself, e.g. "list"), parses its own options
 * and returns 0, 1 after printing --help, or a negative errno under the
 * contract of sovctl.h.
 */

#include "sovctl.h"

int sovctl_cmd_host(struct sovctl_ctx *ctx, int argc, char **argv);
/* argv[0] is "vm"; argv[1] names the VM subcommand. */
int sovctl_cmd_vm(struct sovctl_ctx *ctx, int argc, char **argv);
