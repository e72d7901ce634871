/* reports/report_json.c - report.json in and out through jansson. The writer
 * fixes the key order so the same report always gives the same bytes; the
 * reader checks every field it takes and names the one that is wrong. It
 * does not trust derived fields: the summary counts and percentiles are
 * recomputed. The verdict is not derived here: the harness decided it and
 * it is read back as stored, so every page shows the same one. */
#include "reports/report_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/assert.h"
#include "reports/report_files.h"

#define JSON_PATH_MAX 512   /* bytes of a field path in an error message */

static void json_errf(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void json_errf(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

/* Writing ------------------------------------------------------------------ */

struct json_out {
	bool failed;
	char *err;
	size_t errsize;
};

/* Stores v under key of obj (obj takes v); notes a failure. */
static void out_set(struct json_out *o, json_t *obj, const char *key, json_t *v)
{
	if (v == NULL || json_object_set_new(obj, key, v) != 0) {
		if (!o->failed)
			json_errf(o->err, o->errsize, "report.json: cannot store \"%s\"", key);
		o->failed = true;
	}
}

static void out_append(struct json_out *o, json_t *arr, json_t *v)
{
	if (v == NULL || json_array_append_new(arr, v) != 0) {
		if (!o->failed)
			json_errf(o->err, o->errsize, "report.json: cannot append to an array");
		o->failed = true;
	}
}

static json_t *out_uint(struct json_out *o, const char *what, uint64_t v)
{
	if (v > (uint64_t)INT64_MAX) {
		if (!o->failed)
			json_errf(o->err, o->errsize,
			          "report.json: %s = %llu does not fit a JSON integer", what,
			          (unsigned long long)v);
		o->failed = true;
		return NULL;
	}
	return json_integer((json_int_t)v);
}

static json_t *out_str(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static int count_compare(const void *a, const void *b)
{
	const struct report_count *const *x = a;
	const struct report_count *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

/* An object name -> count, sorted by name so that the order in which the
 * runner met them does not change the bytes. */
static json_t *out_counts(struct json_out *o, const struct report_count *c, size_t n)
{
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	const struct report_count **sorted = calloc(n > 0 ? n : 1, sizeof *sorted);
	if (sorted == NULL) {
		json_decref(obj);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		sorted[i] = &c[i];
	qsort(sorted, n, sizeof *sorted, count_compare);
	for (size_t i = 0; i < n; i++)
		out_set(o, obj, sorted[i]->name, out_uint(o, sorted[i]->name, sorted[i]->count));
	free(sorted);
	return obj;
}

static json_t *out_invariant(struct json_out *o, const struct report_invariant *inv)
{
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	out_set(o, obj, "held", json_boolean(inv->violations == 0));
	out_set(o, obj, "violations", out_uint(o, "violations", inv->violations));
	out_set(o, obj, "first_seed", inv->has_first_seed
	        ? out_uint(o, "first_seed", inv->first_seed) : json_null());
	out_set(o, obj, "first_time_us", inv->has_first_seed
	        ? out_uint(o, "first_time_us", inv->first_time_us) : json_null());
	out_set(o, obj, "message", out_str(inv->message));
	out_set(o, obj, "replay", out_str(inv->replay));
	if (inv->shrunk_file != NULL) /* only when shrunk: older reports stay as they were */
		out_set(o, obj, "shrunk_file", out_str(inv->shrunk_file));
	json_t *tl = json_array();
	for (size_t i = 0; tl != NULL && i < inv->ntimeline; i++) {
		const struct report_event *ev = &inv->timeline[i];
		json_t *e = json_object();
		if (e != NULL) {
			out_set(o, e, "t_us", out_uint(o, "t_us", ev->t_us));
			out_set(o, e, "lane", out_str(ev->lane));
			out_set(o, e, "label", out_str(ev->label));
		}
		out_append(o, tl, e);
	}
	out_set(o, obj, "timeline", tl);
	out_set(o, obj, "timeline_dropped",
	        out_uint(o, "timeline_dropped", inv->timeline_dropped));
	return obj;
}

static json_t *out_latency(struct json_out *o, const uint64_t *hist)
{
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	out_set(o, obj, "count", out_uint(o, "latency count", report_hist_total(hist)));
	out_set(o, obj, "p50", out_uint(o, "p50", report_hist_percentile(hist, 0.50)));
	out_set(o, obj, "p90", out_uint(o, "p90", report_hist_percentile(hist, 0.90)));
	out_set(o, obj, "p99", out_uint(o, "p99", report_hist_percentile(hist, 0.99)));
	out_set(o, obj, "max", out_uint(o, "max", report_hist_percentile(hist, 1.0)));
	json_t *h = json_array();
	for (unsigned b = 0; h != NULL && b < REPORT_HIST_BUCKETS; b++)
		out_append(o, h, out_uint(o, "histogram", hist[b]));
	out_set(o, obj, "histogram", h);
	return obj;
}

static json_t *out_result(struct json_out *o, const struct report_result *res)
{
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	out_set(o, obj, "scenario", out_str(res->scenario));
	out_set(o, obj, "file", out_str(res->file));
	out_set(o, obj, "fix", out_str(res->fix));
	out_set(o, obj, "variant", out_str(res->variant));
	out_set(o, obj, "seeds_run", out_uint(o, "seeds_run", res->seeds_run));
	if (report_result_incomplete(res)) {
		out_set(o, obj, "seeds_planned", out_uint(o, "seeds_planned", res->seeds_planned));
		out_set(o, obj, "seed_next", out_uint(o, "seed_next", res->seed_next));
	}
	out_set(o, obj, "seed_min", out_uint(o, "seed_min", res->seed_min));
	out_set(o, obj, "seed_max", out_uint(o, "seed_max", res->seed_max));
	out_set(o, obj, "exercised", json_boolean(res->exercised));
	out_set(o, obj, "not_exercised_reason", out_str(res->not_exercised_reason));
	json_t *invs = json_object();
	for (size_t i = 0; invs != NULL && i < res->ninvariants; i++)
		out_set(o, invs, res->invariants[i].name, out_invariant(o, &res->invariants[i]));
	out_set(o, obj, "invariants", invs);
	out_set(o, obj, "faults", out_counts(o, res->faults, res->nfaults));
	out_set(o, obj, "outcomes", out_counts(o, res->outcomes, res->noutcomes));
	out_set(o, obj, "log_tags", out_counts(o, res->log_tags, res->nlog_tags));
	if (res->ncoverage > 0) /* absent when nothing was counted (older reports) */
		out_set(o, obj, "coverage", out_counts(o, res->coverage, res->ncoverage));
	out_set(o, obj, "latency_us", out_latency(o, res->latency_hist));
	out_set(o, obj, "duplicates_let_through",
	        out_uint(o, "duplicates_let_through", res->duplicates_let_through));
	out_set(o, obj, "trace_file", out_str(res->trace_file));
	return obj;
}

static json_t *out_settings(struct json_out *o, const struct report *r)
{
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	out_set(o, obj, "tool_version", out_str(r->tool_version));
	if (r->scenario_set != NULL)
		out_set(o, obj, "scenario_set", out_str(r->scenario_set));
	if (r->shard_count > 0) {
		json_t *sh = json_object();
		if (sh != NULL) {
			out_set(o, sh, "index", json_integer(r->shard_index));
			out_set(o, sh, "count", json_integer(r->shard_count));
		}
		out_set(o, obj, "shard", sh);
	}
	out_set(o, obj, "mode", out_str(r->mode));
	out_set(o, obj, "kind", json_string(r->matrix ? "matrix" : "run"));
	json_t *vs = json_array();
	for (size_t i = 0; vs != NULL && i < r->nvariants; i++)
		out_append(o, vs, out_str(r->variants[i]));
	out_set(o, obj, "variants", vs);
	json_t *fs = json_array();
	for (size_t i = 0; fs != NULL && i < r->nfiles; i++) {
		json_t *f = json_object();
		if (f != NULL) {
			out_set(o, f, "path", out_str(r->files[i].path));
			out_set(o, f, "sha256", out_str(r->files[i].sha256));
		}
		out_append(o, fs, f);
	}
	out_set(o, obj, "files", fs);
	json_t *det = json_object();
	if (det != NULL) {
		out_set(o, det, "checked", json_boolean(r->determinism_checked));
		out_set(o, det, "mismatches",
		        out_uint(o, "determinism mismatches", r->determinism_mismatches));
	}
	out_set(o, obj, "determinism", det);
	return obj;
}

static json_t *out_reason(const struct report_reason *rr)
{
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	/* Optional keys are left out rather than null: a reason names only what
	 * it is about. */
	if (json_object_set_new(obj, "kind", json_string(rr->kind)) != 0 ||
	    json_object_set_new(obj, "text", json_string(rr->text)) != 0 ||
	    (rr->scenario && json_object_set_new(obj, "scenario", json_string(rr->scenario))) ||
	    (rr->variant && json_object_set_new(obj, "variant", json_string(rr->variant))) ||
	    (rr->invariant && json_object_set_new(obj, "invariant",
	                                          json_string(rr->invariant))) ||
	    (rr->fix && json_object_set_new(obj, "fix", json_string(rr->fix)))) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *out_summary(struct json_out *o, const struct report *r)
{
	struct report_summary s;
	report_summarize(r, &s);
	json_t *obj = json_object();
	if (obj == NULL)
		return NULL;
	ASSERT(r->verdict_set);
	const char *verdict = r->pass ? "pass" : "fail";
	out_set(o, obj, "verdict", json_string(verdict));
	if (r->matrix) {
		out_set(o, obj, "matrix_verdict", json_string(verdict));
		out_set(o, obj, "matrix_reason", json_string(r->headline));
	}
	out_set(o, obj, "headline", json_string(r->headline));
	json_t *reasons = json_array();
	for (size_t i = 0; reasons != NULL && i < r->nreasons; i++)
		out_append(o, reasons, out_reason(&r->reasons[i]));
	out_set(o, obj, "reasons", reasons);
	out_set(o, obj, "results", out_uint(o, "results", s.results));
	out_set(o, obj, "results_not_exercised",
	        out_uint(o, "results_not_exercised", s.results_not_exercised));
	out_set(o, obj, "invariants_held", out_uint(o, "invariants_held", s.invariants_held));
	out_set(o, obj, "invariants_violated",
	        out_uint(o, "invariants_violated", s.invariants_violated));
	out_set(o, obj, "invariants_not_exercised",
	        out_uint(o, "invariants_not_exercised", s.invariants_not_exercised));
	out_set(o, obj, "seeds_run", out_uint(o, "seeds_run", s.seeds_run));
	return obj;
}

enum result report_json_dump(const struct report *r, char **out, char *err,
                             size_t errsize)
{
	ASSERT(r != NULL);
	ASSERT(out != NULL);
	struct json_out o = {.err = err, .errsize = errsize};
	json_t *root = json_object();
	if (root == NULL) {
		json_errf(err, errsize, "report.json: out of memory");
		return RESULT_NOMEM;
	}
	out_set(&o, root, "schema", json_integer(REPORT_SCHEMA));
	out_set(&o, root, "settings", out_settings(&o, r));
	out_set(&o, root, "summary", out_summary(&o, r));
	json_t *results = json_array();
	for (size_t i = 0; results != NULL && i < r->nresults; i++)
		out_append(&o, results, out_result(&o, &r->results[i]));
	out_set(&o, root, "results", results);
	char *text = NULL;
	if (!o.failed) {
		text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (text == NULL)
			json_errf(err, errsize, "report.json: out of memory");
	}
	json_decref(root);
	if (o.failed)
		return RESULT_REJECT;
	if (text == NULL)
		return RESULT_NOMEM;
	/* A text file ends in a newline. */
	size_t n = strlen(text);
	char *with_nl = realloc(text, n + 2);
	if (with_nl == NULL) {
		free(text);
		json_errf(err, errsize, "report.json: out of memory");
		return RESULT_NOMEM;
	}
	with_nl[n] = '\n';
	with_nl[n + 1] = '\0';
	*out = with_nl;
	return RESULT_OK;
}

enum result report_write_json(const struct report *r, const char *path, char *err,
                              size_t errsize)
{
	ASSERT(path != NULL);
	char *text = NULL;
	enum result rc = report_json_dump(r, &text, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	rc = report_file_write(path, text, strlen(text), err, errsize);
	free(text);
	return rc;
}

/* Reading ------------------------------------------------------------------ */

/* A field path for a message; a cut path is still a useful one. */
static void path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

struct json_in {
	const char *name;      /* the file, for messages */
	char *err;
	size_t errsize;
	bool failed;           /* the first error wins */
};

static void in_fail(struct json_in *in, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void in_fail(struct json_in *in, const char *path, const char *fmt, ...)
{
	if (in->failed)
		return;
	in->failed = true;
	if (in->err == NULL || in->errsize == 0)
		return;
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(in->err, in->errsize, "%s: %s: %s", in->name, path, what);
}

enum json_want {
	WANT_OBJECT, WANT_ARRAY, WANT_STRING, WANT_STRING_OR_NULL, WANT_BOOL,
	WANT_UINT, WANT_UINT_OR_NULL,
};

static const char *json_want_name(enum json_want w)
{
	switch (w) {
	case WANT_OBJECT: return "an object";
	case WANT_ARRAY: return "an array";
	case WANT_STRING: return "a string";
	case WANT_STRING_OR_NULL: return "a string or null";
	case WANT_BOOL: return "true or false";
	case WANT_UINT: return "a non-negative integer";
	case WANT_UINT_OR_NULL: return "a non-negative integer or null";
	}
	return "?";
}

static bool json_is(const json_t *v, enum json_want w)
{
	switch (w) {
	case WANT_OBJECT: return json_is_object(v);
	case WANT_ARRAY: return json_is_array(v);
	case WANT_STRING: return json_is_string(v);
	case WANT_STRING_OR_NULL: return json_is_string(v) || json_is_null(v);
	case WANT_BOOL: return json_is_boolean(v);
	case WANT_UINT: return json_is_integer(v) && json_integer_value(v) >= 0;
	case WANT_UINT_OR_NULL:
		return json_is_null(v) || (json_is_integer(v) && json_integer_value(v) >= 0);
	}
	return false;
}

/* Checks v (at path) against w; strings must also be free of NUL and within
 * REPORT_TEXT_MAX. */
static bool in_check(struct json_in *in, const json_t *v, const char *path,
                     enum json_want w)
{
	if (in->failed)
		return false;
	if (!json_is(v, w)) {
		in_fail(in, path, "expected %s", json_want_name(w));
		return false;
	}
	if (json_is_string(v)) {
		size_t n = json_string_length(v);
		if (n > REPORT_TEXT_MAX) {
			in_fail(in, path, "longer than %u bytes", REPORT_TEXT_MAX);
			return false;
		}
		if (strlen(json_string_value(v)) != n) {
			in_fail(in, path, "contains a NUL character");
			return false;
		}
	}
	return true;
}

/* obj[key], checked against w; NULL (and failed) when missing or wrong.
 * path is obj's path; the key is added to it. */
static json_t *in_get(struct json_in *in, const json_t *obj, const char *path,
                      const char *key, enum json_want w)
{
	char p[JSON_PATH_MAX];
	path_fmt(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	if (in->failed)
		return NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		in_fail(in, p, "missing (required)");
		return NULL;
	}
	return in_check(in, v, p, w) ? v : NULL;
}

static const char *in_str(struct json_in *in, const json_t *obj, const char *path,
                          const char *key, bool nullable)
{
	json_t *v = in_get(in, obj, path, key, nullable ? WANT_STRING_OR_NULL : WANT_STRING);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint64_t in_uint(struct json_in *in, const json_t *obj, const char *path,
                        const char *key)
{
	json_t *v = in_get(in, obj, path, key, WANT_UINT);
	return v != NULL ? (uint64_t)json_integer_value(v) : 0;
}

static bool in_bool(struct json_in *in, const json_t *obj, const char *path,
                    const char *key)
{
	json_t *v = in_get(in, obj, path, key, WANT_BOOL);
	return v != NULL && json_is_true(v);
}

static void in_nomem(struct json_in *in, const char *path, const char *what,
                     unsigned max)
{
	in_fail(in, path, "out of memory or more than %u %s", max, what);
}

/* "scenario_set" and "shard" came with sharded runs; both optional. */
static void in_shard_settings(struct json_in *in, const json_t *s, struct report *r)
{
	if (json_object_get(s, "scenario_set") != NULL) {
		const char *set = in_str(in, s, "settings", "scenario_set", false);
		if (in->failed)
			return;
		free(r->scenario_set);
		r->scenario_set = report_text_dup(set);
		if (r->scenario_set == NULL) {
			in_nomem(in, "settings.scenario_set", "bytes", REPORT_TEXT_MAX);
			return;
		}
	}
	if (json_object_get(s, "shard") == NULL)
		return;
	json_t *sh = in_get(in, s, "settings", "shard", WANT_OBJECT);
	uint64_t index = in_uint(in, sh, "settings.shard", "index");
	uint64_t count = in_uint(in, sh, "settings.shard", "count");
	if (in->failed)
		return;
	if (count < 1 || count > REPORT_SHARDS_MAX || index < 1 || index > count) {
		in_fail(in, "settings.shard", "shard %llu of %llu: want 1 <= index <= count <= %u",
		        (unsigned long long)index, (unsigned long long)count, REPORT_SHARDS_MAX);
		return;
	}
	r->shard_index = (unsigned)index;
	r->shard_count = (unsigned)count;
}

static void in_settings(struct json_in *in, const json_t *root, struct report *r)
{
	json_t *s = in_get(in, root, "", "settings", WANT_OBJECT);
	const char *tool = in_str(in, s, "settings", "tool_version", false);
	const char *mode = in_str(in, s, "settings", "mode", false);
	if (in->failed)
		return;
	if (strcmp(mode, "simulated") != 0 && strcmp(mode, "live") != 0) {
		in_fail(in, "settings.mode", "expected \"simulated\" or \"live\", got \"%s\"",
		        mode);
		return;
	}
	char *t = report_text_dup(tool);
	char *m = report_text_dup(mode);
	if (t == NULL || m == NULL) {
		free(t);
		free(m);
		in_nomem(in, "settings", "bytes", REPORT_TEXT_MAX);
		return;
	}
	free(r->tool_version);
	free(r->mode);
	r->tool_version = t;
	r->mode = m;
	in_shard_settings(in, s, r);
	if (in->failed)
		return;
	/* "kind" came with matrix runs; older files are plain runs. */
	json_t *kind = json_object_get(s, "kind");
	if (kind != NULL) {
		const char *k = json_string_value(kind);
		if (k == NULL || (strcmp(k, "run") != 0 && strcmp(k, "matrix") != 0)) {
			in_fail(in, "settings.kind", "expected \"run\" or \"matrix\"");
			return;
		}
		r->matrix = strcmp(k, "matrix") == 0;
	}

	json_t *vs = in_get(in, s, "settings", "variants", WANT_ARRAY);
	size_t i;
	json_t *v;
	json_array_foreach(vs, i, v) {
		char p[JSON_PATH_MAX];
		path_fmt(p, sizeof p, "settings.variants[%zu]", i);
		if (!in_check(in, v, p, WANT_STRING))
			return;
		if (report_add_variant(r, json_string_value(v)) != RESULT_OK) {
			in_nomem(in, p, "variants", REPORT_VARIANTS_MAX);
			return;
		}
	}
	json_t *fs = in_get(in, s, "settings", "files", WANT_ARRAY);
	json_array_foreach(fs, i, v) {
		char p[JSON_PATH_MAX];
		path_fmt(p, sizeof p, "settings.files[%zu]", i);
		if (!in_check(in, v, p, WANT_OBJECT))
			return;
		const char *path = in_str(in, v, p, "path", false);
		const char *digest = in_str(in, v, p, "sha256", false);
		if (in->failed)
			return;
		enum result rc = report_add_file(r, path, digest);
		if (rc == RESULT_REJECT) {
			in_fail(in, p, "\"%s\" is listed twice with different digests", path);
			return;
		}
		if (rc != RESULT_OK) {
			in_nomem(in, p, "files", REPORT_FILES_MAX);
			return;
		}
	}
	json_t *det = in_get(in, s, "settings", "determinism", WANT_OBJECT);
	r->determinism_checked = in_bool(in, det, "settings.determinism", "checked");
	r->determinism_mismatches = in_uint(in, det, "settings.determinism", "mismatches");
}

typedef enum result count_add_fn(struct report_result *res, const char *name,
                                 uint64_t by);

static void in_counts(struct json_in *in, const json_t *obj, const char *path,
                      const char *key, struct report_result *res, count_add_fn *add)
{
	json_t *counts = in_get(in, obj, path, key, WANT_OBJECT);
	const char *name;
	json_t *v;
	char p[JSON_PATH_MAX];
	path_fmt(p, sizeof p, "%s.%s", path, key);
	json_object_foreach(counts, name, v) {
		char pv[JSON_PATH_MAX];
		path_fmt(pv, sizeof pv, "%s.%s", p, name);
		if (!in_check(in, v, pv, WANT_UINT))
			return;
		if (strlen(name) > REPORT_TEXT_MAX) {
			in_fail(in, pv, "name longer than %u bytes", REPORT_TEXT_MAX);
			return;
		}
		if (add(res, name, (uint64_t)json_integer_value(v)) != RESULT_OK) {
			in_nomem(in, p, "names", REPORT_COUNTS_MAX);
			return;
		}
	}
}

static void in_invariant(struct json_in *in, const json_t *obj, const char *path,
                         struct report_invariant *inv)
{
	bool held = in_bool(in, obj, path, "held");
	uint64_t violations = in_uint(in, obj, path, "violations");
	json_t *fs = in_get(in, obj, path, "first_seed", WANT_UINT_OR_NULL);
	json_t *ft = in_get(in, obj, path, "first_time_us", WANT_UINT_OR_NULL);
	const char *message = in_str(in, obj, path, "message", true);
	const char *replay = in_str(in, obj, path, "replay", true);
	json_t *tl = in_get(in, obj, path, "timeline", WANT_ARRAY);
	uint64_t dropped = in_uint(in, obj, path, "timeline_dropped");
	if (in->failed)
		return;
	if (held != (violations == 0)) {
		in_fail(in, path, "held is %s but violations is %llu",
		        held ? "true" : "false", (unsigned long long)violations);
		return;
	}
	if (json_is_integer(fs) && violations == 0) {
		in_fail(in, path, "first_seed is set but violations is 0");
		return;
	}
	if (json_is_integer(fs) != json_is_integer(ft)) {
		in_fail(in, path, "first_seed and first_time_us must both be set or both null");
		return;
	}
	if (json_array_size(tl) > REPORT_TIMELINE_MAX) {
		in_fail(in, path, "timeline has more than %u events", REPORT_TIMELINE_MAX);
		return;
	}
	inv->violations = violations;
	inv->held = held;
	inv->has_first_seed = json_is_integer(fs);
	inv->first_seed = inv->has_first_seed ? (uint64_t)json_integer_value(fs) : 0;
	inv->first_time_us = inv->has_first_seed ? (uint64_t)json_integer_value(ft) : 0;
	inv->message = report_text_dup(message);
	inv->replay = report_text_dup(replay);
	const char *shrunk = json_object_get(obj, "shrunk_file") != NULL
	                     ? in_str(in, obj, path, "shrunk_file", false) : NULL;
	if (in->failed)
		return;
	inv->shrunk_file = report_text_dup(shrunk);
	if ((message != NULL && inv->message == NULL) ||
	    (replay != NULL && inv->replay == NULL) ||
	    (shrunk != NULL && inv->shrunk_file == NULL)) {
		in_nomem(in, path, "bytes", REPORT_TEXT_MAX);
		return;
	}
	size_t i;
	json_t *ev;
	json_array_foreach(tl, i, ev) {
		char p[JSON_PATH_MAX];
		path_fmt(p, sizeof p, "%s.timeline[%zu]", path, i);
		if (!in_check(in, ev, p, WANT_OBJECT))
			return;
		uint64_t t = in_uint(in, ev, p, "t_us");
		const char *lane = in_str(in, ev, p, "lane", false);
		const char *label = in_str(in, ev, p, "label", false);
		if (in->failed)
			return;
		if (report_invariant_add_event(inv, t, lane, label) != RESULT_OK) {
			in_nomem(in, p, "events", REPORT_TIMELINE_MAX);
			return;
		}
	}
	inv->timeline_dropped = dropped;
}

static void in_result(struct json_in *in, const json_t *obj, const char *path,
                      struct report *r)
{
	const char *scenario = in_str(in, obj, path, "scenario", false);
	const char *file = in_str(in, obj, path, "file", false);
	const char *fix = in_str(in, obj, path, "fix", false);
	const char *variant = in_str(in, obj, path, "variant", false);
	if (in->failed)
		return;
	struct report_result *res;
	enum result rc = report_add_result(r, scenario, file, fix, variant, &res);
	if (rc == RESULT_REJECT) {
		in_fail(in, path, "scenario \"%s\" with variant \"%s\" appears twice",
		        scenario, variant);
		return;
	}
	if (rc != RESULT_OK) {
		in_nomem(in, path, "results", REPORT_RESULTS_MAX);
		return;
	}
	res->seeds_run = in_uint(in, obj, path, "seeds_run");
	res->seed_min = in_uint(in, obj, path, "seed_min");
	res->seed_max = in_uint(in, obj, path, "seed_max");
	if (json_object_get(obj, "seeds_planned") != NULL) {
		res->seeds_planned = in_uint(in, obj, path, "seeds_planned");
		res->seed_next = in_uint(in, obj, path, "seed_next");
	}
	res->exercised = in_bool(in, obj, path, "exercised");
	const char *reason = in_str(in, obj, path, "not_exercised_reason", true);
	res->duplicates_let_through = in_uint(in, obj, path, "duplicates_let_through");
	const char *trace = in_str(in, obj, path, "trace_file", true);
	if (in->failed)
		return;
	if (res->seeds_run > 0 && res->seed_min > res->seed_max) {
		in_fail(in, path, "seed_min %llu is above seed_max %llu",
		        (unsigned long long)res->seed_min, (unsigned long long)res->seed_max);
		return;
	}
	res->not_exercised_reason = report_text_dup(reason);
	if ((reason != NULL && res->not_exercised_reason == NULL) ||
	    report_result_set_trace_file(res, trace) != RESULT_OK) {
		in_nomem(in, path, "bytes", REPORT_TEXT_MAX);
		return;
	}

	json_t *invs = in_get(in, obj, path, "invariants", WANT_OBJECT);
	const char *name;
	json_t *v;
	json_object_foreach(invs, name, v) {
		char p[JSON_PATH_MAX];
		path_fmt(p, sizeof p, "%s.invariants.%s", path, name);
		if (!in_check(in, v, p, WANT_OBJECT))
			return;
		struct report_invariant *inv;
		if (report_result_add_invariant(res, name, &inv) != RESULT_OK) {
			in_nomem(in, p, "invariants", REPORT_INVARIANTS_MAX);
			return;
		}
		in_invariant(in, v, p, inv);
	}
	in_counts(in, obj, path, "faults", res, report_result_add_fault);
	in_counts(in, obj, path, "outcomes", res, report_result_add_outcome);
	in_counts(in, obj, path, "log_tags", res, report_result_add_log_tag);
	if (json_object_get(obj, "coverage") != NULL) /* optional: older reports */
		in_counts(in, obj, path, "coverage", res, report_result_add_coverage);

	char p[JSON_PATH_MAX];
	path_fmt(p, sizeof p, "%s.latency_us", path);
	json_t *lat = in_get(in, obj, path, "latency_us", WANT_OBJECT);
	json_t *hist = in_get(in, lat, p, "histogram", WANT_ARRAY);
	if (in->failed)
		return;
	path_fmt(p, sizeof p, "%s.latency_us.histogram", path);
	if (json_array_size(hist) != REPORT_HIST_BUCKETS) {
		in_fail(in, p, "expected %u buckets, got %zu", REPORT_HIST_BUCKETS,
		        json_array_size(hist));
		return;
	}
	size_t b;
	json_array_foreach(hist, b, v) {
		char pb[JSON_PATH_MAX];
		path_fmt(pb, sizeof pb, "%s[%zu]", p, b);
		if (!in_check(in, v, pb, WANT_UINT))
			return;
		res->latency_hist[b] = (uint64_t)json_integer_value(v);
	}
}

static const char *in_opt_str(struct json_in *in, const json_t *obj, const char *path,
                              const char *key)
{
	return json_object_get(obj, key) != NULL ? in_str(in, obj, path, key, false) : NULL;
}

/* The stored verdict. A file without one (written by hand, or by a
 * faultline before verdicts were stored) leaves it unset: report render
 * then has the harness judge it, report merge always does. */
static void in_verdict(struct json_in *in, const json_t *root, struct report *r)
{
	json_t *s = json_object_get(root, "summary");
	if (s == NULL || (json_is_object(s) && json_object_get(s, "verdict") == NULL))
		return;
	s = in_get(in, root, "", "summary", WANT_OBJECT);
	const char *verdict = in_str(in, s, "summary", "verdict", false);
	const char *headline = in_str(in, s, "summary", "headline", false);
	json_t *reasons = in_get(in, s, "summary", "reasons", WANT_ARRAY);
	if (in->failed)
		return;
	if (strcmp(verdict, "pass") != 0 && strcmp(verdict, "fail") != 0) {
		in_fail(in, "summary.verdict", "expected \"pass\" or \"fail\", got \"%s\"",
		        verdict);
		return;
	}
	bool pass = strcmp(verdict, "pass") == 0;
	if (pass != (json_array_size(reasons) == 0)) {
		in_fail(in, "summary.reasons", pass ? "a passing verdict has no reasons"
		                                    : "a failing verdict needs its reasons");
		return;
	}
	if (report_set_verdict(r, pass, headline) != RESULT_OK) {
		in_nomem(in, "summary.headline", "bytes", REPORT_TEXT_MAX);
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(reasons, i, v) {
		char p[JSON_PATH_MAX];
		path_fmt(p, sizeof p, "summary.reasons[%zu]", i);
		if (!in_check(in, v, p, WANT_OBJECT))
			return;
		const char *kind = in_str(in, v, p, "kind", false);
		const char *text = in_str(in, v, p, "text", false);
		const char *scenario = in_opt_str(in, v, p, "scenario");
		const char *variant = in_opt_str(in, v, p, "variant");
		const char *invariant = in_opt_str(in, v, p, "invariant");
		const char *fix = in_opt_str(in, v, p, "fix");
		if (in->failed)
			return;
		if (report_add_reason(r, kind, text, scenario, variant, invariant, fix) !=
		    RESULT_OK) {
			in_nomem(in, p, "reasons", REPORT_REASONS_MAX);
			return;
		}
	}
}

enum result report_json_parse(const char *text, size_t len, const char *name,
                              struct report **out, char *err, size_t errsize)
{
	ASSERT(text != NULL);
	ASSERT(out != NULL);
	if (name == NULL)
		name = "report.json";
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		json_errf(err, errsize, "%s:%d:%d: not valid JSON: %s", name, jerr.line,
		          jerr.column, jerr.text);
		return RESULT_REJECT;
	}
	struct json_in in = {.name = name, .err = err, .errsize = errsize};
	struct report *r = NULL;
	if (!json_is_object(root)) {
		in_fail(&in, "(top level)", "expected an object");
		goto done;
	}
	json_t *schema = json_object_get(root, "schema");
	if (schema == NULL) {
		in_fail(&in, "schema", "missing (required)");
		goto done;
	}
	if (!json_is_integer(schema) || json_integer_value(schema) != REPORT_SCHEMA) {
		char got[64] = "a non-integer";
		if (json_is_integer(schema))
			snprintf(got, sizeof got, "%lld", (long long)json_integer_value(schema));
		in_fail(&in, "schema", "version %s is not supported (this faultline reads "
		        "schema %d)", got, REPORT_SCHEMA);
		goto done;
	}
	r = report_create("", "simulated");
	if (r == NULL) {
		json_errf(err, errsize, "%s: out of memory", name);
		json_decref(root);
		return RESULT_NOMEM;
	}
	in_settings(&in, root, r);
	in_verdict(&in, root, r);
	json_t *results = in_get(&in, root, "", "results", WANT_ARRAY);
	if (json_array_size(results) > REPORT_RESULTS_MAX)
		in_fail(&in, "results", "more than %u results", REPORT_RESULTS_MAX);
	size_t i;
	json_t *v;
	json_array_foreach(results, i, v) {
		char p[JSON_PATH_MAX];
		path_fmt(p, sizeof p, "results[%zu]", i);
		if (!in_check(&in, v, p, WANT_OBJECT))
			break;
		in_result(&in, v, p, r);
		if (in.failed)
			break;
	}
done:
	json_decref(root);
	if (in.failed) {
		report_destroy(r);
		return RESULT_REJECT;
	}
	*out = r;
	return RESULT_OK;
}

enum result report_read_json(const char *path, struct report **out, char *err,
                             size_t errsize)
{
	ASSERT(path != NULL);
	char *text = NULL;
	size_t len = 0;
	enum result rc = report_file_read(path, REPORT_JSON_MAX, &text, &len, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	rc = report_json_parse(text, len, path, out, err, errsize);
	free(text);
	return rc;
}
