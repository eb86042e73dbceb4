/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A growable string for building documents (domain XML) of unbounded size.
 * Allocation failure is sticky: after one, every append is a no-op and
 * strbuf_steal() returns NULL, so callers check once at the end.
 */

#include <stdbool.h>
#include <stddef.h>

#include "sovd/cleanup.h"

struct strbuf {
        char *buf;
        size_t len;
        size_t cap;
        bool oom;
};

void strbuf_append(struct strbuf *sb, const char *s);
void strbuf_appendf(struct strbuf *sb, const char *fmt, ...) _printf_(2, 3);
/* Appends @s with &, <, >, " and ' replaced by XML entities. */
void strbuf_append_xml_escaped(struct strbuf *sb, const char *s);
/* Returns the string (caller frees) and resets @sb; NULL after an allocation failure. */
char *strbuf_steal(struct strbuf *sb);
void strbuf_done(struct strbuf *sb);
static inline void strbuf_donep(struct strbuf *sb) {
        strbuf_done(sb);
}
#define _cleanup_strbuf_ _cleanup_(strbuf_donep)
