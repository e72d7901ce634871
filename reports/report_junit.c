/* reports/report_junit.c - junit.xml in the shape Jenkins, GitLab and GitHub
 * test reporters read (testsuites > testsuite > testcase > failure|skipped).
 * Scenarios keep the order in which the report lists them; every text goes
 * through textbuf_put_xml* so that hostile names cannot break the document. */
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

static void junit_failure(struct textbuf *out, const struct report_result *res,
                          const struct report_invariant *inv)
{
	struct textbuf msg;
	textbuf_init(&msg);
	textbuf_printf(&msg, "%s violated in %llu of %llu seeds", inv->name,
	               (unsigned long long)inv->violations,
	               (unsigned long long)res->seeds_run);
	if (inv->has_first_seed)
		textbuf_printf(&msg, "; first seed %llu", (unsigned long long)inv->first_seed);
	if (inv->message != NULL) {
		textbuf_put(&msg, ": ");
		textbuf_put(&msg, inv->message);
	}
	textbuf_put(out, "      <failure message=\"");
	textbuf_put_xml_attr(out, textbuf_str(&msg));
	textbuf_put(out, "\" type=\"invariant-violation\">");
	textbuf_fini(&msg);

	struct textbuf body;
	textbuf_init(&body);
	textbuf_printf(&body, "invariant %s violated in %llu of %llu seeds (seeds %llu-%llu)\n",
	               inv->name, (unsigned long long)inv->violations,
	               (unsigned long long)res->seeds_run,
	               (unsigned long long)res->seed_min, (unsigned long long)res->seed_max);
	if (inv->has_first_seed) {
		textbuf_printf(&body, "first failing seed: %llu at t = ",
		               (unsigned long long)inv->first_seed);
		textbuf_put_time_us(&body, inv->first_time_us);
		textbuf_put(&body, "\n");
	}
	if (inv->message != NULL)
		textbuf_printf(&body, "what broke: %s\n", inv->message);
	if (inv->replay != NULL)
		textbuf_printf(&body, "replay: %s\n", inv->replay);
	if (res->trace_file != NULL)
		textbuf_printf(&body, "trace: %s\n", res->trace_file);
	textbuf_put_xml(out, textbuf_str(&body));
	out->failed = out->failed || body.failed;
	textbuf_fini(&body);
	textbuf_put(out, "</failure>\n");
}

static void junit_testcase(struct textbuf *out, const struct report_result *res,
                           const struct report_invariant *inv)
{
	textbuf_put(out, "    <testcase classname=\"");
	textbuf_put_xml_attr(out, res->scenario);
	textbuf_put(out, ".");
	textbuf_put_xml_attr(out, res->variant);
	textbuf_put(out, "\" name=\"");
	textbuf_put_xml_attr(out, inv->name);
	textbuf_put(out, "\" time=\"0\"");
	switch (report_cell_of(res, inv)) {
	case REPORT_CELL_HELD:
		textbuf_put(out, "/>\n");
		return;
	case REPORT_CELL_VIOLATED:
		textbuf_put(out, ">\n");
		junit_failure(out, res, inv);
		break;
	case REPORT_CELL_NOT_EXERCISED:
		textbuf_put(out, ">\n      <skipped message=\"not exercised: ");
		textbuf_put_xml_attr(out, res->not_exercised_reason != NULL
		                     ? res->not_exercised_reason
		                     : "no fault fired and no race happened in any seed");
		textbuf_put(out, "\"/>\n");
		break;
	}
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
			enum report_cell cell = report_cell_of(res, &res->invariants[j]);
			failures += cell == REPORT_CELL_VIOLATED;
			skipped += cell == REPORT_CELL_NOT_EXERCISED;
		}
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
			junit_testcase(out, res, &res->invariants[j]);
	}
	textbuf_put(out, "  </testsuite>\n");
}

enum result report_format_junit(const struct report *r, struct textbuf *out)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	struct report_summary s;
	report_summarize(r, &s);
	uint64_t tests = s.invariants_held + s.invariants_violated + s.invariants_not_exercised;
	textbuf_put(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	textbuf_printf(out, "<testsuites name=\"faultline\" tests=\"%llu\" failures=\"%llu\" "
	               "errors=\"0\" time=\"0\">\n", (unsigned long long)tests,
	               (unsigned long long)s.invariants_violated);
	for (size_t i = 0; i < r->nresults; i++) {
		if (!junit_scenario_seen(r, i))
			junit_testsuite(out, r, i);
	}
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
