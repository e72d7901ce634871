/* tests/support/sweep.c - see sweep.h. */
#include "tests/support/sweep.h"

#include "core/assert.h"
#include "tests/support/fake_env.h"

static const struct fake_rule sweep_kinds[SWEEP_KINDS] = {
	{.oc = OUTCOME_TIMEOUT},
	{.oc = OUTCOME_TIMEOUT, .applied = true},
	{.oc = OUTCOME_CONN_LOST},
	{.oc = OUTCOME_ERROR},
};

bool sweep_forever(int i)
{
	ASSERT(i >= 0);
	return i % 2 == 1;
}

void sweep_script(struct fake_env *fe, int i, int n)
{
	ASSERT(i >= 0);
	ASSERT(n >= 1);
	struct fake_rule rule = sweep_kinds[(i / 2) % SWEEP_KINDS];
	rule.match = "";
	rule.nth = n;
	rule.times = sweep_forever(i) ? FAKE_FOREVER : 1;
	fake_env_script(fe, &rule);
}
