/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * sovctl's subcommands. Each takes the words after the command name
 * (argv[0] is the subcommand itself, e.g. "list"), parses its own options
 * and returns 0, 1 after printing --help, or a negative errno under the
 * contract of sovctl.h (-SOVCTL_E_DENIED: a dry run's decision denies).
 */

#include "sovctl.h"

int sovctl_cmd_host(struct sovctl_ctx *ctx, int argc, char **argv);
/* argv[0] is "vm"; argv[1] names the VM subcommand. */
int sovctl_cmd_vm(struct sovctl_ctx *ctx, int argc, char **argv);

/* argv[0] is "policy"; argv[1] is list, show or evaluate. */
int sovctl_cmd_policy(struct sovctl_ctx *ctx, int argc, char **argv);
/* argv[0] is "pool" or "backup-target"; argv[1] is list. */
int sovctl_cmd_pool(struct sovctl_ctx *ctx, int argc, char **argv);
int sovctl_cmd_backup_target(struct sovctl_ctx *ctx, int argc, char **argv);

/*
 * argv[0] is "audit"; argv[1] names the subcommand: list, or verify.
 * `audit verify FILE|DIR...` runs offline and never touches ctx->http,
 * which may then be NULL; sovctl_cmd_audit_is_offline() tells that case
 * apart before a transport is set up.
 */
int sovctl_cmd_audit(struct sovctl_ctx *ctx, int argc, char **argv);
bool sovctl_cmd_audit_is_offline(int argc, char **argv);
