/* harness/scenario_write.c - a scenario description as a scenario file:
 * every key written out, durations in their largest exact unit, numbers with
 * enough digits to read back the same double, text double-quoted with YAML
 * escapes for everything that is not printable. The round trip through the
 * loader is tested on the standard suite (tests/harness/check_scenario_write.c). */
#include "harness/scenario_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

/* Writes d as an integer and the largest unit it is an exact multiple of. */
static void put_duration(FILE *out, uint64_t us)
{
	static const struct {
		const char *unit;
		uint64_t us;
	} units[] = {
		{"h", 3600ull * 1000000}, {"m", 60ull * 1000000}, {"s", 1000000},
		{"ms", 1000}, {"us", 1},
	};
	if (us == 0) {
		fputs("0s", out);
		return;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (us % units[i].us == 0) {
			fprintf(out, "%" PRIu64 "%s", us / units[i].us, units[i].unit);
			return;
		}
	}
}

static void put_number(FILE *out, double x)
{
	/* %.17g reads back as the same double; the loader takes 1e-05 too. */
	char buf[40];
	snprintf(buf, sizeof buf, "%.17g", x);
	/* The loader wants a plain decimal: no sign (x >= 0 here). */
	fputs(buf, out);
}

/* Decodes one UTF-8 sequence at s (n bytes left); 0 when not well formed. */
static size_t utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc0 ? 2 : 0;
	if (len == 0 || len > n || s[0] > 0xf4)
		return 0;
	uint32_t c = s[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* A double-quoted YAML scalar holding exactly the bytes s[0..len). Bytes
 * that are not UTF-8 cannot be written (the loader reads UTF-8 text):
 * the caller never has them, since they came through the loader. */
static void put_text(FILE *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', out);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = utf8_len(p + i, len - i, &cp);
		ASSERT(n > 0);
		if (cp == '"' || cp == '\\')
			fprintf(out, "\\%c", (int)cp);
		else if (cp == 0)
			fputs("\\0", out);
		else if (cp == '\n')
			fputs("\\n", out);
		else if (cp == '\r')
			fputs("\\r", out);
		else if (cp == '\t')
			fputs("\\t", out);
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0) || cp == 0x2028 ||
		         cp == 0x2029 || cp == 0xfeff)
			fprintf(out, "\\u%04" PRIx32, cp);
		else
			fwrite(p + i, 1, n, out);
		i += n;
	}
	fputc('"', out);
}

static bool text_is_utf8(const char *s, size_t len)
{
	uint32_t cp;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_len((const unsigned char *)s + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* ", key: value" for quote text: double-quoted text when it is UTF-8,
 * else key_hex with the octets in hex (the loader's form for them). */
static void put_quote_field(FILE *out, const char *key, bool is_null, const char *s,
                            size_t len)
{
	if (is_null) {
		fprintf(out, ", %s: null", key);
	} else if (text_is_utf8(s, len)) {
		fprintf(out, ", %s: ", key);
		put_text(out, s, len);
	} else {
		fprintf(out, ", %s_hex: \"", key);
		for (size_t i = 0; i < len; i++)
			fprintf(out, "%02x", (unsigned char)s[i]);
		fputc('"', out);
	}
}

static void put_cstr(FILE *out, const char *s)
{
	put_text(out, s, strlen(s));
}

static void put_latency(FILE *out, const struct latency *l)
{
	if (l->min_us == l->max_us) {
		put_duration(out, l->min_us);
		return;
	}
	fputc('[', out);
	put_duration(out, l->min_us);
	fputs(", ", out);
	put_duration(out, l->max_us);
	fputc(']', out);
}

static void put_backend(FILE *out, const char *name, const struct backend_settings *b,
                        const struct scenario *sc)
{
	fprintf(out, "  %s:%*s{latency: ", name, (int)(9 - strlen(name)), "");
	put_latency(out, &b->latency);
	fputs(", timeout: ", out);
	put_duration(out, b->timeout_us);
	if (b == &sc->postgres)
		fprintf(out, ", pool: %" PRIu32, sc->pg_pool_size);
	fputs("}\n", out);
}

static void put_bool(FILE *out, const char *key, bool v)
{
	fprintf(out, ", %s: %s", key, v ? "true" : "false");
}

static void put_dur_key(FILE *out, const char *key, uint64_t us)
{
	fprintf(out, ", %s: ", key);
	put_duration(out, us);
}

static void put_workload(FILE *out, const struct scenario *sc)
{
	fputs("workload:\n", out);
	if (sc->fixes & (1u << FIX_RATELIMIT)) {
		fprintf(out, "  ratelimit: {users: %" PRIu32 ", requests_per_user: %" PRIu32,
		        sc->ratelimit.users, sc->ratelimit.requests_per_user);
		put_dur_key(out, "spread", sc->ratelimit.spread_us);
		fprintf(out, ", limit: %" PRIu32, sc->ratelimit.limit);
		put_dur_key(out, "window", sc->ratelimit.window_us);
		put_bool(out, "probe_after_window", sc->ratelimit.probe_after_window);
		put_bool(out, "fail_open", sc->ratelimit.fail_open);
		if (sc->ratelimit.interval_us > 0)
			put_dur_key(out, "interval", sc->ratelimit.interval_us);
		put_bool(out, "boundary", sc->ratelimit.boundary);
		if (sc->ratelimit.user_id_octets > 0)
			fprintf(out, ", user_id_octets: %" PRIu32, sc->ratelimit.user_id_octets);
		if (sc->ratelimit.invalid_ids)
			put_bool(out, "invalid_ids", true);
		fputs("}\n", out);
	}
	if (sc->fixes & (1u << FIX_DEDUP)) {
		fprintf(out, "  request-dedup: {requests: %" PRIu32 ", duplicates: %" PRIu32,
		        sc->dedup.requests, sc->dedup.duplicates);
		put_dur_key(out, "spread", sc->dedup.spread_us);
		put_dur_key(out, "duplicate_delay", sc->dedup.duplicate_delay_us);
		put_dur_key(out, "ttl", sc->dedup.ttl_us);
		fprintf(out, ", instances: %" PRIu32, sc->dedup.instances);
		if (sc->dedup.key_octets > 0)
			fprintf(out, ", key_octets: %" PRIu32, sc->dedup.key_octets);
		if (sc->dedup.bad_keys > 0)
			fprintf(out, ", bad_keys: %" PRIu32, sc->dedup.bad_keys);
		fputs("}\n", out);
	}
	if (sc->fixes & (1u << FIX_QUOTE_EMAIL)) {
		fputs("  quote-email:\n    spread: ", out);
		put_duration(out, sc->quote_email.spread_us);
		fputs("\n    quotes:\n", out);
		for (size_t i = 0; i < sc->quote_email.nquotes; i++) {
			const struct quote_spec *q = &sc->quote_email.quotes[i];
			fputs("      - {ref: ", out);
			put_cstr(out, q->ref);
			put_quote_field(out, "name", q->name_null, q->name, q->name_len);
			put_quote_field(out, "email", q->email_null, q->email, q->email_len);
			if (q->clicks > 1)
				fprintf(out, ", clicks: %" PRIu32, q->clicks);
			fprintf(out, ", sends: %" PRIu32 ", expect: %s}\n", q->sends,
			        q->expect < 0 ? "oracle" : q->expect == 0 ? "reject" : "send");
		}
	}
	if (sc->fixes & (1u << FIX_WEBHOOK)) {
		fprintf(out, "  webhook: {events: %" PRIu32 ", copies: %" PRIu32,
		        sc->webhook.events, sc->webhook.copies);
		put_dur_key(out, "copy_spread", sc->webhook.copy_spread_us);
		put_dur_key(out, "spread", sc->webhook.spread_us);
		fputs(", retries: [", out);
		for (size_t i = 0; i < sc->webhook.nretry; i++) {
			if (i > 0)
				fputs(", ", out);
			put_duration(out, sc->webhook.retry_us[i]);
		}
		fputc(']', out);
		put_dur_key(out, "endpoint_timeout", sc->webhook.endpoint_timeout_us);
		fprintf(out, ", bad_signatures: %" PRIu32 ", stale_signatures: %" PRIu32,
		        sc->webhook.bad_signatures, sc->webhook.stale_signatures);
		fprintf(out, ", second_events: %" PRIu32 ", other_types: %" PRIu32
		        ", unknown_orders: %" PRIu32 ", signatures: %" PRIu32 ", payloads: %" PRIu32
		        "}\n", sc->webhook.second_events, sc->webhook.other_types,
		        sc->webhook.unknown_orders, sc->webhook.signatures, sc->webhook.payloads);
	}
	if (sc->fixes & (1u << FIX_CUSTOMER)) {
		fprintf(out, "  stripe-customer: {users: %" PRIu32 ", concurrent: %" PRIu32,
		        sc->customer.users, sc->customer.concurrent);
		put_dur_key(out, "spread", sc->customer.spread_us);
		put_dur_key(out, "copy_spread", sc->customer.copy_spread_us);
		fprintf(out, ", existing: %" PRIu32, sc->customer.existing);
		put_dur_key(out, "start", sc->customer.start_us);
		fprintf(out, ", no_email: %" PRIu32 ", shared_email: %" PRIu32,
		        sc->customer.no_email, sc->customer.shared_email);
		put_bool(out, "invalid_ids", sc->customer.invalid_ids);
		put_dur_key(out, "again", sc->customer.again_us);
		if (sc->customer.user_id_octets > 0)
			fprintf(out, ", user_id_octets: %" PRIu32, sc->customer.user_id_octets);
		fputs("}\n", out);
	}
}

static void put_fault_latency(FILE *out, const struct fault_rule *r)
{
	fputs(", latency: ", out);
	switch (r->dist) {
	case FAULT_DIST_FIXED:
		put_duration(out, r->latency_us);
		return;
	case FAULT_DIST_UNIFORM:
		fputc('[', out);
		put_duration(out, r->latency_us);
		fputs(", ", out);
		put_duration(out, r->latency_max_us);
		fputc(']', out);
		return;
	case FAULT_DIST_PARETO:
		fputs("{pareto: ", out);
		put_duration(out, r->latency_us);
		fputs(", alpha: ", out);
		put_number(out, r->pareto_alpha);
		fputs(", max: ", out);
		put_duration(out, r->latency_max_us);
		fputc('}', out);
		return;
	}
	ASSERT(!"unknown latency distribution");
}

static void put_fault(FILE *out, const struct fault_rule *r)
{
	fprintf(out, "  - {target: %s, kind: %s", fault_target_name(r->target),
	        fault_kind_name(r->kind));
	if (r->kind == FAULT_RESTART) {
		put_dur_key(out, "from", r->from_us);
		put_dur_key(out, "duration", r->duration_us);
		if (r->target == FAULT_TARGET_REDIS)
			put_bool(out, "persistence", r->persistence);
		fputs("}\n", out);
		return;
	}
	fputs(", op: ", out);
	put_cstr(out, r->op);
	if (r->nth > 0) {
		fprintf(out, ", nth: %" PRIu32, r->nth);
		if (r->and_after)
			put_bool(out, "and_after", true);
	}
	if (r->from_us > 0 || r->until_us != UINT64_MAX) {
		if (r->until_us == UINT64_MAX) {
			put_dur_key(out, "from", r->from_us);
		} else {
			fputs(", window: [", out);
			put_duration(out, r->from_us);
			fputs(", ", out);
			put_duration(out, r->until_us);
			fputc(']', out);
		}
	}
	if (r->after_event[0] != '\0') {
		fputs(", after: ", out);
		put_cstr(out, r->after_event);
	}
	if (r->probability != 1.0) {
		fputs(", probability: ", out);
		put_number(out, r->probability);
	}
	if (r->max_fires > 0 && !r->scheduled)
		fprintf(out, ", max_fires: %" PRIu32, r->max_fires);
	switch (r->kind) {
	case FAULT_SERVER_ERROR:
		if (r->error[0] != '\0') {
			fputs(", error: ", out);
			put_cstr(out, r->error);
		}
		if (r->status != 0)
			fprintf(out, ", status: %d", r->status);
		break;
	case FAULT_LATENCY:
		put_fault_latency(out, r);
		break;
	case FAULT_STALL:
		put_bool(out, "stall_applied", r->stall_applied);
		break;
	case FAULT_CONN_LOST:
		fputs(", commit_applied: ", out);
		put_number(out, r->commit_applied_p);
		break;
	default:
		break;
	}
	fputs("}\n", out);
}

static void put_comment(FILE *out, const char *comment)
{
	if (comment == NULL)
		return;
	const char *p = comment;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		fprintf(out, "#%s%.*s\n", n > 0 ? " " : "", (int)n, p);
		p += n + (nl != NULL);
	}
}

enum result scenario_write(const struct scenario *sc, const char *comment, FILE *out)
{
	ASSERT(sc != NULL);
	ASSERT(out != NULL);
	put_comment(out, comment);
	fputs("name: ", out);
	put_cstr(out, sc->name);
	fputs("\ndescription: ", out);
	put_cstr(out, sc->description != NULL ? sc->description : "");
	fputs("\nfixes: [", out);
	bool first = true;
	for (int f = 0; f < FIX_COUNT; f++) {
		if (sc->fixes & (1u << f)) {
			fprintf(out, "%s%s", first ? "" : ", ", fix_name((enum fix_id)f));
			first = false;
		}
	}
	fputs("]\ninvariants: [", out);
	first = true;
	for (int i = 0; i < INV_COUNT; i++) {
		if (sc->invariants & (1u << i)) {
			fprintf(out, "%s%s", first ? "" : ", ", invariant_name((enum invariant_id)i));
			first = false;
		}
	}
	fputs("]\n", out);
	if (sc->seed_list != NULL) {
		fputs("seeds: [", out);
		for (size_t i = 0; i < sc->nseed_list; i++)
			fprintf(out, "%s%" PRIu64, i ? ", " : "", sc->seed_list[i]);
		fputs("]\n", out);
	} else {
		fprintf(out, "seeds: %" PRIu32 "\nseed_first: %" PRIu64 "\n", sc->seeds,
		        sc->seed_first);
	}
	if (sc->nexpect > 0) {
		fputs("expect_reached: [", out);
		for (size_t i = 0; i < sc->nexpect; i++) {
			if (i > 0)
				fputs(", ", out);
			put_cstr(out, sc->expect_reached[i]);
		}
		fputs("]\n", out);
	}
	fputs("duration: ", out);
	put_duration(out, sc->duration_us);
	fputs("\nbackends:\n", out);
	put_backend(out, "redis", &sc->redis, sc);
	put_backend(out, "postgres", &sc->postgres, sc);
	put_backend(out, "stripe", &sc->stripe, sc);
	put_backend(out, "mail", &sc->mail, sc);
	put_workload(out, sc);
	size_t nsched = 0;
	for (size_t i = 0; i < sc->faults.nrules; i++)
		nsched += sc->faults.rules[i].scheduled;
	if (sc->faults.nrules == nsched) {
		fputs("faults: []\n", out);
	} else {
		fputs("faults:\n", out);
		for (size_t i = 0; i < sc->faults.nrules; i++) {
			if (!sc->faults.rules[i].scheduled)
				put_fault(out, &sc->faults.rules[i]);
		}
	}
	/* The loader appends the schedule after the rules, so a plan whose
	 * scheduled entries all come last reads back in the same order. */
	if (nsched > 0) {
		fputs("schedule:\n", out);
		for (size_t i = 0; i < sc->faults.nrules; i++) {
			if (sc->faults.rules[i].scheduled)
				put_fault(out, &sc->faults.rules[i]);
		}
	}
	return ferror(out) ? RESULT_ERROR : RESULT_OK;
}

enum result scenario_write_text(const struct scenario *sc, const char *comment,
                                char **text, size_t *len)
{
	ASSERT(text != NULL);
	ASSERT(len != NULL);
	char *buf = NULL;
	size_t n = 0;
	FILE *out = open_memstream(&buf, &n);
	if (out == NULL)
		return RESULT_NOMEM;
	enum result rc = scenario_write(sc, comment, out);
	if (fclose(out) != 0 || rc != RESULT_OK) {
		free(buf);
		return RESULT_NOMEM;
	}
	*text = buf;
	*len = n;
	return RESULT_OK;
}
