/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#define ID_TEXT_LEN 37

/* A fresh random (v4) UUID in canonical lower-case text. */
char *id_new(char buf[static ID_TEXT_LEN]);
