/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Validation of identifiers that come from outside and end up in domain XML,
 * file names and logs. The alphabets are deliberately small: a name that
 * passes can be written anywhere without escaping surprises, and "../x" or
 * "a</name>" never does.
 */

#include <stdbool.h>
#include <stddef.h>

/* VM, tenant, policy, pool, volume and network names: 1-64 of [A-Za-z0-9._-], first alnum. */
#define NAME_MAX_LEN 64
bool name_is_valid(const char *s);

/*
 * Names of the volumes sovd creates, "<vm name>-disk<N>.qcow2" (see
 * vm_spec_volume_name()): the name alphabet, with room for the suffix.
 */
#define VOLUME_NAME_MAX_LEN (NAME_MAX_LEN + 16)
bool volume_name_is_valid(const char *s);

/* Label keys: 1-63 of [a-z0-9._/-], first a letter or digit. */
#define LABEL_KEY_MAX_LEN 63
bool label_key_is_valid(const char *s);

/* Label values: up to 256 bytes of valid UTF-8 without control characters. */
#define LABEL_VALUE_MAX_LEN 256
bool label_value_is_valid(const char *s);

/* Canonical lower-case 36-character UUID text. */
bool uuid_text_is_valid(const char *s);

/*
 * True when @s is valid UTF-8 with no C0/C1 control characters nor DEL, and
 * none of U+FFFE and U+FFFF, which XML 1.0 forbids.
 */
bool utf8_is_printable(const char *s, size_t len);

/*
 * Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing beyond U+10FFFF) that starts @s, which has @len
 * bytes left; 0 when @s does not start one. Control characters count.
 */
size_t utf8_sequence_length(const char *s, size_t len);
/* True when the whole of @s is well-formed UTF-8 (control characters allowed). */
bool utf8_is_valid(const char *s, size_t len);
/*
 * A copy of @s (malloc'd, NULL on ENOMEM) with every byte that is not part
 * of a well-formed UTF-8 sequence replaced by U+FFFD: raw bytes from outside
 * (a percent-decoded path, a header) or a message cut in the middle of a
 * character can then go into JSON, which must be UTF-8.
 */
char *utf8_make_valid(const char *s);
