/* fuzz/fuzz_scenario.c - fuzz target over the scenario loader and validator
 * (scenario_load_buffer): any input loads into a scenario within the
 * documented ranges, or is refused with a located error inside the file.
 * A loaded fault plan is then asked a few decisions. Not a test of what a
 * scenario means (tests/check_scenario.c does that). */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <string.h>

#include "core/assert.h"
#include "sim/fault.h"
#include "sim/prng.h"
#include "harness/scenario_load.h"

#define FUZZ_SCENARIO_NAME "fuzz.yaml"
#define FUZZ_SCENARIO_YEAR_US (8760ull * 3600 * 1000000)
#define FUZZ_SCENARIO_DECISIONS 4 /* fault decisions asked per target */

static bool fuzz_scenario_text_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

/* Upper bounds for an error's place: lines counted at every break a YAML
 * reader may honour (LF, CR, CRLF, and 1.1's NEL, LS, PS), and the longest
 * stretch between two LFs (no line can be longer). */
static void fuzz_scenario_shape(const uint8_t *data, size_t size, size_t *lines, size_t *longest)
{
	size_t cur = 0;
	*lines = 1;
	*longest = 0;
	for (size_t i = 0; i < size; i++) {
		bool lf = data[i] == '\n';
		bool cr = data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n');
		bool nel = data[i] == 0xc2 && i + 1 < size && data[i + 1] == 0x85;
		bool ls_ps = data[i] == 0xe2 && i + 2 < size && data[i + 1] == 0x80 &&
		             (data[i + 2] == 0xa8 || data[i + 2] == 0xa9);
		if (lf || cr || nel || ls_ps)
			(*lines)++;
		if (lf)
			cur = 0;
		else if (++cur > *longest)
			*longest = cur;
	}
}

static void fuzz_scenario_check_error(const struct scenario_error *err, const uint8_t *data, size_t size)
{
	size_t lines, longest;

	ASSERT(fuzz_scenario_text_ok(err->file, sizeof err->file));
	ASSERT(strcmp(err->file, FUZZ_SCENARIO_NAME) == 0);
	ASSERT(fuzz_scenario_text_ok(err->message, sizeof err->message));
	ASSERT(err->message[0] != '\0');
	ASSERT(err->line >= 0);
	ASSERT(err->column >= 0);
	ASSERT(err->line > 0 || err->column == 0);
	/* A located error points into the file (or just past its end, where
	 * libfyaml reports an unterminated construct). */
	fuzz_scenario_shape(data, size, &lines, &longest);
	ASSERT((size_t)err->line <= lines + 1);
	ASSERT((size_t)err->column <= longest + 2);

	/* Formatting into any buffer stays inside it. */
	char small[8];
	char big[sizeof err->file + sizeof err->message + 32];
	scenario_error_format(err, small, sizeof small);
	ASSERT(fuzz_scenario_text_ok(small, sizeof small));
	scenario_error_format(err, big, sizeof big);
	ASSERT(strstr(big, err->message) != NULL);
}

static void fuzz_scenario_check_backend(const struct backend_settings *b)
{
	ASSERT(b->latency.min_us <= b->latency.max_us);
	ASSERT(b->latency.max_us <= FUZZ_SCENARIO_YEAR_US);
	ASSERT(b->timeout_us > 0);
	ASSERT(b->timeout_us <= FUZZ_SCENARIO_YEAR_US);
}

static void fuzz_scenario_check_rule(const struct fault_rule *r)
{
	ASSERT((unsigned)r->target < FAULT_TARGET_COUNT);
	ASSERT((unsigned)r->kind < FAULT_KIND_COUNT);
	ASSERT(fuzz_scenario_text_ok(r->op, sizeof r->op));
	ASSERT(r->op[0] != '\0');
	ASSERT(fuzz_scenario_text_ok(r->after_event, sizeof r->after_event));
	ASSERT(fuzz_scenario_text_ok(r->error, sizeof r->error));
	ASSERT(r->from_us < r->until_us);
	ASSERT(r->probability >= 0.0 && r->probability <= 1.0);
	ASSERT(r->commit_applied_p >= 0.0 && r->commit_applied_p <= 1.0);
	ASSERT(!r->and_after || r->nth > 0);
	if (r->kind == FAULT_LATENCY) {
		ASSERT(r->latency_us <= r->latency_max_us);
		ASSERT(r->dist != FAULT_DIST_PARETO || r->pareto_alpha > 0.0);
	}
	if (r->kind == FAULT_RESTART)
		ASSERT(r->duration_us > 0);
	ASSERT(r->line > 0);
	ASSERT(r->column > 0);
}

/* Asks the loaded plan a few questions, as a run would: no assertion in
 * sim/fault.c may fire on any plan the loader accepts. */
static void fuzz_scenario_ask_plan(struct fault_plan *plan)
{
	static const char *const ops[FAULT_TARGET_COUNT] = {
		[FAULT_TARGET_REDIS] = "incr",          [FAULT_TARGET_POSTGRES] = "event_insert_new",
		[FAULT_TARGET_STRIPE] = "customers.create", [FAULT_TARGET_MAIL] = "send",
		[FAULT_TARGET_WEBHOOK] = "deliver",
	};
	struct prng rng;
	prng_init(&rng, 1);
	fault_plan_reset(plan);
	for (int t = 0; t < FAULT_TARGET_COUNT; t++) {
		for (uint64_t i = 0; i < FUZZ_SCENARIO_DECISIONS; i++) {
			uint64_t now_us = i < plan->nrules ? plan->rules[i].from_us : i * 1000000;
			struct fault_decision d;
			if (fault_plan_decide(plan, &rng, (enum fault_target)t, ops[t], now_us, &d)) {
				ASSERT(d.rule != NULL);
				ASSERT(d.index < plan->nrules);
				ASSERT(d.rule->target == (enum fault_target)t);
			}
			fault_plan_note(plan, (enum fault_target)t, ops[t]);
			size_t at;
			if (fault_plan_down(plan, (enum fault_target)t, now_us, &at))
				ASSERT(at < plan->nrules);
		}
	}
}

static void fuzz_scenario_check_loaded(struct scenario *sc)
{
	ASSERT(sc->name != NULL);
	ASSERT(sc->name[0] != '\0');
	ASSERT(sc->path != NULL && strcmp(sc->path, FUZZ_SCENARIO_NAME) == 0);
	ASSERT(sc->description != NULL);
	ASSERT(sc->fixes != 0);
	ASSERT((sc->fixes >> FIX_COUNT) == 0);
	ASSERT((sc->invariants >> INV_COUNT) == 0);
	ASSERT(sc->invariants & (1u << INV_NO_UNHANDLED));
	ASSERT(sc->invariants & (1u << INV_NO_HUNG));
	size_t seeds = scenario_seed_count(sc);
	ASSERT(seeds > 0);
	ASSERT(sc->seed_list == NULL || sc->nseed_list <= SCENARIO_SEED_LIST_MAX);
	if (sc->seed_list == NULL)
		ASSERT(sc->seed_first + (seeds - 1) >= sc->seed_first);
	(void)scenario_seed_at(sc, 0);
	(void)scenario_seed_at(sc, seeds - 1);
	ASSERT(sc->duration_us > 0);
	ASSERT(sc->duration_us <= FUZZ_SCENARIO_YEAR_US);
	fuzz_scenario_check_backend(&sc->redis);
	fuzz_scenario_check_backend(&sc->postgres);
	fuzz_scenario_check_backend(&sc->stripe);
	fuzz_scenario_check_backend(&sc->mail);
	ASSERT(sc->pg_pool_size >= 1);

	ASSERT(sc->quote_email.nquotes <= SCENARIO_QUOTES_MAX);
	ASSERT(!(sc->fixes & (1u << FIX_QUOTE_EMAIL)) || sc->quote_email.nquotes > 0);
	for (size_t i = 0; i < sc->quote_email.nquotes; i++) {
		const struct quote_spec *q = &sc->quote_email.quotes[i];
		ASSERT(fuzz_scenario_text_ok(q->ref, sizeof q->ref));
		ASSERT(q->name_len <= sizeof q->name);
		ASSERT(q->email_len <= sizeof q->email);
		ASSERT(!q->name_null || q->name_len == 0);
		ASSERT(!q->email_null || q->email_len == 0);
		ASSERT(q->sends >= 1);
		ASSERT(q->expect >= -1 && q->expect <= 1);
	}
	ASSERT(sc->webhook.nretry <= SCENARIO_RETRIES_MAX);
	ASSERT(sc->faults.nrules <= FAULT_RULES_MAX);
	for (size_t i = 0; i < sc->faults.nrules; i++)
		fuzz_scenario_check_rule(&sc->faults.rules[i]);
	fuzz_scenario_ask_plan(&sc->faults);
}

int fuzz_scenario_one(const uint8_t *data, size_t size)
{
	struct scenario *sc = NULL;
	struct scenario_error err;

	memset(&err, 0, sizeof err);
	enum result rc = scenario_load_buffer(FUZZ_SCENARIO_NAME, (const char *)data, size, &sc, &err);
	if (rc == RESULT_OK) {
		ASSERT(sc != NULL);
		fuzz_scenario_check_loaded(sc);
		scenario_destroy(sc);
		return 0;
	}
	/* Out of memory is not an answer to a file of at most 1 MiB. */
	ASSERT(rc == RESULT_REJECT);
	ASSERT(sc == NULL);
	fuzz_scenario_check_error(&err, data, size);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_scenario_one(data, size);
}
#endif
