/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replays fuzz inputs without libFuzzer, after Knot DNS's tests-fuzz/main.c:
 * every file in the directories (or the files) named on the command line
 * goes through LLVMFuzzerTestOneInput() once, so the seed corpora and every
 * crash ever fixed run as ordinary ctest tests, under the sanitizers when
 * the build has them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Runs one input from a buffer of exactly its size, so that ASan sees any read past the end. */
static int run_file(const char *path) {
        FILE *f = fopen(path, "rbe");
        struct stat st;
        uint8_t *buf;
        size_t n;

        if (!f || fstat(fileno(f), &st) < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                if (f)
                        fclose(f);
                return -1;
        }
        buf = malloc(st.st_size > 0 ? (size_t) st.st_size : 1);
        if (!buf) {
                fclose(f);
                return -1;
        }
        n = fread(buf, 1, (size_t) st.st_size, f);
        fclose(f);
        if (n != (size_t) st.st_size) {
                fprintf(stderr, "%s: short read\n", path);
                free(buf);
                return -1;
        }
        fprintf(stderr, "replay %s (%zu bytes)\n", path, n);
        (void) LLVMFuzzerTestOneInput(buf, n);
        free(buf);
        return 0;
}

static int run_dir(const char *dir, size_t *count) {
        struct dirent **names = NULL;
        int n, r = 0;

        n = scandir(dir, &names, NULL, NULL);
        if (n < 0) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                return -1;
        }
        char **paths = calloc((size_t) n + 1, sizeof(char *));
        size_t k = 0;
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.' && paths &&
                    asprintf(&paths[k], "%s/%s", dir, names[i]->d_name) >= 0)
                        k++;
                free(names[i]);
        }
        free(names);
        if (!paths)
                return -1;
        /* Sorted, so that a failure reproduces in the same order. */
        qsort(paths, k, sizeof(char *), compare_names);
        for (size_t i = 0; i < k; i++) {
                struct stat st;
                if (stat(paths[i], &st) == 0 && S_ISREG(st.st_mode)) {
                        if (run_file(paths[i]) < 0)
                                r = -1;
                        else
                                (*count)++;
                }
                free(paths[i]);
        }
        free(paths);
        return r;
}

int main(int argc, char **argv) {
        size_t count = 0;
        int r = 0;

        if (argc < 2) {
                fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        r = -1;
                } else if (S_ISDIR(st.st_mode)) {
                        if (run_dir(argv[i], &count) < 0)
                                r = -1;
                } else if (run_file(argv[i]) < 0)
                        r = -1;
                else
                        count++;
        }
        fprintf(stderr, "%zu inputs replayed\n", count);
        /* An empty corpus would pass without testing anything. */
        return r < 0 || count == 0 ? 1 : 0;
}
