/* harness/report_fill.c - runner results -> struct report. Timelines come from
 * the failing seed's trace lines (JSON, read with jansson) and are reduced
 * to a lane and a short label each. */
#include "harness/report_fill.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "core/assert.h"
#include "harness/verdict.h"
#include "reports/report.h"
#include "reports/report_files.h"
#include "core/version.h"

#define SCENARIO_FILE_MAX (1u << 20)

/* Hex SHA-256 of a file; false when it cannot be read. */
static bool file_sha256(const char *path, char hex[65])
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return false;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	unsigned char buf[8192];
	size_t n, total = 0;
	while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0) {
		total += n;
		ok = total <= SCENARIO_FILE_MAX && EVP_DigestUpdate(ctx, buf, n) == 1;
	}
	ok = ok && !ferror(f);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	fclose(f);
	if (!ok)
		return false;
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return true;
}

/* The scenario set: SHA-256 over each file's path and digest, in order, so
 * that shards of different file sets or contents refuse to merge. */
static enum result scenario_set_digest(struct report *r, char *err, size_t errsize)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
	for (size_t i = 0; ok && i < r->nfiles; i++) {
		const struct report_file *f = &r->files[i];
		ok = EVP_DigestUpdate(ctx, f->path, strlen(f->path) + 1) == 1 &&
		     EVP_DigestUpdate(ctx, f->sha256, strlen(f->sha256) + 1) == 1;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	char hex[65];
	for (unsigned i = 0; ok && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	if (ok && (r->scenario_set = report_text_dup(hex)) == NULL)
		ok = false;
	if (!ok) {
		snprintf(err, errsize, "cannot digest the scenario set");
		return RESULT_ERROR;
	}
	return RESULT_OK;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* One trace line -> lane and label; false to leave the line out. */
static bool trace_event_label(json_t *o, char *lane, size_t lane_size, char *label,
                              size_t label_size)
{
	const char *ev = jstr(o, "ev");
	const char *target = jstr(o, "target");
	const char *op = jstr(o, "op");
	if (strcmp(ev, "request") == 0) {
		snprintf(lane, lane_size, "request");
		snprintf(label, label_size, "%s %s starts", jstr(o, "fix"), jstr(o, "id"));
	} else if (strcmp(ev, "response") == 0) {
		snprintf(lane, lane_size, "request");
		snprintf(label, label_size, "%s %s -> %s", jstr(o, "fix"), jstr(o, "id"),
		         jstr(o, "outcome"));
	} else if (strcmp(ev, "fault") == 0) {
		snprintf(lane, lane_size, "fault");
		snprintf(label, label_size, "%s %s: %s%s%s", target, op, jstr(o, "kind"),
		         json_object_get(o, "event") ? " " : "", jstr(o, "event"));
	} else if (strcmp(ev, "violation") == 0) {
		snprintf(lane, lane_size, "invariant");
		snprintf(label, label_size, "%s broken: %s", jstr(o, "invariant"),
		         jstr(o, "message"));
	} else if (strcmp(ev, "apply") == 0) {
		snprintf(lane, lane_size, "%s", target);
		const char *what = jstr(o, "key");
		if (!*what)
			what = jstr(o, "p1");
		if (!*what)
			what = jstr(o, "user");
		if (!*what)
			what = jstr(o, "to");
		snprintf(label, label_size, "%s %s applied", op, what);
	} else if (strcmp(ev, "reply") == 0) {
		snprintf(lane, lane_size, "%s", target);
		json_t *iv = json_object_get(o, "int");
		char extra[64] = "";
		if (json_is_integer(iv))
			snprintf(extra, sizeof extra, " (%lld)", (long long)json_integer_value(iv));
		else if (*jstr(o, "sqlstate"))
			snprintf(extra, sizeof extra, " (SQLSTATE %s)", jstr(o, "sqlstate"));
		snprintf(label, label_size, "%s -> %s%s", op, jstr(o, "outcome"), extra);
	} else if (strcmp(ev, "blocked") == 0 || strcmp(ev, "late_reply") == 0 ||
	           strcmp(ev, "conn_lost") == 0) {
		snprintf(lane, lane_size, "%s", target);
		snprintf(label, label_size, "%s %s", op, ev);
	} else if (strcmp(ev, "log") == 0) {
		snprintf(lane, lane_size, "request");
		snprintf(label, label_size, "[%s] %s", jstr(o, "tag"), jstr(o, "msg"));
	} else {
		return false;
	}
	if (strcmp(lane, "redis") && strcmp(lane, "postgres") && strcmp(lane, "stripe") &&
	    strcmp(lane, "mail") && strcmp(lane, "webhook") && strcmp(lane, "fault") &&
	    strcmp(lane, "invariant") && strcmp(lane, "request"))
		snprintf(lane, lane_size, "request");
	return true;
}

static enum result add_timeline(struct report_invariant *inv, const char *lines)
{
	for (const char *p = lines; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		json_error_t jerr;
		json_t *o = json_loadb(p, len, 0, &jerr);
		p = nl ? nl + 1 : p + len;
		if (o == NULL)
			continue;
		char lane[16], label[256];
		enum result rc = RESULT_OK;
		if (trace_event_label(o, lane, sizeof lane, label, sizeof label))
			rc = report_invariant_add_event(inv, (uint64_t)json_integer_value(
			                                         json_object_get(o, "t")),
			                                lane, label);
		json_decref(o);
		if (rc != RESULT_OK)
			return rc;
	}
	return RESULT_OK;
}

static void fix_list(const struct scenario *sc, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int f = 0; f < FIX_COUNT; f++) {
		if (!(sc->fixes & (1u << f)))
			continue;
		int n = snprintf(buf + used, size - used, "%s%s", used ? "," : "",
		                 fix_name((enum fix_id)f));
		if (n < 0 || (size_t)n >= size - used)
			return;
		used += (size_t)n;
	}
}

#define TRY(expr)                              \
	do {                                   \
		enum result rc_ = (expr);      \
		if (rc_ != RESULT_OK)          \
			return rc_;            \
	} while (0)

/* The coverage cells a result reached, and every cell its scenario declared
 * in expect_reached, reached or not (a 0 is "never reached"). */
static enum result fill_coverage(struct report_result *res, const struct runner_result *rr)
{
	char key[COVERAGE_KEY_MAX];
	for (int t = 0; t < FAULT_TARGET_COUNT; t++) {
		size_t nops = coverage_op_count((enum fault_target)t);
		for (size_t op = 0; op < nops; op++) {
			const char *tn = fault_target_name((enum fault_target)t);
			const char *on = coverage_op_name((enum fault_target)t, op);
			for (int k = 0; k < FAULT_KIND_COUNT; k++) {
				uint64_t c = rr->cov.faults[t][op][k];
				if (c == 0)
					continue;
				snprintf(key, sizeof key, "%s.%s:%s", tn, on,
				         fault_kind_name((enum fault_kind)k));
				TRY(report_result_add_coverage(res, key, c));
			}
			for (int c = 0; c < WA_COUNT; c++) {
				uint64_t n = rr->cov.applied[t][op][c];
				if (n == 0)
					continue;
				snprintf(key, sizeof key, "%s.%s=%s", tn, on,
				         coverage_class_name((enum world_apply_class)c));
				TRY(report_result_add_coverage(res, key, n));
			}
		}
	}
	for (size_t i = 0; i < rr->sc->nexpect; i++) {
		char var[160];
		variant_set_format(&rr->vs, rr->sc, var, sizeof var);
		const char *e = coverage_expect_key(rr->sc->expect_reached[i], var);
		if (e == NULL)
			continue;
		bool listed = false;
		for (size_t k = 0; k < res->ncoverage && !listed; k++)
			listed = strcmp(res->coverage[k].name, e) == 0;
		if (!listed)
			TRY(report_result_add_coverage(res, e, coverage_count(&rr->cov, rr->outcomes, e)));
	}
	return RESULT_OK;
}

static enum result fill_result(struct report *r, const struct runner_result *rr)
{
	char var[160], fixes[128];
	variant_set_format(&rr->vs, rr->sc, var, sizeof var);
	fix_list(rr->sc, fixes, sizeof fixes);
	TRY(report_add_variant(r, var));
	struct report_result *res;
	TRY(report_add_result(r, rr->sc->name, rr->sc->path, fixes, var, &res));
	res->seeds_run = rr->seeds_run;
	if (rr->seeds_planned > rr->seeds_run) {
		res->seeds_planned = rr->seeds_planned;
		res->seed_next = rr->seed_next;
	}
	res->seed_min = rr->seed_min;
	res->seed_max = rr->seed_max;
	res->exercised = rr->exercised;
	if (!rr->exercised)
		TRY(report_result_set_not_exercised(res, rr->not_exercised));
	for (int k = 0; k < FAULT_KIND_COUNT; k++) {
		if (rr->faults[k])
			TRY(report_result_add_fault(res, fault_kind_name((enum fault_kind)k),
			                            rr->faults[k]));
	}
	for (int o = 0; o < WO_COUNT; o++) {
		if (rr->outcomes[o])
			TRY(report_result_add_outcome(res, world_outcome_name((enum world_outcome)o),
			                              rr->outcomes[o]));
	}
	for (int t = 0; t < WT_COUNT; t++) {
		if (rr->tags[t])
			TRY(report_result_add_log_tag(res, world_tag_name((enum world_tag)t),
			                              rr->tags[t]));
	}
	TRY(fill_coverage(res, rr));
	memcpy(res->latency_hist, rr->latency_hist, sizeof res->latency_hist);
	res->duplicates_let_through = rr->duplicates_let_through;
	for (int i = 0; i < INV_COUNT; i++) {
		if (!(rr->checked & (1u << i)))
			continue;
		struct report_invariant *inv;
		TRY(report_result_add_invariant(res, invariant_name((enum invariant_id)i), &inv));
		const struct runner_invariant *ri = &rr->inv[i];
		if (!ri->has_first)
			continue;
		char replay[1024];
		runner_replay_command(rr->sc, &rr->vs, ri->first_seed, replay, sizeof replay);
		TRY(report_invariant_add_violation(inv, ri->first_seed, ri->first_time_us,
		                                   ri->message, replay, NULL));
		inv->violations = ri->violations;
		inv->held = false;
		if (ri->shrunk_file[0] != '\0')
			TRY(report_invariant_set_shrunk_file(inv, ri->shrunk_file));
		TRY(add_timeline(inv, ri->timeline));
		if (ri->trace_file[0] && res->trace_file == NULL)
			TRY(report_result_set_trace_file(res, ri->trace_file));
	}
	return RESULT_OK;
}

enum result report_fill(const char *mode, struct scenario *const *list, size_t n,
                        const struct runner_result *results, size_t nresults,
                        struct report **out, char *err, size_t errsize)
{
	struct report *r = report_create(FAULTLINE_VERSION, mode);
	if (r == NULL) {
		snprintf(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	enum result rc = RESULT_OK;
	for (size_t i = 0; i < n && rc == RESULT_OK; i++) {
		char hex[65];
		if (!file_sha256(list[i]->path, hex)) {
			snprintf(err, errsize, "cannot read %s to hash it", list[i]->path);
			rc = RESULT_ERROR;
			break;
		}
		rc = report_add_file(r, list[i]->path, hex);
		if (rc == RESULT_REJECT)
			rc = RESULT_OK; /* the same file named twice */
	}
	if (rc == RESULT_OK)
		rc = scenario_set_digest(r, err, errsize);
	for (size_t i = 0; i < nresults && rc == RESULT_OK; i++) {
		rc = fill_result(r, &results[i]);
		r->determinism_checked |= results[i].determinism_checked > 0;
		r->determinism_mismatches += results[i].determinism_mismatches;
	}
	if (rc != RESULT_OK) {
		if (err[0] == '\0')
			snprintf(err, errsize, "cannot build the report (%s)", result_name(rc));
		report_destroy(r);
		return rc;
	}
	*out = r;
	return RESULT_OK;
}

enum result report_fill_verdict(struct report *r, const struct verdict *v)
{
	ASSERT(r != NULL);
	ASSERT(v != NULL);
	r->matrix = v->matrix;
	for (size_t i = 0; i < v->nreasons; i++) {
		const struct verdict_reason *vr = &v->reasons[i];
		const struct report_result *res = vr->row != SIZE_MAX ? &r->results[vr->row] : NULL;
		ASSERT(vr->row == SIZE_MAX || vr->row < r->nresults);
		TRY(report_add_reason(r, verdict_kind_name(vr->kind), vr->text,
		                      res ? res->scenario : NULL, res ? res->variant : NULL,
		                      vr->invariant >= 0
		                      ? invariant_name((enum invariant_id)vr->invariant) : NULL,
		                      vr->fix >= 0 ? fix_name((enum fix_id)vr->fix) : NULL));
	}
	return report_set_verdict(r, v->pass, v->headline);
}

/* The verdict's row for a result of a report (read back or merged). */
static bool report_verdict_row(const struct report_result *res, struct verdict_row *row,
                               char *err, size_t errsize)
{
	memset(row, 0, sizeof *row);
	snprintf(row->scenario, sizeof row->scenario, "%s", res->scenario);
	snprintf(row->variant, sizeof row->variant, "%s", res->variant);
	enum variant v;
	row->uniform = variant_parse(res->variant, &v) ? (int)v : -1;
	const char *p = res->fix != NULL ? res->fix : "";
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char name[64];
		enum fix_id f;
		snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : 0), p);
		if (!fix_parse(name, &f)) {
			snprintf(err, errsize, "%s: unknown fix '%.*s'", res->scenario, (int)len, p);
			return false;
		}
		row->fixes |= 1u << f;
		p = comma ? comma + 1 : p + len;
	}
	for (size_t k = 0; k < res->ninvariants; k++) {
		enum invariant_id id;
		if (!invariant_parse(res->invariants[k].name, &id)) {
			snprintf(err, errsize, "%s: unknown invariant '%s'", res->scenario,
			         res->invariants[k].name);
			return false;
		}
		row->checked |= 1u << id;
		if (res->invariants[k].violations > 0)
			row->violated |= 1u << id;
	}
	row->exercised = res->exercised;
	return true;
}

enum result report_judge(struct report *r, char *err, size_t errsize)
{
	ASSERT(r != NULL);
	if (r->nresults > VERDICT_ROWS_MAX) {
		snprintf(err, errsize, "more than %u results", VERDICT_ROWS_MAX);
		return RESULT_REJECT;
	}
	struct verdict_row *rows = calloc(r->nresults > 0 ? r->nresults : 1, sizeof *rows);
	if (rows == NULL) {
		snprintf(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	enum result rc = RESULT_OK;
	for (size_t i = 0; i < r->nresults && rc == RESULT_OK; i++) {
		if (!report_verdict_row(&r->results[i], &rows[i], err, errsize))
			rc = RESULT_REJECT;
	}
	/* report.json counts determinism per report, not per result. */
	struct verdict v;
	if (rc == RESULT_OK && (rc = verdict_decide(rows, r->nresults, r->matrix,
	                                            r->determinism_mismatches, &v)) == RESULT_OK) {
		report_clear_verdict(r);
		rc = report_fill_verdict(r, &v);
		verdict_fini(&v);
		if (rc != RESULT_OK)
			snprintf(err, errsize, "out of memory");
	}
	free(rows);
	return rc;
}

enum result report_fill_write(const char *dir, const char *mode, const struct verdict *v,
                              const struct shard *shard,
                              struct scenario *const *list,
                              size_t n, const struct runner_result *results, size_t nresults,
                              char *err, size_t errsize)
{
	struct report *r;
	err[0] = '\0';
	enum result rc = report_fill(mode, list, n, results, nresults, &r, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	rc = report_fill_verdict(r, v);
	if (rc != RESULT_OK) {
		snprintf(err, errsize, "cannot store the verdict (%s)", result_name(rc));
		report_destroy(r);
		return rc;
	}
	if (shard != NULL && shard->count > 0) {
		r->shard_index = shard->index;
		r->shard_count = shard->count;
	}
	rc = report_write_all(r, dir, err, errsize);
	report_destroy(r);
	return rc;
}
