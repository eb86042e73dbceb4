/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "sovd/fileio.h"
#include "sovd/idempotency.h"
#include "sovd/sha256.h"
#include "sovd/json-util.h"
#include "test-harness.h"

static char tmpdir[256];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static struct idempotency_store *open_store(void) {
        const char *base = getenv("TMPDIR");
        struct idempotency_store *s = NULL;

        snprintf(tmpdir, sizeof(tmpdir), "%s/sovd-test-idem-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                TEST_FAIL("mkdtemp(%s): %s", tmpdir, strerror(errno));
        ASSERT_OK(idempotency_store_open(tmpdir, &s));
        return s;
}

static void close_store(struct idempotency_store *s) {
        idempotency_store_free(s);
        (void) nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The path of the only entry in the store, which the tests then damage or age. */
static char *only_entry(void) {
        char dir[300], *path = NULL;
        struct dirent *de;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/idempotency", tmpdir);
        d = opendir(dir);
        ASSERT_NOT_NULL(d);
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                if (path)
                        TEST_FAIL("more than one entry in %s", dir);
                if (asprintf(&path, "%s/%s", dir, de->d_name) < 0)
                        TEST_FAIL("asprintf");
        }
        closedir(d);
        if (!path)
                TEST_FAIL("no entry in %s", dir);
        return path;
}

static size_t count_entries(void) {
        char dir[300];
        struct dirent *de;
        size_t n = 0;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/idempotency", tmpdir);
        d = opendir(dir);
        ASSERT_NOT_NULL(d);
        while ((de = readdir(d)))
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static void store_answer(struct idempotency_store *s, const char *scope, const char *key, const char *fp) {
        struct idempotency_answer a = { .status = 201, .location = (char *) "/v1/vms/1", .body = (char *) "{}" };

        ASSERT_INT_EQ(idempotency_begin(s, scope, key, fp, &a, NULL), 0);
        ASSERT_OK(idempotency_finish(s, scope, key, fp, &a));
}

static void test_idempotency_key_is_valid(void) {
        char k[300];

        ASSERT_TRUE(idempotency_key_is_valid("a"));
        ASSERT_TRUE(idempotency_key_is_valid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        ASSERT_TRUE(idempotency_key_is_valid("!~\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}"));
        memset(k, 'k', sizeof(k));
        k[IDEMPOTENCY_KEY_MAX] = '\0';
        ASSERT_TRUE(idempotency_key_is_valid(k));
        k[IDEMPOTENCY_KEY_MAX] = 'k';
        k[IDEMPOTENCY_KEY_MAX + 1] = '\0';
        ASSERT_FALSE(idempotency_key_is_valid(k));
        ASSERT_FALSE(idempotency_key_is_valid(""));
        ASSERT_FALSE(idempotency_key_is_valid("a b"));
        ASSERT_FALSE(idempotency_key_is_valid(" "));
        ASSERT_FALSE(idempotency_key_is_valid("a\tb"));
        ASSERT_FALSE(idempotency_key_is_valid("a\nb"));
        ASSERT_FALSE(idempotency_key_is_valid("a\r"));
        ASSERT_FALSE(idempotency_key_is_valid("\x01"));
        ASSERT_FALSE(idempotency_key_is_valid("del\x7f"));
        ASSERT_FALSE(idempotency_key_is_valid("caf\xc3\xa9"));
}

static void test_idempotency_sha256_hex(void) {
        char hex[65];

        ASSERT_OK(sha256_hex("abc", 3, hex));
        ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        ASSERT_OK(sha256_hex("", 0, hex));
        ASSERT_STR_EQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_idempotency_begin_finish_replay(void) {
        struct idempotency_store *s = open_store();
        struct idempotency_answer a = { .status = 201, .location = (char *) "/v1/vms/abc", .body = (char *) "{\"x\":1}" };
        struct idempotency_answer got = {};
        struct sovd_err err = {};

        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key-1", "POST /v1/vms {}", &got, &err), 0);
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key-1", "POST /v1/vms {}", &got, &err), -EBUSY);
        ASSERT_STR_CONTAINS(err.msg, "still being processed");
        /* Busy whatever the fingerprint: the first request has not answered yet. */
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key-1", "other", &got, &err), -EBUSY);
        ASSERT_OK(idempotency_finish(s, "uid:1000", "key-1", "POST /v1/vms {}", &a));
        ASSERT_INT_EQ(count_entries(), 1);

        for (int i = 0; i < 2; i++) {
                ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key-1", "POST /v1/vms {}", &got, &err), 1);
                ASSERT_INT_EQ(got.status, 201);
                ASSERT_STR_EQ(got.location, "/v1/vms/abc");
                ASSERT_STR_EQ(got.body, "{\"x\":1}");
                idempotency_answer_done(&got);
                ASSERT_NULL(got.body);
        }

        /* Durable: a new store on the same directory replays too. */
        idempotency_store_free(s);
        ASSERT_OK(idempotency_store_open(tmpdir, &s));
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key-1", "POST /v1/vms {}", &got, &err), 1);
        ASSERT_INT_EQ(got.status, 201);
        ASSERT_STR_EQ(got.location, "/v1/vms/abc");
        idempotency_answer_done(&got);
        close_store(s);
}

static void test_idempotency_answer_without_location(void) {
        struct idempotency_store *s = open_store();
        struct idempotency_answer a = { .status = 400, .location = NULL, .body = (char *) "{\"title\":\"bad\"}" };
        struct idempotency_answer nobody = { .status = 204 };
        struct idempotency_answer got = {};

        ASSERT_INT_EQ(idempotency_begin(s, "uid:0", "k", "fp", &got, NULL), 0);
        ASSERT_OK(idempotency_finish(s, "uid:0", "k", "fp", &a));
        ASSERT_INT_EQ(idempotency_begin(s, "uid:0", "k", "fp", &got, NULL), 1);
        ASSERT_INT_EQ(got.status, 400);
        ASSERT_NULL(got.location);
        ASSERT_STR_EQ(got.body, "{\"title\":\"bad\"}");
        idempotency_answer_done(&got);

        ASSERT_INT_EQ(idempotency_begin(s, "uid:0", "k2", "fp", &got, NULL), 0);
        ASSERT_OK(idempotency_finish(s, "uid:0", "k2", "fp", &nobody));
        ASSERT_INT_EQ(idempotency_begin(s, "uid:0", "k2", "fp", &got, NULL), 1);
        ASSERT_INT_EQ(got.status, 204);
        ASSERT_NULL(got.location);
        ASSERT_STR_EQ(got.body, "");
        idempotency_answer_done(&got);
        close_store(s);
}

static void test_idempotency_fingerprint_mismatch(void) {
        struct idempotency_store *s = open_store();
        struct idempotency_answer got = {};
        struct sovd_err err = {};

        store_answer(s, "uid:1000", "key", "POST /v1/vms {\"name\":\"a\"}");
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key", "POST /v1/vms {\"name\":\"b\"}", &got, &err),
                      -SOVD_E_IDEMPOTENCY_MISMATCH);
        ASSERT_STR_CONTAINS(err.msg, "different request");
        ASSERT_NULL(got.body);
        /* The refusal took no claim and kept the entry. */
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "key", "POST /v1/vms {\"name\":\"a\"}", &got, &err), 1);
        idempotency_answer_done(&got);
        close_store(s);
}

static void test_idempotency_scopes_are_independent(void) {
        struct idempotency_store *s = open_store();
        struct idempotency_answer got = {};

        store_answer(s, "uid:1000", "shared-key", "fp-a");
        /* Another caller with the same key neither sees the answer nor conflicts. */
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1001", "shared-key", "fp-b", &got, NULL), 0);
        ASSERT_NULL(got.body);
        /* ... and scope and key are not simply concatenated. */
        ASSERT_INT_EQ(idempotency_begin(s, "uid:100", "0shared-key", "fp-a", &got, NULL), 0);
        ASSERT_INT_EQ(idempotency_begin(s, "uid:1000", "shared-key", "fp-a", &got, NULL), 1);
        idempotency_answer_done(&got);
        idempotency_abort(s, "uid:1001", "shared-key");
        idempotency_abort(s, "uid:100", "0shared-key");
        close_store(s);
}

static void test_idempotency_abort_releases(void) {
        struct idempotency_store *s = open_store();
        struct idempotency_answer got = {};

        ASSERT_INT_EQ(idempotency_begin(s, "u", "k", "fp", &got, NULL), 0);
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k2", "fp", &got, NULL), 0);
        idempotency_abort(s, "u", "k");
        /* Nothing stored: the retry processes the request again, possibly a different one. */
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k", "other-fp", &got, NULL), 0);
        ASSERT_INT_EQ(count_entries(), 0);
        /* Only that claim was released. */
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k2", "fp", &got, NULL), -EBUSY);
        idempotency_abort(s, "u", "k");
        idempotency_abort(s, "u", "k2");
        idempotency_abort(s, "u", "never-claimed");
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k2", "fp", &got, NULL), 0);
        idempotency_abort(s, "u", "k2");
        close_store(s);
}

static void rewrite_created(const char *path, int64_t created) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_json_ struct json_object *o = NULL;
        size_t len;

        ASSERT_OK(file_read_all(path, 1 << 20, &buf, &len));
        ASSERT_OK(json_parse_strict(buf, len, &o, NULL));
        ASSERT_TRUE(json_object_object_get_ex(o, "created", NULL));
        ASSERT_OK(json_add_int(o, "created", created));
        const char *text = json_to_string(o);
        ASSERT_OK(file_write_atomic(path, text, strlen(text), 0600));
}

static void test_idempotency_expired_entry_ignored(void) {
        struct idempotency_store *s = open_store();
        struct idempotency_answer got = {};
        _cleanup_free_ char *path = NULL;

        store_answer(s, "u", "k", "fp");
        path = only_entry();
        /* Just inside the window: still replayed. */
        rewrite_created(path, (int64_t) time(NULL) - IDEMPOTENCY_TTL_SEC + 60);
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k", "fp", &got, NULL), 1);
        idempotency_answer_done(&got);
        /* Past it: as if never stored, even for a different request, and the file goes. */
        rewrite_created(path, (int64_t) time(NULL) - IDEMPOTENCY_TTL_SEC - 60);
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k", "different", &got, NULL), 0);
        ASSERT_NULL(got.body);
        ASSERT_INT_EQ(access(path, F_OK), -1);
        idempotency_abort(s, "u", "k");
        close_store(s);
}

static void test_idempotency_open_sweeps_old_files(void) {
        struct idempotency_store *s = open_store();
        struct timespec old[2] = { { .tv_sec = time(NULL) - IDEMPOTENCY_TTL_SEC - 3600 } };
        char tmp[400];

        store_answer(s, "u", "k", "fp");
        _cleanup_free_ char *path = only_entry();
        old[1] = old[0];
        ASSERT_INT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
        snprintf(tmp, sizeof(tmp), "%s.tmp.12345", path);
        ASSERT_OK(file_write_atomic(tmp, "partial", 7, 0600));
        ASSERT_INT_EQ(count_entries(), 2);
        idempotency_store_free(s);
        ASSERT_OK(idempotency_store_open(tmpdir, &s));
        ASSERT_INT_EQ(count_entries(), 0);
        close_store(s);
}

/* Copies @tmpl into @buf with "@NOW@" replaced by the current time. */
static char *with_now(char *buf, size_t size, const char *tmpl) {
        const char *at = strstr(tmpl, "@NOW@");

        if (!at)
                snprintf(buf, size, "%s", tmpl);
        else
                snprintf(buf, size, "%.*s%lld%s", (int) (at - tmpl), tmpl, (long long) time(NULL), at + 5);
        return buf;
}

static void test_idempotency_corrupted_entry_is_absent(void) {
        /* "created" is now in each, so only the damage can disqualify the entry. */
        static const char *const damaged[] = {
                "garbage",
                "",
                "{\"fingerprint\":\"fp\",\"status\":201,\"body\":\"{}\"",
                "{\"fingerprint\":\"fp\",\"status\":201,\"body\":\"{}\"}",
                "{\"fingerprint\":\"fp\",\"status\":99,\"body\":\"{}\",\"created\":@NOW@}",
                "{\"fingerprint\":\"fp\",\"status\":\"201\",\"body\":\"{}\",\"created\":@NOW@}",
                "{\"fingerprint\":7,\"status\":201,\"body\":\"{}\",\"created\":@NOW@}",
                "{\"fingerprint\":\"fp\",\"status\":201,\"created\":@NOW@}",
                "{\"fingerprint\":\"fp\",\"status\":201,\"body\":\"{}\",\"created\":@NOW@} trailing",
                "{\"fingerprint\":\"fp\",\"status\":201,\"body\":\"{}\",\"created\":-1}",
        };
        struct idempotency_store *s = open_store();
        struct idempotency_answer got = {};
        char text[256];

        /* The template itself is sound: with "created" now it replays. */
        store_answer(s, "u", "k", "fp");
        _cleanup_free_ char *first = only_entry();
        with_now(text, sizeof(text), "{\"fingerprint\":\"fp\",\"status\":202,\"body\":\"{}\",\"created\":@NOW@}");
        ASSERT_OK(file_write_atomic(first, text, strlen(text), 0600));
        ASSERT_INT_EQ(idempotency_begin(s, "u", "k", "fp", &got, NULL), 1);
        ASSERT_INT_EQ(got.status, 202);
        idempotency_answer_done(&got);
        ASSERT_INT_EQ(unlink(first), 0);

        for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
                _cleanup_free_ char *path = NULL;

                store_answer(s, "u", "k", "fp");
                path = only_entry();
                with_now(text, sizeof(text), damaged[i]);
                ASSERT_OK(file_write_atomic(path, text, strlen(text), 0600));
                if (idempotency_begin(s, "u", "k", "fp", &got, NULL) != 0)
                        TEST_FAIL("damaged entry %zu (%s) was not treated as absent", i, text);
                ASSERT_NULL(got.body);
                ASSERT_INT_EQ(access(path, F_OK), -1);
                idempotency_abort(s, "u", "k");
        }
        close_store(s);
}

struct race {
        struct idempotency_store *s;
        pthread_barrier_t *barrier;
        int result;
};

static void *race_begin(void *p) {
        struct race *r = p;
        struct idempotency_answer got = {};

        pthread_barrier_wait(r->barrier);
        r->result = idempotency_begin(r->s, "u", "same-key", "fp", &got, NULL);
        return NULL;
}

static void test_idempotency_one_claim_under_contention(void) {
        struct idempotency_store *s = open_store();
        pthread_barrier_t barrier;
        pthread_t th[8];
        struct race r[8];
        int claimed = 0, busy = 0;

        pthread_barrier_init(&barrier, NULL, 8);
        for (int i = 0; i < 8; i++) {
                r[i] = (struct race){ .s = s, .barrier = &barrier, .result = 99 };
                ASSERT_INT_EQ(pthread_create(&th[i], NULL, race_begin, &r[i]), 0);
        }
        for (int i = 0; i < 8; i++) {
                pthread_join(th[i], NULL);
                claimed += r[i].result == 0;
                busy += r[i].result == -EBUSY;
        }
        pthread_barrier_destroy(&barrier);
        ASSERT_INT_EQ(claimed, 1);
        ASSERT_INT_EQ(busy, 7);
        close_store(s);
}

TEST_MAIN(TEST(test_idempotency_key_is_valid), TEST(test_idempotency_sha256_hex),
          TEST(test_idempotency_begin_finish_replay), TEST(test_idempotency_answer_without_location),
          TEST(test_idempotency_fingerprint_mismatch), TEST(test_idempotency_scopes_are_independent),
          TEST(test_idempotency_abort_releases), TEST(test_idempotency_expired_entry_ignored),
          TEST(test_idempotency_open_sweeps_old_files), TEST(test_idempotency_corrupted_entry_is_absent),
          TEST(test_idempotency_one_claim_under_contention))
