/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "sovd/fileio.h"
#include "sovd/idempotency.h"
#include "sovd/sha256.h"
#include "sovd/json-util.h"

#define ANSWER_MAX_SIZE (16 * 1024 * 1024)

struct inflight {
        char id[65];
        struct inflight *next;
};

struct idempotency_store {
        char *dir;
        pthread_mutex_t lock; /* guards inflight */
        struct inflight *inflight;
};

void idempotency_answer_done(struct idempotency_answer *a) {
        free(a->location);
        free(a->body);
        *a = (struct idempotency_answer){};
}

bool idempotency_key_is_valid(const char *key) {
        size_t n = strlen(key);

        if (n == 0 || n > IDEMPOTENCY_KEY_MAX)
                return false;
        for (const char *p = key; *p; p++)
                if (*p < 0x21 || *p > 0x7e)
                        return false;
        return true;
}

/* The file name hides the key (it is a bearer of the answer) and scopes it by caller. */
static int entry_id(const char *scope, const char *key, char id[static 65]) {
        _cleanup_free_ char *s = NULL;
        int n = asprintf(&s, "%s\n%s", scope, key);

        if (n < 0)
                return -ENOMEM;
        return sha256_hex(s, (size_t) n, id);
}

static void sweep_expired(struct idempotency_store *s) {
        DIR *d = opendir(s->dir);
        struct dirent *de;
        time_t now = time(NULL);

        if (!d)
                return;
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                /* Leftover temporary files of a crash mid-write go too. */
                if (now - st.st_mtime > IDEMPOTENCY_TTL_SEC || strstr(de->d_name, ".tmp."))
                        (void) unlinkat(dirfd(d), de->d_name, 0);
        }
        closedir(d);
}

int idempotency_store_open(const char *state_dir, struct idempotency_store **ret) {
        struct idempotency_store *s;
        int r;

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        pthread_mutex_init(&s->lock, NULL);
        if (asprintf(&s->dir, "%s/idempotency", state_dir) < 0) {
                s->dir = NULL;
                idempotency_store_free(s);
                return -ENOMEM;
        }
        r = mkdir_p(s->dir, 0700);
        if (r < 0) {
                idempotency_store_free(s);
                return r;
        }
        sweep_expired(s);
        *ret = s;
        return 0;
}

struct idempotency_store *idempotency_store_free(struct idempotency_store *s) {
        if (!s)
                return NULL;
        while (s->inflight) {
                struct inflight *i = s->inflight;
                s->inflight = i->next;
                free(i);
        }
        pthread_mutex_destroy(&s->lock);
        free(s->dir);
        free(s);
        return NULL;
}

/* 1 and the answer when a live entry exists, 0 when none, negative on a broken entry. */
static int load_entry(struct idempotency_store *s, const char *id, const char *fingerprint,
                      struct idempotency_answer *ret) {
        _cleanup_free_ char *path = NULL, *buf = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        const char *fp = NULL, *body = NULL, *loc = NULL;
        int64_t status = 0, created = 0;
        size_t len;
        int r;

        if (asprintf(&path, "%s/%s.json", s->dir, id) < 0)
                return -ENOMEM;
        r = file_read_all(path, ANSWER_MAX_SIZE, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (json_parse_strict(buf, len, &o, NULL) < 0 ||
            json_get_string(o, "fingerprint", "", true, &fp, NULL) < 0 ||
            json_get_string(o, "body", "", true, &body, NULL) < 0 ||
            json_get_string(o, "location", "", false, &loc, NULL) < 0 ||
            json_get_int(o, "status", "", true, 100, 599, &status, NULL) < 0 ||
            json_get_int(o, "created", "", true, 0, INT64_MAX - 1, &created, NULL) < 0) {
                /* A damaged entry must not block the key forever. */
                (void) unlink(path);
                return 0;
        }
        if (time(NULL) - created > IDEMPOTENCY_TTL_SEC) {
                (void) unlink(path);
                return 0;
        }
        if (!streq(fp, fingerprint))
                return -SOVD_E_IDEMPOTENCY_MISMATCH;
        ret->status = (int) status;
        ret->body = strdup(body);
        ret->location = loc ? strdup(loc) : NULL;
        if (!ret->body || (loc && !ret->location)) {
                idempotency_answer_done(ret);
                return -ENOMEM;
        }
        return 1;
}

int idempotency_begin(struct idempotency_store *s, const char *scope, const char *key, const char *fingerprint,
                      struct idempotency_answer *ret, struct sovd_err *err) {
        struct inflight *i;
        char id[65];
        int r;

        r = entry_id(scope, key, id);
        if (r < 0)
                return r;
        pthread_mutex_lock(&s->lock);
        for (i = s->inflight; i; i = i->next)
                if (streq(i->id, id)) {
                        pthread_mutex_unlock(&s->lock);
                        return err_set(err, -EBUSY,
                                       "a request with this Idempotency-Key is still being processed; retry later");
                }
        r = load_entry(s, id, fingerprint, ret);
        if (r == 0) {
                i = calloc(1, sizeof(*i));
                if (!i)
                        r = -ENOMEM;
                else {
                        memcpy(i->id, id, sizeof(id));
                        i->next = s->inflight;
                        s->inflight = i;
                }
        }
        pthread_mutex_unlock(&s->lock);
        if (r == -SOVD_E_IDEMPOTENCY_MISMATCH)
                return err_set(err, r, "this Idempotency-Key was already used for a different request");
        return r;
}

static void release(struct idempotency_store *s, const char *id) {
        pthread_mutex_lock(&s->lock);
        for (struct inflight **p = &s->inflight; *p; p = &(*p)->next)
                if (streq((*p)->id, id)) {
                        struct inflight *dead = *p;
                        *p = dead->next;
                        free(dead);
                        break;
                }
        pthread_mutex_unlock(&s->lock);
}

int idempotency_finish(struct idempotency_store *s, const char *scope, const char *key, const char *fingerprint,
                       const struct idempotency_answer *answer) {
        _cleanup_json_ struct json_object *o = json_object_new_object();
        _cleanup_free_ char *path = NULL;
        const char *text;
        char id[65];
        int r;

        r = entry_id(scope, key, id);
        if (r < 0)
                return r;
        if (!o || asprintf(&path, "%s/%s.json", s->dir, id) < 0) {
                release(s, id);
                return -ENOMEM;
        }
        if ((r = json_add_string(o, "fingerprint", fingerprint)) < 0 ||
            (r = json_add_int(o, "status", answer->status)) < 0 ||
            (answer->location && (r = json_add_string(o, "location", answer->location)) < 0) ||
            (r = json_add_string(o, "body", answer->body ? answer->body : "")) < 0 ||
            (r = json_add_int(o, "created", (int64_t) time(NULL))) < 0) {
                release(s, id);
                return r;
        }
        text = json_to_string(o);
        r = file_write_atomic(path, text, strlen(text), 0600);
        release(s, id);
        return r;
}

void idempotency_abort(struct idempotency_store *s, const char *scope, const char *key) {
        char id[65];

        if (entry_id(scope, key, id) >= 0)
                release(s, id);
}
