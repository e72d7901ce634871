/* harness/scenario_load.c - loads and validates a scenario file into struct
 * scenario (sim/scenario.h). libfyaml's event parser reads the YAML; this file
 * keeps a small tree of the events (with their line:column) and checks every
 * key against docs/scenarios.md. Not for running a scenario (harness/runner.c)
 * nor for deciding faults (sim/fault.c). No global state (fuzzable). */
#include "harness/scenario_load.h"

#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/coverage.h"
#include "core/assert.h"
#include "core/customer.h"
#include "core/dedup.h"
#include "core/email_check.h"
#include "core/ratelimit.h"
#include "core/sql.h"

#include "harness/scenario_int.h"

/* ---- names ------------------------------------------------------------ */

/* The invariants each fix makes claims about; the default when a scenario
 * lists none, and the only ones it may list. */
static const uint32_t fix_invariants[FIX_COUNT] = {
	[FIX_RATELIMIT] = INV_BIT(INV_NO_LOCKOUT) | INV_BIT(INV_RATELIMIT_WINDOW),
	[FIX_QUOTE_EMAIL] = INV_BIT(INV_EMAIL_SAFE),
	[FIX_WEBHOOK] = INV_BIT(INV_EXACTLY_ONCE) | INV_BIT(INV_EVENTUALLY_APPLIED) |
	                INV_BIT(INV_SIGNATURE_SOUND) | INV_BIT(INV_WEBHOOK_ACK),
	[FIX_DEDUP] = INV_BIT(INV_NO_FALSE_DUPLICATE) | INV_BIT(INV_DEDUP_EFFECTIVE),
	[FIX_CUSTOMER] = INV_BIT(INV_NO_ORPHAN) | INV_BIT(INV_CUSTOMER_LIVENESS),
};

/* Operation names per target (sim/fault.h); postgres also takes the
 * catalogue of core/sql.h. */
static const char *const redis_ops[] = {"incr", "expire", "pexpire", "set", "get",
                                        "del", "ttl", "pttl", "exec"};
/* Beyond customers.create, the fake Stripe's operations (live/stripe_api.c). */
static const char *const stripe_ops[] = {
	"customers.create", "customers.retrieve", "customers.update", "customers.delete",
	"customers.list", "customers.search", "payment_intents.create",
	"payment_intents.retrieve", "payment_intents.confirm", "payment_intents.list",
	"events.retrieve", "events.list"};
static const char *const mail_ops[] = {"send"};
static const char *const webhook_ops[] = {"deliver"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool op_known(enum fault_target t, const char *op, size_t len)
{
	const char *const *ops = NULL;
	size_t n = 0;
	switch (t) {
	case FAULT_TARGET_REDIS:
		ops = redis_ops, n = COUNT_OF(redis_ops);
		break;
	case FAULT_TARGET_POSTGRES:
		if (scn_text_is(op, len, "acquire"))
			return true;
		for (unsigned i = 0; i < SQL_STMT_COUNT; i++) {
			if (scn_text_is(op, len, sql_stmt_get((enum sql_stmt)i)->name))
				return true;
		}
		return false;
	case FAULT_TARGET_STRIPE:
		ops = stripe_ops, n = COUNT_OF(stripe_ops);
		break;
	case FAULT_TARGET_MAIL:
		ops = mail_ops, n = COUNT_OF(mail_ops);
		break;
	case FAULT_TARGET_WEBHOOK:
		ops = webhook_ops, n = COUNT_OF(webhook_ops);
		break;
	case FAULT_TARGET_COUNT:
		break;
	}
	for (size_t i = 0; i < n; i++) {
		if (scn_text_is(op, len, ops[i]))
			return true;
	}
	return false;
}

static void op_expected(enum fault_target t, char *buf, size_t size)
{
	switch (t) {
	case FAULT_TARGET_REDIS:
		scn_names_join(buf, size, redis_ops, COUNT_OF(redis_ops));
		return;
	case FAULT_TARGET_POSTGRES:
		scn_text_printf(buf, size, "acquire, begin, commit, rollback or a statement "
		                    "of core/sql.h such as event_insert_new");
		return;
	case FAULT_TARGET_STRIPE:
		scn_names_join(buf, size, stripe_ops, COUNT_OF(stripe_ops));
		return;
	case FAULT_TARGET_MAIL:
		scn_names_join(buf, size, mail_ops, COUNT_OF(mail_ops));
		return;
	case FAULT_TARGET_WEBHOOK:
		scn_names_join(buf, size, webhook_ops, COUNT_OF(webhook_ops));
		return;
	case FAULT_TARGET_COUNT:
		break;
	}
	buf[0] = '\0';
}

/* ---- errors ------------------------------------------------- */

void scenario_error_format(const struct scenario_error *err, char *buf, size_t size)
{
	ASSERT(err != NULL);
	if (buf == NULL || size == 0)
		return;
	if (err->line > 0)
		scn_text_printf(buf, size, "%s:%d:%d: %s", err->file, err->line, err->column,
		         err->message);
	else
		scn_text_printf(buf, size, "%s: %s", err->file, err->message);
}

/* ---- top level -------------------------------------------------------- */

static bool load_fixes(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[160];
	scn_names_join(expected, sizeof expected, fix_names, FIX_COUNT);
	if (n->type != YN_SEQ)
		return scn_fail(ld, n, "fixes", "expected a list of fixes (%s), got %s", expected,
		            scn_show_node(ld, sh, n));
	if (n->nchildren == 0)
		return scn_fail(ld, n, "fixes", "must list at least one fix (%s)", expected);
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, n); c != NULL; c = scn_ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		scn_text_printf(path, sizeof path, "fixes[%zu]", i);
		enum fix_id f;
		if (c->type != YN_SCALAR || strlen(scn_ytext(ld, c)) != c->text_len ||
		    !fix_parse(scn_ytext(ld, c), &f))
			return scn_fail(ld, c, path, "unknown fix %s (expected one of: %s)",
			            scn_show_node(ld, sh, c), expected);
		if (ld->sc->fixes & FIX_BIT(f))
			return scn_fail(ld, c, path, "fix '%s' is listed twice", fix_name(f));
		ld->sc->fixes |= FIX_BIT(f);
		ld->fix_node[f] = c;
	}
	return true;
}

static bool load_invariants(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[200];
	scn_names_join(expected, sizeof expected, invariant_names, INV_COUNT);
	if (n->type != YN_SEQ)
		return scn_fail(ld, n, "invariants", "expected a list of invariants, got %s",
		            scn_show_node(ld, sh, n));
	uint32_t allowed = INV_ALWAYS, listed = 0;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		if (ld->sc->fixes & FIX_BIT(f))
			allowed |= fix_invariants[f];
	}
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, n); c != NULL; c = scn_ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		scn_text_printf(path, sizeof path, "invariants[%zu]", i);
		enum invariant_id inv;
		if (c->type != YN_SCALAR || strlen(scn_ytext(ld, c)) != c->text_len ||
		    !invariant_parse(scn_ytext(ld, c), &inv))
			return scn_fail(ld, c, path, "unknown invariant %s (expected one of: %s)",
			            scn_show_node(ld, sh, c), expected);
		if (listed & INV_BIT(inv))
			return scn_fail(ld, c, path, "invariant '%s' is listed twice",
			            invariant_name(inv));
		if (!(allowed & INV_BIT(inv))) {
			unsigned owner = 0;
			while (owner < FIX_COUNT && !(fix_invariants[owner] & INV_BIT(inv)))
				owner++;
			ASSERT(owner < FIX_COUNT);
			return scn_fail(ld, c, path,
			            "invariant '%s' belongs to fix '%s', which 'fixes' does not list",
			            invariant_name(inv), fix_name((enum fix_id)owner));
		}
		listed |= INV_BIT(inv);
	}
	ld->sc->invariants = listed | INV_ALWAYS;
	return true;
}

static bool load_seeds(struct loader *ld, const struct ynode *map)
{
	struct scenario *sc = ld->sc;
	const struct ynode *first_key = NULL;
	const struct ynode *first = scn_map_get(ld, map, "seed_first", &first_key);
	const struct ynode *seeds = scn_map_get(ld, map, "seeds", NULL);
	if (first != NULL && !scn_get_uint(ld, first, "seed_first", 0, UINT64_MAX, &sc->seed_first))
		return false;
	if (seeds == NULL || seeds->type != YN_SEQ) {
		if (seeds != NULL &&
		    !scn_get_u32(ld, seeds, "seeds", 1, SCENARIO_SEEDS_MAX, &sc->seeds))
			return false;
		if (sc->seed_first > UINT64_MAX - (sc->seeds - 1))
			return scn_fail(ld, first, "seed_first",
			            "seed_first + seeds - 1 does not fit in 64 bits");
		return true;
	}
	if (first != NULL)
		return scn_fail(ld, first_key, "seed_first",
		            "only with a seed count, not with a list of seeds");
	if (seeds->nchildren == 0 || seeds->nchildren > SCENARIO_SEED_LIST_MAX)
		return scn_fail(ld, seeds, "seeds", "a list of seeds holds 1 to %d seeds, got %" PRIu32,
		            SCENARIO_SEED_LIST_MAX, seeds->nchildren);
	sc->seed_list = calloc(seeds->nchildren, sizeof *sc->seed_list);
	if (sc->seed_list == NULL)
		return scn_fail_nomem(ld);
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, seeds); c != NULL; c = scn_ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		scn_text_printf(path, sizeof path, "seeds[%zu]", i);
		if (!scn_get_uint(ld, c, path, 0, UINT64_MAX, &sc->seed_list[i]))
			return false;
	}
	sc->nseed_list = i;
	sc->seeds = (uint32_t)i;
	return true;
}

static bool load_name(struct loader *ld, const struct ynode *map)
{
	struct scenario *sc = ld->sc;
	const struct ynode *n = scn_map_get(ld, map, "name", NULL);
	if (n != NULL) {
		char buf[SCENARIO_NAME_MAX];
		if (!scn_get_text(ld, n, "name", SCENARIO_NAME_MAX - 1, scn_byte_not_control,
		              "a name without control characters", buf, sizeof buf))
			return false;
		if (buf[0] == '\0')
			return scn_fail(ld, n, "name", "must not be empty");
		sc->name = strdup(buf);
	} else {
		/* The file's base name without its extension. */
		const char *base = strrchr(ld->file, '/');
		base = base ? base + 1 : ld->file;
		size_t len = strlen(base);
		const char *dot = strrchr(base, '.');
		if (dot != NULL && dot != base)
			len = (size_t)(dot - base);
		if (len == 0)
			base = "scenario", len = strlen(base);
		if (len > SCENARIO_NAME_MAX - 1)
			len = SCENARIO_NAME_MAX - 1;
		sc->name = strndup(base, len);
	}
	if (sc->name == NULL)
		return scn_fail_nomem(ld);

	n = scn_map_get(ld, map, "description", NULL);
	if (n != NULL && !scn_is_null(ld, n)) {
		if (!scn_want_scalar(ld, n, "description", "a string"))
			return false;
		if (strlen(scn_ytext(ld, n)) != n->text_len)
			return scn_fail(ld, n, "description", "must not contain NUL bytes");
		sc->description = scn_dup_text(ld, n);
	} else {
		sc->description = strdup("");
	}
	return sc->description != NULL || scn_fail_nomem(ld);
}

/* ---- backends --------------------------------------------------------- */

/* A duration (fixed) or [min, max]. */
static bool get_latency(struct loader *ld, const struct ynode *n, const char *path,
                        struct latency *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type == YN_SCALAR) {
		uint64_t v;
		if (!scn_get_duration(ld, n, path, &v))
			return false;
		out->min_us = out->max_us = v;
		return true;
	}
	if (n->type != YN_SEQ || n->nchildren != 2)
		return scn_fail(ld, n, path, "expected a duration or [min, max], got %s",
		            scn_show_node(ld, sh, n));
	const struct ynode *lo = scn_ychild(ld, n), *hi = scn_ynext(ld, lo);
	char p[SCENARIO_PATH_MAX];
	struct latency l;
	scn_text_printf(p, sizeof p, "%s[0]", path);
	if (!scn_get_duration(ld, lo, p, &l.min_us))
		return false;
	scn_text_printf(p, sizeof p, "%s[1]", path);
	if (!scn_get_duration(ld, hi, p, &l.max_us))
		return false;
	if (l.min_us > l.max_us)
		return scn_fail(ld, n, path, "min must not exceed max");
	*out = l;
	return true;
}

static bool load_backend(struct loader *ld, const struct ynode *n, const char *path,
                         struct backend_settings *b, uint32_t *pool)
{
	static const char *const keys[] = {"latency", "timeout", "pool"};
	if (!scn_map_check(ld, n, path, keys, pool != NULL ? 3 : 2))
		return false;
	OPT(get_latency, n, path, "latency", &b->latency);
	OPT(scn_get_duration_positive, n, path, "timeout", &b->timeout_us);
	if (pool != NULL)
		OPT(scn_get_u32, n, path, "pool", 1, SCENARIO_POOL_MAX, pool);
	return true;
}

static bool load_backends(struct loader *ld, const struct ynode *n)
{
	static const char *const keys[] = {"redis", "postgres", "stripe", "mail"};
	struct scenario *sc = ld->sc;
	if (!scn_map_check(ld, n, "backends", keys, COUNT_OF(keys)))
		return false;
	struct backend_settings *settings[] = {&sc->redis, &sc->postgres, &sc->stripe,
	                                       &sc->mail};
	for (size_t i = 0; i < COUNT_OF(keys); i++) {
		const struct ynode *v = scn_map_get(ld, n, keys[i], NULL);
		char path[SCENARIO_PATH_MAX];
		scn_path_join(path, "backends", keys[i]);
		if (v != NULL && !scn_is_null(ld, v) && !load_backend(ld, v, path, settings[i],
		                               i == 1 ? &sc->pg_pool_size : NULL))
			return false;
	}
	return true;
}

/* ---- workload --------------------------------------------------------- */

static bool check_arrivals(struct loader *ld, const struct ynode *n, const char *path,
                           uint64_t arrivals)
{
	if (arrivals > SCENARIO_ARRIVALS_MAX)
		return scn_fail(ld, n, path, "the workload makes %" PRIu64 " requests; at most %u",
		            arrivals, SCENARIO_ARRIVALS_MAX);
	return true;
}

/* A padded id length: 0 (short ids) or long enough to hold the number. */
static bool check_padded(struct loader *ld, const struct ynode *map, const char *path,
                         const char *key, uint32_t octets, uint32_t max)
{
	if (octets == 0 || octets >= SCENARIO_ID_PADDED_MIN)
		return true;
	char p[SCENARIO_PATH_MAX];
	scn_path_join(p, path, key);
	return scn_fail(ld, scn_map_get(ld, map, key, NULL), p, "must be 0 or %u to %u",
	                SCENARIO_ID_PADDED_MIN, max);
}

static bool load_ratelimit(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"users", "requests_per_user", "spread",
	                                   "limit", "window", "probe_after_window",
	                                   "fail_open", "interval", "boundary",
	                                   "user_id_octets", "invalid_ids"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->ratelimit) *w = &ld->sc->ratelimit;
	OPT(scn_get_u32, n, path, "users", 1, SCENARIO_USERS_MAX, &w->users);
	OPT(scn_get_u32, n, path, "requests_per_user", 1, SCENARIO_COUNT_MAX,
	    &w->requests_per_user);
	OPT(scn_get_duration, n, path, "spread", &w->spread_us);
	OPT(scn_get_u32, n, path, "limit", 1, SCENARIO_ARRIVALS_MAX, &w->limit);
	OPT(scn_get_duration_ms, n, path, "window", RATELIMIT_WINDOW_MS_MAX, &w->window_us);
	OPT(scn_get_bool, n, path, "probe_after_window", &w->probe_after_window);
	OPT(scn_get_bool, n, path, "fail_open", &w->fail_open);
	OPT(scn_get_duration, n, path, "interval", &w->interval_us);
	OPT(scn_get_bool, n, path, "boundary", &w->boundary);
	OPT(scn_get_u32, n, path, "user_id_octets", 0, RATELIMIT_USER_ID_MAX, &w->user_id_octets);
	OPT(scn_get_bool, n, path, "invalid_ids", &w->invalid_ids);
	if (!check_padded(ld, n, path, "user_id_octets", w->user_id_octets, RATELIMIT_USER_ID_MAX))
		return false;
	if (w->boundary && w->window_us < 1000)
		return scn_fail(ld, n, path, "boundary needs a window of at least 1ms");
	return check_arrivals(ld, n, path, (uint64_t)w->users * w->requests_per_user);
}

static bool load_dedup(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"requests", "duplicates", "spread",
	                                   "duplicate_delay", "ttl", "instances",
	                                   "key_octets", "bad_keys"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->dedup) *w = &ld->sc->dedup;
	OPT(scn_get_u32, n, path, "requests", 1, SCENARIO_COUNT_MAX, &w->requests);
	OPT(scn_get_u32, n, path, "duplicates", 0, SCENARIO_COPIES_MAX, &w->duplicates);
	OPT(scn_get_duration, n, path, "spread", &w->spread_us);
	OPT(scn_get_duration, n, path, "duplicate_delay", &w->duplicate_delay_us);
	OPT(scn_get_duration_ms, n, path, "ttl", DEDUP_TTL_MS_MAX, &w->ttl_us);
	OPT(scn_get_u32, n, path, "instances", 1, SCENARIO_INSTANCES_MAX, &w->instances);
	OPT(scn_get_u32, n, path, "key_octets", 0, DEDUP_KEY_MAX, &w->key_octets);
	if (!check_padded(ld, n, path, "key_octets", w->key_octets, DEDUP_KEY_MAX))
		return false;
	OPT(scn_get_u32, n, path, "bad_keys", 0, SCENARIO_BAD_KEYS_MAX, &w->bad_keys);
	return check_arrivals(ld, n, path, (uint64_t)w->requests * (1u + w->duplicates) + w->bad_keys);
}

/* A quote field: null (key absent, empty or null) or up to
 * SCENARIO_TEXT_MAX - 1 bytes of anything, NUL included. */
static bool get_quote_text(struct loader *ld, const struct ynode *n, const char *path,
                           bool *is_null_out, char *out, size_t *len_out)
{
	if (!scn_want_scalar(ld, n, path, "a string or null"))
		return false;
	if (scn_is_null(ld, n)) {
		*is_null_out = true;
		*len_out = 0;
		out[0] = '\0';
		return true;
	}
	if (n->text_len > SCENARIO_TEXT_MAX - 1)
		return scn_fail(ld, n, path, "longer than %d bytes", SCENARIO_TEXT_MAX - 1);
	memcpy(out, scn_ytext(ld, n), n->text_len);
	out[n->text_len] = '\0';
	*len_out = n->text_len;
	*is_null_out = false;
	return true;
}

/* Octets written as hex digits, two per octet: bytes YAML cannot carry
 * (invalid UTF-8, overlong forms, surrogates). */
static bool get_quote_hex(struct loader *ld, const struct ynode *n, const char *path,
                          bool *is_null_out, char *out, size_t *len_out)
{
	if (!scn_want_scalar(ld, n, path, "a string of hex digits"))
		return false;
	const char *s = scn_ytext(ld, n);
	size_t len = n->text_len;
	if (len % 2 != 0 || len / 2 > SCENARIO_TEXT_MAX - 1)
		return scn_fail(ld, n, path, "expected an even number of hex digits, at most %d octets",
		                SCENARIO_TEXT_MAX - 1);
	for (size_t i = 0; i < len; i += 2) {
		unsigned v;
		char two[3] = {s[i], s[i + 1], '\0'};
		if (!isxdigit((unsigned char)s[i]) || !isxdigit((unsigned char)s[i + 1]) ||
		    sscanf(two, "%2x", &v) != 1)
			return scn_fail(ld, n, path, "'%c%c' is not two hex digits", s[i], s[i + 1]);
		out[i / 2] = (char)v;
	}
	out[len / 2] = '\0';
	*len_out = len / 2;
	*is_null_out = false;
	return true;
}

static bool get_expect(struct loader *ld, const struct ynode *n, const char *path,
                       int *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type == YN_SCALAR) {
		const char *s = scn_ytext(ld, n);
		if (scn_text_is(s, n->text_len, "oracle")) {
			*out = -1;
			return true;
		}
		if (scn_text_is(s, n->text_len, "reject")) {
			*out = 0;
			return true;
		}
		if (scn_text_is(s, n->text_len, "send")) {
			*out = 1;
			return true;
		}
	}
	return scn_fail(ld, n, path, "expected oracle, reject or send, got %s",
	            scn_show_node(ld, sh, n));
}

static bool load_quote(struct loader *ld, const struct ynode *n, const char *path,
                       struct quote_spec *q)
{
	static const char *const keys[] = {"ref", "name", "email", "sends", "clicks", "expect",
	                                   "name_hex", "email_hex"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	*q = (struct quote_spec){.name_null = true, .email_null = true, .sends = 1, .clicks = 1,
	                         .expect = -1};
	const struct ynode *ref = scn_map_get(ld, n, "ref", NULL);
	if (ref == NULL)
		return scn_fail(ld, n, path, "missing required key 'ref'");
	char p[SCENARIO_PATH_MAX];
	scn_path_join(p, path, "ref");
	if (!scn_get_text(ld, ref, p, sizeof q->ref - 1, scn_byte_graphic,
	              "a reference of printable characters without spaces", q->ref,
	              sizeof q->ref))
		return false;
	if (q->ref[0] == '\0')
		return scn_fail(ld, ref, p, "must not be empty");
	OPT(get_quote_text, n, path, "name", &q->name_null, q->name, &q->name_len);
	OPT(get_quote_text, n, path, "email", &q->email_null, q->email, &q->email_len);
	OPT(get_quote_hex, n, path, "name_hex", &q->name_null, q->name, &q->name_len);
	OPT(get_quote_hex, n, path, "email_hex", &q->email_null, q->email, &q->email_len);
	OPT(scn_get_u32, n, path, "sends", 1, SCENARIO_SENDS_MAX, &q->sends);
	OPT(scn_get_u32, n, path, "clicks", 1, SCENARIO_CLICKS_MAX, &q->clicks);
	OPT(get_expect, n, path, "expect", &q->expect);
	return true;
}

static bool load_quote_email(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"spread", "quotes"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->quote_email) *w = &ld->sc->quote_email;
	OPT(scn_get_duration, n, path, "spread", &w->spread_us);
	const struct ynode *quotes = scn_map_get(ld, n, "quotes", NULL);
	char qpath[SCENARIO_PATH_MAX];
	scn_path_join(qpath, path, "quotes");
	if (quotes == NULL)
		return scn_fail(ld, n, path, "missing required key 'quotes'");
	if (quotes->type != YN_SEQ || quotes->nchildren == 0 ||
	    quotes->nchildren > SCENARIO_QUOTES_MAX)
		return scn_fail(ld, quotes, qpath, "expected a list of 1 to %d quotes",
		            SCENARIO_QUOTES_MAX);
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, quotes); c != NULL; c = scn_ynext(ld, c), i++) {
		char p[SCENARIO_PATH_MAX];
		scn_text_printf(p, sizeof p, "%s[%zu]", qpath, i);
		if (!load_quote(ld, c, p, &w->quotes[i]))
			return false;
		/* at most once per quote is keyed on ref: two quotes may not share one. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(w->quotes[j].ref, w->quotes[i].ref) == 0)
				return scn_fail(ld, scn_map_get(ld, c, "ref", NULL), p,
				            "ref '%s' is used by quotes[%zu] already",
				            w->quotes[i].ref, j);
		}
	}
	w->nquotes = i;
	return true;
}

static bool get_retries(struct loader *ld, const struct ynode *n, const char *path,
                        uint64_t *retry_us, size_t *nretry)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type != YN_SEQ)
		return scn_fail(ld, n, path, "expected a list of durations, got %s",
		            scn_show_node(ld, sh, n));
	if (n->nchildren > SCENARIO_RETRIES_MAX)
		return scn_fail(ld, n, path, "at most %d retries", SCENARIO_RETRIES_MAX);
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, n); c != NULL; c = scn_ynext(ld, c), i++) {
		char p[SCENARIO_PATH_MAX];
		scn_text_printf(p, sizeof p, "%s[%zu]", path, i);
		if (!scn_get_duration_positive(ld, c, p, &retry_us[i]))
			return false;
	}
	*nretry = i;
	return true;
}

static bool load_webhook(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"events", "copies", "copy_spread", "spread",
	                                   "retries", "endpoint_timeout",
	                                   "bad_signatures", "stale_signatures", "second_events",
	                                   "other_types", "unknown_orders", "signatures",
	                                   "payloads"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->webhook) *w = &ld->sc->webhook;
	OPT(scn_get_u32, n, path, "events", 1, SCENARIO_COUNT_MAX, &w->events);
	OPT(scn_get_u32, n, path, "copies", 1, SCENARIO_COPIES_MAX, &w->copies);
	OPT(scn_get_duration, n, path, "copy_spread", &w->copy_spread_us);
	OPT(scn_get_duration, n, path, "spread", &w->spread_us);
	OPT(get_retries, n, path, "retries", w->retry_us, &w->nretry);
	OPT(scn_get_duration_positive, n, path, "endpoint_timeout", &w->endpoint_timeout_us);
	OPT(scn_get_u32, n, path, "bad_signatures", 0, SCENARIO_COUNT_MAX, &w->bad_signatures);
	OPT(scn_get_u32, n, path, "stale_signatures", 0, SCENARIO_COUNT_MAX,
	    &w->stale_signatures);
	OPT(scn_get_u32, n, path, "second_events", 0, SCENARIO_COUNT_MAX, &w->second_events);
	OPT(scn_get_u32, n, path, "other_types", 0, SCENARIO_COUNT_MAX, &w->other_types);
	OPT(scn_get_u32, n, path, "unknown_orders", 0, SCENARIO_COUNT_MAX, &w->unknown_orders);
	OPT(scn_get_u32, n, path, "signatures", 0, SCENARIO_COUNT_MAX, &w->signatures);
	OPT(scn_get_u32, n, path, "payloads", 0, SCENARIO_COUNT_MAX, &w->payloads);
	if (w->second_events > w->events)
		return scn_fail(ld, n, path, "second_events (%u) is more than events (%u)",
		                w->second_events, w->events);
	return check_arrivals(ld, n, path,
	                      (uint64_t)(w->events + w->second_events + w->other_types +
	                                 w->unknown_orders) * w->copies +
	                              w->bad_signatures + w->stale_signatures + w->signatures +
	                              w->payloads);
}

static bool load_customer(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"users", "concurrent", "spread", "copy_spread",
	                                   "existing", "start", "no_email", "shared_email",
	                                   "invalid_ids", "again", "user_id_octets"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->customer) *w = &ld->sc->customer;
	OPT(scn_get_u32, n, path, "users", 1, SCENARIO_USERS_MAX, &w->users);
	OPT(scn_get_u32, n, path, "concurrent", 1, SCENARIO_COPIES_MAX, &w->concurrent);
	OPT(scn_get_duration, n, path, "spread", &w->spread_us);
	OPT(scn_get_duration, n, path, "copy_spread", &w->copy_spread_us);
	OPT(scn_get_u32, n, path, "existing", 0, SCENARIO_USERS_MAX, &w->existing);
	OPT(scn_get_duration, n, path, "start", &w->start_us);
	OPT(scn_get_u32, n, path, "no_email", 0, SCENARIO_USERS_MAX, &w->no_email);
	OPT(scn_get_u32, n, path, "shared_email", 0, SCENARIO_USERS_MAX, &w->shared_email);
	OPT(scn_get_bool, n, path, "invalid_ids", &w->invalid_ids);
	OPT(scn_get_duration, n, path, "again", &w->again_us);
	OPT(scn_get_u32, n, path, "user_id_octets", 0, CUSTOMER_USER_ID_MAX, &w->user_id_octets);
	if (!check_padded(ld, n, path, "user_id_octets", w->user_id_octets, CUSTOMER_USER_ID_MAX))
		return false;
	if ((uint64_t)w->existing > w->users || (uint64_t)w->no_email + w->shared_email > w->users)
		return scn_fail(ld, n, path, "existing, no_email + shared_email: at most users (%u)",
		                w->users);
	return true;
}

static bool load_workload(struct loader *ld, const struct ynode *n)
{
	if (!scn_map_check(ld, n, "workload", fix_names, FIX_COUNT))
		return false;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		const struct ynode *key = NULL;
		const struct ynode *v = scn_map_get(ld, n, fix_names[f], &key);
		if (v == NULL)
			continue;
		char path[SCENARIO_PATH_MAX];
		scn_path_join(path, "workload", fix_names[f]);
		if (!(ld->sc->fixes & FIX_BIT(f)))
			return scn_fail(ld, key, path, "a workload for fix '%s', which 'fixes' "
			                           "does not list", fix_names[f]);
		if (scn_is_null(ld, v))
			continue;     /* an empty section: every default */
		bool ok = false;
		switch ((enum fix_id)f) {
		case FIX_RATELIMIT:
			ok = load_ratelimit(ld, v, path);
			break;
		case FIX_QUOTE_EMAIL:
			ok = load_quote_email(ld, v, path);
			break;
		case FIX_WEBHOOK:
			ok = load_webhook(ld, v, path);
			break;
		case FIX_DEDUP:
			ok = load_dedup(ld, v, path);
			break;
		case FIX_CUSTOMER:
			ok = load_customer(ld, v, path);
			break;
		case FIX_COUNT:
			break;
		}
		if (!ok)
			return false;
	}
	return true;
}

/* ---- faults ----------------------------------------------------------- */

static const char *const fault_keys[] = {
	"target", "op", "kind", "nth", "and_after", "window", "from", "until", "after",
	"probability", "max_fires", "error", "status", "latency", "stall_applied",
	"commit_applied", "duration", "persistence",
};

/* The keys that belong to one kind; the rest apply to every kind. */
static const struct {
	const char *key;
	enum fault_kind kind;
} fault_kind_keys[] = {
	{"error", FAULT_SERVER_ERROR},     {"status", FAULT_SERVER_ERROR},
	{"latency", FAULT_LATENCY},        {"stall_applied", FAULT_STALL},
	{"commit_applied", FAULT_CONN_LOST}, {"duration", FAULT_RESTART},
	{"persistence", FAULT_RESTART},
};

/* Keys that make no sense for a restart, which fault_plan_down applies
 * from 'from' for 'duration' regardless of operations. */
static const char *const fault_restart_forbidden[] = {
	"nth", "and_after", "window", "until", "after", "probability", "max_fires",
};

static bool get_target(struct loader *ld, const struct ynode *n, const char *path,
                       enum fault_target *out)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[120];
	const char *names[FAULT_TARGET_COUNT];
	for (unsigned i = 0; i < FAULT_TARGET_COUNT; i++)
		names[i] = fault_target_name((enum fault_target)i);
	scn_names_join(expected, sizeof expected, names, FAULT_TARGET_COUNT);
	if (n->type != YN_SCALAR || strlen(scn_ytext(ld, n)) != n->text_len ||
	    !fault_target_parse(scn_ytext(ld, n), out))
		return scn_fail(ld, n, path, "unknown fault target %s (expected one of: %s)",
		            scn_show_node(ld, sh, n), expected);
	return true;
}

static bool get_kind(struct loader *ld, const struct ynode *n, const char *path,
                     enum fault_kind *out)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[200];
	const char *names[FAULT_KIND_COUNT];
	for (unsigned i = 0; i < FAULT_KIND_COUNT; i++)
		names[i] = fault_kind_name((enum fault_kind)i);
	scn_names_join(expected, sizeof expected, names, FAULT_KIND_COUNT);
	if (n->type != YN_SCALAR || strlen(scn_ytext(ld, n)) != n->text_len ||
	    !fault_kind_parse(scn_ytext(ld, n), out))
		return scn_fail(ld, n, path, "unknown fault kind %s (expected one of: %s)",
		            scn_show_node(ld, sh, n), expected);
	return true;
}

static bool get_op(struct loader *ld, const struct ynode *n, const char *path,
                   enum fault_target t, char out[FAULT_OP_MAX])
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[160];
	if (!scn_want_scalar(ld, n, path, "an operation name"))
		return false;
	const char *s = scn_ytext(ld, n);
	if (!scn_text_is(s, n->text_len, "*") && !op_known(t, s, n->text_len)) {
		op_expected(t, expected, sizeof expected);
		return scn_fail(ld, n, path, "unknown %s op %s (expected *, %s)", fault_target_name(t),
		            scn_show_node(ld, sh, n), expected);
	}
	ASSERT(n->text_len < FAULT_OP_MAX);
	memcpy(out, s, n->text_len + 1);
	return true;
}

/* "target.op": the completion that arms the rule. */
static bool get_after(struct loader *ld, const struct ynode *n, const char *path,
                      char out[FAULT_OP_MAX])
{
	char sh[SCENARIO_SHOW_MAX + 8], buf[FAULT_OP_MAX];
	if (!scn_get_text(ld, n, path, FAULT_OP_MAX - 1, scn_byte_op, "'target.op'", buf, sizeof buf))
		return false;
	char *dot = strchr(buf, '.');
	enum fault_target t;
	if (dot == NULL)
		return scn_fail(ld, n, path, "expected 'target.op' such as "
		                         "'postgres.event_insert_new', got %s",
		            scn_show_node(ld, sh, n));
	*dot = '\0';
	const char *op = dot + 1;
	if (!fault_target_parse(buf, &t))
		return scn_fail(ld, n, path, "unknown target '%s' in %s", buf, scn_show_node(ld, sh, n));
	if (!op_known(t, op, strlen(op)))
		return scn_fail(ld, n, path, "unknown %s op '%s' in %s", fault_target_name(t), op,
		            scn_show_node(ld, sh, n));
	memcpy(out, scn_ytext(ld, n), n->text_len + 1);
	return true;
}

static bool get_window(struct loader *ld, const struct ynode *n, const char *path,
                       struct fault_rule *r)
{
	char sh[SCENARIO_SHOW_MAX + 8], p[SCENARIO_PATH_MAX];
	if (n->type != YN_SEQ || n->nchildren != 2)
		return scn_fail(ld, n, path, "expected [from, until], got %s", scn_show_node(ld, sh, n));
	const struct ynode *lo = scn_ychild(ld, n), *hi = scn_ynext(ld, lo);
	scn_text_printf(p, sizeof p, "%s[0]", path);
	if (!scn_get_duration(ld, lo, p, &r->from_us))
		return false;
	scn_text_printf(p, sizeof p, "%s[1]", path);
	return scn_get_duration(ld, hi, p, &r->until_us);
}

static bool get_pareto(struct loader *ld, const struct ynode *n, const char *path,
                       struct fault_rule *r)
{
	static const char *const keys[] = {"pareto", "alpha", "max"};
	if (!scn_map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	const struct ynode *scale = scn_map_get(ld, n, "pareto", NULL);
	const struct ynode *max = scn_map_get(ld, n, "max", NULL);
	if (scale == NULL)
		return scn_fail(ld, n, path, "missing required key 'pareto' (the scale)");
	if (max == NULL)
		return scn_fail(ld, n, path, "missing required key 'max' (the cap)");
	r->dist = FAULT_DIST_PARETO;
	r->pareto_alpha = 1.5;
	OPT(scn_get_duration_positive, n, path, "pareto", &r->latency_us);
	OPT(scn_get_number, n, path, "alpha", 0.0, SCENARIO_ALPHA_MAX, &r->pareto_alpha);
	OPT(scn_get_duration, n, path, "max", &r->latency_max_us);
	char p[SCENARIO_PATH_MAX];
	if (!(r->pareto_alpha > 0.0)) {
		scn_path_join(p, path, "alpha");
		return scn_fail(ld, scn_map_get(ld, n, "alpha", NULL), p, "must be greater than 0");
	}
	if (r->latency_max_us < r->latency_us) {
		scn_path_join(p, path, "max");
		return scn_fail(ld, max, p, "must not be less than the scale");
	}
	return true;
}

static bool get_fault_latency(struct loader *ld, const struct ynode *n, const char *path,
                              struct fault_rule *r)
{
	char sh[SCENARIO_SHOW_MAX + 8], p[SCENARIO_PATH_MAX];
	if (n->type == YN_MAP)
		return get_pareto(ld, n, path, r);
	if (n->type == YN_SCALAR) {
		r->dist = FAULT_DIST_FIXED;
		if (!scn_get_duration(ld, n, path, &r->latency_us))
			return false;
		r->latency_max_us = r->latency_us;
		return true;
	}
	if (n->nchildren != 2)
		return scn_fail(ld, n, path, "expected a duration, [min, max] or "
		                         "{pareto: scale, alpha: a, max: cap}, got %s",
		            scn_show_node(ld, sh, n));
	const struct ynode *lo = scn_ychild(ld, n), *hi = scn_ynext(ld, lo);
	r->dist = FAULT_DIST_UNIFORM;
	scn_text_printf(p, sizeof p, "%s[0]", path);
	if (!scn_get_duration(ld, lo, p, &r->latency_us))
		return false;
	scn_text_printf(p, sizeof p, "%s[1]", path);
	if (!scn_get_duration(ld, hi, p, &r->latency_max_us))
		return false;
	if (r->latency_us > r->latency_max_us)
		return scn_fail(ld, n, path, "min must not exceed max");
	return true;
}

/* error/status of a server-error, as the target needs them. */
static bool load_server_error(struct loader *ld, const struct ynode *n, const char *path,
                              struct fault_rule *r)
{
	const struct ynode *ekey = NULL, *skey = NULL;
	const struct ynode *err = scn_map_get(ld, n, "error", &ekey);
	const struct ynode *status = scn_map_get(ld, n, "status", &skey);
	char p[SCENARIO_PATH_MAX];
	scn_path_join(p, path, "error");
	switch (r->target) {
	case FAULT_TARGET_REDIS:
		if (err == NULL)
			return scn_fail(ld, n, path, "a redis server-error needs 'error' "
			                         "(the reply, e.g. \"OOM command not allowed\")");
		if (!scn_get_text(ld, err, p, FAULT_TEXT_MAX - 1, scn_byte_printable,
		              "a one-line message of printable characters", r->error,
		              sizeof r->error))
			return false;
		break;
	case FAULT_TARGET_POSTGRES:
		if (err == NULL)
			return scn_fail(ld, n, path, "a postgres server-error needs 'error' "
			                         "(a SQLSTATE such as \"40001\")");
		if (!scn_get_text(ld, err, p, 5, scn_byte_sqlstate, "a SQLSTATE of 5 characters [0-9A-Z]",
		              r->error, sizeof r->error))
			return false;
		if (strlen(r->error) != 5)
			return scn_fail(ld, err, p, "expected a SQLSTATE of 5 characters [0-9A-Z], "
			                        "got '%s'", r->error);
		break;
	case FAULT_TARGET_STRIPE:
		if (err != NULL &&
		    !scn_get_text(ld, err, p, FAULT_TEXT_MAX - 1, scn_byte_stripe_type,
		              "a Stripe error type such as api_error", r->error, sizeof r->error))
			return false;
		break;
	case FAULT_TARGET_MAIL:
	case FAULT_TARGET_WEBHOOK:
		if (err != NULL &&
		    !scn_get_text(ld, err, p, FAULT_TEXT_MAX - 1, scn_byte_printable,
		              "a one-line message of printable characters", r->error,
		              sizeof r->error))
			return false;
		break;
	case FAULT_TARGET_COUNT:
		ASSERT(!"unknown target");
	}
	if (err != NULL && r->error[0] == '\0')
		return scn_fail(ld, err, p, "must not be empty");

	scn_path_join(p, path, "status");
	bool wants_status = r->target == FAULT_TARGET_STRIPE ||
	                    r->target == FAULT_TARGET_MAIL ||
	                    r->target == FAULT_TARGET_WEBHOOK;
	if (!wants_status) {
		if (status != NULL)
			return scn_fail(ld, skey, p, "a %s server-error has no status; "
			                         "'error' says what the server answers",
			            fault_target_name(r->target));
		return true;
	}
	if (status == NULL)
		return scn_fail(ld, n, path, "a %s server-error needs 'status' (400..599)",
		            fault_target_name(r->target));
	uint32_t code;
	if (!scn_get_u32(ld, status, p, 400, 599, &code))
		return false;
	r->status = (int)code;
	return true;
}

/* A kind that applies to one op of one target only: checks the rule's
 * target and op (op_node, NULL when the rule left op out, gets op). */
static bool fault_kind_pinned(struct loader *ld, const struct ynode *n, const char *path,
                              const struct ynode *op_node, struct fault_rule *r,
                              enum fault_target target, const char *op)
{
	char p[SCENARIO_PATH_MAX];
	const char *kind = fault_kind_name(r->kind);
	scn_path_join(p, path, "target");
	if (r->target != target)
		return scn_fail(ld, scn_map_get(ld, n, "target", NULL), p,
		            "%s applies only to target %s", kind, fault_target_name(target));
	scn_path_join(p, path, "op");
	if (op_node == NULL)
		snprintf(r->op, sizeof r->op, "%s", op);
	else if (strcmp(r->op, op) != 0)
		return scn_fail(ld, op_node, p, "%s applies only to op %s, not '%s'", kind, op, r->op);
	return true;
}

static bool load_fault(struct loader *ld, const struct ynode *n, const char *path,
                       struct fault_rule *r)
{
	if (!scn_map_check(ld, n, path, fault_keys, COUNT_OF(fault_keys)))
		return false;
	*r = (struct fault_rule){
		.op = "*",
		.until_us = UINT64_MAX,
		.probability = 1.0,
		.pareto_alpha = 1.5,
		.commit_applied_p = 0.5,
		.line = n->line,
		.column = n->column,
	};
	char p[SCENARIO_PATH_MAX];
	const struct ynode *v;
	if ((v = scn_map_get(ld, n, "target", NULL)) == NULL)
		return scn_fail(ld, n, path, "missing required key 'target'");
	scn_path_join(p, path, "target");
	if (!get_target(ld, v, p, &r->target))
		return false;
	if ((v = scn_map_get(ld, n, "kind", NULL)) == NULL)
		return scn_fail(ld, n, path, "missing required key 'kind'");
	scn_path_join(p, path, "kind");
	if (!get_kind(ld, v, p, &r->kind))
		return false;

	/* Parameters of another kind are refused, not ignored: a 'latency'
	 * on an error rule is a mistake the author wants to hear about. */
	for (size_t i = 0; i < COUNT_OF(fault_kind_keys); i++) {
		const struct ynode *key = NULL;
		if (fault_kind_keys[i].kind != r->kind &&
		    scn_map_get(ld, n, fault_kind_keys[i].key, &key) != NULL) {
			scn_path_join(p, path, fault_kind_keys[i].key);
			return scn_fail(ld, key, p, "applies only to kind %s, not %s",
			            fault_kind_name(fault_kind_keys[i].kind),
			            fault_kind_name(r->kind));
		}
	}
	if (r->kind == FAULT_RESTART) {
		for (size_t i = 0; i < COUNT_OF(fault_restart_forbidden); i++) {
			const struct ynode *key = NULL;
			if (scn_map_get(ld, n, fault_restart_forbidden[i], &key) != NULL) {
				scn_path_join(p, path, fault_restart_forbidden[i]);
				return scn_fail(ld, key, p, "does not apply to a restart, which takes "
				                        "the server down at 'from' for 'duration'");
			}
		}
	}

	if ((v = scn_map_get(ld, n, "op", NULL)) != NULL) {
		scn_path_join(p, path, "op");
		if (!get_op(ld, v, p, r->target, r->op))
			return false;
	}
	/* Kinds that exist for one operation of one server: the pool asked
	 * on acquire; the one unusable success modelled, a customer made at
	 * Stripe whose id is missing from the answer. */
	if (r->kind == FAULT_POOL_EXHAUSTED &&
	    !fault_kind_pinned(ld, n, path, v, r, FAULT_TARGET_POSTGRES, "acquire"))
		return false;
	if (r->kind == FAULT_BAD_REPLY &&
	    !fault_kind_pinned(ld, n, path, v, r, FAULT_TARGET_STRIPE, "customers.create"))
		return false;
	if (r->kind == FAULT_RESTART && strcmp(r->op, "*") != 0) {
		scn_path_join(p, path, "op");
		return scn_fail(ld, v, p, "a restart takes the whole server down; leave op out");
	}

	/* When. */
	const struct ynode *from_key = NULL, *until_key = NULL;
	const struct ynode *win = scn_map_get(ld, n, "window", NULL);
	const struct ynode *from = scn_map_get(ld, n, "from", &from_key);
	const struct ynode *until = scn_map_get(ld, n, "until", &until_key);
	if (win != NULL && (from != NULL || until != NULL)) {
		const struct ynode *k = from != NULL ? from_key : until_key;
		scn_path_join(p, path, from != NULL ? "from" : "until");
		return scn_fail(ld, k, p, "give either window or from/until, not both");
	}
	OPT(get_window, n, path, "window", r);
	OPT(scn_get_duration, n, path, "from", &r->from_us);
	OPT(scn_get_duration, n, path, "until", &r->until_us);
	if (r->from_us >= r->until_us) {
		const struct ynode *at = win != NULL ? win : until;
		scn_path_join(p, path, win != NULL ? "window" : "until");
		return scn_fail(ld, at, p, "the window is empty: from must be before until");
	}

	OPT(scn_get_u32, n, path, "nth", 1, UINT32_MAX, &r->nth);
	OPT(scn_get_bool, n, path, "and_after", &r->and_after);
	const struct ynode *and_after_key = NULL;
	scn_map_get(ld, n, "and_after", &and_after_key);
	if (r->and_after && scn_map_get(ld, n, "nth", NULL) == NULL) {
		scn_path_join(p, path, "and_after");
		return scn_fail(ld, and_after_key, p, "needs nth (the first occurrence that fails)");
	}
	OPT(get_after, n, path, "after", r->after_event);
	OPT(scn_get_number, n, path, "probability", 0.0, 1.0, &r->probability);
	OPT(scn_get_u32, n, path, "max_fires", 0, UINT32_MAX, &r->max_fires);

	/* How. */
	switch (r->kind) {
	case FAULT_SERVER_ERROR:
		return load_server_error(ld, n, path, r);
	case FAULT_LATENCY:
		if (scn_map_get(ld, n, "latency", NULL) == NULL)
			return scn_fail(ld, n, path, "a latency fault needs 'latency'");
		OPT(get_fault_latency, n, path, "latency", r);
		return true;
	case FAULT_STALL:
		OPT(scn_get_bool, n, path, "stall_applied", &r->stall_applied);
		return true;
	case FAULT_CONN_LOST:
		OPT(scn_get_number, n, path, "commit_applied", 0.0, 1.0, &r->commit_applied_p);
		return true;
	case FAULT_RESTART: {
		const struct ynode *pkey = NULL;
		if (scn_map_get(ld, n, "duration", NULL) == NULL)
			return scn_fail(ld, n, path, "a restart needs 'duration' (how long the "
			                         "server stays down)");
		OPT(scn_get_duration_positive, n, path, "duration", &r->duration_us);
		if (scn_map_get(ld, n, "persistence", &pkey) != NULL &&
		    r->target != FAULT_TARGET_REDIS) {
			scn_path_join(p, path, "persistence");
			return scn_fail(ld, pkey, p, "applies only to target redis");
		}
		OPT(scn_get_bool, n, path, "persistence", &r->persistence);
		return true;
	}
	case FAULT_ERROR:
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_TIMEOUT_NOT_APPLIED:
	case FAULT_POOL_EXHAUSTED:
	case FAULT_BAD_REPLY:
		return true;
	case FAULT_KIND_COUNT:
		break;
	}
	ASSERT(!"unknown fault kind");
	return false;
}

static bool load_faults(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	struct fault_plan *plan = &ld->sc->faults;
	if (n->type != YN_SEQ) {
		if (scn_is_null(ld, n))
			return true;
		return scn_fail(ld, n, "faults", "expected a list of fault rules, got %s",
		            scn_show_node(ld, sh, n));
	}
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, n); c != NULL; c = scn_ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		scn_text_printf(path, sizeof path, "faults[%zu]", i);
		if (i == FAULT_RULES_MAX)
			return scn_fail(ld, c, path, "more than %d fault rules", FAULT_RULES_MAX);
		if (!load_fault(ld, c, path, &plan->rules[i]))
			return false;
	}
	plan->nrules = i;
	return true;
}

/* Keys a schedule entry may not carry: it names one operation by its
 * ordinal and fires on it once, whatever the time or chance. */
static const char *const schedule_forbidden[] = {
	"and_after", "window", "from", "until", "after", "probability", "max_fires",
};

/* schedule: [{target, op, nth, kind, ...}]: a fault rule pinned to the nth
 * operation op of its target (the ordinal counts every such operation the
 * run issues), firing exactly once. faultline shrink writes these. */
static bool load_schedule_entry(struct loader *ld, const struct ynode *n, const char *path,
                                struct fault_rule *r)
{
	char p[SCENARIO_PATH_MAX];
	if (n->type == YN_MAP) {
		for (size_t i = 0; i < COUNT_OF(schedule_forbidden); i++) {
			const struct ynode *key = NULL;
			if (scn_map_get(ld, n, schedule_forbidden[i], &key) != NULL) {
				scn_path_join(p, path, schedule_forbidden[i]);
				return scn_fail(ld, key, p, "does not belong in a schedule entry, which "
				                        "fires once on the nth operation (use faults: "
				                        "for rules)");
			}
		}
		if (scn_map_get(ld, n, "op", NULL) == NULL)
			return scn_fail(ld, n, path, "a schedule entry needs 'op' (one operation name)");
		if (scn_map_get(ld, n, "nth", NULL) == NULL)
			return scn_fail(ld, n, path, "a schedule entry needs 'nth' (which occurrence)");
	}
	if (!load_fault(ld, n, path, r))
		return false;
	if (r->kind == FAULT_RESTART) {
		scn_path_join(p, path, "kind");
		return scn_fail(ld, scn_map_get(ld, n, "kind", NULL), p,
		            "a restart is a rule with a time (faults:), not a scheduled operation");
	}
	if (strcmp(r->op, "*") == 0) {
		scn_path_join(p, path, "op");
		return scn_fail(ld, scn_map_get(ld, n, "op", NULL), p,
		            "a schedule entry names one operation, not '*'");
	}
	r->max_fires = 1;
	r->scheduled = true;
	return true;
}

static bool load_schedule(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	struct fault_plan *plan = &ld->sc->faults;
	if (n->type != YN_SEQ) {
		if (scn_is_null(ld, n))
			return true;
		return scn_fail(ld, n, "schedule", "expected a list of scheduled faults, got %s",
		            scn_show_node(ld, sh, n));
	}
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, n); c != NULL; c = scn_ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		scn_text_printf(path, sizeof path, "schedule[%zu]", i);
		if (plan->nrules == FAULT_RULES_MAX)
			return scn_fail(ld, c, path, "more than %d fault rules and scheduled faults",
			            FAULT_RULES_MAX);
		if (!load_schedule_entry(ld, c, path, &plan->rules[plan->nrules]))
			return false;
		plan->nrules++;
	}
	return true;
}

/* ---- the whole file --------------------------------------------------- */

static void scenario_set_defaults(struct scenario *sc)
{
	const uint64_t ms = 1000, s = 1000 * ms, min = 60 * s;
	sc->seeds = 64;
	sc->seed_first = 1;
	sc->duration_us = 3600 * s;
	sc->redis = (struct backend_settings){{100, 1 * ms}, 100 * ms};
	sc->postgres = (struct backend_settings){{200, 2 * ms}, 5 * s};
	sc->stripe = (struct backend_settings){{50 * ms, 300 * ms}, 30 * s};
	sc->mail = (struct backend_settings){{5 * ms, 50 * ms}, 30 * s};
	sc->pg_pool_size = 4;
	sc->ratelimit.users = 1;
	sc->ratelimit.requests_per_user = 10;
	sc->ratelimit.spread_us = 10 * s;
	sc->ratelimit.limit = 5;
	sc->ratelimit.window_us = 60 * s;
	sc->ratelimit.probe_after_window = true;
	sc->ratelimit.fail_open = true;
	sc->dedup.requests = 20;
	sc->dedup.duplicates = 1;
	sc->dedup.spread_us = 10 * s;
	sc->dedup.duplicate_delay_us = 2 * s;
	sc->dedup.ttl_us = 10 * s;
	sc->dedup.instances = 1;
	sc->quote_email.spread_us = 1 * s;
	sc->webhook.events = 5;
	sc->webhook.copies = 2;
	sc->webhook.copy_spread_us = 0;
	sc->webhook.spread_us = 10 * s;
	sc->webhook.retry_us[0] = 1 * min;
	sc->webhook.retry_us[1] = 5 * min;
	sc->webhook.retry_us[2] = 30 * min;
	sc->webhook.nretry = 3;
	sc->webhook.endpoint_timeout_us = 10 * s;
	sc->customer.users = 5;
	sc->customer.concurrent = 2;
	sc->customer.spread_us = 10 * s;
	sc->customer.copy_spread_us = 50 * ms;
}

/* expect_reached: coverage keys (harness/coverage.h), each a cell that
 * exists: a fault of the catalogue, a server answer or an outcome. */
static bool load_expect_reached(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type != YN_SEQ)
		return scn_fail(ld, n, "expect_reached", "expected a list of coverage keys, got %s",
		                scn_show_node(ld, sh, n));
	size_t i = 0;
	for (const struct ynode *c = scn_ychild(ld, n); c != NULL; c = scn_ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		scn_text_printf(path, sizeof path, "expect_reached[%zu]", i);
		if (i == SCENARIO_EXPECT_MAX)
			return scn_fail(ld, c, path, "more than %d entries", SCENARIO_EXPECT_MAX);
		if (!scn_want_scalar(ld, c, path, "a coverage key"))
			return false;
		if (c->text_len >= SCENARIO_EXPECT_KEY_MAX || memchr(scn_ytext(ld, c), '\0', c->text_len) ||
		    !coverage_expect_valid(scn_ytext(ld, c)))
			return scn_fail(ld, c, path, "unknown coverage key %s (expected an outcome such as "
			                "ratelimit.rejected, a fault TARGET.OP:KIND such as "
			                "redis.expire:timeout-applied, or an answer TARGET.OP=CLASS such as "
			                "postgres.customer_insert=23505, each optionally after legacy/, "
			                "seed/ or hardened/)", scn_show_node(ld, sh, c));
		memcpy(ld->sc->expect_reached[i], scn_ytext(ld, c), c->text_len + 1);
	}
	ld->sc->nexpect = i;
	return true;
}

static const char *const top_keys[] = {"name",       "description", "fixes",
                                       "invariants", "seeds",       "seed_first",
                                       "duration",   "backends",    "workload",
                                       "faults",     "swarm",       "expect_reached",
                                       "schedule"};

static bool load_top(struct loader *ld)
{
	struct scenario *sc = ld->sc;
	if (ld->t.root == 0)
		return scn_loader_fail_at(ld, 0, 0, NULL, "the file is empty: expected a mapping "
		                                      "with at least 'fixes'");
	const struct ynode *root = &ld->t.nodes[ld->t.root];
	if (root->type != YN_MAP) {
		char sh[SCENARIO_SHOW_MAX + 8];
		return scn_fail(ld, root, NULL, "expected a mapping at the top of the file, got %s",
		            scn_show_node(ld, sh, root));
	}
	if (!scn_map_check(ld, root, NULL, top_keys, COUNT_OF(top_keys)))
		return false;

	const struct ynode *v = scn_map_get(ld, root, "fixes", NULL);
	if (v == NULL)
		return scn_fail(ld, root, NULL, "missing required key 'fixes'");
	if (!load_fixes(ld, v))
		return false;
	if (!load_name(ld, root))
		return false;
	sc->invariants = INV_ALWAYS;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		if (sc->fixes & FIX_BIT(f))
			sc->invariants |= fix_invariants[f];
	}
	if ((v = scn_map_get(ld, root, "invariants", NULL)) != NULL && !load_invariants(ld, v))
		return false;
	if (!load_seeds(ld, root))
		return false;
	OPT(scn_get_duration_positive, root, NULL, "duration", &sc->duration_us);
	OPT(scn_get_bool, root, NULL, "swarm", &sc->swarm);
	if ((v = scn_map_get(ld, root, "expect_reached", NULL)) != NULL &&
	    !load_expect_reached(ld, v))
		return false;
	/* An empty section (the key with no value) means every default. */
	v = scn_map_get(ld, root, "backends", NULL);
	if (v != NULL && !scn_is_null(ld, v) && !load_backends(ld, v))
		return false;
	v = scn_map_get(ld, root, "workload", NULL);
	if (v != NULL && !scn_is_null(ld, v) && !load_workload(ld, v))
		return false;
	if ((v = scn_map_get(ld, root, "faults", NULL)) != NULL && !load_faults(ld, v))
		return false;
	if ((v = scn_map_get(ld, root, "schedule", NULL)) != NULL && !load_schedule(ld, v))
		return false;

	/* The quote fix has nothing to send without quotes, and no default
	 * would be a fair test of it. */
	if ((sc->fixes & FIX_BIT(FIX_QUOTE_EMAIL)) && sc->quote_email.nquotes == 0)
		return scn_fail(ld, ld->fix_node[FIX_QUOTE_EMAIL], "fixes",
		            "quote-email needs workload.quote-email.quotes (1 to %d quotes)",
		            SCENARIO_QUOTES_MAX);
	return true;
}

enum result scenario_load_buffer(const char *name, const char *buf, size_t len,
                                 struct scenario **out, struct scenario_error *err)
{
	ASSERT(name != NULL);
	ASSERT(buf != NULL || len == 0);
	ASSERT(out != NULL);
	ASSERT(err != NULL);

	struct loader ld = {.file = name, .input = buf, .input_len = len, .rc = RESULT_OK};
	scn_text_printf(ld.err.file, sizeof ld.err.file, "%s", name);
	if (len > SCENARIO_FILE_MAX) {
		scn_loader_fail_at(&ld, 0, 0, NULL, "larger than 1 MiB (%zu bytes)", len);
		*err = ld.err;
		return ld.rc;
	}
	ld.sc = calloc(1, sizeof *ld.sc);
	if (ld.sc == NULL) {
		scn_fail_nomem(&ld);
		*err = ld.err;
		return ld.rc;
	}
	scenario_set_defaults(ld.sc);
	ld.sc->path = strdup(name);
	if (ld.sc->path == NULL)
		scn_fail_nomem(&ld);

	if (ld.rc == RESULT_OK && scn_ytree_build(&ld, buf != NULL ? buf : "", len))
		load_top(&ld);

	free(ld.t.nodes);
	free(ld.t.text);
	if (ld.rc != RESULT_OK) {
		scenario_destroy(ld.sc);
		*err = ld.err;
		return ld.rc;
	}
	ASSERT(ld.sc->fixes != 0);
	ASSERT((ld.sc->invariants & INV_ALWAYS) == INV_ALWAYS);
	ASSERT(scenario_seed_count(ld.sc) > 0);
	*out = ld.sc;
	return RESULT_OK;
}

enum result scenario_load(const char *path, struct scenario **out,
                          struct scenario_error *err)
{
	ASSERT(path != NULL);
	ASSERT(out != NULL);
	ASSERT(err != NULL);

	struct scenario_error e = {.line = 0};
	scn_text_printf(e.file, sizeof e.file, "%s", path);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		scn_text_printf(e.message, sizeof e.message, "cannot open: %s", strerror(errno));
		*err = e;
		return RESULT_REJECT;
	}
	/* One byte more than allowed tells "too large" from "exactly 1 MiB". */
	char *buf = malloc(SCENARIO_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		scn_text_printf(e.message, sizeof e.message, "out of memory");
		*err = e;
		return RESULT_NOMEM;
	}
	size_t len = fread(buf, 1, SCENARIO_FILE_MAX + 1, f);
	int read_errno = ferror(f) ? (errno != 0 ? errno : EIO) : 0;
	fclose(f);
	enum result rc;
	if (read_errno != 0) {
		scn_text_printf(e.message, sizeof e.message, "cannot read: %s", strerror(read_errno));
		*err = e;
		rc = RESULT_REJECT;
	} else if (len > SCENARIO_FILE_MAX) {
		scn_text_printf(e.message, sizeof e.message, "larger than 1 MiB");
		*err = e;
		rc = RESULT_REJECT;
	} else {
		rc = scenario_load_buffer(path, buf, len, out, err);
	}
	free(buf);
	return rc;
}
