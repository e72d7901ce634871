/* harness/scenario_yaml.c - the loader's reading layer: libfyaml's events into a
 * small tree that keeps every node's line:column, and typed reads of its
 * scalars and mappings that scn_fail with the node's location. */
#include "harness/scenario_load.h"

#include <errno.h>
#include <inttypes.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/email_check.h"
#include "core/sql.h"

#include "harness/scenario_int.h"

/* ---- the YAML tree ---------------------------------------------------- *
 * The tree and the loader state are in harness/scenario_int.h. */

static void loader_fail_vat(struct loader *ld, int line, int column,
                            const char *path, const char *fmt, va_list ap)
{
	if (ld->rc != RESULT_OK)
		return;               /* the first error is the one to report */
	ld->rc = RESULT_REJECT;
	ld->err.line = line;
	ld->err.column = column;
	size_t used = 0;
	if (path != NULL && path[0] != '\0') {
		int w = scn_text_printf(ld->err.message, sizeof ld->err.message, "%s: ", path);
		used = w > 0 ? (size_t)w : 0;
		if (used >= sizeof ld->err.message)
			return;
	}
	vsnprintf(ld->err.message + used, sizeof ld->err.message - used, fmt, ap);
}

__attribute__((format(printf, 5, 6)))
bool scn_loader_fail_at(struct loader *ld, int line, int column,
                           const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	loader_fail_vat(ld, line, column, path, fmt, ap);
	va_end(ap);
	return false;
}

/* Fails at node n (NULL: at the whole file). Always returns false. */
__attribute__((format(printf, 4, 5)))
bool scn_fail(struct loader *ld, const struct ynode *n, const char *path,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	loader_fail_vat(ld, n ? n->line : 0, n ? n->column : 0, path, fmt, ap);
	va_end(ap);
	return false;
}

bool scn_fail_nomem(struct loader *ld)
{
	if (ld->rc == RESULT_OK) {
		ld->rc = RESULT_NOMEM;
		scn_text_printf(ld->err.message, sizeof ld->err.message, "out of memory");
	}
	return false;
}

const char *scn_ytext(const struct loader *ld, const struct ynode *n)
{
	return ld->t.text + n->text_off;
}

const struct ynode *scn_ychild(const struct loader *ld, const struct ynode *n)
{
	return n->first ? &ld->t.nodes[n->first] : NULL;
}

const struct ynode *scn_ynext(const struct loader *ld, const struct ynode *n)
{
	return n->next ? &ld->t.nodes[n->next] : NULL;
}

/* A value for a message: printable ASCII as is, other bytes as \xNN, cut
 * with "..." when long. */
static const char *show(char buf[static SCENARIO_SHOW_MAX + 8], const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 4 > SCENARIO_SHOW_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			buf[o++] = (char)c;
		} else {
			scn_text_printf(buf + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	buf[o] = '\0';
	return buf;
}

const char *scn_show_node(const struct loader *ld, char buf[static SCENARIO_SHOW_MAX + 8],
                             const struct ynode *n)
{
	if (n->type == YN_MAP)
		return "a mapping";
	if (n->type == YN_SEQ)
		return "a list";
	char inner[SCENARIO_SHOW_MAX + 8];
	show(inner, scn_ytext(ld, n), n->text_len);
	scn_text_printf(buf, SCENARIO_SHOW_MAX + 8, "'%s'", inner);
	return buf;
}

static bool ytree_add(struct loader *ld, enum ynode_type type, bool plain,
                      const char *text, size_t len, uint32_t *idx)
{
	struct ytree *t = &ld->t;
	if (t->n >= SCENARIO_NODES_MAX)
		return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                      "more than %u YAML nodes", SCENARIO_NODES_MAX);
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;
		struct ynode *nodes = realloc(t->nodes, cap * sizeof *nodes);
		if (nodes == NULL)
			return scn_fail_nomem(ld);
		t->nodes = nodes;
		t->cap = cap;
	}
	if (len + 1 > SCENARIO_TEXT_ARENA_MAX - t->text_len)
		return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                      "more than %u bytes of text", SCENARIO_TEXT_ARENA_MAX);
	if (t->text_len + len + 1 > t->text_cap) {
		size_t cap = t->text_cap ? t->text_cap : 4096;
		while (cap < t->text_len + len + 1)
			cap *= 2;
		char *text_new = realloc(t->text, cap);
		if (text_new == NULL)
			return scn_fail_nomem(ld);
		t->text = text_new;
		t->text_cap = cap;
	}
	struct ynode *n = &t->nodes[t->n];
	memset(n, 0, sizeof *n);
	n->type = type;
	n->plain = plain;
	n->line = ld->last_line;
	n->column = ld->last_column;
	n->text_off = t->text_len;
	n->text_len = len;
	if (len > 0)
		memcpy(t->text + t->text_len, text, len);
	t->text[t->text_len + len] = '\0';
	t->text_len += len + 1;
	*idx = t->n++;
	return true;
}

struct ybuild {
	uint32_t stack[SCENARIO_DEPTH_MAX]; /* open mappings and lists */
	bool flow[SCENARIO_DEPTH_MAX];      /* stack[i] was opened by '{' or '[' */
	int depth;
	int ndocs;
};

/* Hangs node idx under the innermost open collection (or makes it the
 * root) and, for a collection, opens it. */
static bool ytree_attach(struct loader *ld, struct ybuild *b, uint32_t idx)
{
	struct ytree *t = &ld->t;
	struct ynode *n = &t->nodes[idx];
	if (b->depth == 0) {
		t->root = idx;
	} else {
		struct ynode *parent = &t->nodes[b->stack[b->depth - 1]];
		if (parent->type == YN_MAP && parent->nchildren % 2 == 0 &&
		    n->type != YN_SCALAR)
			return scn_fail(ld, n, NULL, "mapping keys must be plain strings, "
			                         "not a mapping or a list");
		if (parent->last)
			t->nodes[parent->last].next = idx;
		else
			parent->first = idx;
		parent->last = idx;
		parent->nchildren++;
	}
	if (n->type != YN_SCALAR) {
		if (b->depth == SCENARIO_DEPTH_MAX)
			return scn_fail(ld, n, NULL, "nested more than %d levels deep",
			            SCENARIO_DEPTH_MAX);
		b->flow[b->depth] = false;
		b->stack[b->depth++] = idx;
	}
	return true;
}

static bool ytree_token_is_flow_start(struct fy_token *t)
{
	if (t == NULL)
		return false;
	enum fy_token_type type = fy_token_get_type(t);
	return type == FYTT_FLOW_SEQUENCE_START || type == FYTT_FLOW_MAPPING_START;
}

/* Moves the position to m (when it has one). libfyaml marks a quoted
 * scalar after its opening quote and an alias after its '*'; a node starts
 * at that character, so step back onto it. */
static void ytree_mark(struct loader *ld, const struct fy_mark *m, char opener)
{
	if (m == NULL || m->line < 0 || m->column < 0)
		return;
	ld->last_line = m->line + 1;
	ld->last_column = m->column + 1;
	if (opener != '\0' && m->column > 0 && m->input_pos > 0 &&
	    m->input_pos <= ld->input_len && ld->input[m->input_pos - 1] == opener)
		ld->last_column--;
}

static char ytree_scalar_opener(struct fy_token *value)
{
	switch (fy_token_scalar_style(value)) {
	case FYSS_SINGLE_QUOTED:
		return '\'';
	case FYSS_DOUBLE_QUOTED:
		return '"';
	default:
		return '\0';
	}
}

/* libfyaml 0.7.12 misreads two escaped quotes in a row inside a
 * single-quoted scalar ('a''''b' reads as "a'''", dropping the b) and leaks
 * memory in fy_token_get_text when the run is longer. Such a scalar is
 * refused before its text is read. The token spans the text between the
 * quotes, where quotes only come in pairs. */
static bool ytree_single_quoted_ok(struct loader *ld, struct fy_token *value)
{
	if (fy_token_scalar_style(value) != FYSS_SINGLE_QUOTED)
		return true;
	const struct fy_mark *start = fy_token_start_mark(value);
	const struct fy_mark *end = fy_token_end_mark(value);
	if (start == NULL || end == NULL || start->input_pos > end->input_pos ||
	    end->input_pos > ld->input_len)
		return true;
	if (memmem(ld->input + start->input_pos, end->input_pos - start->input_pos, "''''", 4) == NULL)
		return true;
	return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
	                      "two escaped quotes in a row ('''') in a single-quoted string "
	                      "are misread by libfyaml 0.7; write this value in double quotes");
}

static bool ytree_fail_tag(struct loader *ld, struct fy_token *tag)
{
	ytree_mark(ld, fy_token_start_mark(tag), '\0');
	return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
	                      "tags (!name) are not supported");
}

static bool ytree_on_event(struct loader *ld, struct ybuild *b, struct fy_event *e)
{
	char opener = '\0';
	if (e->type == FYET_ALIAS)
		opener = '*';
	else if (e->type == FYET_SCALAR)
		opener = ytree_scalar_opener(e->scalar.value);
	ytree_mark(ld, fy_event_start_mark(e), opener);
	struct fy_token *tag = NULL;
	uint32_t idx;
	switch (e->type) {
	case FYET_NONE:
	case FYET_STREAM_START:
	case FYET_STREAM_END:
	case FYET_DOCUMENT_END:
		return true;
	case FYET_DOCUMENT_START:
		if (++b->ndocs > 1)
			return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
			                      "a scenario file holds one YAML document; "
			                      "found a second one");
		return true;
	case FYET_ALIAS:
		return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                      "aliases (*name) are not supported");
	case FYET_MAPPING_START:
	case FYET_SEQUENCE_START:
		tag = e->type == FYET_MAPPING_START ? e->mapping_start.tag
		                                    : e->sequence_start.tag;
		if (tag != NULL)
			return ytree_fail_tag(ld, tag);
		if (!ytree_add(ld, e->type == FYET_MAPPING_START ? YN_MAP : YN_SEQ,
		               false, NULL, 0, &idx))
			return false;
		if (!ytree_attach(ld, b, idx))
			return false;
		b->flow[b->depth - 1] = ytree_token_is_flow_start(
			e->type == FYET_MAPPING_START ? e->mapping_start.mapping_start
			                              : e->sequence_start.sequence_start);
		return true;
	case FYET_MAPPING_END:
	case FYET_SEQUENCE_END: {
		if (b->depth == 0)
			return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
			                      "unbalanced YAML events");
		const struct ynode *closed = &ld->t.nodes[b->stack[--b->depth]];
		if (closed->type == YN_MAP && closed->nchildren % 2 != 0)
			return scn_fail(ld, closed, NULL, "mapping key without a value");
		return true;
	}
	case FYET_SCALAR: {
		if (e->scalar.tag != NULL)
			return ytree_fail_tag(ld, e->scalar.tag);
		if (!ytree_single_quoted_ok(ld, e->scalar.value))
			return false;
		size_t len = 0;
		const char *text = fy_token_get_text(e->scalar.value, &len);
		if (text == NULL)
			len = 0;
		bool plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
		if (!ytree_add(ld, YN_SCALAR, plain, text, len, &idx))
			return false;
		return ytree_attach(ld, b, idx);
	}
	}
	return scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
	                      "unexpected YAML event");
}

/* libfyaml's diagnostics go nowhere; the errors are collected instead. */
static void ytree_diag_sink(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* The innermost flow collection ('{' or '[') still open, or NULL. */
static const struct ynode *ytree_open_flow(const struct loader *ld, const struct ybuild *b)
{
	for (int i = b->depth; i > 0; i--)
		if (b->flow[i - 1])
			return &ld->t.nodes[b->stack[i - 1]];
	return NULL;
}

/* libfyaml finds a missing '}' or ']' only where the flow can go on no
 * further, often lines later or at the end of the file. When a flow
 * collection opened on an earlier line is still open at the error, the
 * error is reported where that flow starts, the place to look, with
 * libfyaml's position and words after it. */
static void ytree_fail_from_diag(struct loader *ld, const struct ybuild *b,
                                 struct fy_diag *diag)
{
	void *iter = NULL;
	struct fy_diag_error *de;
	/* The collected list holds what one parse produced: bounded by it. */
	while ((de = fy_diag_errors_iterate(diag, &iter)) != NULL) {
		if (de->type < FYET_ERROR)
			continue;
		int line = de->line > 0 ? de->line : 0;
		int column = de->column > 0 ? de->column : 0;
		if (line == 0)
			column = 0;
		const char *msg = de->msg ? de->msg : "syntax error";
		const struct ynode *flow = ytree_open_flow(ld, b);
		if (flow != NULL && flow->line > 0 && line > flow->line) {
			bool map = flow->type == YN_MAP;
			scn_loader_fail_at(ld, flow->line, flow->column, NULL,
			                   "invalid YAML: the flow %s opened here with '%c' has no "
			                   "closing '%c' before %d:%d (%s)",
			                   map ? "mapping" : "sequence", map ? '{' : '[',
			                   map ? '}' : ']', line, column, msg);
			return;
		}
		scn_loader_fail_at(ld, line, column, NULL, "invalid YAML: %s", msg);
		return;
	}
	scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL, "invalid YAML");
}

/* A raw NUL byte ends libfyaml's input silently; refuse it instead. */
static bool ytree_reject_nul(struct loader *ld, const char *buf, size_t len)
{
	const char *nul = memchr(buf, '\0', len);
	if (nul == NULL)
		return true;
	int line = 1, column = 1;
	for (const char *p = buf; p < nul; p++) {
		if (*p == '\n')
			line++, column = 1;
		else
			column++;
	}
	return scn_loader_fail_at(ld, line, column, NULL,
	                      "NUL byte in the file (write \\0 inside a double-quoted string)");
}

/* YAML text is Unicode, and libfyaml 0.7 hangs or reads past its buffer on
 * some bytes that are not UTF-8 (its issue #101: "%" then a stray byte
 * loops forever in fy_scan_directive). Refuse them before it parses. */
static bool ytree_reject_bad_utf8(struct loader *ld, const char *buf, size_t len)
{
	int line = 1, column = 1;
	size_t i = 0;
	/* Each pass consumes at least one byte. */
	while (i < len) {
		uint32_t cp;
		size_t n = email_check_utf8_next(buf + i, len - i, &cp);
		if (n == 0)
			return scn_loader_fail_at(ld, line, column, NULL,
			                      "not UTF-8 (byte 0x%02x); a scenario file is UTF-8 text",
			                      (unsigned char)buf[i]);
		if (cp == '\n')
			line++, column = 1;
		else
			column++;
		i += n;
	}
	return true;
}

bool scn_ytree_build(struct loader *ld, const char *buf, size_t len)
{
	if (!ytree_reject_nul(ld, buf, len) || !ytree_reject_bad_utf8(ld, buf, len))
		return false;
	/* Node 0 stands for "none". */
	uint32_t none;
	ld->last_line = 0;
	ld->last_column = 0;
	if (!ytree_add(ld, YN_SCALAR, true, NULL, 0, &none))
		return false;

	struct fy_diag_cfg dcfg;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = ytree_diag_sink;
	dcfg.colorize = false;
	dcfg.level = FYET_ERROR;
	struct fy_diag *diag = fy_diag_create(&dcfg);
	if (diag == NULL)
		return scn_fail_nomem(ld);
	fy_diag_set_collect_errors(diag, true);

	struct fy_parse_cfg pcfg = {
		.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE,
		.diag = diag,
	};
	struct fy_parser *parser = fy_parser_create(&pcfg);
	if (parser == NULL) {
		fy_diag_destroy(diag);
		return scn_fail_nomem(ld);
	}
	bool ok = fy_parser_set_string(parser, buf, len) == 0;
	if (!ok)
		scn_fail_nomem(ld);

	struct ybuild b = {.depth = 0};
	/* Each event but the ends makes a node, so the node bound bounds this. */
	uint64_t events_max = 2ull * SCENARIO_NODES_MAX + 16;
	for (uint64_t i = 0; ok; i++) {
		struct fy_event *e = fy_parser_parse(parser);
		if (e == NULL)
			break;
		if (i < events_max)
			ok = ytree_on_event(ld, &b, e);
		else
			ok = scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
			                    "too many YAML events");
		fy_parser_event_free(parser, e);
	}
	if (ok && fy_parser_get_stream_error(parser)) {
		ytree_fail_from_diag(ld, &b, diag);
		ok = false;
	}
	fy_parser_destroy(parser);
	fy_diag_destroy(diag);
	if (ok && b.depth != 0)
		ok = scn_loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                    "unexpected end of the YAML stream");
	return ok && ld->rc == RESULT_OK;
}

/* ---- scalars ---------------------------------------------------------- */

bool scn_is_null(const struct loader *ld, const struct ynode *n)
{
	if (n->type != YN_SCALAR || !n->plain)
		return false;
	const char *s = scn_ytext(ld, n);
	return n->text_len == 0 || scn_text_is(s, n->text_len, "~") ||
	       scn_text_is(s, n->text_len, "null") || scn_text_is(s, n->text_len, "Null") ||
	       scn_text_is(s, n->text_len, "NULL");
}

bool scn_want_scalar(struct loader *ld, const struct ynode *n, const char *path,
                        const char *what)
{
	if (n->type == YN_SCALAR)
		return true;
	char sh[SCENARIO_SHOW_MAX + 8];
	return scn_fail(ld, n, path, "expected %s, got %s", what, scn_show_node(ld, sh, n));
}

bool scn_get_uint(struct loader *ld, const struct ynode *n, const char *path,
                     uint64_t min, uint64_t max, uint64_t *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (!scn_want_scalar(ld, n, path, "an integer"))
		return false;
	const char *s = scn_ytext(ld, n);
	size_t len = n->text_len;
	if (n->plain && len > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9')
		return scn_fail(ld, n, path, "must not be negative, got %s", scn_show_node(ld, sh, n));
	bool digits = n->plain && len > 0 && len <= 20;
	for (size_t i = 0; digits && i < len; i++)
		digits = s[i] >= '0' && s[i] <= '9';
	if (!digits)
		return scn_fail(ld, n, path, "expected an integer, got %s", scn_show_node(ld, sh, n));
	uint64_t v = 0;
	bool over = false;
	for (size_t i = 0; i < len; i++) {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
	}
	if (over || v < min || v > max)
		return scn_fail(ld, n, path, "must be between %" PRIu64 " and %" PRIu64 ", got %s",
		            min, max, scn_show_node(ld, sh, n));
	*out = v;
	return true;
}

/* The decimal digits s[0..len) as a number; false when not all digits or
 * more than 10 of them. */
static bool digits_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 10)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* A workload count written "A..B": swarm mode draws it per seed from the
 * range, and without swarm the count is B. */
static bool get_u32_range(struct loader *ld, const struct ynode *n, const char *path,
                          uint32_t min, uint32_t max, uint32_t *out, const char *dots)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	const char *s = scn_ytext(ld, n);
	uint64_t lo, hi;
	if (!digits_u64(s, (size_t)(dots - s), &lo) ||
	    !digits_u64(dots + 2, n->text_len - (size_t)(dots - s) - 2, &hi))
		return scn_fail(ld, n, path, "expected an integer or a range A..B, got %s",
		                scn_show_node(ld, sh, n));
	if (lo < min || hi > max || lo > hi)
		return scn_fail(ld, n, path, "a range within %" PRIu32 "..%" PRIu32
		                " with its low end first, got %s", min, max,
		                scn_show_node(ld, sh, n));
	struct scenario *sc = ld->sc;
	ASSERT((char *)out >= (char *)sc && (char *)(out + 1) <= (char *)(sc + 1));
	if (sc->nranges == SCENARIO_RANGES_MAX)
		return scn_fail(ld, n, path, "more than %d ranges in one scenario",
		                SCENARIO_RANGES_MAX);
	struct scenario_range *r = &sc->ranges[sc->nranges++];
	r->offset = (size_t)((char *)out - (char *)sc);
	r->lo = (uint32_t)lo;
	r->hi = (uint32_t)hi;
	scn_text_printf(r->key, sizeof r->key, "%s", path);
	*out = (uint32_t)hi;
	return true;
}

bool scn_get_u32(struct loader *ld, const struct ynode *n, const char *path,
                    uint32_t min, uint32_t max, uint32_t *out)
{
	if (path != NULL && strncmp(path, "workload.", 9) == 0 && n->type == YN_SCALAR &&
	    n->plain) {
		const char *dots = memmem(scn_ytext(ld, n), n->text_len, "..", 2);
		if (dots != NULL)
			return get_u32_range(ld, n, path, min, max, out, dots);
	}
	uint64_t v;
	if (!scn_get_uint(ld, n, path, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

bool scn_get_bool(struct loader *ld, const struct ynode *n, const char *path,
                     bool *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type == YN_SCALAR && n->plain) {
		const char *s = scn_ytext(ld, n);
		size_t len = n->text_len;
		if (scn_text_is(s, len, "true") || scn_text_is(s, len, "True") || scn_text_is(s, len, "TRUE")) {
			*out = true;
			return true;
		}
		if (scn_text_is(s, len, "false") || scn_text_is(s, len, "False") ||
		    scn_text_is(s, len, "FALSE")) {
			*out = false;
			return true;
		}
	}
	return scn_fail(ld, n, path, "expected true or false, got %s", scn_show_node(ld, sh, n));
}

/* A decimal number: digits, an optional fraction, an optional exponent.
 * No sign, no hex, no inf or nan. */
bool scn_get_number(struct loader *ld, const struct ynode *n, const char *path,
                       double min, double max, double *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (!scn_want_scalar(ld, n, path, "a number"))
		return false;
	const char *s = scn_ytext(ld, n);
	size_t len = n->text_len, i = 0, ndigits = 0;
	bool ok = n->plain && len > 0 && len < 64;
	if (ok && s[0] == '-')
		return scn_fail(ld, n, path, "must be between %g and %g, got %s", min, max,
		            scn_show_node(ld, sh, n));
	while (ok && i < len && s[i] >= '0' && s[i] <= '9')
		i++, ndigits++;
	if (ok && i < len && s[i] == '.') {
		i++;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, ndigits++;
	}
	ok = ok && ndigits > 0;
	if (ok && i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t exp_digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, exp_digits++;
		ok = exp_digits > 0;
	}
	ok = ok && i == len;
	if (!ok)
		return scn_fail(ld, n, path, "expected a number, got %s", scn_show_node(ld, sh, n));
	double v = strtod(s, NULL);
	if (!(v >= min && v <= max))
		return scn_fail(ld, n, path, "must be between %g and %g, got %s", min, max,
		            scn_show_node(ld, sh, n));
	*out = v;
	return true;
}

/* An integer with a unit (us, ms, s, m, h), or a plain 0. */
bool scn_get_duration(struct loader *ld, const struct ynode *n, const char *path,
                         uint64_t *out_us)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (!scn_want_scalar(ld, n, path, "a duration"))
		return false;
	const char *s = scn_ytext(ld, n);
	size_t len = n->text_len, i = 0;
	uint64_t v = 0;
	bool over = false;
	while (i < len && i < 24 && s[i] >= '0' && s[i] <= '9') {
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			over = true;
		else
			v = v * 10 + d;
		i++;
	}
	uint64_t unit_us = 0;
	const char *unit = s + i;
	size_t unit_len = len - i;
	if (scn_text_is(unit, unit_len, "us"))
		unit_us = 1;
	else if (scn_text_is(unit, unit_len, "ms"))
		unit_us = 1000;
	else if (scn_text_is(unit, unit_len, "s"))
		unit_us = 1000000;
	else if (scn_text_is(unit, unit_len, "m"))
		unit_us = 60ull * 1000000;
	else if (scn_text_is(unit, unit_len, "h"))
		unit_us = 3600ull * 1000000;
	else if (unit_len == 0 && i > 0 && v == 0 && !over)
		unit_us = 1;          /* a plain 0 needs no unit */
	if (i == 0 || unit_us == 0)
		return scn_fail(ld, n, path, "expected a duration such as 250ms, 10s or 1h "
		                         "(units us, ms, s, m, h), got %s",
		            scn_show_node(ld, sh, n));
	if (over || v > SCENARIO_DURATION_MAX_US / unit_us)
		return scn_fail(ld, n, path, "must be at most 8760h, got %s", scn_show_node(ld, sh, n));
	*out_us = v * unit_us;
	return true;
}

bool scn_get_duration_positive(struct loader *ld, const struct ynode *n,
                                  const char *path, uint64_t *out_us)
{
	uint64_t v;
	if (!scn_get_duration(ld, n, path, &v))
		return false;
	if (v == 0)
		return scn_fail(ld, n, path, "must be greater than 0");
	*out_us = v;
	return true;
}

bool scn_get_duration_ms(struct loader *ld, const struct ynode *n, const char *path,
                         uint64_t max_ms, uint64_t *out_us)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	uint64_t v;
	if (!scn_get_duration(ld, n, path, &v))
		return false;
	if (v < 1000 || v % 1000 != 0)
		return scn_fail(ld, n, path, "must be a whole number of milliseconds, at least 1ms, "
		                "got %s", scn_show_node(ld, sh, n));
	if (v / 1000 > max_ms)
		return scn_fail(ld, n, path, "must be at most %" PRIu64 "ms, got %s", max_ms,
		                scn_show_node(ld, sh, n));
	*out_us = v;
	return true;
}

/* A string of 1..max_len bytes, each accepted by ok_byte. */
bool scn_get_text(struct loader *ld, const struct ynode *n, const char *path,
                     size_t max_len, bool (*ok_byte)(unsigned char), const char *what,
                     char *out, size_t out_size)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	ASSERT(max_len < out_size);
	if (!scn_want_scalar(ld, n, path, what))
		return false;
	if (scn_is_null(ld, n))
		return scn_fail(ld, n, path, "expected %s, got null", what);
	const char *s = scn_ytext(ld, n);
	if (n->text_len > max_len)
		return scn_fail(ld, n, path, "longer than %zu bytes", max_len);
	for (size_t i = 0; i < n->text_len; i++) {
		if (!ok_byte((unsigned char)s[i]))
			return scn_fail(ld, n, path, "expected %s, got %s", what, scn_show_node(ld, sh, n));
	}
	memcpy(out, s, n->text_len);
	out[n->text_len] = '\0';
	return true;
}

bool scn_byte_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

bool scn_byte_graphic(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

bool scn_byte_not_control(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

bool scn_byte_sqlstate(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

bool scn_byte_stripe_type(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

bool scn_byte_op(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '*';
}

char *scn_dup_text(struct loader *ld, const struct ynode *n)
{
	char *s = malloc(n->text_len + 1);
	if (s == NULL) {
		scn_fail_nomem(ld);
		return NULL;
	}
	memcpy(s, scn_ytext(ld, n), n->text_len + 1);
	return s;
}

/* ---- mappings --------------------------------------------------------- */

#define KEYS_MAX 32

/* path.key into out (SCENARIO_PATH_MAX bytes); a path too long for it is
 * cut, which only shortens a message. */
void scn_path_join(char *out, const char *path, const char *key)
{
	if (path == NULL || path[0] == '\0')
		scn_text_printf(out, SCENARIO_PATH_MAX, "%s", key);
	else
		scn_text_printf(out, SCENARIO_PATH_MAX, "%s.%s", path, key);
}

/* Checks that n is a mapping whose keys are all in keys[], none twice. */
bool scn_map_check(struct loader *ld, const struct ynode *n, const char *path,
                      const char *const *keys, size_t nkeys)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	ASSERT(nkeys <= KEYS_MAX);
	if (n->type != YN_MAP)
		return scn_fail(ld, n, path, "expected a mapping, got %s", scn_show_node(ld, sh, n));
	uint32_t seen = 0;
	for (const struct ynode *k = scn_ychild(ld, n); k != NULL;) {
		const struct ynode *v = scn_ynext(ld, k);
		ASSERT(v != NULL);    /* the builder refuses a key without value */
		size_t i = 0;
		while (i < nkeys && !scn_text_is(scn_ytext(ld, k), k->text_len, keys[i]))
			i++;
		if (i == nkeys) {
			char expected[200];
			scn_names_join(expected, sizeof expected, keys, nkeys);
			return scn_fail(ld, k, path, "unknown key %s (expected one of: %s)",
			            scn_show_node(ld, sh, k), expected);
		}
		if (seen & (1u << i))
			return scn_fail(ld, k, path, "duplicate key '%s'", keys[i]);
		seen |= 1u << i;
		k = scn_ynext(ld, v);
	}
	return true;
}

/* The value under key, or NULL when absent; *key_out (may be NULL) gets the
 * key node. */
const struct ynode *scn_map_get(const struct loader *ld, const struct ynode *n,
                                   const char *key, const struct ynode **key_out)
{
	for (const struct ynode *k = scn_ychild(ld, n); k != NULL;) {
		const struct ynode *v = scn_ynext(ld, k);
		if (scn_text_is(scn_ytext(ld, k), k->text_len, key)) {
			if (key_out != NULL)
				*key_out = k;
			return v;
		}
		k = scn_ynext(ld, v);
	}
	return NULL;
}

/* ---- text ------------------------------------------------------------------ */

/* snprintf for messages and paths, where cutting a long text short is the
 * intended outcome (vsnprintf keeps -Wformat-truncation quiet about it). */
__attribute__((format(printf, 3, 4)))
int scn_text_printf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return w;
}

bool scn_text_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* "a, b, c" into buf, cut to fit. */
void scn_names_join(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		int w = scn_text_printf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}
