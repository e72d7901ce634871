/* harness/shrink.c - the search behind `faultline shrink` (harness/shrink.h).
 *
 * A candidate is a scenario changed in one way from the best so far. It is
 * written out and read back by the loader (a value the loader refuses is no
 * candidate), run, and kept when the same invariant is violated with a
 * message of the same shape (names and numbers elided: "order ord_3 paid 2
 * times" and "order ord_0 paid 3 times" are one witness, "no TTL" and "TTL
 * too long" are not) and no invariant the seed held breaks. Phases, each to a fixpoint, in order of value:
 *   1. the workload's counts and spreads, the quotes, the retries;
 *   2. whole fault rules;
 *   3. the faults that fired in the best run pinned as a schedule, then
 *      scheduled entries one by one, and the backends' latency jitter;
 *   4. if the result now violates under every check seed, phases 1 and 3
 *      once more under all of them, so the file holds for any seed. */
#include "harness/shrink.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "harness/scenario_load.h"
#include "harness/scenario_write.h"
#include "harness/swarm.h"

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

struct shrinker {
	const struct variant_set *vs;
	uint64_t seed;
	enum invariant_id inv;
	uint32_t allowed;         /* what the original seed violated: a candidate
	                           * may violate no other invariant */
	char shape[256];
	bool all_seeds;           /* candidates must fail under the check seeds */
	double deadline;
	bool spent;
	uint32_t runs;
	struct scenario *best;
	char *best_text;          /* best as written, to refuse no-op candidates */
	uint64_t best_events;
	char best_message[256];
	char *removed;
	size_t removed_len;
	bool failed;
	char *err;
	size_t errsize;
};

/* The message with every word that names something (holds a digit or an
 * underscore or a hyphen: u3, evt_0, cus_NruLIfe, Q-N-EW, 2) and every value in single quotes
 * written '#', so that two witnesses
 * of one kind compare equal whichever user, event or count they name. */
static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

static void shape_of(const char *msg, char *out, size_t size)
{
	size_t w = 0;
	for (const char *p = msg; *p != '\0' && w + 1 < size;) {
		/* The closing quote is the one no letter follows ('O'Neil'). */
		const char *close = *p == '\'' ? strchr(p + 1, '\'') : NULL;
		while (close != NULL && word_char(close[1]))
			close = strchr(close + 1, '\'');
		if (close != NULL) {          /* a quoted value: a name, an address */
			out[w++] = '#';
			p = close + 1;
			continue;
		}
		if (!word_char(*p)) {
			out[w++] = *p++;
			continue;
		}
		const char *q = p;
		bool names = false;
		for (; word_char(*q); q++)
			names |= (*q >= '0' && *q <= '9') || *q == '_' || *q == '-';
		if (names) {
			out[w++] = '#';
		} else {
			for (; p < q && w + 1 < size; p++)
				out[w++] = *p;
		}
		p = q;
	}
	out[w] = '\0';
}

static void note_removed(struct shrinker *s, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	size_t n = strlen(line);
	if (s->removed_len + n + 3 >= SHRINK_NOTE_MAX)
		return;
	if (s->removed_len > 0) {
		memcpy(s->removed + s->removed_len, "; ", 2);
		s->removed_len += 2;
	}
	memcpy(s->removed + s->removed_len, line, n + 1);
	s->removed_len += n;
}

/* A private copy of sc to change (one seed, no ranges). */
static struct scenario *copy_of(const struct shrinker *s, const struct scenario *sc)
{
	struct scenario *c = swarm_one_seed(sc, s->seed);
	if (c != NULL)
		c->faults.log = NULL;
	return c;
}

/* c as the loader reads it back, and its text in *text_out (the caller
 * frees); NULL when the loader refuses it or when it is written exactly as
 * the best so far (a change the file cannot carry is no candidate). */
static struct scenario *round_trip(struct shrinker *s, const struct scenario *c,
                                   char **text_out)
{
	char *text = NULL;
	size_t len = 0;
	*text_out = NULL;
	if (scenario_write_text(c, NULL, &text, &len) != RESULT_OK) {
		s->failed = true;
		snprintf(s->err, s->errsize, "out of memory writing a candidate");
		return NULL;
	}
	if (s->best_text != NULL && strcmp(text, s->best_text) == 0) {
		free(text);
		return NULL;
	}
	struct scenario *back = NULL;
	struct scenario_error e;
	enum result rc = scenario_load_buffer(c->path, text, len, &back, &e);
	if (rc != RESULT_OK) {
		free(text);
		return NULL;
	}
	*text_out = text;
	return back;
}

/* Runs c under one seed; true when it violates s->inv with s->shape. */
static bool violates(struct shrinker *s, const struct scenario *c, uint64_t seed,
                     struct world_result *res)
{
	s->runs++;
	memset(res, 0, sizeof *res);
	if (runner_run_seed(c, s->vs, seed, NULL, res) != RESULT_OK) {
		s->failed = true;
		snprintf(s->err, s->errsize, "a run of seed %" PRIu64 " failed: %s", seed,
		         res->error[0] != '\0' ? res->error : "out of memory");
		return false;
	}
	if (!(res->violated & (1u << s->inv)) || (res->violated & ~s->allowed) != 0)
		return false;
	char shape[256];
	shape_of(res->v[s->inv].message, shape, sizeof shape);
	return strcmp(shape, s->shape) == 0;
}

static bool out_of_time(struct shrinker *s)
{
	if (!s->spent && runner_clock_s() >= s->deadline)
		s->spent = true;
	return s->spent || s->failed;
}

/* Tries candidate c (consumed): read back, run; kept as the best when it
 * still fails and is no bigger. */
static bool try_candidate(struct shrinker *s, struct scenario *c)
{
	if (out_of_time(s)) {
		scenario_destroy(c);
		return false;
	}
	char *text;
	struct scenario *back = round_trip(s, c, &text);
	scenario_destroy(c);
	if (back == NULL)
		return false;
	struct world_result res;
	bool keep = violates(s, back, s->seed, &res);
	uint64_t events = res.events;
	char message[256];
	memcpy(message, res.v[s->inv].message, sizeof message);
	for (uint64_t k = 1; keep && s->all_seeds && k <= SHRINK_CHECK_SEEDS; k++) {
		if (k != s->seed)
			keep = violates(s, back, k, &res);
	}
	if (!keep || events > s->best_events) {
		scenario_destroy(back);
		free(text);
		return false;
	}
	scenario_destroy(s->best);
	free(s->best_text);
	s->best = back;
	s->best_text = text;
	s->best_events = events;
	memcpy(s->best_message, message, sizeof message);
	return true;
}

/* ---- phase 1: the workload ------------------------------------------------ */

#define U32(field) {#field, offsetof(struct scenario, field), 4}
#define U64(field) {#field, offsetof(struct scenario, field), 8}
static const struct knob {
	const char *name;
	size_t offset;
	unsigned width;
} knobs[] = {
	U32(webhook.events),        U32(webhook.copies),        U32(webhook.second_events),
	U32(webhook.other_types),   U32(webhook.unknown_orders), U32(webhook.bad_signatures),
	U32(webhook.stale_signatures), U32(webhook.signatures), U32(webhook.payloads),
	U32(ratelimit.users),       U32(ratelimit.requests_per_user),
	U32(dedup.requests),        U32(dedup.duplicates),      U32(dedup.instances),
	U32(customer.users),        U32(customer.concurrent),   U32(customer.existing),
	U32(customer.no_email),     U32(customer.shared_email),
	U64(webhook.spread_us),     U64(webhook.copy_spread_us), U64(ratelimit.spread_us),
	U64(dedup.spread_us),       U64(dedup.duplicate_delay_us), U64(quote_email.spread_us),
	U64(customer.spread_us),    U64(customer.copy_spread_us), U64(customer.start_us),
	U64(customer.again_us),
};

static uint64_t knob_get(const struct scenario *sc, const struct knob *k)
{
	const char *p = (const char *)sc + k->offset;
	if (k->width == 4) {
		uint32_t v;
		memcpy(&v, p, sizeof v);
		return v;
	}
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void knob_set(struct scenario *sc, const struct knob *k, uint64_t v)
{
	char *p = (char *)sc + k->offset;
	if (k->width == 4) {
		uint32_t x = (uint32_t)v;
		memcpy(p, &x, sizeof x);
	} else {
		memcpy(p, &v, sizeof v);
	}
}

/* Lowers one number: 0, 1, half, one less; the first that still fails. */
static bool shrink_knob(struct shrinker *s, const struct knob *k)
{
	uint64_t cur = knob_get(s->best, k);
	if (cur == 0)
		return false;
	/* Counts step down to one less; durations (microseconds) only halve. */
	uint64_t tries[] = {0, 1, cur / 2, k->width == 4 ? cur - 1 : 0};
	for (size_t i = 0; i < COUNT_OF(tries); i++) {
		uint64_t v = tries[i];
		bool again = false;
		for (size_t j = 0; j < i; j++)
			again |= tries[j] == v;
		if (v >= cur || again)
			continue;
		struct scenario *c = copy_of(s, s->best);
		if (c == NULL)
			return false;
		knob_set(c, k, v);
		if (try_candidate(s, c))
			return true;
	}
	return false;
}

/* Cuts one count of each quote (the uint32_t at off: sends, clicks) to 1;
 * false when out of memory. */
static bool shrink_quote_count(struct shrinker *s, size_t off, const char *what, bool *progress)
{
	for (size_t i = 0; i < s->best->quote_email.nquotes; i++) {
		uint32_t was = *(const uint32_t *)((const char *)&s->best->quote_email.quotes[i] + off);
		if (was <= 1)
			continue;
		struct scenario *c = copy_of(s, s->best);
		if (c == NULL)
			return false;
		*(uint32_t *)((char *)&c->quote_email.quotes[i] + off) = 1;
		if (try_candidate(s, c)) {
			note_removed(s, "quote %s %s %" PRIu32 " -> 1", s->best->quote_email.quotes[i].ref,
			             what, was);
			*progress = true;
		}
	}
	return true;
}

static bool shrink_lists(struct shrinker *s)
{
	bool progress = false;
	/* Quotes, last first so indices stay put while trying. */
	for (size_t i = s->best->quote_email.nquotes; i-- > 0;) {
		if (s->best->quote_email.nquotes <= 1 || i >= s->best->quote_email.nquotes)
			continue;
		struct scenario *c = copy_of(s, s->best);
		if (c == NULL)
			return progress;
		char ref[sizeof c->quote_email.quotes[0].ref];
		memcpy(ref, c->quote_email.quotes[i].ref, sizeof ref);
		memmove(&c->quote_email.quotes[i], &c->quote_email.quotes[i + 1],
		        (c->quote_email.nquotes - i - 1) * sizeof c->quote_email.quotes[0]);
		c->quote_email.nquotes--;
		if (try_candidate(s, c)) {
			note_removed(s, "quote %s", ref);
			progress = true;
		}
	}
	if (!shrink_quote_count(s, offsetof(struct quote_spec, sends), "sends", &progress) ||
	    !shrink_quote_count(s, offsetof(struct quote_spec, clicks), "clicks", &progress))
		return progress;
	while (s->best->webhook.nretry > 0) {
		struct scenario *c = copy_of(s, s->best);
		if (c == NULL)
			return progress;
		c->webhook.nretry--;
		if (!try_candidate(s, c))
			break;
		note_removed(s, "webhook retry %zu", s->best->webhook.nretry + 1);
		progress = true;
	}
	static const size_t flags[] = {
		offsetof(struct scenario, customer.invalid_ids),
		offsetof(struct scenario, ratelimit.boundary),
		offsetof(struct scenario, ratelimit.invalid_ids),
	};
	static const char *const flag_names[] = {"customer.invalid_ids", "ratelimit.boundary",
	                                         "ratelimit.invalid_ids"};
	for (size_t i = 0; i < COUNT_OF(flags); i++) {
		bool on;
		memcpy(&on, (const char *)s->best + flags[i], sizeof on);
		if (!on)
			continue;
		struct scenario *c = copy_of(s, s->best);
		if (c == NULL)
			return progress;
		bool off = false;
		memcpy((char *)c + flags[i], &off, sizeof off);
		if (try_candidate(s, c)) {
			note_removed(s, "%s", flag_names[i]);
			progress = true;
		}
	}
	return progress;
}

/* "webhook.events 4 -> 1" for each number the search lowered. */
static void note_knobs(struct shrinker *s, const struct scenario *from)
{
	for (size_t i = 0; i < COUNT_OF(knobs); i++) {
		uint64_t a = knob_get(from, &knobs[i]), b = knob_get(s->best, &knobs[i]);
		if (a == b)
			continue;
		if (knobs[i].width == 4)
			note_removed(s, "%s %" PRIu64 " -> %" PRIu64, knobs[i].name, a, b);
		else
			note_removed(s, "%s %.6gs -> %.6gs", knobs[i].name, (double)a / 1e6,
			             (double)b / 1e6);
	}
}

static void shrink_workload(struct shrinker *s)
{
	bool progress = true;
	while (progress && !out_of_time(s)) {
		progress = false;
		for (size_t i = 0; i < COUNT_OF(knobs); i++) {
			while (shrink_knob(s, &knobs[i]))
				progress = true;
		}
		if (shrink_lists(s))
			progress = true;
	}
}

/* ---- phases 2 and 3: the faults ------------------------------------------- */

static void rule_text(const struct fault_rule *r, char *buf, size_t size)
{
	if (r->scheduled)
		snprintf(buf, size, "scheduled %s %s #%" PRIu32 ": %s", fault_target_name(r->target),
		         r->op, r->nth, fault_kind_name(r->kind));
	else
		snprintf(buf, size, "fault rule %s %s %s (line %d)", fault_target_name(r->target),
		         r->op, fault_kind_name(r->kind), r->line);
}

/* Drops rules one at a time, last first; only scheduled ones when
 * scheduled_only. */
static void shrink_rules(struct shrinker *s, bool scheduled_only)
{
	bool progress = true;
	while (progress && !out_of_time(s)) {
		progress = false;
		for (size_t i = s->best->faults.nrules; i-- > 0;) {
			if (i >= s->best->faults.nrules)
				continue;
			const struct fault_rule *r = &s->best->faults.rules[i];
			if (scheduled_only && !r->scheduled)
				continue;
			char what[160];
			rule_text(r, what, sizeof what);
			struct scenario *c = copy_of(s, s->best);
			if (c == NULL)
				return;
			struct fault_plan *p = &c->faults;
			memmove(&p->rules[i], &p->rules[i + 1], (p->nrules - i - 1) * sizeof p->rules[0]);
			p->nrules--;
			if (try_candidate(s, c)) {
				note_removed(s, "%s", what);
				progress = true;
			}
		}
	}
}

/* The best scenario with every fault that fired in its run (seed s->seed)
 * written as a schedule entry in place of the rules that drew it. Restarts
 * stay rules: they are times, not operations. */
static bool pin_faults(struct shrinker *s)
{
	struct scenario *run = copy_of(s, s->best);
	struct fault_log *log = calloc(1, sizeof *log);
	if (run == NULL || log == NULL) {
		scenario_destroy(run);
		free(log);
		return false;
	}
	run->faults.log = log;
	struct world_result res;
	bool fails = violates(s, run, s->seed, &res);
	run->faults.log = NULL;
	bool any = false;
	for (size_t i = 0; i < run->faults.nrules; i++)
		any |= !run->faults.rules[i].scheduled && run->faults.rules[i].kind != FAULT_RESTART;
	if (!fails || log->overflow || !any) {
		scenario_destroy(run);
		free(log);
		return false;
	}
	struct fault_plan plan = run->faults;
	plan.nrules = 0;
	for (size_t i = 0; i < run->faults.nrules; i++) {
		const struct fault_rule *r = &run->faults.rules[i];
		if (r->kind == FAULT_RESTART || r->scheduled)
			plan.rules[plan.nrules++] = *r;
	}
	bool room = true;
	for (size_t i = 0; i < log->nfires; i++) {
		const struct fault_fire *f = &log->fires[i];
		if (plan.nrules == FAULT_RULES_MAX) {
			room = false;
			break;
		}
		const struct fault_rule *from = &run->faults.rules[f->rule];
		struct fault_rule *r = &plan.rules[plan.nrules++];
		*r = *from;
		snprintf(r->op, sizeof r->op, "%s", f->op);
		r->nth = f->nth;
		r->and_after = false;
		r->from_us = 0;
		r->until_us = UINT64_MAX;
		r->after_event[0] = '\0';
		r->probability = 1.0;
		r->max_fires = 1;
		r->scheduled = true;
		r->line = r->column = 0;
		if (r->kind == FAULT_LATENCY) {
			r->dist = FAULT_DIST_FIXED;
			r->latency_us = f->latency_us;
			r->latency_max_us = f->latency_us;
		}
		if (r->kind == FAULT_CONN_LOST)
			r->commit_applied_p = f->commit_applied ? 1.0 : 0.0;
	}
	free(log);
	if (!room) {
		scenario_destroy(run);
		return false;
	}
	size_t nfired = plan.nrules;
	run->faults = plan;
	if (!try_candidate(s, run))
		return false;
	note_removed(s, "every fault rule, for the %zu faults that fired, scheduled", nfired);
	return true;
}

/* Backend latency jitter: each backend's latency fixed at its mean. */
static void fix_latencies(struct shrinker *s)
{
	static const size_t offs[] = {
		offsetof(struct scenario, redis), offsetof(struct scenario, postgres),
		offsetof(struct scenario, stripe), offsetof(struct scenario, mail),
	};
	static const char *const names[] = {"redis", "postgres", "stripe", "mail"};
	for (size_t i = 0; i < COUNT_OF(offs); i++) {
		struct backend_settings b;
		memcpy(&b, (const char *)s->best + offs[i], sizeof b);
		if (b.latency.min_us == b.latency.max_us)
			continue;
		struct scenario *c = copy_of(s, s->best);
		if (c == NULL)
			return;
		uint64_t mid = b.latency.min_us + (b.latency.max_us - b.latency.min_us) / 2;
		b.latency.min_us = b.latency.max_us = mid;
		memcpy((char *)c + offs[i], &b, sizeof b);
		if (try_candidate(s, c))
			note_removed(s, "%s latency jitter", names[i]);
	}
}

/* Does the best violate under every check seed? */
static bool holds_for_all_seeds(struct shrinker *s)
{
	struct world_result res;
	for (uint64_t k = 1; k <= SHRINK_CHECK_SEEDS; k++) {
		if (out_of_time(s) || !violates(s, s->best, k, &res))
			return false;
	}
	return true;
}

/* ---- the search ----------------------------------------------------------- */

enum shrink_status shrink_run(const struct scenario *sc, const struct variant_set *vs,
                              uint64_t seed, const struct shrink_options *opt,
                              struct shrink_report *rep, char *err, size_t errsize)
{
	ASSERT(sc != NULL && vs != NULL && opt != NULL && rep != NULL);
	memset(rep, 0, sizeof *rep);
	double t0 = runner_clock_s();
	struct shrinker s = {
		.vs = vs, .seed = seed, .deadline = t0 + opt->budget_s,
		.removed = rep->removed, .err = err, .errsize = errsize,
	};
	char note[SWARM_NOTE_MAX];
	struct scenario *start = sc->swarm ? swarm_draw(sc, seed, note, sizeof note)
	                                   : swarm_one_seed(sc, seed);
	if (start == NULL) {
		snprintf(err, errsize, "out of memory");
		return SHRINK_FAILED;
	}
	start->faults.log = NULL;
	struct scenario *first = round_trip(&s, start, &s.best_text);
	scenario_destroy(start);
	if (first == NULL) {
		if (!s.failed)
			snprintf(err, errsize, "the scenario does not read back as a file");
		return SHRINK_FAILED;
	}
	struct world_result res;
	s.runs++;
	if (runner_run_seed(first, vs, seed, NULL, &res) != RESULT_OK) {
		snprintf(err, errsize, "seed %" PRIu64 " could not run: %s", seed,
		         res.error[0] != '\0' ? res.error : "out of memory");
		scenario_destroy(first);
		free(s.best_text);
		return SHRINK_FAILED;
	}
	int inv = -1;
	for (unsigned i = 0; i < INV_COUNT && inv < 0; i++) {
		if ((res.violated & (1u << i)) && (opt->invariant < 0 || opt->invariant == (int)i))
			inv = (int)i;
	}
	if (inv < 0) {
		scenario_destroy(first);
		free(s.best_text);
		return SHRINK_NO_VIOLATION;
	}
	s.inv = (enum invariant_id)inv;
	s.allowed = res.violated;
	shape_of(res.v[inv].message, s.shape, sizeof s.shape);
	s.best = first;
	s.best_events = res.events;
	memcpy(s.best_message, res.v[inv].message, sizeof s.best_message);
	memcpy(rep->first_message, res.v[inv].message, sizeof rep->first_message);
	rep->events_before = res.events;

	struct scenario *orig = copy_of(&s, first);
	if (orig == NULL) {
		scenario_destroy(first);
		free(s.best_text);
		snprintf(err, errsize, "out of memory");
		return SHRINK_FAILED;
	}
	shrink_workload(&s);
	shrink_rules(&s, false);
	rep->pinned = !out_of_time(&s) && pin_faults(&s);
	shrink_rules(&s, true);
	fix_latencies(&s);
	if (!out_of_time(&s) && holds_for_all_seeds(&s)) {
		s.all_seeds = true;
		shrink_workload(&s);
		shrink_rules(&s, true);
		rep->any_seed = true;
	}
	note_knobs(&s, orig);
	scenario_destroy(orig);
	free(s.best_text);
	if (s.failed) {
		scenario_destroy(s.best);
		return SHRINK_FAILED;
	}
	if (rep->any_seed) {
		s.best->seeds = SHRINK_CHECK_SEEDS;
		s.best->seed_first = 1;
		free(s.best->seed_list);
		s.best->seed_list = NULL;
		s.best->nseed_list = 0;
	}
	rep->min = s.best;
	rep->inv = s.inv;
	memcpy(rep->message, s.best_message, sizeof rep->message);
	rep->budget_spent = s.spent;
	rep->runs = s.runs;
	rep->events_after = s.best_events;
	rep->wall_s = runner_clock_s() - t0;
	return SHRINK_DONE;
}

void shrink_report_fini(struct shrink_report *rep)
{
	if (rep == NULL)
		return;
	scenario_destroy(rep->min);
	rep->min = NULL;
}

void shrink_comment(const struct scenario *from, const struct variant_set *vs, uint64_t seed,
                    const struct shrink_report *rep, char *buf, size_t size)
{
	char var[160];
	variant_set_format(vs, from, var, sizeof var);
	char seeds[96];
	if (rep->any_seed && seed >= 1 && seed <= SHRINK_CHECK_SEEDS)
		snprintf(seeds, sizeof seeds, "under every seed from 1 to %d", SHRINK_CHECK_SEEDS);
	else if (rep->any_seed)
		snprintf(seeds, sizeof seeds, "under every seed from 1 to %d and %" PRIu64,
		         SHRINK_CHECK_SEEDS, seed);
	else
		snprintf(seeds, sizeof seeds, "under seed %" PRIu64 " (other seeds order its "
		         "events differently)", seed);
	snprintf(buf, size,
	         "Shrunk by faultline shrink from %s, seed %" PRIu64 ", variant %s%s.\n"
	         "Violates %s %s: %s\n"
	         "%" PRIu32 " runs%s; %" PRIu64 " events, was %" PRIu64 ".\n"
	         "Removed: %s",
	         from->path, seed, var, from->swarm ? " (its swarm draw)" : "",
	         invariant_name(rep->inv), seeds, rep->message, rep->runs,
	         rep->budget_spent ? " (the budget ran out)" : "", rep->events_after,
	         rep->events_before, rep->removed[0] != '\0' ? rep->removed : "nothing");
}
