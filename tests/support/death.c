/* tests/support/death.c - the SIGABRT handler behind death_expect: reads what
 * the dying test wrote to stderr and lets the abort through only when it is
 * the assertion the test expects. Runs in the test's own (forked) process. */
#include "tests/support/death.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#define DEATH_LOG_MAX 4096

static char death_want[DEATH_WANT_MAX];
static int death_log_fd = -1;        /* the test's stderr from death_expect on */
static int death_stderr_fd = -1;     /* the stderr it had before */

static void death_put(const char *s)
{
	ssize_t w = write(death_stderr_fd, s, strlen(s));
	(void)w;
}

/* Only async-signal-safe calls, but for the string searches. */
static void death_on_abort(int sig)
{
	static char log[DEATH_LOG_MAX];
	ssize_t n = pread(death_log_fd, log, sizeof log - 1, 0);
	log[n > 0 ? n : 0] = '\0';
	if (strstr(log, "assertion failed: ") != NULL && strstr(log, death_want) != NULL) {
		/* The expected death: die of it, silently. */
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		_exit(2);
	}
	death_put("death test: the abort did not say 'assertion failed: ");
	death_put(death_want);
	death_put("'; stderr was:\n");
	death_put(log);
	_exit(1);
}

void death_expect(const char *want)
{
	ck_assert(strlen(want) < sizeof death_want);
	strcpy(death_want, want);
	char path[] = "/tmp/faultline-death.XXXXXX";
	death_log_fd = mkstemp(path);
	ck_assert_int_ge(death_log_fd, 0);
	unlink(path);
	fflush(stderr);
	death_stderr_fd = dup(STDERR_FILENO);
	ck_assert_int_ge(death_stderr_fd, 0);
	ck_assert_int_eq(dup2(death_log_fd, STDERR_FILENO), STDERR_FILENO);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = death_on_abort;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGABRT, &sa, NULL), 0);
}
