/* core/quote_email.c - the quote e-mail in three variants: one message
 * builder (bounded buffer, CRLF lines), variant-specific checks before it,
 * and for the hardened variant a claim row that makes the send at most
 * once per quote. Pure checks and encodings live in core/email_check.c. */
#include "core/quote_email.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/email_check.h"
#include "core/fmt.h"

#define QUOTE_EMAIL_TAG "Email"
#define QUOTE_EMAIL_TAG_UNHANDLED "Unhandled"
#define QUOTE_EMAIL_DISPLAY_MAX 1024 /* octets of one encoded display name */
#define QUOTE_EMAIL_LOG_FIELD_MAX 160 /* octets of an escaped field in a log line */
#define QUOTE_EMAIL_TOKEN_MAX 64 /* a claim token and its NUL */

struct quote_email {
	const struct core_env *env;
	enum variant variant;
	char from_address[EMAIL_CHECK_ADDRESS_MAX + 1];
	char from_name[EMAIL_CHECK_NAME_MAX + 1];
	uint32_t inflight; /* sends whose done has not run yet */
	uint64_t claims;   /* claim tokens made, for their uniqueness */
};

struct quote_email_req {
	struct quote_email *qe;
	quote_email_done_fn *done;
	void *arg;
	char ref[QUOTE_EMAIL_FIELD_MAX + 1];
	char to[QUOTE_EMAIL_FIELD_MAX + 1];  /* envelope recipient */
	char to_log[QUOTE_EMAIL_LOG_FIELD_MAX];  /* escaped for log lines */
	char ref_log[QUOTE_EMAIL_LOG_FIELD_MAX]; /* escaped for log lines */
	char *message;                       /* QUOTE_EMAIL_MESSAGE_MAX octets */
	size_t len;
	struct sql_conn *conn;
	enum sql_stmt stmt;                  /* the statement in flight */
	enum quote_email_status status;      /* the answer once it is done */
	char token[QUOTE_EMAIL_TOKEN_MAX];   /* names this attempt's claim */
};

const char *quote_email_status_name(enum quote_email_status st)
{
	switch (st) {
	case QUOTE_EMAIL_SENT: return "sent";
	case QUOTE_EMAIL_INVALID: return "invalid";
	case QUOTE_EMAIL_ALREADY_SENT: return "already_sent";
	case QUOTE_EMAIL_FAILED: return "failed";
	case QUOTE_EMAIL_UNHANDLED: return "unhandled";
	}
	return "?";
}

struct quote_email *quote_email_create(const struct core_env *env, const struct quote_email_config *cfg)
{
	ASSERT(env != NULL);
	ASSERT(cfg != NULL);
	ASSERT((unsigned)cfg->variant < VARIANT_COUNT);
	if (cfg->from_address == NULL || cfg->from_name == NULL)
		return NULL;
	size_t alen = strnlen(cfg->from_address, EMAIL_CHECK_ADDRESS_MAX + 1);
	size_t nlen = strnlen(cfg->from_name, EMAIL_CHECK_NAME_MAX + 1);
	if (email_check_address(cfg->from_address, alen) != EMAIL_CHECK_OK ||
	    email_check_name(cfg->from_name, nlen) != EMAIL_CHECK_OK)
		return NULL;
	struct quote_email *qe = calloc(1, sizeof *qe);
	ASSERT(qe != NULL);
	qe->env = env;
	qe->variant = cfg->variant;
	memcpy(qe->from_address, cfg->from_address, alen);
	memcpy(qe->from_name, cfg->from_name, nlen);
	return qe;
}

void quote_email_destroy(struct quote_email *qe)
{
	if (qe == NULL)
		return;
	ASSERT(qe->inflight == 0);
	free(qe);
}

/* Ends a send: done runs last, so it may destroy qe. */
static void quote_email_finish(struct quote_email_req *req, enum quote_email_status st)
{
	ASSERT(req->conn == NULL);
	ASSERT(req->qe->inflight > 0);
	req->qe->inflight--;
	quote_email_done_fn *done = req->done;
	void *arg = req->arg;
	free(req->message);
	free(req);
	done(arg, st);
}

static void quote_email_on_deferred(void *arg)
{
	struct quote_email_req *req = arg;
	quote_email_finish(req, req->status);
}

static void quote_email_answer_later(struct quote_email_req *req, enum quote_email_status st)
{
	const struct core_env *env = req->qe->env;
	req->status = st;
	env->clock.after(env->clock.ctx, 0, quote_email_on_deferred, req);
}

/* ---- the message ------------------------------------------------------------ */

static void quote_email_put(struct quote_email_req *req, bool *fits, const char *s, size_t n)
{
	if (!*fits || req->len + n > QUOTE_EMAIL_MESSAGE_MAX) {
		*fits = false;
		return;
	}
	memcpy(req->message + req->len, s, n);
	req->len += n;
}

static void quote_email_puts(struct quote_email_req *req, bool *fits, const char *s)
{
	quote_email_put(req, fits, s, strlen(s));
}

/* A display name as the variant writes it: raw between quotes (legacy,
 * seed: whatever bytes it holds end up in the header), or quoted-string /
 * RFC 2047 encoded-words (hardened). */
static void quote_email_put_display(struct quote_email_req *req, bool *fits, const char *name, size_t len)
{
	if (req->qe->variant != VARIANT_HARDENED) {
		quote_email_puts(req, fits, "\"");
		quote_email_put(req, fits, name, len);
		quote_email_puts(req, fits, "\"");
		return;
	}
	char display[QUOTE_EMAIL_DISPLAY_MAX];
	size_t n = email_check_encode_name(name, len, display, sizeof display);
	if (n == 0) {
		*fits = false;
		return;
	}
	quote_email_put(req, fits, display, n);
}

static bool quote_email_build(struct quote_email_req *req, const struct quote *q)
{
	struct quote_email *qe = req->qe;
	bool fits = true;
	size_t start;
	size_t word_len;

	req->message = malloc(QUOTE_EMAIL_MESSAGE_MAX);
	ASSERT(req->message != NULL);
	req->len = 0;
	if (q->name_len > QUOTE_EMAIL_FIELD_MAX || q->email_len > QUOTE_EMAIL_FIELD_MAX)
		return false;

	quote_email_puts(req, &fits, "From: ");
	quote_email_put_display(req, &fits, qe->from_name, strlen(qe->from_name));
	quote_email_puts(req, &fits, " <");
	quote_email_puts(req, &fits, qe->from_address);
	quote_email_puts(req, &fits, ">\r\nTo: ");
	quote_email_put_display(req, &fits, q->customer_name, q->name_len);
	quote_email_puts(req, &fits, " <");
	quote_email_put(req, &fits, q->customer_email, q->email_len);
	quote_email_puts(req, &fits, ">\r\nSubject: Your quote ");
	quote_email_puts(req, &fits, req->ref);
	quote_email_puts(req, &fits, "\r\nMessage-ID: <quote-");
	quote_email_puts(req, &fits, req->ref);
	quote_email_puts(req, &fits, "@faultline.invalid>\r\n"
	                             "MIME-Version: 1.0\r\n"
	                             "Content-Type: text/plain; charset=UTF-8\r\n"
	                             "\r\nHi ");
	/* email-safe (hardened): a no-break or ideographic space ends the
	 * first name too, not only an ASCII space. */
	email_check_first_word(q->customer_name, q->name_len, qe->variant == VARIANT_HARDENED, &start,
	                       &word_len);
	quote_email_put(req, &fits, q->customer_name + start, word_len);
	quote_email_puts(req, &fits, ",\r\n\r\nYour quote ");
	quote_email_puts(req, &fits, req->ref);
	quote_email_puts(req, &fits, " is ready. Reply to this message with any question.\r\n\r\n");
	quote_email_puts(req, &fits, qe->from_name);
	quote_email_puts(req, &fits, "\r\n");
	return fits;
}

/* ---- checks ------------------------------------------------------------------- */

/* hardened: refs go into Subject and Message-ID, so only a plain token. */
static bool quote_email_ref_ok(const char *ref)
{
	size_t len = strnlen(ref, QUOTE_EMAIL_REF_MAX + 1);
	if (len == 0 || len > QUOTE_EMAIL_REF_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = ref[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		          c == '.' || c == '_' || c == '-';
		if (!ok)
			return false;
	}
	return true;
}

/* The variant's checks; logs and returns false when q must not be sent. */
static bool quote_email_check(struct quote_email_req *req, const struct quote *q, enum quote_email_status *st)
{
	const struct core_env *env = req->qe->env;
	enum variant v = req->qe->variant;

	if (v == VARIANT_LEGACY) {
		if (q->customer_name != NULL && q->customer_email != NULL && q->ref != NULL)
			return true;
		/* The original died with a TypeError here: no mail, and a log line
		 * that names neither the quote nor the customer. */
		core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG_UNHANDLED, "TypeError: 'NoneType' object is not subscriptable");
		*st = QUOTE_EMAIL_UNHANDLED;
		return false;
	}
	const char *what = NULL;
	const char *reason = NULL;
	enum email_check_status cs = EMAIL_CHECK_OK;
	if (q->ref == NULL || (v == VARIANT_HARDENED && !quote_email_ref_ok(q->ref))) {
		what = "quote ref";
		reason = q->ref == NULL ? "missing" : "malformed";
	} else if (v == VARIANT_SEED) {
		if ((cs = email_check_required(q->customer_name, q->name_len)) != EMAIL_CHECK_OK)
			what = "customer name";
		else if ((cs = email_check_required(q->customer_email, q->email_len)) != EMAIL_CHECK_OK)
			what = "customer e-mail";
	} else {
		if ((cs = email_check_name(q->customer_name, q->name_len)) != EMAIL_CHECK_OK)
			what = "customer name";
		else if ((cs = email_check_address(q->customer_email, q->email_len)) != EMAIL_CHECK_OK)
			what = "customer e-mail";
	}
	if (what == NULL)
		return true;
	if (reason == NULL)
		reason = email_check_status_name(cs);
	char ref_log[QUOTE_EMAIL_LOG_FIELD_MAX];
	email_check_escape(q->ref, q->ref != NULL ? strlen(q->ref) : 0, ref_log, sizeof ref_log);
	core_log(env, LOG_WARN, QUOTE_EMAIL_TAG, "quote %s: %s %s; not sending to %s", ref_log, what, reason,
	         req->to_log);
	*st = QUOTE_EMAIL_INVALID;
	return false;
}

/* ---- claim, send, mark or release ---------------------------------------------
 *
 * hardened: a claim row per quote, owned by the attempt whose token it
 * holds. Only an attempt that saw its own claim succeed sends; it then
 * marks the row sent, or deletes it when the mail server refused (nothing
 * went). An attempt that cannot tell whether its claim was stored (a
 * timeout, a lost connection) deletes it by its token, which cannot touch
 * another attempt's claim. A quote someone else holds is "already sent"
 * only when the row is marked sent; a claim not marked sent may be one in
 * flight or one whose owner never mailed, so it answers failed, and a later
 * attempt asks again. */

static void quote_email_run(struct quote_email_req *req, enum sql_stmt stmt, enum quote_email_status st);

static void quote_email_on_sent(void *arg, enum outcome oc, int smtp_code)
{
	struct quote_email_req *req = arg;
	struct quote_email *qe = req->qe;
	const struct core_env *env = qe->env;

	if (oc == OUTCOME_OK) {
		core_log(env, LOG_INFO, QUOTE_EMAIL_TAG, "quote %s: sent to %s", req->ref_log, req->to_log);
		if (qe->variant == VARIANT_HARDENED)
			quote_email_run(req, SQL_QUOTE_MARK_SENT, QUOTE_EMAIL_SENT);
		else
			quote_email_finish(req, QUOTE_EMAIL_SENT);
		return;
	}
	if (qe->variant != VARIANT_HARDENED) {
		core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG, "quote %s: send to %s failed (%s %d)", req->ref_log,
		         req->to_log, outcome_name(oc), smtp_code);
		quote_email_finish(req, QUOTE_EMAIL_FAILED);
		return;
	}
	if (oc == OUTCOME_TIMEOUT) {
		/* email-safe: the server may have taken the message; the claim is
		 * marked sent, so it is never sent twice (at worst not at all). */
		core_log(env, LOG_WARN, QUOTE_EMAIL_TAG,
		         "quote %s: send to %s timed out; claim kept as sent, it may have been sent", req->ref_log,
		         req->to_log);
		quote_email_run(req, SQL_QUOTE_MARK_SENT, QUOTE_EMAIL_FAILED);
		return;
	}
	/* A refusal or a 4xx/5xx: nothing was sent, so a later attempt may
	 * claim the quote again. */
	core_log(env, LOG_WARN, QUOTE_EMAIL_TAG, "quote %s: send to %s failed (%s %d); releasing the claim",
	         req->ref_log, req->to_log, outcome_name(oc), smtp_code);
	quote_email_run(req, SQL_QUOTE_RELEASE, QUOTE_EMAIL_FAILED);
}

static void quote_email_send_now(struct quote_email_req *req)
{
	const struct core_env *env = req->qe->env;
	struct mail_message m = {
		.from = req->qe->from_address,
		.to = req->to,
		.data = req->message,
		.len = req->len,
	};
	env->mail.send(env->mail.ctx, &m, quote_email_on_sent, req);
}

static const char *quote_email_stmt_what(enum sql_stmt stmt)
{
	switch (stmt) {
	case SQL_QUOTE_CLAIM: return "claim";
	case SQL_QUOTE_RELEASE: return "release";
	case SQL_QUOTE_MARK_SENT: return "mark-sent";
	default: return "state lookup";
	}
}

/* The claim's answer. */
static void quote_email_on_claim(struct quote_email_req *req, enum outcome oc, const struct sql_result *res)
{
	const struct core_env *env = req->qe->env;
	if (oc == OUTCOME_OK && res->nrows > 0) {
		quote_email_send_now(req);
		return;
	}
	if (oc == OUTCOME_OK) {
		quote_email_run(req, SQL_QUOTE_SENT_SELECT, QUOTE_EMAIL_FAILED);
		return;
	}
	if (oc == OUTCOME_TIMEOUT || oc == OUTCOME_CONN_LOST) {
		/* The claim may be stored with no one to send: take it back. */
		core_log(env, LOG_WARN, QUOTE_EMAIL_TAG, "quote %s: claim outcome unknown (%s); not sending, "
		         "releasing it", req->ref_log, outcome_name(oc));
		quote_email_run(req, SQL_QUOTE_RELEASE, QUOTE_EMAIL_FAILED);
		return;
	}
	core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG, "quote %s: claim failed (%s %s); not sending", req->ref_log,
	         outcome_name(oc), res != NULL ? res->sqlstate : "");
	quote_email_finish(req, QUOTE_EMAIL_FAILED);
}

/* Someone holds the claim: sent, or not known to be. */
static void quote_email_on_sent_select(struct quote_email_req *req, enum outcome oc, const struct sql_result *res)
{
	const struct core_env *env = req->qe->env;
	if (oc != OUTCOME_OK) {
		core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG, "quote %s: claimed before, state unknown (%s %s); "
		         "not sending", req->ref_log, outcome_name(oc), res != NULL ? res->sqlstate : "");
		quote_email_finish(req, QUOTE_EMAIL_FAILED);
		return;
	}
	if (res->nrows > 0 && res->ncols > 0 && res->values[0] != NULL) {
		/* email-safe: at most one mail per quote. */
		core_log(env, LOG_INFO, QUOTE_EMAIL_TAG, "quote %s: already sent; not sending again", req->ref_log);
		quote_email_finish(req, QUOTE_EMAIL_ALREADY_SENT);
		return;
	}
	core_log(env, LOG_WARN, QUOTE_EMAIL_TAG, res->nrows > 0 ?
	         "quote %s: claimed by another attempt, not known to be sent; not sending now" :
	         "quote %s: another attempt's claim was released meanwhile; not sending now", req->ref_log);
	quote_email_finish(req, QUOTE_EMAIL_FAILED);
}

/* A release or a mark is done (res NULL: it never ran); the answer was
 * decided before it. */
static void quote_email_on_followup(struct quote_email_req *req, enum outcome oc, const struct sql_result *res)
{
	const struct core_env *env = req->qe->env;
	if (req->stmt == SQL_QUOTE_RELEASE) {
		if (oc != OUTCOME_OK)
			core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG,
			         "quote %s: claim could not be released (%s); the quote stays claimed and unsent",
			         req->ref_log, outcome_name(oc));
	} else {
		ASSERT(req->stmt == SQL_QUOTE_MARK_SENT);
		if (oc != OUTCOME_OK || res == NULL || res->affected == 0)
			core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG,
			         "quote %s: the claim could not be marked sent (%s); later attempts will not send "
			         "it and answer failed", req->ref_log, oc != OUTCOME_OK ? outcome_name(oc) : "gone");
	}
	quote_email_finish(req, req->status);
}

static void quote_email_on_exec(void *arg, enum outcome oc, const struct sql_result *res)
{
	struct quote_email_req *req = arg;
	const struct core_env *env = req->qe->env;

	env->sql.release(env->sql.ctx, req->conn);
	req->conn = NULL;
	if (req->stmt == SQL_QUOTE_CLAIM)
		quote_email_on_claim(req, oc, res);
	else if (req->stmt == SQL_QUOTE_SENT_SELECT)
		quote_email_on_sent_select(req, oc, res);
	else
		quote_email_on_followup(req, oc, res);
}

static void quote_email_on_acquired(void *arg, enum outcome oc, struct sql_conn *conn, const char *sqlstate)
{
	struct quote_email_req *req = arg;
	const struct core_env *env = req->qe->env;

	if (oc != OUTCOME_OK) {
		core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG, "quote %s: no connection for the %s (%s %s)", req->ref_log,
		         quote_email_stmt_what(req->stmt), outcome_name(oc), sqlstate != NULL ? sqlstate : "");
		if (req->stmt == SQL_QUOTE_RELEASE || req->stmt == SQL_QUOTE_MARK_SENT)
			quote_email_on_followup(req, oc, NULL);
		else
			quote_email_finish(req, req->status);
		return;
	}
	req->conn = conn;
	const char *params[2] = {req->ref, req->token};
	int nparams = req->stmt == SQL_QUOTE_SENT_SELECT ? 1 : 2;
	env->sql.exec(env->sql.ctx, conn, req->stmt, nparams, params, quote_email_on_exec, req);
}

/* Runs stmt on a connection of its own; st is the answer once it is done,
 * unless its outcome decides otherwise. */
static void quote_email_run(struct quote_email_req *req, enum sql_stmt stmt, enum quote_email_status st)
{
	const struct core_env *env = req->qe->env;
	req->stmt = stmt;
	req->status = st;
	env->sql.acquire(env->sql.ctx, quote_email_on_acquired, req);
}

/* Unique per attempt, also across restarts of a process seeded the same:
 * the run's randomness, the monotonic clock and a per-object sequence. */
static void quote_email_make_token(struct quote_email_req *req)
{
	struct quote_email *qe = req->qe;
	const struct core_env *env = qe->env;
	struct fmt f;
	fmt_init(&f, req->token, sizeof req->token);
	fmt_hex64(&f, env->clock.random(env->clock.ctx));
	fmt_mem(&f, "-", 1);
	fmt_u64(&f, env->clock.now_us(env->clock.ctx));
	fmt_mem(&f, "-", 1);
	fmt_u64(&f, ++qe->claims);
	ASSERT(!f.cut);
}

void quote_email_send(struct quote_email *qe, const struct quote *q, quote_email_done_fn *done, void *arg)
{
	ASSERT(qe != NULL);
	ASSERT(q != NULL);
	ASSERT(done != NULL);
	const struct core_env *env = qe->env;
	struct quote_email_req *req = calloc(1, sizeof *req);
	ASSERT(req != NULL);
	req->qe = qe;
	req->done = done;
	req->arg = arg;
	qe->inflight++;

	size_t email_len = q->customer_email != NULL ? q->email_len : 0;
	email_check_escape(q->customer_email, email_len, req->to_log, sizeof req->to_log);
	enum quote_email_status st;
	if (!quote_email_check(req, q, &st)) {
		quote_email_answer_later(req, st);
		return;
	}
	snprintf(req->ref, sizeof req->ref, "%s", q->ref);
	email_check_escape(req->ref, strlen(req->ref), req->ref_log, sizeof req->ref_log);
	/* The envelope takes a C string: an address with a NUL in it (legacy,
	 * seed) is cut there, as the original's client would. */
	snprintf(req->to, sizeof req->to, "%.*s", (int)(email_len < QUOTE_EMAIL_FIELD_MAX ? email_len :
	                                                QUOTE_EMAIL_FIELD_MAX), q->customer_email);
	if (!quote_email_build(req, q)) {
		core_log(env, LOG_ERROR, QUOTE_EMAIL_TAG, "quote %s: message over %u octets; not sending", req->ref_log,
		         QUOTE_EMAIL_MESSAGE_MAX);
		quote_email_answer_later(req, QUOTE_EMAIL_FAILED);
		return;
	}
	if (qe->variant == VARIANT_HARDENED) {
		quote_email_make_token(req);
		quote_email_run(req, SQL_QUOTE_CLAIM, QUOTE_EMAIL_FAILED);
		return;
	}
	quote_email_send_now(req);
}
