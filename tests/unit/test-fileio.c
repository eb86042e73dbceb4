/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sovd/cleanup.h"
#include "sovd/fileio.h"
#include "sovd/process.h"
#include "sovd/sha256.h"
#include "sovd/time-util.h"
#include "test-harness.h"

static char tmpdir[256];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static const char *make_tmpdir(void) {
        const char *base = getenv("TMPDIR");

        snprintf(tmpdir, sizeof(tmpdir), "%s/sovd-test-fileio-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                TEST_FAIL("mkdtemp(%s): %s", tmpdir, strerror(errno));
        return tmpdir;
}

static void remove_tmpdir(void) {
        if (tmpdir[0])
                (void) nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
        tmpdir[0] = '\0';
}

static char *path_in(const char *dir, const char *name) {
        char *p = NULL;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                TEST_FAIL("asprintf");
        return p;
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        size_t n = 0;

        ASSERT_NOT_NULL(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

static void test_fileio_write_atomic_and_read_back(void) {
        const char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "answer.json");
        _cleanup_free_ char *buf = NULL, *buf2 = NULL;
        static const char bin[] = "a\0b\nc";
        struct stat st;
        size_t len = 99;

        ASSERT_OK(file_write_atomic(path, "first version, longer", 21, 0600));
        ASSERT_OK(file_write_atomic(path, bin, sizeof(bin) - 1, 0600));
        ASSERT_OK(file_read_all(path, 1024, &buf, &len));
        ASSERT_INT_EQ(len, 5);
        ASSERT_TRUE(memcmp(buf, bin, 6) == 0); /* NUL-terminated past the data */
        ASSERT_INT_EQ(stat(path, &st), 0);
        ASSERT_INT_EQ(st.st_mode & 07777, 0600);
        ASSERT_TRUE(S_ISREG(st.st_mode));
        /* No temporary file is left behind. */
        ASSERT_INT_EQ(count_entries(dir), 1);

        ASSERT_OK(file_write_atomic(path, "", 0, 0640));
        ASSERT_OK(file_read_all(path, 0, &buf2, NULL));
        ASSERT_STR_EQ(buf2, "");
        remove_tmpdir();
}

static void test_fileio_write_atomic_fails_cleanly(void) {
        const char *dir = make_tmpdir();
        _cleanup_free_ char *missing = path_in(dir, "no/such/dir/file");
        _cleanup_free_ char *target = path_in(dir, "isdir");

        ASSERT_INT_EQ(file_write_atomic(missing, "x", 1, 0600), -ENOENT);
        /* Renaming over a directory fails; the temporary file must go. */
        ASSERT_INT_EQ(mkdir(target, 0700), 0);
        ASSERT_TRUE(file_write_atomic(target, "x", 1, 0600) < 0);
        ASSERT_INT_EQ(count_entries(dir), 1);
        remove_tmpdir();
}

static void test_fileio_read_all_limits(void) {
        const char *dir = make_tmpdir();
        _cleanup_free_ char *path = path_in(dir, "ten");
        char *buf = (char *) "untouched";
        size_t len = 7;

        ASSERT_OK(file_write_atomic(path, "0123456789", 10, 0600));
        ASSERT_INT_EQ(file_read_all(path, 9, &buf, &len), -EFBIG);
        ASSERT_INT_EQ(file_read_all(path, 0, &buf, &len), -EFBIG);
        ASSERT_STR_EQ(buf, "untouched");
        ASSERT_INT_EQ(len, 7);
        ASSERT_OK(file_read_all(path, 10, &buf, &len));
        ASSERT_STR_EQ(buf, "0123456789");
        ASSERT_INT_EQ(len, 10);
        free(buf);

        ASSERT_INT_EQ(file_read_all(dir, 1024, &buf, &len), -EINVAL);
        _cleanup_free_ char *missing = path_in(dir, "missing");
        ASSERT_INT_EQ(file_read_all(missing, 1024, &buf, &len), -ENOENT);
        remove_tmpdir();
}

static void test_fileio_read_all_unsized_files(void) {
        char *buf = NULL;
        size_t len = 0;

        /* /proc files report size 0 and are read until EOF, still within the limit. */
        if (access("/proc/self/status", R_OK) < 0)
                test_skip("no /proc");
        ASSERT_INT_EQ(file_read_all("/proc/self/status", 16, &buf, &len), -EFBIG);
        ASSERT_OK(file_read_all("/proc/self/status", 1024 * 1024, &buf, &len));
        ASSERT_TRUE(len > 16);
        ASSERT_INT_EQ(strlen(buf), len);
        ASSERT_TRUE(strncmp(buf, "Name:", 5) == 0);
        free(buf);
}

static void test_fileio_mkdir_p(void) {
        const char *dir = make_tmpdir();
        _cleanup_free_ char *deep = path_in(dir, "a/b/c/d");
        _cleanup_free_ char *slash = path_in(dir, "x/y/");
        _cleanup_free_ char *file = path_in(dir, "file");
        _cleanup_free_ char *through = path_in(dir, "file/sub");
        struct stat st;

        ASSERT_OK(mkdir_p(deep, 0750));
        ASSERT_INT_EQ(stat(deep, &st), 0);
        ASSERT_TRUE(S_ISDIR(st.st_mode));
        ASSERT_INT_EQ(st.st_mode & 0777, 0750 & ~umask(umask(0)));
        /* Existing directories are fine, a trailing slash too. */
        ASSERT_OK(mkdir_p(deep, 0700));
        ASSERT_OK(mkdir_p(dir, 0700));
        ASSERT_OK(mkdir_p(slash, 0700));
        ASSERT_INT_EQ(stat(slash, &st), 0);

        ASSERT_OK(file_write_atomic(file, "x", 1, 0600));
        ASSERT_INT_EQ(mkdir_p(through, 0700), -ENOTDIR);
        /* A file where the directory should be is not a directory. */
        ASSERT_INT_EQ(mkdir_p(file, 0700), -ENOTDIR);
        ASSERT_TRUE(mkdir_p("", 0700) < 0);
        remove_tmpdir();
}

/* A backup's checksum is the file's, however it is read. */
static void test_sha256_file(void) {
        _cleanup_free_ char *path = NULL, *data = malloc(3 * 1024 * 1024 + 17);
        char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];
        uint64_t size = 0;
        size_t n = 3 * 1024 * 1024 + 17;

        ASSERT_NOT_NULL(data);
        for (size_t i = 0; i < n; i++)
                data[i] = (char) (i * 7 + (i >> 12));
        ASSERT_TRUE(asprintf(&path, "%s/blob", make_tmpdir()) > 0);
        ASSERT_OK(file_write_atomic(path, data, n, 0600));
        ASSERT_OK(sha256_file(path, a, &size));
        ASSERT_OK(sha256_hex(data, n, b));
        ASSERT_STR_EQ(a, b);
        ASSERT_INT_EQ(size, n);
        ASSERT_OK(sha256_hex("", 0, b));
        ASSERT_STR_EQ(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        ASSERT_INT_EQ(sha256_file("/nonexistent/x", a, NULL), -ENOENT);
}

static bool cancel_now(void *userdata) {
        return ++*(int *) userdata > 2;
}

/* Helper programs: exit status and their last words reach the error; cancel stops them. */
static void test_process_run(void) {
        struct sovd_err err = {};
        char *ok[] = { "true", NULL };
        char *fails[] = { "sh", "-c", "echo first line >&2; echo 'qemu-img: cannot open' >&2; exit 3", NULL };
        char *slow[] = { "sleep", "30", NULL };
        char *missing[] = { "sovd-no-such-program", NULL };
        int calls = 0;

        ASSERT_OK(process_run(ok, NULL, NULL, &err));
        ASSERT_INT_EQ(process_run(fails, NULL, NULL, &err), -EIO);
        ASSERT_STR_CONTAINS(err.msg, "status 3");
        ASSERT_STR_CONTAINS(err.msg, "qemu-img: cannot open");
        uint64_t t0 = now_monotonic_usec();
        ASSERT_INT_EQ(process_run(slow, cancel_now, &calls, &err), -ECANCELED);
        ASSERT_TRUE(now_monotonic_usec() - t0 < 10 * 1000000ull);
        ASSERT_TRUE(process_run(missing, NULL, NULL, &err) < 0);
}

TEST_MAIN(TEST(test_fileio_write_atomic_and_read_back), TEST(test_sha256_file), TEST(test_process_run), TEST(test_fileio_write_atomic_fails_cleanly),
          TEST(test_fileio_read_all_limits), TEST(test_fileio_read_all_unsized_files), TEST(test_fileio_mkdir_p))
