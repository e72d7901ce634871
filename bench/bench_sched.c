/* bench/bench_sched.c - the scheduler alone: how many timers per second it
 * dispatches on the virtual clock when each timer schedules the next one,
 * with N timers in flight. Prints one JSON object. Not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "sim/prng.h"
#include "sim/sched.h"

struct chain {
	struct sched *s;
	struct prng *rng;
	uint64_t left;
};

static void step(void *arg)
{
	struct chain *c = arg;
	if (c->left == 0)
		return;
	c->left--;
	sched_after(c->s, 1 + prng_below(c->rng, 1000), step, c);
}

int main(int argc, char **argv)
{
	uint64_t total = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000000;
	unsigned inflight = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
	struct event_base *base = sched_base_new(SCHED_VIRTUAL);
	struct prng rng, work;
	prng_init(&rng, 1);
	prng_init(&work, 2);
	struct sched *s = sched_create(base, SCHED_VIRTUAL, &rng);
	struct chain *chains = calloc(inflight, sizeof *chains);
	for (unsigned i = 0; i < inflight; i++) {
		chains[i] = (struct chain){s, &work, total / inflight};
		sched_after(s, i, step, &chains[i]);
	}
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	sched_run(s, UINT64_MAX);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	uint64_t n = sched_dispatched(s);
	printf("{\"events\": %llu, \"inflight\": %u, \"seconds\": %.4f, \"events_per_s\": %.0f}\n",
	       (unsigned long long)n, inflight, secs, (double)n / secs);
	sched_destroy(s);
	event_base_free(base);
	free(chains);
	return 0;
}
