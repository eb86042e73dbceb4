/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>

#include "sovd/process.h"

extern char **environ;

#define STDERR_KEEP 400

int process_run(char *const *argv, bool (*cancel)(void *userdata), void *userdata, struct sovd_err *err) {
        posix_spawn_file_actions_t fa;
        char tail[STDERR_KEEP + 1] = "";
        size_t tail_len = 0;
        bool cancelled = false;
        int pipefd[2], status, r;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return err_set(err, -errno, "%s: cannot create a pipe: %m", argv[0]);
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
        posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDERR_FILENO);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[1]);
        if (r != 0) {
                close(pipefd[0]);
                return err_set(err, -r, "cannot run %s: %s", argv[0], strerror(r));
        }
        for (;;) {
                struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
                char buf[512];
                ssize_t n;

                r = poll(&p, 1, 100);
                if (r < 0 && errno != EINTR)
                        break;
                if (!cancelled && cancel && cancel(userdata)) {
                        cancelled = true;
                        (void) kill(pid, SIGTERM);
                }
                if (r <= 0)
                        continue;
                n = read(pipefd[0], buf, sizeof(buf));
                if (n <= 0)
                        break; /* EOF: the child is gone or closed stderr */
                /* Keep the end: the last lines say what went wrong. */
                for (ssize_t i = 0; i < n; i++) {
                        if (tail_len == STDERR_KEEP) {
                                memmove(tail, tail + 1, STDERR_KEEP - 1);
                                tail_len--;
                        }
                        tail[tail_len++] = buf[i];
                }
        }
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return err_set(err, -errno, "%s: waitpid: %m", argv[0]);
        if (cancelled)
                return err_set(err, -ECANCELED, "%s was stopped on request", argv[0]);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        tail[tail_len] = '\0';
        while (tail_len > 0 && (tail[tail_len - 1] == '\n' || tail[tail_len - 1] == ' '))
                tail[--tail_len] = '\0';
        for (size_t i = 0; i < tail_len; i++)
                if ((unsigned char) tail[i] < 0x20)
                        tail[i] = ' ';
        if (WIFEXITED(status))
                return err_set(err, -EIO, "%s exited with status %d: %s", argv[0], WEXITSTATUS(status),
                               tail_len ? tail : "(no message)");
        return err_set(err, -EIO, "%s was killed by signal %d", argv[0], WTERMSIG(status));
}
