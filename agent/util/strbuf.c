/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "sovd/strbuf.h"

static bool strbuf_reserve(struct strbuf *sb, size_t extra) {
        size_t need, cap;
        char *p;

        if (sb->oom)
                return false;
        if (extra > SIZE_MAX - sb->len - 1)
                goto oom;
        need = sb->len + extra + 1;
        if (need <= sb->cap)
                return true;
        cap = sb->cap ? sb->cap : 256;
        while (cap < need)
                cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        p = realloc(sb->buf, cap);
        if (!p)
                goto oom;
        sb->buf = p;
        sb->cap = cap;
        return true;
oom:
        sb->oom = true;
        return false;
}

void strbuf_append(struct strbuf *sb, const char *s) {
        size_t n = strlen(s);

        if (!strbuf_reserve(sb, n))
                return;
        memcpy(sb->buf + sb->len, s, n + 1);
        sb->len += n;
}

void strbuf_appendf(struct strbuf *sb, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
                sb->oom = true;
                return;
        }
        if (!strbuf_reserve(sb, (size_t) n))
                return;
        va_start(ap, fmt);
        (void) vsnprintf(sb->buf + sb->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        sb->len += (size_t) n;
}

void strbuf_append_xml_escaped(struct strbuf *sb, const char *s) {
        for (const char *p = s; *p; p++) {
                switch (*p) {
                case '&':
                        strbuf_append(sb, "&amp;");
                        break;
                case '<':
                        strbuf_append(sb, "&lt;");
                        break;
                case '>':
                        strbuf_append(sb, "&gt;");
                        break;
                case '"':
                        strbuf_append(sb, "&quot;");
                        break;
                case '\'':
                        strbuf_append(sb, "&apos;");
                        break;
                default:
                        if (!strbuf_reserve(sb, 1))
                                return;
                        sb->buf[sb->len++] = *p;
                        sb->buf[sb->len] = '\0';
                }
        }
}

char *strbuf_steal(struct strbuf *sb) {
        char *r;

        if (sb->oom) {
                strbuf_done(sb);
                return NULL;
        }
        r = sb->buf ? sb->buf : strdup("");
        *sb = (struct strbuf){};
        return r;
}

void strbuf_done(struct strbuf *sb) {
        free(sb->buf);
        *sb = (struct strbuf){};
}
