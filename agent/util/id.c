/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <uuid/uuid.h>

#include "sovd/id.h"

char *id_new(char buf[static ID_TEXT_LEN]) {
        uuid_t u;

        uuid_generate_random(u);
        uuid_unparse_lower(u, buf);
        return buf;
}
