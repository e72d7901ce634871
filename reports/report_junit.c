/* reports/report_junit.c - junit.xml in the shape Jenkins, GitLab and GitHub
 * test reporters read (testsuites > testsuite > testcase > failure|skipped).
 * Scenarios keep the order in which the report lists them; every text goes
 * through textbuf_put_xml* so that hostile names cannot break the document.
 * A testcase fails exactly when the stored verdict names it as a reason. */
#include "reports/report_junit.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "reports/report_files.h"

/* True when an earlier result has the same scenario: its testsuite was
 * already written. */
static bool junit_scenario_seen(const struct report *r, size_t i)
{
	for (size_t j = 0; j < i; j++) {
		if (strcmp(r->results[j].scenario, r->results[i].scenario) == 0)
			return true;
	}
	return false;
}

static void junit_property(struct textbuf *out, const char *name, const char *value)
{
	textbuf_put(out, "      <property name=\"");
	textbuf_put_xml_attr(out, name);
	textbuf_put(out, "\" value=\"");
	textbuf_put_xml_attr(out, value);
	textbuf_put(out, "\"/>\n");
}

/* The facts of one violated cell: counts, first seed, message, replay. */
static void junit_violation_body(struct textbuf *body, const struct report_result *res,
                                 const struct report_invariant *inv)
{
	textbuf_printf(body, "invariant %s violated in %llu of %llu seeds (seeds %llu-%llu)\n",
	               inv->name, (unsigned long long)inv->violations,
	               (unsigned long long)res->seeds_run,
	               (unsigned long long)res->seed_min, (unsigned long long)res->seed_max);
	if (inv->has_first_seed) {
		textbuf_printf(body, "first failing seed: %llu at t = ",
		               (unsigned long long)inv->first_seed);
		textbuf_put_time_us(body, inv->first_time_us);
		textbuf_put(body, "\n");
	}
	if (inv->message != NULL)
		textbuf_printf(body, "what broke: %s\n", inv->message);
	if (inv->replay != NULL)
		textbuf_printf(body, "replay: %s\n", inv->replay);
	if (res->trace_file != NULL)
		textbuf_printf(body, "trace: %s\n", res->trace_file);
}

/* <failure> with the reason as its message and body as its text. */
static void junit_failure(struct textbuf *out, const char *type, const char *message,
                          const struct textbuf *body)
{
	textbuf_put(out, "      <failure message=\"");
	textbuf_put_xml_attr(out, message);
	textbuf_put(out, "\" type=\"");
	textbuf_put_xml_attr(out, type);
	textbuf_put(out, "\">");
	textbuf_put_xml(out, textbuf_str(body));
	out->failed = out->failed || body->failed;
	textbuf_put(out, "</failure>\n");
}

static void junit_testcase_open(struct textbuf *out, const char *scenario,
                                const char *variant, const char *name)
{
	textbuf_put(out, "    <testcase classname=\"");
	textbuf_put_xml_attr(out, scenario);
	if (variant != NULL) {
		textbuf_put(out, ".");
		textbuf_put_xml_attr(out, variant);
	}
	textbuf_put(out, "\" name=\"");
	textbuf_put_xml_attr(out, name);
	textbuf_put(out, "\" time=\"0\"");
}

/* A testcase per cell. It fails only when the verdict names it as a reason;
 * a violation the verdict expects (legacy or seed in a matrix) passes and
 * says so, with its replay line. */
static void junit_testcase(struct textbuf *out, const struct report *r,
                           const struct report_result *res,
                           const struct report_invariant *inv)
{
	junit_testcase_open(out, res->scenario, res->variant, inv->name);
	const struct report_reason *why = report_find_reason(r, "violated", res->scenario,
	                                                     res->variant, inv->name);
	struct textbuf body;
	textbuf_init(&body);
	switch (report_cell_of(res, inv)) {
	case REPORT_CELL_HELD:
		textbuf_put(out, "/>\n");
		textbuf_fini(&body);
		return;
	case REPORT_CELL_VIOLATED:
		textbuf_put(out, ">\n");
		if (why != NULL) {
			struct textbuf msg;
			textbuf_init(&msg);
			textbuf_printf(&msg, "%s violated in %llu of %llu seeds", inv->name,
			               (unsigned long long)inv->violations,
			               (unsigned long long)res->seeds_run);
			if (inv->has_first_seed)
				textbuf_printf(&msg, "; first seed %llu",
				               (unsigned long long)inv->first_seed);
			if (inv->message != NULL) {
				textbuf_put(&msg, ": ");
				textbuf_put(&msg, inv->message);
			}
			textbuf_printf(&body, "%s\n", why->text);
			junit_violation_body(&body, res, inv);
			junit_failure(out, "invariant-violation", textbuf_str(&msg), &body);
			out->failed = out->failed || msg.failed;
			textbuf_fini(&msg);
			break;
		}
		textbuf_printf(&body, "expected and caught: the %s variant is meant to break %s "
		               "here, and it did\n", res->variant, inv->name);
		junit_violation_body(&body, res, inv);
		textbuf_put(out, "      <system-out>");
		textbuf_put_xml(out, textbuf_str(&body));
		out->failed = out->failed || body.failed;
		textbuf_put(out, "</system-out>\n");
		break;
	case REPORT_CELL_NOT_EXERCISED:
		textbuf_put(out, ">\n      <skipped message=\"not exercised: ");
		textbuf_put_xml_attr(out, res->not_exercised_reason != NULL
		                     ? res->not_exercised_reason
		                     : "no fault fired and no race happened in any seed");
		textbuf_put(out, "\"/>\n");
		break;
	}
	textbuf_fini(&body);
	textbuf_put(out, "    </testcase>\n");
}

/* Whether reason rr has a testcase among the cells or results of r; the
 * others go to the "verdict" testsuite, so each reason fails exactly one
 * testcase. */
static bool junit_reason_has_result(const struct report *r, const struct report_reason *rr)
{
	if (rr->scenario == NULL || rr->variant == NULL)
		return false;
	const struct report_result *res = report_find_result(r, rr->scenario, rr->variant);
	if (res == NULL)
		return false;
	if (strcmp(rr->kind, "violated") == 0)
		return rr->invariant != NULL && report_result_find_invariant(res, rr->invariant);
	return rr->invariant == NULL;
}

/* A result-level reason (not exercised, determinism): a failing testcase
 * named for what the result had to do. */
static void junit_result_reason(struct textbuf *out, const struct report_result *res,
                                const struct report_reason *rr)
{
	bool idle = strcmp(rr->kind, "not-exercised") == 0;
	junit_testcase_open(out, res->scenario, res->variant, idle ? "exercised" : rr->kind);
	textbuf_put(out, ">\n");
	struct textbuf body;
	textbuf_init(&body);
	textbuf_printf(&body, "%s\n", rr->text);
	if (idle && res->not_exercised_reason != NULL)
		textbuf_printf(&body, "why: %s\n", res->not_exercised_reason);
	junit_failure(out, rr->kind, rr->text, &body);
	textbuf_fini(&body);
	textbuf_put(out, "    </testcase>\n");
}

static void junit_testsuite(struct textbuf *out, const struct report *r, size_t first)
{
	const char *scenario = r->results[first].scenario;
	uint64_t tests = 0, failures = 0, skipped = 0;
	for (size_t i = first; i < r->nresults; i++) {
		const struct report_result *res = &r->results[i];
		if (strcmp(res->scenario, scenario) != 0)
			continue;
		for (size_t j = 0; j < res->ninvariants; j++) {
			tests++;
			skipped += report_cell_of(res, &res->invariants[j]) ==
			           REPORT_CELL_NOT_EXERCISED;
		}
	}
	for (size_t k = 0; k < r->nreasons; k++) {
		const struct report_reason *rr = &r->reasons[k];
		if (rr->scenario == NULL || strcmp(rr->scenario, scenario) != 0 ||
		    !junit_reason_has_result(r, rr))
			continue;
		failures++;
		tests += rr->invariant == NULL;
	}
	textbuf_put(out, "  <testsuite name=\"");
	textbuf_put_xml_attr(out, scenario);
	textbuf_printf(out, "\" tests=\"%llu\" failures=\"%llu\" errors=\"0\" "
	               "skipped=\"%llu\" time=\"0\">\n", (unsigned long long)tests,
	               (unsigned long long)failures, (unsigned long long)skipped);
	textbuf_put(out, "    <properties>\n");
	junit_property(out, "file", r->results[first].file);
	junit_property(out, "fix", r->results[first].fix);
	junit_property(out, "mode", r->mode);
	junit_property(out, "faultline.version", r->tool_version);
	textbuf_put(out, "    </properties>\n");
	for (size_t i = first; i < r->nresults; i++) {
		const struct report_result *res = &r->results[i];
		if (strcmp(res->scenario, scenario) != 0)
			continue;
		for (size_t j = 0; j < res->ninvariants; j++)
			junit_testcase(out, r, res, &res->invariants[j]);
		for (size_t k = 0; k < r->nreasons; k++) {
			const struct report_reason *rr = &r->reasons[k];
			if (rr->invariant == NULL && junit_reason_has_result(r, rr) &&
			    strcmp(rr->scenario, res->scenario) == 0 &&
			    strcmp(rr->variant, res->variant) == 0)
				junit_result_reason(out, res, rr);
		}
	}
	textbuf_put(out, "  </testsuite>\n");
}

/* The reasons no scenario holds (a legacy bug never caught): one failing
 * testcase each in a testsuite of their own. */
static void junit_verdict_suite(struct textbuf *out, const struct report *r)
{
	uint64_t n = 0;
	for (size_t k = 0; k < r->nreasons; k++)
		n += !junit_reason_has_result(r, &r->reasons[k]);
	if (n == 0)
		return;
	textbuf_printf(out, "  <testsuite name=\"verdict\" tests=\"%llu\" failures=\"%llu\" "
	               "errors=\"0\" skipped=\"0\" time=\"0\">\n", (unsigned long long)n,
	               (unsigned long long)n);
	for (size_t k = 0; k < r->nreasons; k++) {
		const struct report_reason *rr = &r->reasons[k];
		if (junit_reason_has_result(r, rr))
			continue;
		junit_testcase_open(out, "verdict", NULL, rr->text);
		textbuf_put(out, ">\n");
		struct textbuf body;
		textbuf_init(&body);
		textbuf_printf(&body, "%s\n", rr->text);
		junit_failure(out, rr->kind, rr->text, &body);
		textbuf_fini(&body);
		textbuf_put(out, "    </testcase>\n");
	}
	textbuf_put(out, "  </testsuite>\n");
}

enum result report_format_junit(const struct report *r, struct textbuf *out)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	ASSERT(r->verdict_set);
	struct report_summary s;
	report_summarize(r, &s);
	uint64_t tests = s.invariants_held + s.invariants_violated + s.invariants_not_exercised;
	for (size_t k = 0; k < r->nreasons; k++)
		tests += r->reasons[k].invariant == NULL || !junit_reason_has_result(r, &r->reasons[k]);
	/* Every reason the verdict fails is one failing testcase, and nothing
	 * else fails: a green job shows no red test. */
	textbuf_put(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	textbuf_printf(out, "<testsuites name=\"faultline\" tests=\"%llu\" failures=\"%zu\" "
	               "errors=\"0\" time=\"0\">\n", (unsigned long long)tests, r->nreasons);
	for (size_t i = 0; i < r->nresults; i++) {
		if (!junit_scenario_seen(r, i))
			junit_testsuite(out, r, i);
	}
	junit_verdict_suite(out, r);
	textbuf_put(out, "</testsuites>\n");
	return out->failed ? RESULT_NOMEM : RESULT_OK;
}

enum result report_write_junit(const struct report *r, const char *path, char *err,
                               size_t errsize)
{
	struct textbuf tb;
	textbuf_init(&tb);
	enum result rc = report_format_junit(r, &tb);
	if (rc == RESULT_OK || rc == RESULT_NOMEM)
		rc = report_file_write_text(path, &tb, err, errsize);
	textbuf_fini(&tb);
	return rc;
}
