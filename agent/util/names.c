/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <string.h>

#include "sovd/cleanup.h"
#include "sovd/names.h"

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool name_is_valid_max(const char *s, size_t max) {
        size_t n = strlen(s);

        if (n == 0 || n > max || !is_alnum(s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

bool name_is_valid(const char *s) {
        return name_is_valid_max(s, NAME_MAX_LEN);
}

bool volume_name_is_valid(const char *s) {
        return name_is_valid_max(s, VOLUME_NAME_MAX_LEN);
}

bool label_key_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > LABEL_KEY_MAX_LEN)
                return false;
        if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '/' ||
                      c == '-'))
                        return false;
        }
        return true;
}

bool utf8_is_printable(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s, *end = p + len;

        while (p < end) {
                unsigned c = *p;
                unsigned cp;
                int extra;

                if (c < 0x20 || c == 0x7f)
                        return false;
                if (c < 0x80) {
                        p++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        extra = 1;
                        cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        extra = 2;
                        cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        extra = 3;
                        cp = c & 0x07;
                } else
                        return false;
                if (end - p <= extra)
                        return false;
                for (int i = 1; i <= extra; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                /*
                 * Overlong forms, surrogates, beyond U+10FFFF, C1 controls, and U+FFFE/U+FFFF,
                 * which XML 1.0 cannot carry: such a label would make the domain XML not well-formed.
                 */
                if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfffe || cp == 0xffff)
                        return false;
                p += extra + 1;
        }
        return true;
}

size_t utf8_sequence_length(const char *s, size_t len) {
        const unsigned char *p = (const unsigned char *) s;
        unsigned cp;
        size_t extra;

        if (len == 0)
                return 0;
        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf) {
                extra = 1;
                cp = p[0] & 0x1f;
        } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                extra = 2;
                cp = p[0] & 0x0f;
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                extra = 3;
                cp = p[0] & 0x07;
        } else
                return 0;
        if (len <= extra)
                return 0;
        for (size_t i = 1; i <= extra; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return extra + 1;
}

bool utf8_is_valid(const char *s, size_t len) {
        for (size_t i = 0, n; i < len; i += n) {
                n = utf8_sequence_length(s + i, len - i);
                if (n == 0)
                        return false;
        }
        return true;
}

char *utf8_make_valid(const char *s) {
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        size_t len = strlen(s), k = 0;
        char *out;

        /* Each bad byte grows to at most 3. */
        out = malloc(len * 3 + 1);
        if (!out)
                return NULL;
        for (size_t i = 0, n; i < len; i += n) {
                n = utf8_sequence_length(s + i, len - i);
                if (n == 0) {
                        memcpy(out + k, replacement, 3);
                        k += 3;
                        n = 1;
                } else {
                        memcpy(out + k, s + i, n);
                        k += n;
                }
        }
        out[k] = '\0';
        return out;
}

bool label_value_is_valid(const char *s) {
        size_t n = strlen(s);

        return n <= LABEL_VALUE_MAX_LEN && utf8_is_printable(s, n);
}

bool uuid_text_is_valid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        }
        return true;
}
