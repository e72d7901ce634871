/* reports/report.c - the results structure: building it, its histogram, its
 * summary, and merging runs. Writers are elsewhere (report_json.c, ...).
 * Text is made valid UTF-8 and bounded here, once, so that no writer has to
 * cope with bytes it cannot encode. */
#include "reports/report.h"
#include "reports/report_shard.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

/* U+FFFD REPLACEMENT CHARACTER in UTF-8. */
static const char report_replacement[] = "\xEF\xBF\xBD";

/* Length of the UTF-8 sequence at s (n bytes left), or 0 when it is not a
 * well-formed one (overlong forms, surrogates and values past U+10FFFF are
 * not). */
static size_t utf8_sequence_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;   /* bounds of the second byte */
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;                /* no overlong forms */
		if (c == 0xED)
			hi = 0x9F;                /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;                /* nothing past U+10FFFF */
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	}
	return len;
}

char *report_text_dup(const char *s)
{
	if (s == NULL)
		return NULL;
	char *out = malloc(REPORT_TEXT_MAX + 1);
	if (out == NULL)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	size_t len = 0;
	/* Bounded by n: every pass consumes at least one input byte. */
	for (size_t i = 0; i < n;) {
		size_t seq = utf8_sequence_len(p + i, n - i);
		const char *piece = seq > 0 ? (const char *)p + i : report_replacement;
		size_t piece_len = seq > 0 ? seq : sizeof report_replacement - 1;
		if (len + piece_len > REPORT_TEXT_MAX)
			break;                    /* cut on a character boundary */
		memcpy(out + len, piece, piece_len);
		len += piece_len;
		i += seq > 0 ? seq : 1;
	}
	out[len] = '\0';
	char *shrunk = realloc(out, len + 1);
	return shrunk != NULL ? shrunk : out;
}

/* Replaces *slot with a copy of s (NULL clears it). */
static enum result report_set_text(char **slot, const char *s)
{
	char *copy = NULL;
	if (s != NULL) {
		copy = report_text_dup(s);
		if (copy == NULL)
			return RESULT_NOMEM;
	}
	free(*slot);
	*slot = copy;
	return RESULT_OK;
}

/* Makes room for one more element of size elem in *arr holding n; the new
 * element is zeroed. */
static enum result report_grow(void **arr, size_t n, size_t max, size_t elem)
{
	if (n >= max)
		return RESULT_NOMEM;
	char *bigger = realloc(*arr, (n + 1) * elem);
	if (bigger == NULL)
		return RESULT_NOMEM;
	memset(bigger + n * elem, 0, elem);
	*arr = bigger;
	return RESULT_OK;
}

static void report_event_fini(struct report_event *ev)
{
	free(ev->lane);
	free(ev->label);
}

static void report_invariant_fini(struct report_invariant *inv)
{
	free(inv->name);
	free(inv->message);
	free(inv->replay);
	free(inv->shrunk_file);
	for (size_t i = 0; i < inv->ntimeline; i++)
		report_event_fini(&inv->timeline[i]);
	free(inv->timeline);
}

static void report_counts_free(struct report_count *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(c[i].name);
	free(c);
}

static void report_result_fini(struct report_result *res)
{
	free(res->scenario);
	free(res->file);
	free(res->fix);
	free(res->variant);
	free(res->not_exercised_reason);
	for (size_t i = 0; i < res->ninvariants; i++)
		report_invariant_fini(&res->invariants[i]);
	free(res->invariants);
	report_counts_free(res->faults, res->nfaults);
	report_counts_free(res->outcomes, res->noutcomes);
	report_counts_free(res->log_tags, res->nlog_tags);
	report_counts_free(res->coverage, res->ncoverage);
	free(res->trace_file);
}

void report_destroy(struct report *r)
{
	if (r == NULL)
		return;
	free(r->tool_version);
	free(r->mode);
	free(r->scenario_set);
	for (size_t i = 0; i < r->nvariants; i++)
		free(r->variants[i]);
	free(r->variants);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].sha256);
	}
	free(r->files);
	for (size_t i = 0; i < r->nresults; i++)
		report_result_fini(&r->results[i]);
	free(r->results);
	report_clear_verdict(r);
	free(r);
}

struct report *report_create(const char *tool_version, const char *mode)
{
	struct report *r = calloc(1, sizeof *r);
	if (r == NULL)
		return NULL;
	r->schema = REPORT_SCHEMA;
	r->tool_version = report_text_dup(tool_version != NULL ? tool_version : "");
	r->mode = report_text_dup(mode != NULL ? mode : "simulated");
	if (r->tool_version == NULL || r->mode == NULL) {
		report_destroy(r);
		return NULL;
	}
	return r;
}

enum result report_add_variant(struct report *r, const char *variant)
{
	ASSERT(r != NULL);
	ASSERT(variant != NULL);
	for (size_t i = 0; i < r->nvariants; i++) {
		if (strcmp(r->variants[i], variant) == 0)
			return RESULT_OK;
	}
	char *copy = report_text_dup(variant);
	if (copy == NULL)
		return RESULT_NOMEM;
	if (report_grow((void **)&r->variants, r->nvariants, REPORT_VARIANTS_MAX,
	                sizeof *r->variants) != RESULT_OK) {
		free(copy);
		return RESULT_NOMEM;
	}
	r->variants[r->nvariants++] = copy;
	return RESULT_OK;
}

enum result report_add_file(struct report *r, const char *path, const char *sha256)
{
	ASSERT(r != NULL);
	ASSERT(path != NULL);
	ASSERT(sha256 != NULL);
	for (size_t i = 0; i < r->nfiles; i++) {
		if (strcmp(r->files[i].path, path) == 0)
			return strcmp(r->files[i].sha256, sha256) == 0 ? RESULT_OK
			                                               : RESULT_REJECT;
	}
	char *p = report_text_dup(path);
	char *d = report_text_dup(sha256);
	if (p == NULL || d == NULL ||
	    report_grow((void **)&r->files, r->nfiles, REPORT_FILES_MAX,
	                sizeof *r->files) != RESULT_OK) {
		free(p);
		free(d);
		return RESULT_NOMEM;
	}
	r->files[r->nfiles].path = p;
	r->files[r->nfiles].sha256 = d;
	r->nfiles++;
	return RESULT_OK;
}

struct report_result *report_find_result(const struct report *r,
                                         const char *scenario, const char *variant)
{
	ASSERT(r != NULL);
	for (size_t i = 0; i < r->nresults; i++) {
		struct report_result *res = &r->results[i];
		if (strcmp(res->scenario, scenario) == 0 && strcmp(res->variant, variant) == 0)
			return res;
	}
	return NULL;
}

enum result report_add_result(struct report *r, const char *scenario,
                              const char *file, const char *fix,
                              const char *variant, struct report_result **out)
{
	ASSERT(r != NULL);
	ASSERT(scenario != NULL);
	ASSERT(variant != NULL);
	ASSERT(out != NULL);
	if (report_find_result(r, scenario, variant) != NULL)
		return RESULT_REJECT;
	struct report_result res = {0};
	res.scenario = report_text_dup(scenario);
	res.variant = report_text_dup(variant);
	res.file = report_text_dup(file != NULL ? file : "");
	res.fix = report_text_dup(fix != NULL ? fix : "");
	res.exercised = true;
	if (res.scenario == NULL || res.variant == NULL || res.file == NULL ||
	    res.fix == NULL ||
	    report_grow((void **)&r->results, r->nresults, REPORT_RESULTS_MAX,
	                sizeof *r->results) != RESULT_OK) {
		report_result_fini(&res);
		return RESULT_NOMEM;
	}
	r->results[r->nresults] = res;
	*out = &r->results[r->nresults];
	r->nresults++;
	return RESULT_OK;
}

void report_result_count_seed(struct report_result *res, uint64_t seed)
{
	ASSERT(res != NULL);
	if (res->seeds_run == 0 || seed < res->seed_min)
		res->seed_min = seed;
	if (res->seeds_run == 0 || seed > res->seed_max)
		res->seed_max = seed;
	res->seeds_run++;
}

enum result report_result_set_not_exercised(struct report_result *res,
                                            const char *reason)
{
	ASSERT(res != NULL);
	res->exercised = false;
	return report_set_text(&res->not_exercised_reason, reason);
}

enum result report_result_set_trace_file(struct report_result *res, const char *path)
{
	ASSERT(res != NULL);
	return report_set_text(&res->trace_file, path);
}

static enum result report_counts_add(struct report_count **arr, size_t *n,
                                     const char *name, uint64_t by)
{
	ASSERT(name != NULL);
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*arr)[i].name, name) == 0) {
			(*arr)[i].count += by;
			return RESULT_OK;
		}
	}
	char *copy = report_text_dup(name);
	if (copy == NULL)
		return RESULT_NOMEM;
	if (report_grow((void **)arr, *n, REPORT_COUNTS_MAX, sizeof **arr) != RESULT_OK) {
		free(copy);
		return RESULT_NOMEM;
	}
	/* Kept sorted by name, the order report.json writes them in, so a
	 * report read back lists them as the run did. */
	size_t at = *n;
	while (at > 0 && strcmp((*arr)[at - 1].name, copy) > 0)
		at--;
	memmove(&(*arr)[at + 1], &(*arr)[at], (*n - at) * sizeof **arr);
	(*arr)[at].name = copy;
	(*arr)[at].count = by;
	(*n)++;
	return RESULT_OK;
}

enum result report_result_add_fault(struct report_result *res, const char *kind,
                                    uint64_t by)
{
	ASSERT(res != NULL);
	return report_counts_add(&res->faults, &res->nfaults, kind, by);
}

enum result report_result_add_outcome(struct report_result *res, const char *name,
                                      uint64_t by)
{
	ASSERT(res != NULL);
	return report_counts_add(&res->outcomes, &res->noutcomes, name, by);
}

enum result report_result_add_coverage(struct report_result *res, const char *cell,
                                       uint64_t by)
{
	ASSERT(res != NULL);
	return report_counts_add(&res->coverage, &res->ncoverage, cell, by);
}

enum result report_result_add_log_tag(struct report_result *res, const char *tag,
                                      uint64_t by)
{
	ASSERT(res != NULL);
	return report_counts_add(&res->log_tags, &res->nlog_tags, tag, by);
}

void report_result_add_latency(struct report_result *res, uint64_t us)
{
	ASSERT(res != NULL);
	report_hist_add(res->latency_hist, us);
}

struct report_invariant *report_result_find_invariant(const struct report_result *res,
                                                      const char *name)
{
	ASSERT(res != NULL);
	for (size_t i = 0; i < res->ninvariants; i++) {
		if (strcmp(res->invariants[i].name, name) == 0)
			return &res->invariants[i];
	}
	return NULL;
}

enum result report_result_add_invariant(struct report_result *res, const char *name,
                                        struct report_invariant **out)
{
	ASSERT(res != NULL);
	ASSERT(name != NULL);
	ASSERT(out != NULL);
	struct report_invariant *found = report_result_find_invariant(res, name);
	if (found != NULL) {
		*out = found;
		return RESULT_OK;
	}
	char *copy = report_text_dup(name);
	if (copy == NULL)
		return RESULT_NOMEM;
	if (report_grow((void **)&res->invariants, res->ninvariants,
	                REPORT_INVARIANTS_MAX, sizeof *res->invariants) != RESULT_OK) {
		free(copy);
		return RESULT_NOMEM;
	}
	struct report_invariant *inv = &res->invariants[res->ninvariants++];
	inv->name = copy;
	inv->held = true;
	*out = inv;
	return RESULT_OK;
}

static void report_timeline_clear(struct report_invariant *inv)
{
	for (size_t i = 0; i < inv->ntimeline; i++)
		report_event_fini(&inv->timeline[i]);
	free(inv->timeline);
	inv->timeline = NULL;
	inv->ntimeline = 0;
	inv->timeline_dropped = 0;
}

enum result report_invariant_set_shrunk_file(struct report_invariant *inv, const char *path)
{
	ASSERT(inv != NULL);
	return report_set_text(&inv->shrunk_file, path);
}

enum result report_invariant_add_violation(struct report_invariant *inv,
                                           uint64_t seed, uint64_t t_us,
                                           const char *message, const char *replay,
                                           bool *became_first)
{
	ASSERT(inv != NULL);
	bool first = !inv->has_first_seed || seed < inv->first_seed;
	if (first) {
		char *m = report_text_dup(message);
		char *rp = report_text_dup(replay);
		if ((message != NULL && m == NULL) || (replay != NULL && rp == NULL)) {
			free(m);
			free(rp);
			return RESULT_NOMEM;
		}
		free(inv->message);
		free(inv->replay);
		inv->message = m;
		inv->replay = rp;
		inv->has_first_seed = true;
		inv->first_seed = seed;
		inv->first_time_us = t_us;
		report_timeline_clear(inv);
	}
	inv->violations++;
	inv->held = false;
	if (became_first != NULL)
		*became_first = first;
	return RESULT_OK;
}

enum result report_invariant_add_event(struct report_invariant *inv, uint64_t t_us,
                                       const char *lane, const char *label)
{
	ASSERT(inv != NULL);
	ASSERT(lane != NULL);
	ASSERT(label != NULL);
	struct report_event ev = {
		.t_us = t_us,
		.lane = report_text_dup(lane),
		.label = report_text_dup(label),
	};
	if (ev.lane == NULL || ev.label == NULL) {
		report_event_fini(&ev);
		return RESULT_NOMEM;
	}
	if (inv->ntimeline == REPORT_TIMELINE_MAX) {
		report_event_fini(&inv->timeline[0]);
		memmove(&inv->timeline[0], &inv->timeline[1],
		        (inv->ntimeline - 1) * sizeof inv->timeline[0]);
		inv->ntimeline--;
		inv->timeline_dropped++;
	}
	if (report_grow((void **)&inv->timeline, inv->ntimeline, REPORT_TIMELINE_MAX,
	                sizeof *inv->timeline) != RESULT_OK) {
		report_event_fini(&ev);
		return RESULT_NOMEM;
	}
	inv->timeline[inv->ntimeline++] = ev;
	return RESULT_OK;
}

/* Histogram ---------------------------------------------------------------- */

unsigned report_hist_bucket(uint64_t us)
{
	uint64_t units = us / REPORT_HIST_UNIT_US;
	if (units < REPORT_HIST_SUB)
		return (unsigned)units;
	unsigned k = 63u - (unsigned)__builtin_clzll(units);   /* 2^k <= units */
	unsigned sub = (unsigned)(units >> (k - 2)) & (REPORT_HIST_SUB - 1);
	unsigned b = REPORT_HIST_SUB * (k - 1) + sub;
	if (b >= REPORT_HIST_BUCKETS)
		return REPORT_HIST_BUCKETS - 1;   /* the last bucket takes the rest */
	return b;
}

uint64_t report_hist_lower(unsigned b)
{
	ASSERT(b <= REPORT_HIST_BUCKETS);
	if (b < REPORT_HIST_SUB)
		return (uint64_t)b * REPORT_HIST_UNIT_US;
	unsigned k = b / REPORT_HIST_SUB + 1;
	uint64_t sub = b % REPORT_HIST_SUB;
	return ((REPORT_HIST_SUB + sub) << (k - 2)) * REPORT_HIST_UNIT_US;
}

void report_hist_add(uint64_t *hist, uint64_t us)
{
	ASSERT(hist != NULL);
	hist[report_hist_bucket(us)]++;
}

uint64_t report_hist_total(const uint64_t *hist)
{
	ASSERT(hist != NULL);
	uint64_t total = 0;
	for (unsigned b = 0; b < REPORT_HIST_BUCKETS; b++)
		total += hist[b];
	return total;
}

uint64_t report_hist_percentile(const uint64_t *hist, double q)
{
	ASSERT(hist != NULL);
	ASSERT(q >= 0.0);
	ASSERT(q <= 1.0);
	uint64_t total = report_hist_total(hist);
	if (total == 0)
		return 0;
	/* Integer parts per million, so that 0.99 of 100 is rank 99 and not
	 * 100 through rounding of the double product. */
	const uint64_t million = 1000000;
	uint64_t ppm = (uint64_t)llround(q * (double)million);
	uint64_t rank = (total / million) * ppm +
	                ((total % million) * ppm + million - 1) / million;
	if (rank == 0)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < REPORT_HIST_BUCKETS; b++) {
		seen += hist[b];
		if (seen >= rank)
			return report_hist_lower(b + 1);
	}
	ASSERT(false);   /* rank <= total, so some bucket reaches it */
	return 0;
}

/* Summary ------------------------------------------------------------------ */

enum report_cell report_cell_of(const struct report_result *res,
                                const struct report_invariant *inv)
{
	ASSERT(res != NULL);
	ASSERT(inv != NULL);
	if (inv->violations > 0)
		return REPORT_CELL_VIOLATED;
	if (!res->exercised)
		return REPORT_CELL_NOT_EXERCISED;
	return REPORT_CELL_HELD;
}

void report_summarize(const struct report *r, struct report_summary *out)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	struct report_summary s = {0};
	for (size_t i = 0; i < r->nresults; i++) {
		const struct report_result *res = &r->results[i];
		s.results++;
		s.seeds_run += res->seeds_run;
		if (!res->exercised)
			s.results_not_exercised++;
		for (size_t j = 0; j < res->ninvariants; j++) {
			switch (report_cell_of(res, &res->invariants[j])) {
			case REPORT_CELL_HELD: s.invariants_held++; break;
			case REPORT_CELL_VIOLATED: s.invariants_violated++; break;
			case REPORT_CELL_NOT_EXERCISED: s.invariants_not_exercised++; break;
			}
		}
	}
	*out = s;
}

/* Merge -------------------------------------------------------------------- */

static void report_errf(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report_errf(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

static enum result report_counts_merge(struct report_count **arr, size_t *n,
                                       const struct report_count *from, size_t nfrom)
{
	for (size_t i = 0; i < nfrom; i++) {
		enum result rc = report_counts_add(arr, n, from[i].name, from[i].count);
		if (rc != RESULT_OK)
			return rc;
	}
	return RESULT_OK;
}

/* Lowest first failing seed over res's invariants; false when none. */
static bool report_result_lowest_failure(const struct report_result *res,
                                         uint64_t *seed)
{
	bool any = false;
	for (size_t i = 0; i < res->ninvariants; i++) {
		const struct report_invariant *inv = &res->invariants[i];
		if (inv->has_first_seed && (!any || inv->first_seed < *seed)) {
			*seed = inv->first_seed;
			any = true;
		}
	}
	return any;
}

static enum result report_invariant_merge(struct report_invariant *into,
                                          const struct report_invariant *from)
{
	if (from->has_first_seed &&
	    (!into->has_first_seed || from->first_seed < into->first_seed)) {
		enum result rc = report_set_text(&into->message, from->message);
		if (rc == RESULT_OK)
			rc = report_set_text(&into->replay, from->replay);
		if (rc == RESULT_OK)
			rc = report_set_text(&into->shrunk_file, from->shrunk_file);
		if (rc != RESULT_OK)
			return rc;
		into->has_first_seed = true;
		into->first_seed = from->first_seed;
		into->first_time_us = from->first_time_us;
		report_timeline_clear(into);
		for (size_t i = 0; i < from->ntimeline; i++) {
			const struct report_event *ev = &from->timeline[i];
			rc = report_invariant_add_event(into, ev->t_us, ev->lane, ev->label);
			if (rc != RESULT_OK)
				return rc;
		}
		into->timeline_dropped = from->timeline_dropped;
	}
	into->violations += from->violations;
	into->held = into->violations == 0;
	return RESULT_OK;
}

/* Adds the part result from (of part number part) into into, which holds
 * the earlier parts' sum; fresh is true when into was just created. */
static enum result report_result_merge(struct report_result *into, bool fresh,
                                       const struct report_result *from, bool sharded,
                                       size_t part, char *err, size_t errsize)
{
	if (!sharded && !fresh && into->seeds_run > 0 && from->seeds_run > 0 &&
	    from->seed_min <= into->seed_max && into->seed_min <= from->seed_max) {
		report_errf(err, errsize,
		            "part %zu: %s / %s: seeds %llu-%llu overlap seeds %llu-%llu "
		            "of an earlier part (a seed would be counted twice)",
		            part + 1, from->scenario, from->variant,
		            (unsigned long long)from->seed_min,
		            (unsigned long long)from->seed_max,
		            (unsigned long long)into->seed_min,
		            (unsigned long long)into->seed_max);
		return RESULT_REJECT;
	}
	/* The trace file follows the lowest failing seed, like the timelines. */
	uint64_t into_low = 0, from_low = 0;
	bool into_fails = report_result_lowest_failure(into, &into_low);
	bool from_fails = report_result_lowest_failure(from, &from_low);
	bool take_trace = fresh || (from_fails && (!into_fails || from_low < into_low)) ||
	                  (!into_fails && !from_fails && into->trace_file == NULL);
	if (take_trace && from->trace_file != NULL) {
		if (report_set_text(&into->trace_file, from->trace_file) != RESULT_OK)
			goto nomem;
	}

	/* planned seeds add up; the merge is incomplete when a part was */
	uint64_t into_planned = report_result_incomplete(into) ? into->seeds_planned
	                                                       : into->seeds_run;
	uint64_t from_planned = report_result_incomplete(from) ? from->seeds_planned
	                                                       : from->seeds_run;
	if (report_result_incomplete(from) &&
	    (!report_result_incomplete(into) || from->seed_next < into->seed_next))
		into->seed_next = from->seed_next;
	into->seeds_planned = into_planned + from_planned;
	if (from->seeds_run > 0) {
		if (into->seeds_run == 0 || from->seed_min < into->seed_min)
			into->seed_min = from->seed_min;
		if (into->seeds_run == 0 || from->seed_max > into->seed_max)
			into->seed_max = from->seed_max;
		into->seeds_run += from->seeds_run;
	}
	bool was_exercised = !fresh && into->exercised;
	into->exercised = was_exercised || from->exercised;
	if (into->exercised) {
		free(into->not_exercised_reason);
		into->not_exercised_reason = NULL;
	} else if (into->not_exercised_reason == NULL && from->not_exercised_reason != NULL) {
		if (report_set_text(&into->not_exercised_reason,
		                    from->not_exercised_reason) != RESULT_OK)
			goto nomem;
	}
	for (size_t i = 0; i < from->ninvariants; i++) {
		struct report_invariant *inv;
		if (report_result_add_invariant(into, from->invariants[i].name, &inv) != RESULT_OK ||
		    report_invariant_merge(inv, &from->invariants[i]) != RESULT_OK)
			goto nomem;
	}
	if (report_counts_merge(&into->faults, &into->nfaults, from->faults,
	                        from->nfaults) != RESULT_OK ||
	    report_counts_merge(&into->outcomes, &into->noutcomes, from->outcomes,
	                        from->noutcomes) != RESULT_OK ||
	    report_counts_merge(&into->log_tags, &into->nlog_tags, from->log_tags,
	                        from->nlog_tags) != RESULT_OK ||
	    report_counts_merge(&into->coverage, &into->ncoverage, from->coverage,
	                        from->ncoverage) != RESULT_OK)
		goto nomem;
	for (unsigned b = 0; b < REPORT_HIST_BUCKETS; b++)
		into->latency_hist[b] += from->latency_hist[b];
	into->duplicates_let_through += from->duplicates_let_through;
	if (!report_result_incomplete(into))
		into->seeds_planned = 0;
	return RESULT_OK;
nomem:
	report_errf(err, errsize, "out of memory or past a maximum merging %s / %s",
	            from->scenario, from->variant);
	return RESULT_NOMEM;
}

static enum result report_settings_merge(struct report *into, const struct report *from,
                                         size_t part, char *err, size_t errsize)
{
	if (strcmp(into->mode, from->mode) != 0) {
		report_errf(err, errsize, "part %zu: mode \"%s\" differs from \"%s\" of part 1",
		            part + 1, from->mode, into->mode);
		return RESULT_REJECT;
	}
	for (size_t i = 0; i < from->nvariants; i++) {
		if (report_add_variant(into, from->variants[i]) != RESULT_OK) {
			report_errf(err, errsize, "part %zu: more than %u variants",
			            part + 1, REPORT_VARIANTS_MAX);
			return RESULT_NOMEM;
		}
	}
	for (size_t i = 0; i < from->nfiles; i++) {
		enum result rc = report_add_file(into, from->files[i].path, from->files[i].sha256);
		if (rc == RESULT_REJECT) {
			report_errf(err, errsize,
			            "part %zu: %s has sha256 %s, another part has a different "
			            "content (runs of different scenario files do not add up)",
			            part + 1, from->files[i].path, from->files[i].sha256);
			return rc;
		}
		if (rc != RESULT_OK) {
			report_errf(err, errsize, "part %zu: more than %u files",
			            part + 1, REPORT_FILES_MAX);
			return rc;
		}
	}
	/* a shard that ran no seed had nothing to check: it does not count */
	uint64_t ran = 0;
	for (size_t i = 0; i < from->nresults; i++)
		ran += from->results[i].seeds_run;
	if (ran > 0 || from->shard_count == 0)
		into->determinism_checked = into->determinism_checked && from->determinism_checked;
	into->determinism_mismatches += from->determinism_mismatches;
	return RESULT_OK;
}

enum result report_merge(struct report *const *parts, size_t n, struct report **out,
                         char *err, size_t errsize)
{
	ASSERT(parts != NULL);
	ASSERT(out != NULL);
	if (n == 0 || n > REPORT_MERGE_PARTS_MAX) {
		report_errf(err, errsize, "merge takes 1 to %u reports, got %zu",
		            REPORT_MERGE_PARTS_MAX, n);
		return RESULT_REJECT;
	}
	struct report *m = report_create(parts[0]->tool_version, parts[0]->mode);
	if (m == NULL) {
		report_errf(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	m->matrix = parts[0]->matrix;
	m->determinism_checked = true;
	bool *skip = calloc(n, sizeof *skip);
	enum result rc = skip != NULL ? RESULT_OK : RESULT_NOMEM;
	if (rc == RESULT_OK)
		rc = report_shards_check(parts, n, skip, err, errsize);
	else
		report_errf(err, errsize, "out of memory");
	bool sharded = parts[0]->shard_count > 0;
	if (rc == RESULT_OK && parts[0]->scenario_set != NULL &&
	    (m->scenario_set = report_text_dup(parts[0]->scenario_set)) == NULL) {
		report_errf(err, errsize, "out of memory");
		rc = RESULT_NOMEM;
	}
	for (size_t p = 0; p < n && rc == RESULT_OK; p++) {
		const struct report *part = parts[p];
		ASSERT(part != NULL);
		if (skip[p])
			continue;
		rc = report_settings_merge(m, part, p, err, errsize);
		for (size_t i = 0; i < part->nresults && rc == RESULT_OK; i++) {
			const struct report_result *from = &part->results[i];
			struct report_result *into = report_find_result(m, from->scenario,
			                                                from->variant);
			bool fresh = into == NULL;
			if (fresh) {
				rc = report_add_result(m, from->scenario, from->file, from->fix,
				                       from->variant, &into);
				if (rc != RESULT_OK) {
					report_errf(err, errsize, "more than %u results",
					            REPORT_RESULTS_MAX);
					break;
				}
			}
			rc = report_result_merge(into, fresh, from, sharded, p, err, errsize);
		}
	}
	free(skip);
	if (rc != RESULT_OK) {
		report_destroy(m);
		return rc;
	}
	*out = m;
	return RESULT_OK;
}

static void report_reason_fini(struct report_reason *rr)
{
	free(rr->kind);
	free(rr->text);
	free(rr->scenario);
	free(rr->variant);
	free(rr->invariant);
	free(rr->fix);
}

bool report_result_incomplete(const struct report_result *res)
{
	ASSERT(res != NULL);
	return res->seeds_planned > res->seeds_run;
}

void report_clear_verdict(struct report *r)
{
	ASSERT(r != NULL);
	for (size_t i = 0; i < r->nreasons; i++)
		report_reason_fini(&r->reasons[i]);
	free(r->reasons);
	r->reasons = NULL;
	r->nreasons = 0;
	free(r->headline);
	r->headline = NULL;
	r->pass = false;
	r->verdict_set = false;
}

enum result report_set_verdict(struct report *r, bool pass, const char *headline)
{
	ASSERT(r != NULL);
	ASSERT(headline != NULL);
	enum result rc = report_set_text(&r->headline, headline);
	if (rc != RESULT_OK)
		return rc;
	r->pass = pass;
	r->verdict_set = true;
	return RESULT_OK;
}

enum result report_add_reason(struct report *r, const char *kind, const char *text,
                              const char *scenario, const char *variant,
                              const char *invariant, const char *fix)
{
	ASSERT(r != NULL);
	ASSERT(kind != NULL);
	ASSERT(text != NULL);
	enum result rc = report_grow((void **)&r->reasons, r->nreasons, REPORT_REASONS_MAX,
	                             sizeof *r->reasons);
	if (rc != RESULT_OK)
		return rc;
	struct report_reason *rr = &r->reasons[r->nreasons];
	if (report_set_text(&rr->kind, kind) != RESULT_OK ||
	    report_set_text(&rr->text, text) != RESULT_OK ||
	    report_set_text(&rr->scenario, scenario) != RESULT_OK ||
	    report_set_text(&rr->variant, variant) != RESULT_OK ||
	    report_set_text(&rr->invariant, invariant) != RESULT_OK ||
	    report_set_text(&rr->fix, fix) != RESULT_OK) {
		report_reason_fini(rr);
		memset(rr, 0, sizeof *rr);
		return RESULT_NOMEM;
	}
	r->nreasons++;
	return RESULT_OK;
}

static bool report_str_eq(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

const struct report_reason *report_find_reason(const struct report *r, const char *kind,
                                               const char *scenario, const char *variant,
                                               const char *invariant)
{
	ASSERT(r != NULL);
	for (size_t i = 0; i < r->nreasons; i++) {
		const struct report_reason *rr = &r->reasons[i];
		if ((kind == NULL || strcmp(rr->kind, kind) == 0) &&
		    report_str_eq(rr->scenario, scenario) && report_str_eq(rr->variant, variant) &&
		    report_str_eq(rr->invariant, invariant))
			return rr;
	}
	return NULL;
}
