/* tests/support/death.h - death tests that check why they died. A test
 * registered with tcase_add_test_raise_signal(..., SIGABRT) calls
 * death_expect(want) first: its stderr then goes to a temporary file, and
 * when the process aborts the file must hold "assertion failed: " and want,
 * else the test exits 1 (so fails) printing what it got. An expected
 * assertion prints nothing, so make test shows no "assertion failed" line. */
#ifndef TESTS_SUPPORT_DEATH_H
#define TESTS_SUPPORT_DEATH_H

/* want (copied, at most DEATH_WANT_MAX - 1 bytes) is a part of the
 * assertion's message, e.g. its expression "rl->inflight == 0". */
#define DEATH_WANT_MAX 256
void death_expect(const char *want);

#endif
