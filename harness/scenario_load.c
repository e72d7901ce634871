/* sim/scenario.c - loads and validates a scenario file into struct scenario.
 * libfyaml's event parser reads the YAML; this file keeps a small tree of
 * the events (with their line:column) and checks every key against the
 * format in docs/scenarios.md. Not for running a scenario (sim/runner.c) nor
 * for deciding faults (sim/fault.c). No global state: a fuzz target may call
 * scenario_load_buffer directly. */
#include "sim/scenario.h"

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

#define SCENARIO_FILE_MAX (1u << 20)      /* bytes of one scenario file */
#define SCENARIO_DEPTH_MAX 8              /* nesting of mappings and lists */
#define SCENARIO_NODES_MAX 65536u         /* YAML nodes in one file */
#define SCENARIO_TEXT_ARENA_MAX (4u << 20)/* bytes of all scalars together */
#define SCENARIO_NAME_MAX 128             /* bytes of "name:" */
#define SCENARIO_SEEDS_MAX 1000000u       /* "seeds:" as a count */
#define SCENARIO_DURATION_MAX_US (8760ull * 3600 * 1000000) /* one year */
#define SCENARIO_SENDS_MAX 100u           /* sends of one quote */
#define SCENARIO_ARRIVALS_MAX 1000000u    /* requests one fix's workload makes */
#define SCENARIO_USERS_MAX 10000u
#define SCENARIO_COUNT_MAX 100000u        /* requests, events and the like */
#define SCENARIO_COPIES_MAX 100u          /* copies of one delivery/request */
#define SCENARIO_POOL_MAX 1024u           /* postgres pool size */
#define SCENARIO_ALPHA_MAX 100.0          /* pareto shape */
#define SCENARIO_PATH_MAX 128             /* "faults[12].latency.max" */
#define SCENARIO_SHOW_MAX 48              /* bytes of a value quoted in a message */

#define INV_BIT(i) (1u << (i))
#define FIX_BIT(f) (1u << (f))
#define INV_ALWAYS (INV_BIT(INV_NO_UNHANDLED) | INV_BIT(INV_NO_HUNG))

/* ---- names ------------------------------------------------------------ */

static const char *const fix_names[FIX_COUNT] = {
	[FIX_RATELIMIT] = "ratelimit",
	[FIX_QUOTE_EMAIL] = "quote-email",
	[FIX_WEBHOOK] = "webhook",
	[FIX_DEDUP] = "request-dedup",
	[FIX_CUSTOMER] = "stripe-customer",
};

static const char *const invariant_names[INV_COUNT] = {
	[INV_EXACTLY_ONCE] = "exactly-once",
	[INV_EVENTUALLY_APPLIED] = "eventually-applied",
	[INV_NO_LOCKOUT] = "no-lockout",
	[INV_NO_FALSE_DUPLICATE] = "no-false-duplicate",
	[INV_DEDUP_EFFECTIVE] = "dedup-effective",
	[INV_NO_ORPHAN] = "no-orphan",
	[INV_EMAIL_SAFE] = "email-safe",
	[INV_NO_UNHANDLED] = "no-unhandled-error",
	[INV_NO_HUNG] = "no-hung-request",
};

/* The invariants each fix makes claims about; the default when a scenario
 * lists none, and the only ones it may list. */
static const uint32_t fix_invariants[FIX_COUNT] = {
	[FIX_RATELIMIT] = INV_BIT(INV_NO_LOCKOUT),
	[FIX_QUOTE_EMAIL] = INV_BIT(INV_EMAIL_SAFE),
	[FIX_WEBHOOK] = INV_BIT(INV_EXACTLY_ONCE) | INV_BIT(INV_EVENTUALLY_APPLIED),
	[FIX_DEDUP] = INV_BIT(INV_NO_FALSE_DUPLICATE) | INV_BIT(INV_DEDUP_EFFECTIVE),
	[FIX_CUSTOMER] = INV_BIT(INV_NO_ORPHAN),
};

const char *fix_name(enum fix_id f)
{
	ASSERT((unsigned)f < FIX_COUNT);
	return fix_names[f];
}

bool fix_parse(const char *name, enum fix_id *out)
{
	ASSERT(name != NULL);
	for (unsigned i = 0; i < FIX_COUNT; i++) {
		if (strcmp(name, fix_names[i]) == 0) {
			if (out != NULL)
				*out = (enum fix_id)i;
			return true;
		}
	}
	return false;
}

const char *invariant_name(enum invariant_id i)
{
	ASSERT((unsigned)i < INV_COUNT);
	return invariant_names[i];
}

bool invariant_parse(const char *name, enum invariant_id *out)
{
	ASSERT(name != NULL);
	for (unsigned i = 0; i < INV_COUNT; i++) {
		if (strcmp(name, invariant_names[i]) == 0) {
			if (out != NULL)
				*out = (enum invariant_id)i;
			return true;
		}
	}
	return false;
}

/* Operation names per target (sim/fault.h); postgres also takes the
 * catalogue of core/sql.h. */
static const char *const redis_ops[] = {"incr", "expire", "pexpire", "set", "get",
                                        "del", "ttl", "pttl", "exec"};
static const char *const stripe_ops[] = {"customers.create"};
static const char *const mail_ops[] = {"send"};
static const char *const webhook_ops[] = {"deliver"};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* snprintf for messages and paths, where cutting a long text short is the
 * intended outcome (vsnprintf keeps -Wformat-truncation quiet about it). */
__attribute__((format(printf, 3, 4)))
static int text_printf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int w = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return w;
}

static bool text_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && memcmp(s, word, len) == 0;
}

static bool op_known(enum fault_target t, const char *op, size_t len)
{
	const char *const *ops = NULL;
	size_t n = 0;
	switch (t) {
	case FAULT_TARGET_REDIS:
		ops = redis_ops, n = COUNT_OF(redis_ops);
		break;
	case FAULT_TARGET_POSTGRES:
		if (text_is(op, len, "acquire"))
			return true;
		for (unsigned i = 0; i < SQL_STMT_COUNT; i++) {
			if (text_is(op, len, sql_stmt_get((enum sql_stmt)i)->name))
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
		if (text_is(op, len, ops[i]))
			return true;
	}
	return false;
}

/* "a, b, c" into buf, cut to fit. */
static void names_join(char *buf, size_t size, const char *const *names, size_t n)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		int w = text_printf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void op_expected(enum fault_target t, char *buf, size_t size)
{
	switch (t) {
	case FAULT_TARGET_REDIS:
		names_join(buf, size, redis_ops, COUNT_OF(redis_ops));
		return;
	case FAULT_TARGET_POSTGRES:
		text_printf(buf, size, "acquire, begin, commit, rollback or a statement "
		                    "of core/sql.h such as event_insert_new");
		return;
	case FAULT_TARGET_STRIPE:
		names_join(buf, size, stripe_ops, COUNT_OF(stripe_ops));
		return;
	case FAULT_TARGET_MAIL:
		names_join(buf, size, mail_ops, COUNT_OF(mail_ops));
		return;
	case FAULT_TARGET_WEBHOOK:
		names_join(buf, size, webhook_ops, COUNT_OF(webhook_ops));
		return;
	case FAULT_TARGET_COUNT:
		break;
	}
	buf[0] = '\0';
}

/* ---- errors and seeds ------------------------------------------------- */

void scenario_error_format(const struct scenario_error *err, char *buf, size_t size)
{
	ASSERT(err != NULL);
	if (buf == NULL || size == 0)
		return;
	if (err->line > 0)
		text_printf(buf, size, "%s:%d:%d: %s", err->file, err->line, err->column,
		         err->message);
	else
		text_printf(buf, size, "%s: %s", err->file, err->message);
}

size_t scenario_seed_count(const struct scenario *sc)
{
	ASSERT(sc != NULL);
	return sc->seed_list != NULL ? sc->nseed_list : sc->seeds;
}

uint64_t scenario_seed_at(const struct scenario *sc, size_t index)
{
	ASSERT(sc != NULL);
	ASSERT(index < scenario_seed_count(sc));
	if (sc->seed_list != NULL)
		return sc->seed_list[index];
	return sc->seed_first + index;
}

void scenario_destroy(struct scenario *sc)
{
	if (sc == NULL)
		return;
	free(sc->path);
	free(sc->name);
	free(sc->description);
	free(sc->seed_list);
	free(sc);
}

/* ---- the YAML tree ---------------------------------------------------- *
 * Built from libfyaml's events so that every node keeps the line:column
 * where it starts (this libfyaml has no node start mark). Nodes live in one
 * array and point at each other by index, 0 meaning none; scalar text lives
 * NUL-terminated in one arena, the length kept apart for embedded NULs. */

enum ynode_type { YN_SCALAR, YN_MAP, YN_SEQ };

struct ynode {
	enum ynode_type type;
	bool plain;               /* scalar written without quotes or block style */
	int line, column;         /* 1-based */
	size_t text_off, text_len;
	uint32_t first, last, next; /* children in order; a mapping's alternate
	                             * key, value, key, value ... */
	uint32_t nchildren;
};

struct ytree {
	struct ynode *nodes;
	uint32_t n, cap;
	char *text;
	size_t text_len, text_cap;
	uint32_t root;
};

struct loader {
	const char *file;         /* name used in messages */
	const char *input;        /* the YAML text, borrowed */
	size_t input_len;
	enum result rc;           /* RESULT_OK until the first failure */
	struct scenario_error err;
	struct ytree t;
	struct scenario *sc;
	int last_line, last_column; /* of the latest event that had a mark */
	const struct ynode *fix_node[FIX_COUNT]; /* where each fix is listed */
};

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
		int w = text_printf(ld->err.message, sizeof ld->err.message, "%s: ", path);
		used = w > 0 ? (size_t)w : 0;
		if (used >= sizeof ld->err.message)
			return;
	}
	vsnprintf(ld->err.message + used, sizeof ld->err.message - used, fmt, ap);
}

__attribute__((format(printf, 5, 6)))
static bool loader_fail_at(struct loader *ld, int line, int column,
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
static bool fail(struct loader *ld, const struct ynode *n, const char *path,
                 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	loader_fail_vat(ld, n ? n->line : 0, n ? n->column : 0, path, fmt, ap);
	va_end(ap);
	return false;
}

static bool fail_nomem(struct loader *ld)
{
	if (ld->rc == RESULT_OK) {
		ld->rc = RESULT_NOMEM;
		text_printf(ld->err.message, sizeof ld->err.message, "out of memory");
	}
	return false;
}

static const char *ytext(const struct loader *ld, const struct ynode *n)
{
	return ld->t.text + n->text_off;
}

static const struct ynode *ychild(const struct loader *ld, const struct ynode *n)
{
	return n->first ? &ld->t.nodes[n->first] : NULL;
}

static const struct ynode *ynext(const struct loader *ld, const struct ynode *n)
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
			text_printf(buf + o, 5, "\\x%02x", c);
			o += 4;
		}
	}
	buf[o] = '\0';
	return buf;
}

static const char *show_node(const struct loader *ld, char buf[static SCENARIO_SHOW_MAX + 8],
                             const struct ynode *n)
{
	if (n->type == YN_MAP)
		return "a mapping";
	if (n->type == YN_SEQ)
		return "a list";
	char inner[SCENARIO_SHOW_MAX + 8];
	show(inner, ytext(ld, n), n->text_len);
	text_printf(buf, SCENARIO_SHOW_MAX + 8, "'%s'", inner);
	return buf;
}

static bool ytree_add(struct loader *ld, enum ynode_type type, bool plain,
                      const char *text, size_t len, uint32_t *idx)
{
	struct ytree *t = &ld->t;
	if (t->n >= SCENARIO_NODES_MAX)
		return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                      "more than %u YAML nodes", SCENARIO_NODES_MAX);
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 256;
		struct ynode *nodes = realloc(t->nodes, cap * sizeof *nodes);
		if (nodes == NULL)
			return fail_nomem(ld);
		t->nodes = nodes;
		t->cap = cap;
	}
	if (len + 1 > SCENARIO_TEXT_ARENA_MAX - t->text_len)
		return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                      "more than %u bytes of text", SCENARIO_TEXT_ARENA_MAX);
	if (t->text_len + len + 1 > t->text_cap) {
		size_t cap = t->text_cap ? t->text_cap : 4096;
		while (cap < t->text_len + len + 1)
			cap *= 2;
		char *text_new = realloc(t->text, cap);
		if (text_new == NULL)
			return fail_nomem(ld);
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
			return fail(ld, n, NULL, "mapping keys must be plain strings, "
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
			return fail(ld, n, NULL, "nested more than %d levels deep",
			            SCENARIO_DEPTH_MAX);
		b->stack[b->depth++] = idx;
	}
	return true;
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
	return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
	                      "two escaped quotes in a row ('''') in a single-quoted string "
	                      "are misread by libfyaml 0.7; write this value in double quotes");
}

static bool ytree_fail_tag(struct loader *ld, struct fy_token *tag)
{
	ytree_mark(ld, fy_token_start_mark(tag), '\0');
	return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
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
			return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
			                      "a scenario file holds one YAML document; "
			                      "found a second one");
		return true;
	case FYET_ALIAS:
		return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
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
		return ytree_attach(ld, b, idx);
	case FYET_MAPPING_END:
	case FYET_SEQUENCE_END: {
		if (b->depth == 0)
			return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
			                      "unbalanced YAML events");
		const struct ynode *closed = &ld->t.nodes[b->stack[--b->depth]];
		if (closed->type == YN_MAP && closed->nchildren % 2 != 0)
			return fail(ld, closed, NULL, "mapping key without a value");
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
	return loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
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

static void ytree_fail_from_diag(struct loader *ld, struct fy_diag *diag)
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
		loader_fail_at(ld, line, column, NULL, "invalid YAML: %s",
		               de->msg ? de->msg : "syntax error");
		return;
	}
	loader_fail_at(ld, ld->last_line, ld->last_column, NULL, "invalid YAML");
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
	return loader_fail_at(ld, line, column, NULL,
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
			return loader_fail_at(ld, line, column, NULL,
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

static bool ytree_build(struct loader *ld, const char *buf, size_t len)
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
		return fail_nomem(ld);
	fy_diag_set_collect_errors(diag, true);

	struct fy_parse_cfg pcfg = {
		.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE,
		.diag = diag,
	};
	struct fy_parser *parser = fy_parser_create(&pcfg);
	if (parser == NULL) {
		fy_diag_destroy(diag);
		return fail_nomem(ld);
	}
	bool ok = fy_parser_set_string(parser, buf, len) == 0;
	if (!ok)
		fail_nomem(ld);

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
			ok = loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
			                    "too many YAML events");
		fy_parser_event_free(parser, e);
	}
	if (ok && fy_parser_get_stream_error(parser)) {
		ytree_fail_from_diag(ld, diag);
		ok = false;
	}
	fy_parser_destroy(parser);
	fy_diag_destroy(diag);
	if (ok && b.depth != 0)
		ok = loader_fail_at(ld, ld->last_line, ld->last_column, NULL,
		                    "unexpected end of the YAML stream");
	return ok && ld->rc == RESULT_OK;
}

/* ---- scalars ---------------------------------------------------------- */

static bool is_null(const struct loader *ld, const struct ynode *n)
{
	if (n->type != YN_SCALAR || !n->plain)
		return false;
	const char *s = ytext(ld, n);
	return n->text_len == 0 || text_is(s, n->text_len, "~") ||
	       text_is(s, n->text_len, "null") || text_is(s, n->text_len, "Null") ||
	       text_is(s, n->text_len, "NULL");
}

static bool want_scalar(struct loader *ld, const struct ynode *n, const char *path,
                        const char *what)
{
	if (n->type == YN_SCALAR)
		return true;
	char sh[SCENARIO_SHOW_MAX + 8];
	return fail(ld, n, path, "expected %s, got %s", what, show_node(ld, sh, n));
}

static bool get_uint(struct loader *ld, const struct ynode *n, const char *path,
                     uint64_t min, uint64_t max, uint64_t *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (!want_scalar(ld, n, path, "an integer"))
		return false;
	const char *s = ytext(ld, n);
	size_t len = n->text_len;
	if (n->plain && len > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9')
		return fail(ld, n, path, "must not be negative, got %s", show_node(ld, sh, n));
	bool digits = n->plain && len > 0 && len <= 20;
	for (size_t i = 0; digits && i < len; i++)
		digits = s[i] >= '0' && s[i] <= '9';
	if (!digits)
		return fail(ld, n, path, "expected an integer, got %s", show_node(ld, sh, n));
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
		return fail(ld, n, path, "must be between %" PRIu64 " and %" PRIu64 ", got %s",
		            min, max, show_node(ld, sh, n));
	*out = v;
	return true;
}

static bool get_u32(struct loader *ld, const struct ynode *n, const char *path,
                    uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	if (!get_uint(ld, n, path, min, max, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static bool get_bool(struct loader *ld, const struct ynode *n, const char *path,
                     bool *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type == YN_SCALAR && n->plain) {
		const char *s = ytext(ld, n);
		size_t len = n->text_len;
		if (text_is(s, len, "true") || text_is(s, len, "True") || text_is(s, len, "TRUE")) {
			*out = true;
			return true;
		}
		if (text_is(s, len, "false") || text_is(s, len, "False") ||
		    text_is(s, len, "FALSE")) {
			*out = false;
			return true;
		}
	}
	return fail(ld, n, path, "expected true or false, got %s", show_node(ld, sh, n));
}

/* A decimal number: digits, an optional fraction, an optional exponent.
 * No sign, no hex, no inf or nan. */
static bool get_number(struct loader *ld, const struct ynode *n, const char *path,
                       double min, double max, double *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (!want_scalar(ld, n, path, "a number"))
		return false;
	const char *s = ytext(ld, n);
	size_t len = n->text_len, i = 0, ndigits = 0;
	bool ok = n->plain && len > 0 && len < 64;
	if (ok && s[0] == '-')
		return fail(ld, n, path, "must be between %g and %g, got %s", min, max,
		            show_node(ld, sh, n));
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
		return fail(ld, n, path, "expected a number, got %s", show_node(ld, sh, n));
	double v = strtod(s, NULL);
	if (!(v >= min && v <= max))
		return fail(ld, n, path, "must be between %g and %g, got %s", min, max,
		            show_node(ld, sh, n));
	*out = v;
	return true;
}

/* An integer with a unit (us, ms, s, m, h), or a plain 0. */
static bool get_duration(struct loader *ld, const struct ynode *n, const char *path,
                         uint64_t *out_us)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (!want_scalar(ld, n, path, "a duration"))
		return false;
	const char *s = ytext(ld, n);
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
	if (text_is(unit, unit_len, "us"))
		unit_us = 1;
	else if (text_is(unit, unit_len, "ms"))
		unit_us = 1000;
	else if (text_is(unit, unit_len, "s"))
		unit_us = 1000000;
	else if (text_is(unit, unit_len, "m"))
		unit_us = 60ull * 1000000;
	else if (text_is(unit, unit_len, "h"))
		unit_us = 3600ull * 1000000;
	else if (unit_len == 0 && i > 0 && v == 0 && !over)
		unit_us = 1;          /* a plain 0 needs no unit */
	if (i == 0 || unit_us == 0)
		return fail(ld, n, path, "expected a duration such as 250ms, 10s or 1h "
		                         "(units us, ms, s, m, h), got %s",
		            show_node(ld, sh, n));
	if (over || v > SCENARIO_DURATION_MAX_US / unit_us)
		return fail(ld, n, path, "must be at most 8760h, got %s", show_node(ld, sh, n));
	*out_us = v * unit_us;
	return true;
}

static bool get_duration_positive(struct loader *ld, const struct ynode *n,
                                  const char *path, uint64_t *out_us)
{
	uint64_t v;
	if (!get_duration(ld, n, path, &v))
		return false;
	if (v == 0)
		return fail(ld, n, path, "must be greater than 0");
	*out_us = v;
	return true;
}

/* A string of 1..max_len bytes, each accepted by ok_byte. */
static bool get_text(struct loader *ld, const struct ynode *n, const char *path,
                     size_t max_len, bool (*ok_byte)(unsigned char), const char *what,
                     char *out, size_t out_size)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	ASSERT(max_len < out_size);
	if (!want_scalar(ld, n, path, what))
		return false;
	if (is_null(ld, n))
		return fail(ld, n, path, "expected %s, got null", what);
	const char *s = ytext(ld, n);
	if (n->text_len > max_len)
		return fail(ld, n, path, "longer than %zu bytes", max_len);
	for (size_t i = 0; i < n->text_len; i++) {
		if (!ok_byte((unsigned char)s[i]))
			return fail(ld, n, path, "expected %s, got %s", what, show_node(ld, sh, n));
	}
	memcpy(out, s, n->text_len);
	out[n->text_len] = '\0';
	return true;
}

static bool byte_printable(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

static bool byte_graphic(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

static bool byte_not_control(unsigned char c)
{
	return c >= 0x20 && c != 0x7f;
}

static bool byte_sqlstate(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

static bool byte_stripe_type(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || c == '_';
}

static bool byte_op(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '*';
}

static char *dup_text(struct loader *ld, const struct ynode *n)
{
	char *s = malloc(n->text_len + 1);
	if (s == NULL) {
		fail_nomem(ld);
		return NULL;
	}
	memcpy(s, ytext(ld, n), n->text_len + 1);
	return s;
}

/* ---- mappings --------------------------------------------------------- */

#define KEYS_MAX 32

/* path.key into out (SCENARIO_PATH_MAX bytes); a path too long for it is
 * cut, which only shortens a message. */
static void path_join(char *out, const char *path, const char *key)
{
	if (path == NULL || path[0] == '\0')
		text_printf(out, SCENARIO_PATH_MAX, "%s", key);
	else
		text_printf(out, SCENARIO_PATH_MAX, "%s.%s", path, key);
}

/* Checks that n is a mapping whose keys are all in keys[], none twice. */
static bool map_check(struct loader *ld, const struct ynode *n, const char *path,
                      const char *const *keys, size_t nkeys)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	ASSERT(nkeys <= KEYS_MAX);
	if (n->type != YN_MAP)
		return fail(ld, n, path, "expected a mapping, got %s", show_node(ld, sh, n));
	uint32_t seen = 0;
	for (const struct ynode *k = ychild(ld, n); k != NULL;) {
		const struct ynode *v = ynext(ld, k);
		ASSERT(v != NULL);    /* the builder refuses a key without value */
		size_t i = 0;
		while (i < nkeys && !text_is(ytext(ld, k), k->text_len, keys[i]))
			i++;
		if (i == nkeys) {
			char expected[200];
			names_join(expected, sizeof expected, keys, nkeys);
			return fail(ld, k, path, "unknown key %s (expected one of: %s)",
			            show_node(ld, sh, k), expected);
		}
		if (seen & (1u << i))
			return fail(ld, k, path, "duplicate key '%s'", keys[i]);
		seen |= 1u << i;
		k = ynext(ld, v);
	}
	return true;
}

/* The value under key, or NULL when absent; *key_out (may be NULL) gets the
 * key node. */
static const struct ynode *map_get(const struct loader *ld, const struct ynode *n,
                                   const char *key, const struct ynode **key_out)
{
	for (const struct ynode *k = ychild(ld, n); k != NULL;) {
		const struct ynode *v = ynext(ld, k);
		if (text_is(ytext(ld, k), k->text_len, key)) {
			if (key_out != NULL)
				*key_out = k;
			return v;
		}
		k = ynext(ld, v);
	}
	return NULL;
}

/* Reads an optional key with a getter; absent leaves *out alone. */
#define OPT(getter, map, path, key, ...)                                      \
	do {                                                                  \
		const struct ynode *v_ = map_get(ld, (map), (key), NULL);     \
		char p_[SCENARIO_PATH_MAX];                                   \
		path_join(p_, (path), (key));                                 \
		if (v_ != NULL && !getter(ld, v_, p_, __VA_ARGS__))           \
			return false;                                         \
	} while (0)

/* ---- top level -------------------------------------------------------- */

static bool load_fixes(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[160];
	names_join(expected, sizeof expected, fix_names, FIX_COUNT);
	if (n->type != YN_SEQ)
		return fail(ld, n, "fixes", "expected a list of fixes (%s), got %s", expected,
		            show_node(ld, sh, n));
	if (n->nchildren == 0)
		return fail(ld, n, "fixes", "must list at least one fix (%s)", expected);
	size_t i = 0;
	for (const struct ynode *c = ychild(ld, n); c != NULL; c = ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		text_printf(path, sizeof path, "fixes[%zu]", i);
		enum fix_id f;
		if (c->type != YN_SCALAR || strlen(ytext(ld, c)) != c->text_len ||
		    !fix_parse(ytext(ld, c), &f))
			return fail(ld, c, path, "unknown fix %s (expected one of: %s)",
			            show_node(ld, sh, c), expected);
		if (ld->sc->fixes & FIX_BIT(f))
			return fail(ld, c, path, "fix '%s' is listed twice", fix_name(f));
		ld->sc->fixes |= FIX_BIT(f);
		ld->fix_node[f] = c;
	}
	return true;
}

static bool load_invariants(struct loader *ld, const struct ynode *n)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[200];
	names_join(expected, sizeof expected, invariant_names, INV_COUNT);
	if (n->type != YN_SEQ)
		return fail(ld, n, "invariants", "expected a list of invariants, got %s",
		            show_node(ld, sh, n));
	uint32_t allowed = INV_ALWAYS, listed = 0;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		if (ld->sc->fixes & FIX_BIT(f))
			allowed |= fix_invariants[f];
	}
	size_t i = 0;
	for (const struct ynode *c = ychild(ld, n); c != NULL; c = ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		text_printf(path, sizeof path, "invariants[%zu]", i);
		enum invariant_id inv;
		if (c->type != YN_SCALAR || strlen(ytext(ld, c)) != c->text_len ||
		    !invariant_parse(ytext(ld, c), &inv))
			return fail(ld, c, path, "unknown invariant %s (expected one of: %s)",
			            show_node(ld, sh, c), expected);
		if (listed & INV_BIT(inv))
			return fail(ld, c, path, "invariant '%s' is listed twice",
			            invariant_name(inv));
		if (!(allowed & INV_BIT(inv))) {
			unsigned owner = 0;
			while (owner < FIX_COUNT && !(fix_invariants[owner] & INV_BIT(inv)))
				owner++;
			ASSERT(owner < FIX_COUNT);
			return fail(ld, c, path,
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
	const struct ynode *first = map_get(ld, map, "seed_first", &first_key);
	const struct ynode *seeds = map_get(ld, map, "seeds", NULL);
	if (first != NULL && !get_uint(ld, first, "seed_first", 0, UINT64_MAX, &sc->seed_first))
		return false;
	if (seeds == NULL || seeds->type != YN_SEQ) {
		if (seeds != NULL &&
		    !get_u32(ld, seeds, "seeds", 1, SCENARIO_SEEDS_MAX, &sc->seeds))
			return false;
		if (sc->seed_first > UINT64_MAX - (sc->seeds - 1))
			return fail(ld, first, "seed_first",
			            "seed_first + seeds - 1 does not fit in 64 bits");
		return true;
	}
	if (first != NULL)
		return fail(ld, first_key, "seed_first",
		            "only with a seed count, not with a list of seeds");
	if (seeds->nchildren == 0 || seeds->nchildren > SCENARIO_SEED_LIST_MAX)
		return fail(ld, seeds, "seeds", "a list of seeds holds 1 to %d seeds, got %" PRIu32,
		            SCENARIO_SEED_LIST_MAX, seeds->nchildren);
	sc->seed_list = calloc(seeds->nchildren, sizeof *sc->seed_list);
	if (sc->seed_list == NULL)
		return fail_nomem(ld);
	size_t i = 0;
	for (const struct ynode *c = ychild(ld, seeds); c != NULL; c = ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		text_printf(path, sizeof path, "seeds[%zu]", i);
		if (!get_uint(ld, c, path, 0, UINT64_MAX, &sc->seed_list[i]))
			return false;
	}
	sc->nseed_list = i;
	sc->seeds = (uint32_t)i;
	return true;
}

static bool load_name(struct loader *ld, const struct ynode *map)
{
	struct scenario *sc = ld->sc;
	const struct ynode *n = map_get(ld, map, "name", NULL);
	if (n != NULL) {
		char buf[SCENARIO_NAME_MAX];
		if (!get_text(ld, n, "name", SCENARIO_NAME_MAX - 1, byte_not_control,
		              "a name without control characters", buf, sizeof buf))
			return false;
		if (buf[0] == '\0')
			return fail(ld, n, "name", "must not be empty");
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
		return fail_nomem(ld);

	n = map_get(ld, map, "description", NULL);
	if (n != NULL && !is_null(ld, n)) {
		if (!want_scalar(ld, n, "description", "a string"))
			return false;
		if (strlen(ytext(ld, n)) != n->text_len)
			return fail(ld, n, "description", "must not contain NUL bytes");
		sc->description = dup_text(ld, n);
	} else {
		sc->description = strdup("");
	}
	return sc->description != NULL || fail_nomem(ld);
}

/* ---- backends --------------------------------------------------------- */

/* A duration (fixed) or [min, max]. */
static bool get_latency(struct loader *ld, const struct ynode *n, const char *path,
                        struct latency *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type == YN_SCALAR) {
		uint64_t v;
		if (!get_duration(ld, n, path, &v))
			return false;
		out->min_us = out->max_us = v;
		return true;
	}
	if (n->type != YN_SEQ || n->nchildren != 2)
		return fail(ld, n, path, "expected a duration or [min, max], got %s",
		            show_node(ld, sh, n));
	const struct ynode *lo = ychild(ld, n), *hi = ynext(ld, lo);
	char p[SCENARIO_PATH_MAX];
	struct latency l;
	text_printf(p, sizeof p, "%s[0]", path);
	if (!get_duration(ld, lo, p, &l.min_us))
		return false;
	text_printf(p, sizeof p, "%s[1]", path);
	if (!get_duration(ld, hi, p, &l.max_us))
		return false;
	if (l.min_us > l.max_us)
		return fail(ld, n, path, "min must not exceed max");
	*out = l;
	return true;
}

static bool load_backend(struct loader *ld, const struct ynode *n, const char *path,
                         struct backend_settings *b, uint32_t *pool)
{
	static const char *const keys[] = {"latency", "timeout", "pool"};
	if (!map_check(ld, n, path, keys, pool != NULL ? 3 : 2))
		return false;
	OPT(get_latency, n, path, "latency", &b->latency);
	OPT(get_duration_positive, n, path, "timeout", &b->timeout_us);
	if (pool != NULL)
		OPT(get_u32, n, path, "pool", 1, SCENARIO_POOL_MAX, pool);
	return true;
}

static bool load_backends(struct loader *ld, const struct ynode *n)
{
	static const char *const keys[] = {"redis", "postgres", "stripe", "mail"};
	struct scenario *sc = ld->sc;
	if (!map_check(ld, n, "backends", keys, COUNT_OF(keys)))
		return false;
	struct backend_settings *settings[] = {&sc->redis, &sc->postgres, &sc->stripe,
	                                       &sc->mail};
	for (size_t i = 0; i < COUNT_OF(keys); i++) {
		const struct ynode *v = map_get(ld, n, keys[i], NULL);
		char path[SCENARIO_PATH_MAX];
		path_join(path, "backends", keys[i]);
		if (v != NULL && !is_null(ld, v) && !load_backend(ld, v, path, settings[i],
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
		return fail(ld, n, path, "the workload makes %" PRIu64 " requests; at most %u",
		            arrivals, SCENARIO_ARRIVALS_MAX);
	return true;
}

static bool load_ratelimit(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"users", "requests_per_user", "spread",
	                                   "limit", "window", "probe_after_window",
	                                   "fail_open"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->ratelimit) *w = &ld->sc->ratelimit;
	OPT(get_u32, n, path, "users", 1, SCENARIO_USERS_MAX, &w->users);
	OPT(get_u32, n, path, "requests_per_user", 1, SCENARIO_COUNT_MAX,
	    &w->requests_per_user);
	OPT(get_duration, n, path, "spread", &w->spread_us);
	OPT(get_u32, n, path, "limit", 1, SCENARIO_ARRIVALS_MAX, &w->limit);
	OPT(get_duration_positive, n, path, "window", &w->window_us);
	OPT(get_bool, n, path, "probe_after_window", &w->probe_after_window);
	OPT(get_bool, n, path, "fail_open", &w->fail_open);
	return check_arrivals(ld, n, path, (uint64_t)w->users * w->requests_per_user);
}

static bool load_dedup(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"requests", "duplicates", "spread",
	                                   "duplicate_delay", "ttl"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->dedup) *w = &ld->sc->dedup;
	OPT(get_u32, n, path, "requests", 1, SCENARIO_COUNT_MAX, &w->requests);
	OPT(get_u32, n, path, "duplicates", 0, SCENARIO_COPIES_MAX, &w->duplicates);
	OPT(get_duration, n, path, "spread", &w->spread_us);
	OPT(get_duration, n, path, "duplicate_delay", &w->duplicate_delay_us);
	OPT(get_duration_positive, n, path, "ttl", &w->ttl_us);
	return check_arrivals(ld, n, path, (uint64_t)w->requests * (1u + w->duplicates));
}

/* A quote field: null (key absent, empty or null) or up to
 * SCENARIO_TEXT_MAX - 1 bytes of anything, NUL included. */
static bool get_quote_text(struct loader *ld, const struct ynode *n, const char *path,
                           bool *is_null_out, char *out, size_t *len_out)
{
	if (!want_scalar(ld, n, path, "a string or null"))
		return false;
	if (is_null(ld, n)) {
		*is_null_out = true;
		*len_out = 0;
		out[0] = '\0';
		return true;
	}
	if (n->text_len > SCENARIO_TEXT_MAX - 1)
		return fail(ld, n, path, "longer than %d bytes", SCENARIO_TEXT_MAX - 1);
	memcpy(out, ytext(ld, n), n->text_len);
	out[n->text_len] = '\0';
	*len_out = n->text_len;
	*is_null_out = false;
	return true;
}

static bool get_expect(struct loader *ld, const struct ynode *n, const char *path,
                       int *out)
{
	char sh[SCENARIO_SHOW_MAX + 8];
	if (n->type == YN_SCALAR) {
		const char *s = ytext(ld, n);
		if (text_is(s, n->text_len, "oracle")) {
			*out = -1;
			return true;
		}
		if (text_is(s, n->text_len, "reject")) {
			*out = 0;
			return true;
		}
		if (text_is(s, n->text_len, "send")) {
			*out = 1;
			return true;
		}
	}
	return fail(ld, n, path, "expected oracle, reject or send, got %s",
	            show_node(ld, sh, n));
}

static bool load_quote(struct loader *ld, const struct ynode *n, const char *path,
                       struct quote_spec *q)
{
	static const char *const keys[] = {"ref", "name", "email", "sends", "expect"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	*q = (struct quote_spec){.name_null = true, .email_null = true, .sends = 1,
	                         .expect = -1};
	const struct ynode *ref = map_get(ld, n, "ref", NULL);
	if (ref == NULL)
		return fail(ld, n, path, "missing required key 'ref'");
	char p[SCENARIO_PATH_MAX];
	path_join(p, path, "ref");
	if (!get_text(ld, ref, p, sizeof q->ref - 1, byte_graphic,
	              "a reference of printable characters without spaces", q->ref,
	              sizeof q->ref))
		return false;
	if (q->ref[0] == '\0')
		return fail(ld, ref, p, "must not be empty");
	OPT(get_quote_text, n, path, "name", &q->name_null, q->name, &q->name_len);
	OPT(get_quote_text, n, path, "email", &q->email_null, q->email, &q->email_len);
	OPT(get_u32, n, path, "sends", 1, SCENARIO_SENDS_MAX, &q->sends);
	OPT(get_expect, n, path, "expect", &q->expect);
	return true;
}

static bool load_quote_email(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"spread", "quotes"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->quote_email) *w = &ld->sc->quote_email;
	OPT(get_duration, n, path, "spread", &w->spread_us);
	const struct ynode *quotes = map_get(ld, n, "quotes", NULL);
	char qpath[SCENARIO_PATH_MAX];
	path_join(qpath, path, "quotes");
	if (quotes == NULL)
		return fail(ld, n, path, "missing required key 'quotes'");
	if (quotes->type != YN_SEQ || quotes->nchildren == 0 ||
	    quotes->nchildren > SCENARIO_QUOTES_MAX)
		return fail(ld, quotes, qpath, "expected a list of 1 to %d quotes",
		            SCENARIO_QUOTES_MAX);
	size_t i = 0;
	for (const struct ynode *c = ychild(ld, quotes); c != NULL; c = ynext(ld, c), i++) {
		char p[SCENARIO_PATH_MAX];
		text_printf(p, sizeof p, "%s[%zu]", qpath, i);
		if (!load_quote(ld, c, p, &w->quotes[i]))
			return false;
		/* at most once per quote is keyed on ref: two quotes may not share one. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(w->quotes[j].ref, w->quotes[i].ref) == 0)
				return fail(ld, map_get(ld, c, "ref", NULL), p,
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
		return fail(ld, n, path, "expected a list of durations, got %s",
		            show_node(ld, sh, n));
	if (n->nchildren > SCENARIO_RETRIES_MAX)
		return fail(ld, n, path, "at most %d retries", SCENARIO_RETRIES_MAX);
	size_t i = 0;
	for (const struct ynode *c = ychild(ld, n); c != NULL; c = ynext(ld, c), i++) {
		char p[SCENARIO_PATH_MAX];
		text_printf(p, sizeof p, "%s[%zu]", path, i);
		if (!get_duration_positive(ld, c, p, &retry_us[i]))
			return false;
	}
	*nretry = i;
	return true;
}

static bool load_webhook(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"events", "copies", "copy_spread", "spread",
	                                   "retries", "endpoint_timeout",
	                                   "bad_signatures", "stale_signatures"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->webhook) *w = &ld->sc->webhook;
	OPT(get_u32, n, path, "events", 1, SCENARIO_COUNT_MAX, &w->events);
	OPT(get_u32, n, path, "copies", 1, SCENARIO_COPIES_MAX, &w->copies);
	OPT(get_duration, n, path, "copy_spread", &w->copy_spread_us);
	OPT(get_duration, n, path, "spread", &w->spread_us);
	OPT(get_retries, n, path, "retries", w->retry_us, &w->nretry);
	OPT(get_duration_positive, n, path, "endpoint_timeout", &w->endpoint_timeout_us);
	OPT(get_u32, n, path, "bad_signatures", 0, SCENARIO_COUNT_MAX, &w->bad_signatures);
	OPT(get_u32, n, path, "stale_signatures", 0, SCENARIO_COUNT_MAX,
	    &w->stale_signatures);
	return check_arrivals(ld, n, path,
	                      (uint64_t)w->events * w->copies + w->bad_signatures +
	                              w->stale_signatures);
}

static bool load_customer(struct loader *ld, const struct ynode *n, const char *path)
{
	static const char *const keys[] = {"users", "concurrent", "spread", "copy_spread"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	__typeof__(ld->sc->customer) *w = &ld->sc->customer;
	OPT(get_u32, n, path, "users", 1, SCENARIO_USERS_MAX, &w->users);
	OPT(get_u32, n, path, "concurrent", 1, SCENARIO_COPIES_MAX, &w->concurrent);
	OPT(get_duration, n, path, "spread", &w->spread_us);
	OPT(get_duration, n, path, "copy_spread", &w->copy_spread_us);
	return true;
}

static bool load_workload(struct loader *ld, const struct ynode *n)
{
	if (!map_check(ld, n, "workload", fix_names, FIX_COUNT))
		return false;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		const struct ynode *key = NULL;
		const struct ynode *v = map_get(ld, n, fix_names[f], &key);
		if (v == NULL)
			continue;
		char path[SCENARIO_PATH_MAX];
		path_join(path, "workload", fix_names[f]);
		if (!(ld->sc->fixes & FIX_BIT(f)))
			return fail(ld, key, path, "a workload for fix '%s', which 'fixes' "
			                           "does not list", fix_names[f]);
		if (is_null(ld, v))
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
	names_join(expected, sizeof expected, names, FAULT_TARGET_COUNT);
	if (n->type != YN_SCALAR || strlen(ytext(ld, n)) != n->text_len ||
	    !fault_target_parse(ytext(ld, n), out))
		return fail(ld, n, path, "unknown fault target %s (expected one of: %s)",
		            show_node(ld, sh, n), expected);
	return true;
}

static bool get_kind(struct loader *ld, const struct ynode *n, const char *path,
                     enum fault_kind *out)
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[200];
	const char *names[FAULT_KIND_COUNT];
	for (unsigned i = 0; i < FAULT_KIND_COUNT; i++)
		names[i] = fault_kind_name((enum fault_kind)i);
	names_join(expected, sizeof expected, names, FAULT_KIND_COUNT);
	if (n->type != YN_SCALAR || strlen(ytext(ld, n)) != n->text_len ||
	    !fault_kind_parse(ytext(ld, n), out))
		return fail(ld, n, path, "unknown fault kind %s (expected one of: %s)",
		            show_node(ld, sh, n), expected);
	return true;
}

static bool get_op(struct loader *ld, const struct ynode *n, const char *path,
                   enum fault_target t, char out[FAULT_OP_MAX])
{
	char sh[SCENARIO_SHOW_MAX + 8], expected[160];
	if (!want_scalar(ld, n, path, "an operation name"))
		return false;
	const char *s = ytext(ld, n);
	if (!text_is(s, n->text_len, "*") && !op_known(t, s, n->text_len)) {
		op_expected(t, expected, sizeof expected);
		return fail(ld, n, path, "unknown %s op %s (expected *, %s)", fault_target_name(t),
		            show_node(ld, sh, n), expected);
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
	if (!get_text(ld, n, path, FAULT_OP_MAX - 1, byte_op, "'target.op'", buf, sizeof buf))
		return false;
	char *dot = strchr(buf, '.');
	enum fault_target t;
	if (dot == NULL)
		return fail(ld, n, path, "expected 'target.op' such as "
		                         "'postgres.event_insert_new', got %s",
		            show_node(ld, sh, n));
	*dot = '\0';
	const char *op = dot + 1;
	if (!fault_target_parse(buf, &t))
		return fail(ld, n, path, "unknown target '%s' in %s", buf, show_node(ld, sh, n));
	if (!op_known(t, op, strlen(op)))
		return fail(ld, n, path, "unknown %s op '%s' in %s", fault_target_name(t), op,
		            show_node(ld, sh, n));
	memcpy(out, ytext(ld, n), n->text_len + 1);
	return true;
}

static bool get_window(struct loader *ld, const struct ynode *n, const char *path,
                       struct fault_rule *r)
{
	char sh[SCENARIO_SHOW_MAX + 8], p[SCENARIO_PATH_MAX];
	if (n->type != YN_SEQ || n->nchildren != 2)
		return fail(ld, n, path, "expected [from, until], got %s", show_node(ld, sh, n));
	const struct ynode *lo = ychild(ld, n), *hi = ynext(ld, lo);
	text_printf(p, sizeof p, "%s[0]", path);
	if (!get_duration(ld, lo, p, &r->from_us))
		return false;
	text_printf(p, sizeof p, "%s[1]", path);
	return get_duration(ld, hi, p, &r->until_us);
}

static bool get_pareto(struct loader *ld, const struct ynode *n, const char *path,
                       struct fault_rule *r)
{
	static const char *const keys[] = {"pareto", "alpha", "max"};
	if (!map_check(ld, n, path, keys, COUNT_OF(keys)))
		return false;
	const struct ynode *scale = map_get(ld, n, "pareto", NULL);
	const struct ynode *max = map_get(ld, n, "max", NULL);
	if (scale == NULL)
		return fail(ld, n, path, "missing required key 'pareto' (the scale)");
	if (max == NULL)
		return fail(ld, n, path, "missing required key 'max' (the cap)");
	r->dist = FAULT_DIST_PARETO;
	r->pareto_alpha = 1.5;
	OPT(get_duration_positive, n, path, "pareto", &r->latency_us);
	OPT(get_number, n, path, "alpha", 0.0, SCENARIO_ALPHA_MAX, &r->pareto_alpha);
	OPT(get_duration, n, path, "max", &r->latency_max_us);
	char p[SCENARIO_PATH_MAX];
	if (!(r->pareto_alpha > 0.0)) {
		path_join(p, path, "alpha");
		return fail(ld, map_get(ld, n, "alpha", NULL), p, "must be greater than 0");
	}
	if (r->latency_max_us < r->latency_us) {
		path_join(p, path, "max");
		return fail(ld, max, p, "must not be less than the scale");
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
		if (!get_duration(ld, n, path, &r->latency_us))
			return false;
		r->latency_max_us = r->latency_us;
		return true;
	}
	if (n->nchildren != 2)
		return fail(ld, n, path, "expected a duration, [min, max] or "
		                         "{pareto: scale, alpha: a, max: cap}, got %s",
		            show_node(ld, sh, n));
	const struct ynode *lo = ychild(ld, n), *hi = ynext(ld, lo);
	r->dist = FAULT_DIST_UNIFORM;
	text_printf(p, sizeof p, "%s[0]", path);
	if (!get_duration(ld, lo, p, &r->latency_us))
		return false;
	text_printf(p, sizeof p, "%s[1]", path);
	if (!get_duration(ld, hi, p, &r->latency_max_us))
		return false;
	if (r->latency_us > r->latency_max_us)
		return fail(ld, n, path, "min must not exceed max");
	return true;
}

/* error/status of a server-error, as the target needs them. */
static bool load_server_error(struct loader *ld, const struct ynode *n, const char *path,
                              struct fault_rule *r)
{
	const struct ynode *ekey = NULL, *skey = NULL;
	const struct ynode *err = map_get(ld, n, "error", &ekey);
	const struct ynode *status = map_get(ld, n, "status", &skey);
	char p[SCENARIO_PATH_MAX];
	path_join(p, path, "error");
	switch (r->target) {
	case FAULT_TARGET_REDIS:
		if (err == NULL)
			return fail(ld, n, path, "a redis server-error needs 'error' "
			                         "(the reply, e.g. \"OOM command not allowed\")");
		if (!get_text(ld, err, p, FAULT_TEXT_MAX - 1, byte_printable,
		              "a one-line message of printable characters", r->error,
		              sizeof r->error))
			return false;
		break;
	case FAULT_TARGET_POSTGRES:
		if (err == NULL)
			return fail(ld, n, path, "a postgres server-error needs 'error' "
			                         "(a SQLSTATE such as \"40001\")");
		if (!get_text(ld, err, p, 5, byte_sqlstate, "a SQLSTATE of 5 characters [0-9A-Z]",
		              r->error, sizeof r->error))
			return false;
		if (strlen(r->error) != 5)
			return fail(ld, err, p, "expected a SQLSTATE of 5 characters [0-9A-Z], "
			                        "got '%s'", r->error);
		break;
	case FAULT_TARGET_STRIPE:
		if (err != NULL &&
		    !get_text(ld, err, p, FAULT_TEXT_MAX - 1, byte_stripe_type,
		              "a Stripe error type such as api_error", r->error, sizeof r->error))
			return false;
		break;
	case FAULT_TARGET_MAIL:
	case FAULT_TARGET_WEBHOOK:
		if (err != NULL &&
		    !get_text(ld, err, p, FAULT_TEXT_MAX - 1, byte_printable,
		              "a one-line message of printable characters", r->error,
		              sizeof r->error))
			return false;
		break;
	case FAULT_TARGET_COUNT:
		ASSERT(!"unknown target");
	}
	if (err != NULL && r->error[0] == '\0')
		return fail(ld, err, p, "must not be empty");

	path_join(p, path, "status");
	bool wants_status = r->target == FAULT_TARGET_STRIPE ||
	                    r->target == FAULT_TARGET_MAIL ||
	                    r->target == FAULT_TARGET_WEBHOOK;
	if (!wants_status) {
		if (status != NULL)
			return fail(ld, skey, p, "a %s server-error has no status; "
			                         "'error' says what the server answers",
			            fault_target_name(r->target));
		return true;
	}
	if (status == NULL)
		return fail(ld, n, path, "a %s server-error needs 'status' (400..599)",
		            fault_target_name(r->target));
	uint32_t code;
	if (!get_u32(ld, status, p, 400, 599, &code))
		return false;
	r->status = (int)code;
	return true;
}

static bool load_fault(struct loader *ld, const struct ynode *n, const char *path,
                       struct fault_rule *r)
{
	if (!map_check(ld, n, path, fault_keys, COUNT_OF(fault_keys)))
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
	if ((v = map_get(ld, n, "target", NULL)) == NULL)
		return fail(ld, n, path, "missing required key 'target'");
	path_join(p, path, "target");
	if (!get_target(ld, v, p, &r->target))
		return false;
	if ((v = map_get(ld, n, "kind", NULL)) == NULL)
		return fail(ld, n, path, "missing required key 'kind'");
	path_join(p, path, "kind");
	if (!get_kind(ld, v, p, &r->kind))
		return false;

	/* Parameters of another kind are refused, not ignored: a 'latency'
	 * on an error rule is a mistake the author wants to hear about. */
	for (size_t i = 0; i < COUNT_OF(fault_kind_keys); i++) {
		const struct ynode *key = NULL;
		if (fault_kind_keys[i].kind != r->kind &&
		    map_get(ld, n, fault_kind_keys[i].key, &key) != NULL) {
			path_join(p, path, fault_kind_keys[i].key);
			return fail(ld, key, p, "applies only to kind %s, not %s",
			            fault_kind_name(fault_kind_keys[i].kind),
			            fault_kind_name(r->kind));
		}
	}
	if (r->kind == FAULT_RESTART) {
		for (size_t i = 0; i < COUNT_OF(fault_restart_forbidden); i++) {
			const struct ynode *key = NULL;
			if (map_get(ld, n, fault_restart_forbidden[i], &key) != NULL) {
				path_join(p, path, fault_restart_forbidden[i]);
				return fail(ld, key, p, "does not apply to a restart, which takes "
				                        "the server down at 'from' for 'duration'");
			}
		}
	}

	if ((v = map_get(ld, n, "op", NULL)) != NULL) {
		path_join(p, path, "op");
		if (!get_op(ld, v, p, r->target, r->op))
			return false;
	}
	if (r->kind == FAULT_POOL_EXHAUSTED) {
		path_join(p, path, "target");
		if (r->target != FAULT_TARGET_POSTGRES)
			return fail(ld, map_get(ld, n, "target", NULL), p,
			            "pool-exhausted applies only to target postgres");
		path_join(p, path, "op");
		if (v == NULL)
			strcpy(r->op, "acquire");
		else if (strcmp(r->op, "acquire") != 0)
			return fail(ld, v, p, "pool-exhausted applies only to op acquire, "
			                      "not '%s'", r->op);
	}
	if (r->kind == FAULT_RESTART && strcmp(r->op, "*") != 0) {
		path_join(p, path, "op");
		return fail(ld, v, p, "a restart takes the whole server down; leave op out");
	}

	/* When. */
	const struct ynode *from_key = NULL, *until_key = NULL;
	const struct ynode *win = map_get(ld, n, "window", NULL);
	const struct ynode *from = map_get(ld, n, "from", &from_key);
	const struct ynode *until = map_get(ld, n, "until", &until_key);
	if (win != NULL && (from != NULL || until != NULL)) {
		const struct ynode *k = from != NULL ? from_key : until_key;
		path_join(p, path, from != NULL ? "from" : "until");
		return fail(ld, k, p, "give either window or from/until, not both");
	}
	OPT(get_window, n, path, "window", r);
	OPT(get_duration, n, path, "from", &r->from_us);
	OPT(get_duration, n, path, "until", &r->until_us);
	if (r->from_us >= r->until_us) {
		const struct ynode *at = win != NULL ? win : until;
		path_join(p, path, win != NULL ? "window" : "until");
		return fail(ld, at, p, "the window is empty: from must be before until");
	}

	OPT(get_u32, n, path, "nth", 1, UINT32_MAX, &r->nth);
	OPT(get_bool, n, path, "and_after", &r->and_after);
	const struct ynode *and_after_key = NULL;
	map_get(ld, n, "and_after", &and_after_key);
	if (r->and_after && map_get(ld, n, "nth", NULL) == NULL) {
		path_join(p, path, "and_after");
		return fail(ld, and_after_key, p, "needs nth (the first occurrence that fails)");
	}
	OPT(get_after, n, path, "after", r->after_event);
	OPT(get_number, n, path, "probability", 0.0, 1.0, &r->probability);
	OPT(get_u32, n, path, "max_fires", 0, UINT32_MAX, &r->max_fires);

	/* How. */
	switch (r->kind) {
	case FAULT_SERVER_ERROR:
		return load_server_error(ld, n, path, r);
	case FAULT_LATENCY:
		if (map_get(ld, n, "latency", NULL) == NULL)
			return fail(ld, n, path, "a latency fault needs 'latency'");
		OPT(get_fault_latency, n, path, "latency", r);
		return true;
	case FAULT_STALL:
		OPT(get_bool, n, path, "stall_applied", &r->stall_applied);
		return true;
	case FAULT_CONN_LOST:
		OPT(get_number, n, path, "commit_applied", 0.0, 1.0, &r->commit_applied_p);
		return true;
	case FAULT_RESTART: {
		const struct ynode *pkey = NULL;
		if (map_get(ld, n, "duration", NULL) == NULL)
			return fail(ld, n, path, "a restart needs 'duration' (how long the "
			                         "server stays down)");
		OPT(get_duration_positive, n, path, "duration", &r->duration_us);
		if (map_get(ld, n, "persistence", &pkey) != NULL &&
		    r->target != FAULT_TARGET_REDIS) {
			path_join(p, path, "persistence");
			return fail(ld, pkey, p, "applies only to target redis");
		}
		OPT(get_bool, n, path, "persistence", &r->persistence);
		return true;
	}
	case FAULT_ERROR:
	case FAULT_TIMEOUT_APPLIED:
	case FAULT_TIMEOUT_NOT_APPLIED:
	case FAULT_POOL_EXHAUSTED:
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
		if (is_null(ld, n))
			return true;
		return fail(ld, n, "faults", "expected a list of fault rules, got %s",
		            show_node(ld, sh, n));
	}
	size_t i = 0;
	for (const struct ynode *c = ychild(ld, n); c != NULL; c = ynext(ld, c), i++) {
		char path[SCENARIO_PATH_MAX];
		text_printf(path, sizeof path, "faults[%zu]", i);
		if (i == FAULT_RULES_MAX)
			return fail(ld, c, path, "more than %d fault rules", FAULT_RULES_MAX);
		if (!load_fault(ld, c, path, &plan->rules[i]))
			return false;
	}
	plan->nrules = i;
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

static const char *const top_keys[] = {"name",       "description", "fixes",
                                       "invariants", "seeds",       "seed_first",
                                       "duration",   "backends",    "workload",
                                       "faults"};

static bool load_top(struct loader *ld)
{
	struct scenario *sc = ld->sc;
	if (ld->t.root == 0)
		return loader_fail_at(ld, 0, 0, NULL, "the file is empty: expected a mapping "
		                                      "with at least 'fixes'");
	const struct ynode *root = &ld->t.nodes[ld->t.root];
	if (root->type != YN_MAP) {
		char sh[SCENARIO_SHOW_MAX + 8];
		return fail(ld, root, NULL, "expected a mapping at the top of the file, got %s",
		            show_node(ld, sh, root));
	}
	if (!map_check(ld, root, NULL, top_keys, COUNT_OF(top_keys)))
		return false;

	const struct ynode *v = map_get(ld, root, "fixes", NULL);
	if (v == NULL)
		return fail(ld, root, NULL, "missing required key 'fixes'");
	if (!load_fixes(ld, v))
		return false;
	if (!load_name(ld, root))
		return false;
	sc->invariants = INV_ALWAYS;
	for (unsigned f = 0; f < FIX_COUNT; f++) {
		if (sc->fixes & FIX_BIT(f))
			sc->invariants |= fix_invariants[f];
	}
	if ((v = map_get(ld, root, "invariants", NULL)) != NULL && !load_invariants(ld, v))
		return false;
	if (!load_seeds(ld, root))
		return false;
	OPT(get_duration_positive, root, NULL, "duration", &sc->duration_us);
	/* An empty section (the key with no value) means every default. */
	v = map_get(ld, root, "backends", NULL);
	if (v != NULL && !is_null(ld, v) && !load_backends(ld, v))
		return false;
	v = map_get(ld, root, "workload", NULL);
	if (v != NULL && !is_null(ld, v) && !load_workload(ld, v))
		return false;
	if ((v = map_get(ld, root, "faults", NULL)) != NULL && !load_faults(ld, v))
		return false;

	/* The quote fix has nothing to send without quotes, and no default
	 * would be a fair test of it. */
	if ((sc->fixes & FIX_BIT(FIX_QUOTE_EMAIL)) && sc->quote_email.nquotes == 0)
		return fail(ld, ld->fix_node[FIX_QUOTE_EMAIL], "fixes",
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
	text_printf(ld.err.file, sizeof ld.err.file, "%s", name);
	if (len > SCENARIO_FILE_MAX) {
		loader_fail_at(&ld, 0, 0, NULL, "larger than 1 MiB (%zu bytes)", len);
		*err = ld.err;
		return ld.rc;
	}
	ld.sc = calloc(1, sizeof *ld.sc);
	if (ld.sc == NULL) {
		fail_nomem(&ld);
		*err = ld.err;
		return ld.rc;
	}
	scenario_set_defaults(ld.sc);
	ld.sc->path = strdup(name);
	if (ld.sc->path == NULL)
		fail_nomem(&ld);

	if (ld.rc == RESULT_OK && ytree_build(&ld, buf != NULL ? buf : "", len))
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
	text_printf(e.file, sizeof e.file, "%s", path);
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		text_printf(e.message, sizeof e.message, "cannot open: %s", strerror(errno));
		*err = e;
		return RESULT_REJECT;
	}
	/* One byte more than allowed tells "too large" from "exactly 1 MiB". */
	char *buf = malloc(SCENARIO_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		text_printf(e.message, sizeof e.message, "out of memory");
		*err = e;
		return RESULT_NOMEM;
	}
	size_t len = fread(buf, 1, SCENARIO_FILE_MAX + 1, f);
	int read_errno = ferror(f) ? (errno != 0 ? errno : EIO) : 0;
	fclose(f);
	enum result rc;
	if (read_errno != 0) {
		text_printf(e.message, sizeof e.message, "cannot read: %s", strerror(read_errno));
		*err = e;
		rc = RESULT_REJECT;
	} else if (len > SCENARIO_FILE_MAX) {
		text_printf(e.message, sizeof e.message, "larger than 1 MiB");
		*err = e;
		rc = RESULT_REJECT;
	} else {
		rc = scenario_load_buffer(path, buf, len, out, err);
	}
	free(buf);
	return rc;
}
