/* harness/work_quote.c - the quote e-mail workload: quotes with hostile
 * customer data, resends, and the reading back of every message the mail
 * server received (its headers, its recipient, its quote reference). */
#include <stdlib.h>

#include <string.h>
#include <event2/event.h>

#include "core/assert.h"
#include "core/quote_email.h"

#include "harness/world_int.h"

/* ---- quote-email ----------------------------------------------------------- */

struct qe_req {
	struct world *w;
	size_t quote;
	uint32_t sends_left;
	uint64_t start_us;
	uint64_t faults_at_start;
	char id[80];
};

static uint64_t qe_faults(struct world *w)
{
	return world_backend_faults(w, FAULT_TARGET_MAIL) + world_backend_faults(w, FAULT_TARGET_POSTGRES);
}

static void qe_start(void *arg);
static void ref_from_subject(const char *data, size_t len, char *ref, size_t size);

static void qe_on_done(void *arg, enum quote_email_status st)
{
	struct qe_req *q = arg;
	struct world *w = q->w;
	world_core_answered(w, "quote_email_send");
	struct hist_quote *hq = &w->h.quotes[q->quote];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	static const enum world_outcome map[] = {
		[QUOTE_EMAIL_SENT] = WO_QE_SENT, [QUOTE_EMAIL_INVALID] = WO_QE_INVALID,
		[QUOTE_EMAIL_ALREADY_SENT] = WO_QE_ALREADY_SENT, [QUOTE_EMAIL_FAILED] = WO_QE_FAILED,
		[QUOTE_EMAIL_UNHANDLED] = WO_QE_UNHANDLED,
	};
	ASSERT((unsigned)st <= QUOTE_EMAIL_UNHANDLED);
	if (st == QUOTE_EMAIL_UNHANDLED) {
		hq->unhandled++;
		char what[128];
		snprintf(what, sizeof what, "quote %s: request died with an unhandled error",
		         hq->spec->ref);
		world_note_unhandled(w, what);
	}
	if (qe_faults(w) != q->faults_at_start)
		hq->faults_touched = true;
	if (st == QUOTE_EMAIL_SENT)
		hq->sent_answers++;
	if ((st == QUOTE_EMAIL_SENT || st == QUOTE_EMAIL_ALREADY_SENT) && hq->port_sends == 0 &&
	    hq->unsent_answers++ == 0)
		hq->unsent_us = world_now_us(w);
	hq->last_us = world_now_us(w);
	world_request_end(w, "quote-email", q->id, q->start_us, map[st]);
	if (--q->sends_left > 0 && !w->draining) {
		sched_after(w->s, QUOTE_RESEND_GAP_US, qe_start, q);
		return;
	}
	world_work_free(w, q);
}

static void qe_start(void *arg)
{
	struct qe_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		world_work_free(w, q);
		return;
	}
	const struct quote_spec *spec = w->h.quotes[q->quote].spec;
	q->start_us = world_now_us(w);
	q->faults_at_start = qe_faults(w);
	world_request_begin(w, "quote-email", q->id);
	struct quote qt = {
		.ref = spec->ref,
		.customer_name = spec->name_null ? NULL : spec->name,
		.name_len = spec->name_null ? 0 : spec->name_len,
		.customer_email = spec->email_null ? NULL : spec->email,
		.email_len = spec->email_null ? 0 : spec->email_len,
	};
	w->core_busy++;
	bool was = world_core_enter(w);
	quote_email_send(w->qe, &qt, qe_on_done, q);
	world_core_leave(w, was);
}

/* The quote a message names in its Message-ID (or Subject); NULL if none. */
static struct hist_quote *qe_quote_of(struct world *w, const char *data, size_t len)
{
	char ref[HIST_ID_MAX] = "";
	const char *p = memmem(data, len, "<quote-", 7);
	if (p != NULL) {
		p += 7;
		const char *at = memchr(p, '@', len - (size_t)(p - data));
		if (at != NULL && (size_t)(at - p) < sizeof ref) {
			memcpy(ref, p, (size_t)(at - p));
			ref[at - p] = '\0';
		}
	}
	if (ref[0] == '\0')
		ref_from_subject(data, len, ref, sizeof ref);
	for (size_t q = 0; q < w->h.nquotes; q++) {
		if (strcmp(w->h.quotes[q].spec->ref, ref) == 0)
			return &w->h.quotes[q];
	}
	return NULL;
}

struct qe_mail_watch {
	struct world *w;
	struct hist_quote *hq;
	mail_done_fn *done;
	void *arg;
};

/* What the server answered the core: a mail it accepted went. */
static void qe_mail_done(void *arg, enum outcome oc, int smtp_code)
{
	struct qe_mail_watch *c = arg;
	struct world *w = c->w;
	if (oc == OUTCOME_OK && smtp_code >= 200 && smtp_code < 300 && c->hq->accepted++ == 0)
		c->hq->accepted_us = world_now_us(w);
	mail_done_fn *done = c->done;
	void *darg = c->arg;
	world_work_free(w, c);
	done(darg, oc, smtp_code);
}

/* Counts what reaches the mail port, before any server may refuse it, and
 * what the server answered. */
static void qe_mail_send(void *ctx, const struct mail_message *m, mail_done_fn *done, void *arg)
{
	struct world *w = ctx;
	struct hist_quote *hq = qe_quote_of(w, m->data, m->len);
	if (hq != NULL) {
		hq->port_sends++;
		struct qe_mail_watch *c = world_work_new(w, sizeof *c);
		*c = (struct qe_mail_watch){.w = w, .hq = hq, .done = done, .arg = arg};
		done = qe_mail_done;
		arg = c;
	}
	w->qe_mail_inner.send(w->qe_mail_inner.ctx, m, done, arg);
}

bool qe_build(struct world *w, const struct quote_email_config *c)
{
	w->qe_env = w->env;
	w->qe_mail_inner = w->env.mail;
	w->qe_env.mail = (struct mail_port){.ctx = w, .send = qe_mail_send};
	return (w->qe = quote_email_create(&w->qe_env, c)) != NULL;
}

void qe_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	w->h.nquotes = sc->quote_email.nquotes;
	w->h.quotes = calloc(w->h.nquotes ? w->h.nquotes : 1, sizeof *w->h.quotes);
	ASSERT(w->h.quotes != NULL);
	for (size_t i = 0; i < sc->quote_email.nquotes; i++) {
		const struct quote_spec *spec = &sc->quote_email.quotes[i];
		w->h.quotes[i].spec = spec;
		w->h.quotes[i].valid = oracle_quote_valid(spec);
		uint64_t at = world_uniform_us(w, sc->quote_email.spread_us);
		/* A double click: the extra presses go at once, once each; the
		 * first press goes on with the later sends. */
		for (uint32_t k = 0; k < (spec->clicks ? spec->clicks : 1); k++) {
			struct qe_req *q = world_work_new(w, sizeof *q);
			q->w = w;
			q->quote = i;
			q->sends_left = k == 0 && spec->sends ? spec->sends : 1;
			snprintf(q->id, sizeof q->id, "%s", spec->ref);
			world_arrival_add(w, at, qe_start, q);
		}
	}
}

struct header_check {
	char ref[HIST_ID_MAX];
	bool ok;
	char bad[96];
	unsigned seen;               /* bit per allowed header */
};

static const char *const allowed_headers[] = {
	"From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type",
	"Content-Transfer-Encoding", "Date",
};

static void on_header(void *arg, const char *name, const char *value)
{
	struct header_check *hc = arg;
	size_t n = sizeof allowed_headers / sizeof allowed_headers[0];
	size_t i;
	for (i = 0; i < n; i++) {
		if (strcasecmp(name, allowed_headers[i]) == 0)
			break;
	}
	if (i == n) {
		if (hc->ok)
			snprintf(hc->bad, sizeof hc->bad, "unexpected header '%.60s'", name);
		hc->ok = false;
		return;
	}
	if (hc->seen & (1u << i)) {
		if (hc->ok)
			snprintf(hc->bad, sizeof hc->bad, "header '%s' appears twice", name);
		hc->ok = false;
	}
	hc->seen |= 1u << i;
	if (strchr(value, '\r') != NULL || strchr(value, '\n') != NULL) {
		if (hc->ok)
			snprintf(hc->bad, sizeof hc->bad, "header '%s' carries CR or LF", name);
		hc->ok = false;
	}
	if (strcasecmp(name, "Message-ID") == 0) {
		const char *p = strstr(value, "<quote-");
		if (p != NULL) {
			p += 7;
			const char *at = strchr(p, '@');
			size_t len = at ? (size_t)(at - p) : 0;
			if (len > 0 && len < sizeof hc->ref) {
				memcpy(hc->ref, p, len);
				hc->ref[len] = '\0';
			}
		}
	}
}

/* Finds the quote a message belongs to when its headers are broken. */
static void ref_from_subject(const char *data, size_t len, char *ref, size_t size)
{
	const char *p = memmem(data, len, "Your quote ", 11);
	if (p == NULL)
		return;
	p += 11;
	size_t i = 0;
	while (p + i < data + len && i + 1 < size && p[i] != '\r' && p[i] != '\n' &&
	       p[i] != ' ')
		i++;
	memcpy(ref, p, i);
	ref[i] = '\0';
}

void qe_snapshot(struct world *w)
{
	const struct world_backend *be = &w->be;
	size_t n = be->ops->mail_count(be->ctx);
	w->h.mails = calloc(n ? n : 1, sizeof *w->h.mails);
	ASSERT(w->h.mails != NULL);
	w->h.nmails = n;
	for (size_t i = 0; i < n; i++) {
		struct header_check hc = {.ok = true};
		if (!be->ops->mail_headers(be->ctx, i, on_header, &hc)) {
			if (hc.ok)
				snprintf(hc.bad, sizeof hc.bad, "malformed header section");
			hc.ok = false;
		}
		if (hc.ok && (hc.seen & 7u) != 7u) {
			hc.ok = false;
			snprintf(hc.bad, sizeof hc.bad, "missing From, To or Subject");
		}
		size_t len;
		const char *data = be->ops->mail_data(be->ctx, i, &len);
		if (hc.ref[0] == '\0')
			ref_from_subject(data, len, hc.ref, sizeof hc.ref);
		struct hist_mail *hm = &w->h.mails[i];
		snprintf(hm->quote_ref, sizeof hm->quote_ref, "%s", hc.ref);
		hm->headers_ok = hc.ok;
		hm->data = data;
		hm->len = len;
		snprintf(hm->bad_header, sizeof hm->bad_header, "%s", hc.bad);
		hm->t_us = w->h.end_us;
		for (size_t q = 0; q < w->h.nquotes; q++) {
			if (strcmp(w->h.quotes[q].spec->ref, hc.ref) == 0)
				w->h.quotes[q].mails++;
		}
	}
}
