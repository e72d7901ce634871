/* harness/swarm.c - one seed's variation of a scenario. Everything drawn
 * comes from a stream of the seed's own (label "swarm"), so the world's
 * streams, and therefore a plain run of the drawn file with the same seed,
 * see exactly what the swarm run saw. */
#include "harness/swarm.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/prng.h"

#define SWARM_STREAM 0x737761726dull       /* "swarm" */
#define SWARM_CATALOGUE_RULES_MAX 6        /* rules drawn for a mixed-* seed */

#define FIX_BIT(f) (1u << (f))

/* The fault catalogue: every kind of fault the simulated servers know, with
 * parameters a real server would give. uses: the fixes that talk to the
 * target (a rule for a server no fix uses would never fire). */
struct catalogue_entry {
	enum fault_target target;
	const char *op;
	enum fault_kind kind;
	const char *error;
	int status;
	uint64_t lat_min_us, lat_max_us, duration_us;
	uint32_t uses;
};

#define RL_DD (FIX_BIT(FIX_RATELIMIT) | FIX_BIT(FIX_DEDUP))
#define PG_FIXES (FIX_BIT(FIX_WEBHOOK) | FIX_BIT(FIX_CUSTOMER) | FIX_BIT(FIX_QUOTE_EMAIL))

static const struct catalogue_entry catalogue[] = {
	{FAULT_TARGET_REDIS, "*", FAULT_ERROR, "", 0, 0, 0, 0, RL_DD},
	{FAULT_TARGET_REDIS, "*", FAULT_TIMEOUT_APPLIED, "", 0, 0, 0, 0, RL_DD},
	{FAULT_TARGET_REDIS, "*", FAULT_TIMEOUT_NOT_APPLIED, "", 0, 0, 0, 0, RL_DD},
	{FAULT_TARGET_REDIS, "*", FAULT_SERVER_ERROR, "ERR injected", 0, 0, 0, 0, RL_DD},
	{FAULT_TARGET_REDIS, "*", FAULT_LATENCY, "", 0, 1000, 200000, 0, RL_DD},
	{FAULT_TARGET_REDIS, "*", FAULT_RESTART, "", 0, 0, 0, 2000000, RL_DD},
	{FAULT_TARGET_POSTGRES, "*", FAULT_SERVER_ERROR, "40001", 0, 0, 0, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "*", FAULT_SERVER_ERROR, "57P01", 0, 0, 0, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "*", FAULT_CONN_LOST, "", 0, 0, 0, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "commit", FAULT_CONN_LOST, "", 0, 0, 0, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "*", FAULT_TIMEOUT_APPLIED, "", 0, 0, 0, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "acquire", FAULT_POOL_EXHAUSTED, "", 0, 0, 0, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "*", FAULT_LATENCY, "", 0, 1000, 1000000, 0, PG_FIXES},
	{FAULT_TARGET_POSTGRES, "*", FAULT_RESTART, "", 0, 0, 0, 2000000, PG_FIXES},
	{FAULT_TARGET_STRIPE, "*", FAULT_SERVER_ERROR, "api_error", 500, 0, 0, 0,
	 FIX_BIT(FIX_CUSTOMER)},
	{FAULT_TARGET_STRIPE, "*", FAULT_SERVER_ERROR, "rate_limit", 429, 0, 0, 0,
	 FIX_BIT(FIX_CUSTOMER)},
	{FAULT_TARGET_STRIPE, "*", FAULT_TIMEOUT_APPLIED, "", 0, 0, 0, 0, FIX_BIT(FIX_CUSTOMER)},
	{FAULT_TARGET_STRIPE, "*", FAULT_ERROR, "", 0, 0, 0, 0, FIX_BIT(FIX_CUSTOMER)},
	{FAULT_TARGET_STRIPE, "*", FAULT_LATENCY, "", 0, 100000, 5000000, 0, FIX_BIT(FIX_CUSTOMER)},
	{FAULT_TARGET_STRIPE, "customers.create", FAULT_BAD_REPLY, "", 0, 0, 0, 0, FIX_BIT(FIX_CUSTOMER)},
	{FAULT_TARGET_MAIL, "send", FAULT_SERVER_ERROR, "", 451, 0, 0, 0, FIX_BIT(FIX_QUOTE_EMAIL)},
	{FAULT_TARGET_MAIL, "send", FAULT_TIMEOUT_APPLIED, "", 0, 0, 0, 0, FIX_BIT(FIX_QUOTE_EMAIL)},
	{FAULT_TARGET_MAIL, "send", FAULT_ERROR, "", 0, 0, 0, 0, FIX_BIT(FIX_QUOTE_EMAIL)},
	{FAULT_TARGET_WEBHOOK, "deliver", FAULT_TIMEOUT_APPLIED, "", 0, 0, 0, 0,
	 FIX_BIT(FIX_WEBHOOK)},
	{FAULT_TARGET_WEBHOOK, "deliver", FAULT_SERVER_ERROR, "", 503, 0, 0, 0,
	 FIX_BIT(FIX_WEBHOOK)},
};

#define CATALOGUE_COUNT (sizeof catalogue / sizeof catalogue[0])

/* Probabilities a drawn rule fires with: rare to frequent. */
static const double swarm_probabilities[] = {0.01, 0.05, 0.2, 0.5};

struct note {
	char *buf;
	size_t size, used;
};

__attribute__((format(printf, 2, 3)))
static void note_add(struct note *n, const char *fmt, ...)
{
	if (n->used >= n->size)
		return;
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(n->buf + n->used, n->size - n->used, fmt, ap);
	va_end(ap);
	if (w > 0)
		n->used += (size_t)w < n->size - n->used ? (size_t)w : n->size - n->used - 1;
}

static char *dup_or_null(const char *s, bool *failed)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*failed = true;
	return d;
}

/* A window inside [from, until) of the run (at most duration long). */
static void draw_window(struct prng *r, const struct scenario *sc, struct fault_rule *rule)
{
	uint64_t end = rule->until_us < sc->duration_us ? rule->until_us : sc->duration_us;
	if (end <= rule->from_us + 1)
		return;
	uint64_t span = end - rule->from_us;
	uint64_t len = span / 10 + prng_below(r, span - span / 10);
	if (len == 0)
		len = 1;
	uint64_t start = rule->from_us + prng_below(r, span - len + 1);
	rule->from_us = start;
	rule->until_us = start + len;
}

/* Turns a rule that fires on every matching operation into a rarer one:
 * a probability, or a single firing at the nth operation. */
static void draw_frequency(struct prng *r, struct fault_rule *rule, struct note *n)
{
	if (rule->kind == FAULT_RESTART || rule->nth > 0)
		return;
	if (rule->probability > 0 && rule->probability < 1) {
		static const double factor[] = {0.25, 0.5, 1, 2};
		double p = rule->probability * factor[prng_below(r, 4)];
		rule->probability = p < 1 ? p : 1;
		note_add(n, " p=%g", rule->probability);
	} else if (prng_chance(r, 0.25)) {
		rule->nth = 1 + (uint32_t)prng_below(r, 5);
		note_add(n, " nth=%" PRIu32, rule->nth);
	} else if (rule->probability == 1) {
		rule->probability =
			swarm_probabilities[prng_below(r, sizeof swarm_probabilities /
			                                   sizeof swarm_probabilities[0])];
		note_add(n, " p=%g", rule->probability);
	}
}

static void rule_from_catalogue(const struct catalogue_entry *e, struct fault_rule *out)
{
	memset(out, 0, sizeof *out);
	out->target = e->target;
	snprintf(out->op, sizeof out->op, "%s", e->kind == FAULT_RESTART ? "*" : e->op);
	out->kind = e->kind;
	out->until_us = UINT64_MAX;
	out->probability = 1;
	snprintf(out->error, sizeof out->error, "%s", e->error);
	out->status = e->status;
	if (e->kind == FAULT_LATENCY) {
		out->dist = FAULT_DIST_UNIFORM;
		out->latency_us = e->lat_min_us;
		out->latency_max_us = e->lat_max_us;
		out->pareto_alpha = 1.5;
	}
	if (e->kind == FAULT_CONN_LOST)
		out->commit_applied_p = 0.5;
	out->duration_us = e->duration_us;
}

static void draw_catalogue(struct prng *r, const struct scenario *sc, struct scenario *d,
                           struct note *n)
{
	size_t usable[CATALOGUE_COUNT], nusable = 0;
	for (size_t i = 0; i < CATALOGUE_COUNT; i++) {
		if (catalogue[i].uses & sc->fixes)
			usable[nusable++] = i;
	}
	d->faults.nrules = 0;
	if (nusable == 0)
		return;
	size_t want = 1 + (size_t)prng_below(r, SWARM_CATALOGUE_RULES_MAX);
	note_add(n, "faults from the catalogue:");
	for (size_t k = 0; k < want && nusable > 0; k++) {
		size_t pick = (size_t)prng_below(r, nusable);
		const struct catalogue_entry *e = &catalogue[usable[pick]];
		usable[pick] = usable[--nusable];
		struct fault_rule *rule = &d->faults.rules[d->faults.nrules++];
		rule_from_catalogue(e, rule);
		note_add(n, "%s %s.%s %s", k ? ";" : "", fault_target_name(e->target), rule->op,
		         fault_kind_name(e->kind));
		if (e->kind == FAULT_RESTART) {
			rule->from_us = prng_below(r, sc->duration_us / 2 + 1);
			note_add(n, " from=%" PRIu64 "us", rule->from_us);
			continue;
		}
		draw_frequency(r, rule, n);
		if (prng_chance(r, 1.0 / 3)) {
			draw_window(r, sc, rule);
			note_add(n, " window=[%" PRIu64 "us,%" PRIu64 "us)", rule->from_us,
			         rule->until_us);
		}
	}
}

static void draw_subset(struct prng *r, const struct scenario *sc, struct scenario *d,
                        struct note *n)
{
	size_t total = sc->faults.nrules;
	if (total == 0) {
		note_add(n, "no faults");
		return;
	}
	bool keep[FAULT_RULES_MAX];
	size_t kept = 0;
	for (size_t i = 0; i < total; i++) {
		keep[i] = prng_chance(r, 0.5);
		kept += keep[i];
	}
	if (kept == 0)
		keep[prng_below(r, total)] = true;
	d->faults.nrules = 0;
	note_add(n, "faults");
	bool first = true;
	for (size_t i = 0; i < total; i++) {
		if (!keep[i])
			continue;
		struct fault_rule *rule = &d->faults.rules[d->faults.nrules++];
		*rule = sc->faults.rules[i];
		note_add(n, "%s %zu", first ? "" : ",", i);
		first = false;
		draw_frequency(r, rule, n);
		if (rule->kind != FAULT_RESTART && rule->nth == 0 && prng_chance(r, 1.0 / 3)) {
			draw_window(r, sc, rule);
			note_add(n, " window=[%" PRIu64 "us,%" PRIu64 "us)", rule->from_us,
			         rule->until_us);
		}
	}
	note_add(n, " of %zu", total);
}

struct scenario *swarm_one_seed(const struct scenario *sc, uint64_t seed)
{
	ASSERT(sc != NULL);
	struct scenario *d = malloc(sizeof *d);
	if (d == NULL)
		return NULL;
	*d = *sc;
	bool failed = false;
	d->path = dup_or_null(sc->path, &failed);
	d->name = dup_or_null(sc->name, &failed);
	d->description = dup_or_null(sc->description, &failed);
	d->seed_list = malloc(sizeof *d->seed_list);
	if (d->seed_list == NULL || failed) {
		scenario_destroy(d);
		return NULL;
	}
	d->seed_list[0] = seed;
	d->nseed_list = 1;
	d->seeds = 1;
	d->seed_first = seed;
	d->swarm = false;
	d->swarm_from_cli = false;
	d->nranges = 0;
	/* What the scenario declares it reaches is a property of all its
	 * seeds' draws together, not of one draw. */
	d->nexpect = 0;
	fault_plan_reset(&d->faults);
	return d;
}

struct scenario *swarm_draw(const struct scenario *sc, uint64_t seed, char *note_buf,
                            size_t notesize)
{
	ASSERT(sc != NULL);
	ASSERT(note_buf != NULL);
	ASSERT(notesize > 0);
	struct note n = {.buf = note_buf, .size = notesize};
	note_buf[0] = '\0';
	struct scenario *d = swarm_one_seed(sc, seed);
	if (d == NULL)
		return NULL;

	struct prng root, r;
	prng_init(&root, seed);
	prng_fork(&root, SWARM_STREAM, &r);
	if (strncmp(sc->name, "mixed-", 6) == 0)
		draw_catalogue(&r, sc, d, &n);
	else
		draw_subset(&r, sc, d, &n);
	for (size_t i = 0; i < sc->nranges; i++) {
		const struct scenario_range *g = &sc->ranges[i];
		uint32_t v = g->lo + (uint32_t)prng_below(&r, (uint64_t)g->hi - g->lo + 1);
		ASSERT(g->offset + sizeof v <= sizeof *d);
		memcpy((char *)d + g->offset, &v, sizeof v);
		note_add(&n, "; %s=%" PRIu32, g->key, v);
	}
	fault_plan_reset(&d->faults);
	return d;
}
