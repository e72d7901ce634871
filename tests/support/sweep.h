/* tests/support/sweep.h - the fault sweep the core suites share: fail the
 * nth port operation with each kind of fault, once or for good (the way
 * SQLite's tests fail the nth allocation), raising n until a run ends
 * before it. Each suite says what must hold under the fault. */
#ifndef TESTS_SUPPORT_SWEEP_H
#define TESTS_SUPPORT_SWEEP_H

#include <stdbool.h>

struct fake_env;

/* Timeout, timeout after the server applied it, connection lost, error. */
#define SWEEP_KINDS 4
/* Loop-test indices 0..SWEEP_CASES-1: kind i / 2, for good when i is odd.
 * Larger indices wrap, so a suite may multiply the cases by its own. */
#define SWEEP_CASES (2 * SWEEP_KINDS)

/* Whether case i fails for good (every operation from the nth on). */
bool sweep_forever(int i);

/* Scripts case i into fe: its fault on the nth operation (n >= 1), once or
 * for good. */
void sweep_script(struct fake_env *fe, int i, int n);

#endif
