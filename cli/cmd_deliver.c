/* cli/cmd_deliver.c - `faultline deliver`: options, the run of
 * live/deliver.c against the user's endpoint, the judgement of its answers
 * and the reports. Exit 0 every rule held, 1 the endpoint broke one,
 * 2 usage, 3 the endpoint never answered. */
#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <libfyaml.h>

#include "cli/cli.h"
#include "live/deliver.h"
#include "live/deliver_sql.h"
#include "reports/report.h"
#include "reports/report_files.h"

#define DELIVER_SECRET_ENV "FAULTLINE_WEBHOOK_SECRET"

struct deliver_check {
	char name[128];
	char sql[DELIVER_SQL_MAX + 1];
	char expect[128];
	bool per_event;
};

struct deliver_opts {
	const char *to, *secret, *events_file, *report_dir, *database, *scenario;
	struct deliver_check checks[DELIVER_CHECKS_MAX];
	unsigned nchecks;
	struct deliver_plan_cfg plan;
	unsigned intents;
	bool refunds;
	double time_scale;
	long timeout_ms;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: faultline deliver --to URL --secret S [OPTIONS]\n"
	        "\n"
	        "Sends signed Stripe events to your webhook endpoint the way Stripe does\n"
	        "at its worst and judges the endpoint by its answers: every valid delivery\n"
	        "is eventually answered 2xx, every stale or badly signed one 4xx, and no\n"
	        "duplicate of an applied event 5xx. See docs/deliver.md.\n"
	        "\n"
	        "      --to URL              the endpoint (http or https)\n"
	        "      --secret S            its signing secret (or $%s)\n"
	        "      --events FILE         real events (a JSON array or an events list)\n"
	        "                            instead of built ones\n"
	        "      --intents N           payment intents built (default 3)\n"
	        "      --refunds             also build charge.refunded\n"
	        "      --copies N            concurrent copies of each delivery (default 2)\n"
	        "      --duplicates N        later copies of each event (default 1)\n"
	        "      --duplicate-after S   Stripe seconds between them (default 300)\n"
	        "      --reorder             an object's later events before its earlier\n"
	        "      --stale N             events that also get a stale signature (1)\n"
	        "      --bad-signatures N    events that also get a wrong signature (1)\n"
	        "      --retries N           retries of non-2xx answers (default 12; Stripe:\n"
	        "                            back-off for 3 days)\n"
	        "      --time-scale X        Stripe seconds per real second (default 3600)\n"
	        "      --timeout-ms MS       per attempt (default 10000)\n"
	        "      --seed N              names the objects and orders the plan (1)\n"
	        "      --report DIR          report.json, junit.xml, report.md, report.html\n"
	        "      --scenario FILE       a YAML file with a deliver: section (the options\n"
	        "                            above, flags win) and checks: on your database\n"
	        "      --database CONN       libpq conninfo the checks run on\n"
	        "  -h, --help                this help\n"
	        "\n"
	        "Exit status: 0 every rule held, 1 the endpoint broke one, 2 bad usage,\n"
	        "3 the endpoint could not be reached.\n", DELIVER_SECRET_ENV);
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static int parse_opts(int argc, char **argv, struct deliver_opts *o)
{
	enum { O_TO = 256, O_SECRET, O_EVENTS, O_INTENTS, O_REFUNDS, O_COPIES,
	       O_DUPS, O_DUP_AFTER, O_REORDER, O_STALE, O_BAD, O_RETRIES,
	       O_SCALE, O_TIMEOUT, O_SEED, O_REPORT, O_SCENARIO, O_DATABASE };
	static const struct option longs[] = {
		{"to", required_argument, NULL, O_TO},
		{"secret", required_argument, NULL, O_SECRET},
		{"events", required_argument, NULL, O_EVENTS},
		{"intents", required_argument, NULL, O_INTENTS},
		{"refunds", no_argument, NULL, O_REFUNDS},
		{"copies", required_argument, NULL, O_COPIES},
		{"duplicates", required_argument, NULL, O_DUPS},
		{"duplicate-after", required_argument, NULL, O_DUP_AFTER},
		{"reorder", no_argument, NULL, O_REORDER},
		{"stale", required_argument, NULL, O_STALE},
		{"bad-signatures", required_argument, NULL, O_BAD},
		{"retries", required_argument, NULL, O_RETRIES},
		{"time-scale", required_argument, NULL, O_SCALE},
		{"timeout-ms", required_argument, NULL, O_TIMEOUT},
		{"seed", required_argument, NULL, O_SEED},
		{"report", required_argument, NULL, O_REPORT},
		{"scenario", required_argument, NULL, O_SCENARIO},
		{"database", required_argument, NULL, O_DATABASE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	unsigned u;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		bool ok = true;
		switch (c) {
		case O_TO: o->to = optarg; break;
		case O_SECRET: o->secret = optarg; break;
		case O_EVENTS: o->events_file = optarg; break;
		case O_REPORT: o->report_dir = optarg; break;
		case O_SCENARIO: break;            /* read before the flags */
		case O_DATABASE: o->database = optarg; break;
		case O_REFUNDS: o->refunds = true; break;
		case O_REORDER: o->plan.reorder = true; break;
		case O_INTENTS: ok = parse_uint(optarg, DELIVER_INTENTS_MAX, &o->intents) &&
		                     o->intents > 0; break;
		case O_COPIES: ok = parse_uint(optarg, DELIVER_COPIES_MAX, &o->plan.copies) &&
		                    o->plan.copies > 0; break;
		case O_DUPS: ok = parse_uint(optarg, DELIVER_DUPLICATES_MAX, &o->plan.duplicates); break;
		case O_DUP_AFTER: ok = parse_uint(optarg, 7 * 86400, &u);
		                  o->plan.duplicate_after_s = u; break;
		case O_STALE: ok = parse_uint(optarg, DELIVER_EVENTS_MAX, &o->plan.stale); break;
		case O_BAD: ok = parse_uint(optarg, DELIVER_EVENTS_MAX, &o->plan.bad_signatures); break;
		case O_RETRIES: ok = parse_uint(optarg, DELIVER_RETRIES_MAX, &o->plan.retries_max); break;
		case O_TIMEOUT: ok = parse_uint(optarg, 600000, &u) && u > 0;
		                o->timeout_ms = u; break;
		case O_SEED: ok = parse_uint(optarg, 0xffffffffu, &u); o->plan.seed = u; break;
		case O_SCALE: {
			char *end;
			o->time_scale = strtod(optarg, &end);
			ok = end != optarg && *end == '\0' && o->time_scale >= 1.0 &&
			     o->time_scale <= 1e9;
			break;
		}
		case 'h': usage(stdout); return EXIT_HELD;
		default: usage(stderr); return EXIT_USAGE;
		}
		if (!ok) {
			fprintf(stderr, "faultline deliver: bad value '%s' for --%s (see --help)\n",
			        optarg, longs[c - O_TO].name);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "faultline deliver: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

/* What the flags and the scenario must give together. */
static int check_opts(struct deliver_opts *o)
{
	if (o->nchecks > 0 && o->database == NULL) {
		fprintf(stderr, "faultline deliver: %s declares checks: want --database CONN\n",
		        o->scenario);
		return EXIT_USAGE;
	}
	if (o->secret == NULL)
		o->secret = getenv(DELIVER_SECRET_ENV);
	if (o->to == NULL || o->secret == NULL || o->secret[0] == '\0') {
		fprintf(stderr, "faultline deliver: want --to URL and --secret S (or $%s)\n",
		        DELIVER_SECRET_ENV);
		return EXIT_USAGE;
	}
	if (strncmp(o->to, "http://", 7) != 0 && strncmp(o->to, "https://", 8) != 0) {
		fprintf(stderr, "faultline deliver: --to wants an http:// or https:// URL, not '%s'\n",
		        o->to);
		return EXIT_USAGE;
	}
	return -1;
}


/* The deliver: keys are the long options with '_' for '-'; each value goes
 * through the same parser as its flag, so the rules are the same. */
static const char *yaml_scalar(struct fy_node *n)
{
	return n != NULL && fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
}

static int yaml_fail(const char *path, struct fy_node *n, const char *what)
{
	struct fy_token *t = n != NULL && fy_node_is_scalar(n) ? fy_node_get_scalar_token(n) : NULL;
	const struct fy_mark *m = t != NULL ? fy_token_start_mark(t) : NULL;
	char *where = n != NULL ? fy_node_get_path(n) : NULL;
	if (m != NULL)
		fprintf(stderr, "faultline deliver: %s:%d:%d: %s\n", path, m->line + 1,
		        m->column + 1, what);
	else
		fprintf(stderr, "faultline deliver: %s: at %s: %s\n", path,
		        where != NULL ? where : "/", what);
	free(where);
	return EXIT_USAGE;
}

static int load_checks(const char *path, struct fy_node *list, struct deliver_opts *o)
{
	if (!fy_node_is_sequence(list))
		return yaml_fail(path, list, "checks: wants a list of {name, sql, expect}");
	void *it = NULL;
	struct fy_node *c;
	while ((c = fy_node_sequence_iterate(list, &it)) != NULL) {
		if (o->nchecks >= DELIVER_CHECKS_MAX)
			return yaml_fail(path, c, "too many checks");
		const char *sql = yaml_scalar(fy_node_mapping_lookup_by_string(c, "sql", FY_NT));
		const char *expect = yaml_scalar(fy_node_mapping_lookup_by_string(c, "expect", FY_NT));
		const char *name = yaml_scalar(fy_node_mapping_lookup_by_string(c, "name", FY_NT));
		if (!fy_node_is_mapping(c) || sql == NULL || expect == NULL)
			return yaml_fail(path, c, "a check wants sql: and expect: scalars");
		struct deliver_check *k = &o->checks[o->nchecks++];
		if (strlen(sql) > DELIVER_SQL_MAX || strlen(expect) >= sizeof k->expect)
			return yaml_fail(path, c, "sql: or expect: too long");
		snprintf(k->sql, sizeof k->sql, "%s", sql);
		snprintf(k->expect, sizeof k->expect, "%s", expect);
		snprintf(k->name, sizeof k->name, "sql: %s", name != NULL ? name : sql);
	}
	return -1;
}

/* Turns the deliver: mapping into "--key value" arguments in args (the
 * strings live in the document) and parses them with the flags' parser. */
static int load_scenario(const char *path, struct deliver_opts *o)
{
	struct fy_document *doc = fy_document_build_from_file(NULL, path);
	if (doc == NULL) {
		fprintf(stderr, "faultline deliver: %s: not a readable YAML file\n", path);
		return EXIT_USAGE;
	}
	int rc = -1;
	o->scenario = path;
	struct fy_node *root = fy_document_root(doc);
	struct fy_node *sec = root != NULL ? fy_node_mapping_lookup_by_string(root, "deliver", FY_NT) : NULL;
	struct fy_node *checks = root != NULL ? fy_node_mapping_lookup_by_string(root, "checks", FY_NT) : NULL;
	if (root == NULL || !fy_node_is_mapping(root) || (sec == NULL && checks == NULL)) {
		rc = yaml_fail(path, root, "want a mapping with deliver: and/or checks:");
		goto out;
	}
	if (checks != NULL && (rc = load_checks(path, checks, o)) >= 0)
		goto out;
	if (sec != NULL) {
		if (!fy_node_is_mapping(sec)) {
			rc = yaml_fail(path, sec, "deliver: wants a mapping");
			goto out;
		}
		static char keys[64][40];
		char *args[2 * 64 + 1];
		int n = 0, nk = 0;
		args[n++] = "deliver";
		void *it = NULL;
		struct fy_node_pair *pair;
		while ((pair = fy_node_mapping_iterate(sec, &it)) != NULL && nk < 63) {
			const char *k = yaml_scalar(fy_node_pair_key(pair));
			const char *v = yaml_scalar(fy_node_pair_value(pair));
			if (k == NULL || v == NULL || strlen(k) + 3 > sizeof keys[0]) {
				rc = yaml_fail(path, fy_node_pair_key(pair), "want key: scalar");
				goto out;
			}
			char *flag = keys[nk++];
			snprintf(flag, sizeof keys[0], "--%s", k);
			for (char *c = flag; *c != '\0'; c++)
				*c = *c == '_' ? '-' : *c;
			bool on = strcmp(v, "true") == 0, off = strcmp(v, "false") == 0;
			if (strcmp(k, "reorder") == 0 || strcmp(k, "refunds") == 0) {
				if (!on && !off) {
					rc = yaml_fail(path, fy_node_pair_value(pair), "want true or false");
					goto out;
				}
				if (on)
					args[n++] = flag;
				continue;
			}
			if (strcmp(k, "to") == 0 || strcmp(k, "secret") == 0 || strcmp(k, "database") == 0 ||
			    strcmp(k, "report") == 0 || strcmp(k, "scenario") == 0) {
				rc = yaml_fail(path, fy_node_pair_key(pair),
				               "where and with what secret to deliver are flags, not scenario keys");
				goto out;
			}
			args[n++] = flag;
			args[n++] = (char *)v;
		}
		args[n] = NULL;
		rc = parse_opts(n, args, o);
		if (rc == EXIT_USAGE)
			fprintf(stderr, "faultline deliver: in %s (deliver:)\n", path);
	}
out:
	fy_document_destroy(doc);
	return rc;
}

/* One rule over the answers: how many deliveries broke it and the first. */
struct rule {
	const char *name;
	uint64_t broken;
	char first[512];
	size_t first_event;
};

static void rule_break(struct rule *r, size_t event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void rule_break(struct rule *r, size_t event, const char *fmt, ...)
{
	if (r->broken++ > 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->first, sizeof r->first, fmt, ap);
	va_end(ap);
	r->first_event = event;
}

enum { RULE_ACKED, RULE_BAD_SIG, RULE_STALE, RULE_DUP, RULE_COUNT };

static bool judge(const struct deliver *d, const struct deliver_events *ev,
                  const struct deliver_plan *plan, struct rule *rules)
{
	size_t n = deliver_plan_count(plan);
	long *last = calloc(n, sizeof *last);
	if (last == NULL)
		return false;
	for (size_t i = 0; i < deliver_answers(d); i++) {
		const struct deliver_answer *a = deliver_answer_get(d, i);
		const struct deliver_send *s = deliver_plan_get(plan, a->send);
		const struct deliver_event *e = deliver_events_get(ev, s->event);
		last[a->send] = a->status;
		if (s->kind == DELIVER_BAD_SIG && !(a->status >= 400 && a->status <= 499))
			rule_break(&rules[RULE_BAD_SIG], s->event,
			           "%s %s with a wrong signature answered %ld, want 4xx",
			           e->id, e->type, a->status);
		if (s->kind == DELIVER_STALE && !(a->status >= 400 && a->status <= 499))
			rule_break(&rules[RULE_STALE], s->event,
			           "%s %s signed past the tolerance answered %ld, want 4xx",
			           e->id, e->type, a->status);
		if (deliver_kind_is_valid(s->kind) && a->after_applied && a->status >= 500)
			rule_break(&rules[RULE_DUP], s->event,
			           "%s %s already applied, its %s copy answered %ld",
			           e->id, e->type, deliver_kind_name(s->kind), a->status);
	}
	for (size_t i = 0; i < n; i++) {
		const struct deliver_send *s = deliver_plan_get(plan, i);
		const struct deliver_event *e = deliver_events_get(ev, s->event);
		if (deliver_kind_is_valid(s->kind) && !(last[i] >= 200 && last[i] <= 299))
			rule_break(&rules[RULE_ACKED], s->event,
			           "%s %s (%s copy %u) never answered 2xx; last answer %ld",
			           e->id, e->type, deliver_kind_name(s->kind), s->copy, last[i]);
	}
	free(last);
	return true;
}

#define TRY(x) do { if ((x) != RESULT_OK) goto nomem; } while (0)

static void replay_line(const struct deliver_opts *o, char *out, size_t size)
{
	snprintf(out, size,
	         "faultline deliver --to %s --secret \"$%s\" --seed %llu --copies %u "
	         "--duplicates %u --duplicate-after %lld%s --stale %u --bad-signatures %u "
	         "--retries %u --time-scale %g%s%s%s%s%s",
	         o->to, DELIVER_SECRET_ENV, (unsigned long long)o->plan.seed, o->plan.copies,
	         o->plan.duplicates, (long long)o->plan.duplicate_after_s,
	         o->plan.reorder ? " --reorder" : "", o->plan.stale, o->plan.bad_signatures,
	         o->plan.retries_max, o->time_scale,
	         o->events_file != NULL ? " --events " : "",
	         o->events_file != NULL ? o->events_file : "",
	         o->refunds ? " --refunds" : "", o->scenario != NULL ? " --scenario " : "",
	         o->scenario != NULL ? o->scenario : "");
}

/* The timeline of one event's deliveries, for a broken rule. */
static enum result add_timeline(struct report_invariant *inv, const struct deliver *d,
                                const struct deliver_events *ev,
                                const struct deliver_plan *plan, size_t event)
{
	for (size_t i = 0; i < deliver_answers(d); i++) {
		const struct deliver_answer *a = deliver_answer_get(d, i);
		const struct deliver_send *s = deliver_plan_get(plan, a->send);
		if (deliver_events_get(ev, s->event)->object !=
		    deliver_events_get(ev, event)->object)
			continue;
		const struct deliver_event *e = deliver_events_get(ev, s->event);
		char label[256];
		if (a->status != 0)
			snprintf(label, sizeof label, "%s %s %s#%u try %u -> %ld", e->type, e->id,
			         deliver_kind_name(s->kind), s->copy, a->attempt, a->status);
		else
			snprintf(label, sizeof label, "%s %s %s#%u try %u -> %s", e->type, e->id,
			         deliver_kind_name(s->kind), s->copy, a->attempt, a->error);
		enum result rc = report_invariant_add_event(inv, a->sent_us, "webhook", label);
		if (rc != RESULT_OK)
			return rc;
	}
	return RESULT_OK;
}

static int write_report(const struct deliver_opts *o, const struct deliver *d,
                        const struct deliver_events *ev, const struct deliver_plan *plan,
                        struct rule *rules, size_t nrules, bool exercised)
{
	struct report *r = report_create(FAULTLINE_VERSION, "live");
	struct report_result *res = NULL;
	char replay[2048];
	replay_line(o, replay, sizeof replay);
	if (r == NULL)
		goto nomem;
	TRY(report_add_variant(r, "endpoint"));
	TRY(report_add_result(r, "deliver", o->to, "webhook", "endpoint", &res));
	report_result_count_seed(res, o->plan.seed);
	res->exercised = exercised;
	if (!exercised)
		TRY(report_result_set_not_exercised(res, "the endpoint answered nothing"));
	for (size_t i = 0; i < deliver_answers(d); i++) {
		const struct deliver_answer *a = deliver_answer_get(d, i);
		char name[32];
		if (a->status == 0)
			snprintf(name, sizeof name, "no-answer");
		else
			snprintf(name, sizeof name, "%ldxx", a->status / 100);
		TRY(report_result_add_outcome(res, name, 1));
		TRY(report_result_add_fault(res, deliver_kind_name(
			deliver_plan_get(plan, a->send)->kind), 1));
		report_result_add_latency(res, a->took_us);
	}
	for (size_t k = 0; k < nrules; k++) {
		struct report_invariant *inv;
		TRY(report_result_add_invariant(res, rules[k].name, &inv));
		if (rules[k].broken == 0)
			continue;
		char msg[700];
		snprintf(msg, sizeof msg, "%s (%llu in all)", rules[k].first,
		         (unsigned long long)rules[k].broken);
		bool first;
		TRY(report_invariant_add_violation(inv, o->plan.seed, 0, msg, replay, &first));
		if (first)
			TRY(add_timeline(inv, d, ev, plan, rules[k].first_event));
	}
	/* The verdict of a delivery run: every rule held and the endpoint
	 * answered; each broken rule is a reason (the report's writers only
	 * show what is stored). */
	size_t broken = 0;
	for (size_t k = 0; k < nrules; k++) {
		if (rules[k].broken == 0)
			continue;
		char why[300];
		snprintf(why, sizeof why, "the endpoint broke %s", rules[k].name);
		TRY(report_add_reason(r, "violated", why, "deliver", "endpoint", rules[k].name, "webhook"));
		broken++;
	}
	if (!exercised)
		TRY(report_add_reason(r, "not-exercised", "the endpoint answered nothing", "deliver",
		                      "endpoint", NULL, "webhook"));
	char headline[300];
	if (r->nreasons == 0)
		snprintf(headline, sizeof headline, "the endpoint held all %zu rules", nrules);
	else
		snprintf(headline, sizeof headline, "%s", r->reasons[0].text);
	TRY(report_set_verdict(r, r->nreasons == 0, headline));
	(void)broken;
	char err[512];
	if (report_write_all(r, o->report_dir, err, sizeof err) != RESULT_OK) {
		fprintf(stderr, "faultline deliver: %s\n", err);
		report_destroy(r);
		return EXIT_USAGE;
	}
	report_destroy(r);
	return EXIT_HELD;

nomem:
	report_destroy(r);
	fprintf(stderr, "faultline deliver: out of memory writing the report\n");
	return EXIT_USAGE;
}

/* The user's checks, after the faults stop and the retries drain: each
 * once per delivered object (or event when it names :event). */
static void run_checks(const struct deliver_opts *o, struct deliver_sql *db,
                       const struct deliver_events *ev, struct rule *rules)
{
	for (unsigned k = 0; k < o->nchecks; k++) {
		const struct deliver_check *c = &o->checks[k];
		struct rule *r = &rules[k];
		r->name = c->name;
		size_t n = c->per_event ? deliver_events_count(ev) : deliver_events_objects(ev);
		for (size_t i = 0; i < n; i++) {
			const struct deliver_event *e = c->per_event ? deliver_events_get(ev, i) :
			                                deliver_events_of_object(ev, i);
			/* The event whose timeline the report shows. (A pointer
			 * difference here counted in events where the array holds
			 * larger slots, and read past the end for a late object.) */
			size_t at = c->per_event ? i : deliver_events_first_of_object(ev, i);
			char got[256], err[512];
			if (deliver_sql_run(db, k, e->intent, e->id, e->order, got, sizeof got,
			                    err, sizeof err) != RESULT_OK)
				rule_break(r, at, "%s failed: %s", c->sql, err);
			else if (strcmp(got, c->expect) != 0)
				rule_break(r, at,
				           "%s with intent=%s event=%s order=%s gave %s, want %s",
				           c->sql, e->intent, e->id, e->order, got, c->expect);
		}
	}
}

static const char *const rule_names[RULE_COUNT] = {
	[RULE_ACKED] = "valid-delivery-acknowledged",
	[RULE_BAD_SIG] = "bad-signature-refused",
	[RULE_STALE] = "stale-signature-refused",
	[RULE_DUP] = "duplicate-not-5xx",
};

int cmd_deliver(int argc, char **argv)
{
	struct deliver_opts o = {
		.plan = { .seed = 1, .copies = 2, .duplicates = 1, .duplicate_after_s = 300,
		          .stale = 1, .bad_signatures = 1, .spacing_ms = 1000,
		          .retries_max = 12 },
		.intents = 3, .time_scale = 3600, .timeout_ms = 10000,
	};
	int rc = -1;
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "--scenario") == 0)
			rc = load_scenario(argv[i + 1], &o);
	if (rc < 0)
		rc = parse_opts(argc, argv, &o);
	if (rc < 0)
		rc = check_opts(&o);
	if (rc >= 0)
		return rc;
	struct deliver_sql *db = NULL;
	if (o.database != NULL) {
		char dberr[512];
		if (deliver_sql_open(o.database, &db, dberr, sizeof dberr) != RESULT_OK) {
			fprintf(stderr, "faultline deliver: database unreachable: %s\n", dberr);
			return EXIT_UNREACHABLE;
		}
		for (unsigned k = 0; k < o.nchecks; k++) {
			if (deliver_sql_prepare(db, k, o.checks[k].sql, &o.checks[k].per_event,
			                        dberr, sizeof dberr) != RESULT_OK) {
				fprintf(stderr, "faultline deliver: %s: checks[%u] (%s): %s\n",
				        o.scenario, k + 1, o.checks[k].name, dberr);
				deliver_sql_close(db);
				return EXIT_USAGE;
			}
		}
	}

	struct deliver_events *ev = NULL;
	char err[512];
	if (o.events_file != NULL) {
		if (deliver_events_load(o.events_file, &ev, err, sizeof err) != RESULT_OK) {
			fprintf(stderr, "faultline deliver: %s\n", err);
			return EXIT_USAGE;
		}
	} else {
		struct deliver_build b = {
			.seed = o.plan.seed, .intents = o.intents, .refunds = o.refunds,
			.amount = 2000, .currency = "usd", .created_s = (int64_t)time(NULL),
		};
		ev = deliver_events_build(&b);
	}
	bool too_many = false;
	struct deliver_plan *plan = ev != NULL ? deliver_plan_create(&o.plan, ev, &too_many) : NULL;
	struct event_base *base = plan != NULL ? event_base_new() : NULL;
	struct deliver_cfg cfg = {
		.url = o.to, .secret = o.secret, .time_scale = o.time_scale,
		.timeout_ms = o.timeout_ms, .tolerance_s = 300,
		.retries_max = o.plan.retries_max,
	};
	struct deliver *d = base != NULL ? deliver_create(base, &cfg, ev, plan) : NULL;
	rc = EXIT_USAGE;
	if (d == NULL) {
		fprintf(stderr, "faultline deliver: %s\n", too_many ?
		        "too many deliveries planned: fewer events, copies or duplicates" :
		        "out of memory");
		goto out;
	}
	if (db != NULL)
		printf("faultline deliver: %u %s prepared on the database\n", o.nchecks,
		       o.nchecks == 1 ? "check" : "checks");
	size_t nevents = deliver_events_count(ev), ndeliveries = deliver_plan_count(plan);
	printf("faultline deliver: %zu %s, %zu %s to %s (time x%g)\n", nevents,
	       nevents == 1 ? "event" : "events", ndeliveries,
	       ndeliveries == 1 ? "delivery" : "deliveries", o.to, o.time_scale);
	fflush(stdout);
	if (deliver_run(d) != RESULT_OK) {
		fprintf(stderr, "faultline deliver: out of memory recording answers\n");
		goto out;
	}
	bool answered = false;
	for (size_t i = 0; i < deliver_answers(d); i++)
		answered = answered || deliver_answer_get(d, i)->status != 0;
	struct rule rules[RULE_COUNT + DELIVER_CHECKS_MAX];
	size_t nrules = RULE_COUNT + o.nchecks;
	memset(rules, 0, sizeof rules);
	for (size_t k = 0; k < RULE_COUNT; k++)
		rules[k].name = rule_names[k];
	if (db != NULL)
		run_checks(&o, db, ev, rules + RULE_COUNT);
	if (!judge(d, ev, plan, rules)) {
		fprintf(stderr, "faultline deliver: out of memory\n");
		goto out;
	}
	bool held = true;
	for (size_t k = 0; k < nrules; k++) {
		held = held && rules[k].broken == 0;
		printf("  %-40s %s\n", rules[k].name, rules[k].broken == 0 ? "held" : "VIOLATED");
		if (rules[k].broken != 0)
			printf("      %s (%llu in all)\n", rules[k].first,
			       (unsigned long long)rules[k].broken);
	}
	char replay[2048];
	replay_line(&o, replay, sizeof replay);
	printf("replay: %s\n", replay);
	if (o.report_dir != NULL) {
		rc = write_report(&o, d, ev, plan, rules, nrules, answered);
		if (rc != EXIT_HELD)
			goto out;
	}
	if (!answered) {
		const struct deliver_answer *a = deliver_answers(d) > 0 ? deliver_answer_get(d, 0) : NULL;
		fprintf(stderr, "faultline deliver: %s did not answer: %s\n", o.to,
		        a != NULL ? a->error : "nothing sent");
		rc = EXIT_UNREACHABLE;
	} else {
		rc = held ? EXIT_HELD : EXIT_VIOLATED;
	}
out:
	deliver_destroy(d);
	if (base != NULL)
		event_base_free(base);
	deliver_plan_destroy(plan);
	deliver_events_destroy(ev);
	deliver_sql_close(db);
	return rc;
}
