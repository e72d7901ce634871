/* live/mail_live.c - SMTP sends with libcurl's SMTP support: MAIL FROM
 * and RCPT TO from the envelope, the data uploaded from a private copy
 * (libcurl does the dot-stuffing and adds the final "."). */
#include "live/mail_live.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "core/assert.h"
#include "live/curl_loop.h"
#include "sim/sched.h"

struct mreq {
	struct mail_live *ml;
	struct mreq *prev, *next;   /* ml->reqs */
	CURL *easy;                 /* NULL once curl_loop is done with it */
	struct curl_slist *rcpt;
	char *data;                 /* private copy of the message */
	size_t len, sent;
	mail_done_fn *done;
	void *arg;
	struct sched_timer timer;   /* a failure decided before sending */
	enum outcome early_oc;
};

struct mail_live {
	struct curl_loop *cl;
	struct sched *s;
	char url[MAIL_LIVE_URL_MAX];
	long timeout_ms;
	int in_callback;
	struct mreq *reqs;
	uint64_t pending;
};

static void set_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s", msg);
}

struct mail_live *mail_live_create(struct curl_loop *cl, struct sched *s,
                                   const struct mail_live_config *cfg,
                                   char *err, size_t errsize)
{
	ASSERT(cl != NULL);
	ASSERT(s != NULL);
	ASSERT(cfg != NULL);
	if (cfg->url == NULL || strlen(cfg->url) >= MAIL_LIVE_URL_MAX ||
	    (strncmp(cfg->url, "smtp://", 7) != 0 &&
	     strncmp(cfg->url, "smtps://", 8) != 0)) {
		set_err(err, errsize, "mail URL must be smtp:// or smtps://");
		return NULL;
	}
	if (cfg->timeout_us < 1000) {
		set_err(err, errsize, "mail timeout must be at least 1 ms");
		return NULL;
	}
	struct mail_live *ml = calloc(1, sizeof *ml);
	if (ml == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	ml->cl = cl;
	ml->s = s;
	snprintf(ml->url, sizeof ml->url, "%s", cfg->url);
	ml->timeout_ms = (long)(cfg->timeout_us / 1000);
	return ml;
}

static void mreq_free(struct mreq *r)
{
	struct mail_live *ml = r->ml;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		ml->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	curl_slist_free_all(r->rcpt);
	free(r->data);
	free(r);
}

void mail_live_destroy(struct mail_live *ml)
{
	if (ml == NULL)
		return;
	ASSERT(ml->in_callback == 0);
	while (ml->reqs != NULL) {
		struct mreq *r = ml->reqs;
		if (r->easy != NULL)
			curl_loop_cancel(ml->cl, r->easy);
		sched_cancel(ml->s, r->timer);
		mreq_free(r);
	}
	free(ml);
}

uint64_t mail_live_pending(const struct mail_live *ml)
{
	return ml->pending;
}

static void mreq_finish(struct mreq *r, enum outcome oc, int code)
{
	struct mail_live *ml = r->ml;
	ml->pending--;
	ml->in_callback++;
	r->done(r->arg, oc, code);
	ml->in_callback--;
	mreq_free(r);
}

static void mreq_on_early_failure(void *arg)
{
	struct mreq *r = arg;
	mreq_finish(r, r->early_oc, 0);
}

static void mreq_fail_early(struct mreq *r, enum outcome oc)
{
	r->early_oc = oc;
	r->timer = sched_after(r->ml->s, 0, mreq_on_early_failure, r);
}

static void mreq_on_response(void *arg, CURL *easy,
                             const struct curl_loop_response *resp)
{
	struct mreq *r = arg;
	(void)easy;
	r->easy = NULL; /* curl_loop cleans it up after we return */
	int code = (int)resp->status;
	if (resp->code == CURLE_OK) {
		mreq_finish(r, OUTCOME_OK, code);
	} else if (resp->code == CURLE_OPERATION_TIMEDOUT) {
		mreq_finish(r, OUTCOME_TIMEOUT, code);
	} else if (code >= 400 && code < 600) {
		/* curl reports a refusal as a send or reply error; the code
		 * says the server answered. */
		mreq_finish(r, OUTCOME_ERROR, code);
	} else {
		mreq_finish(r, OUTCOME_CONN_LOST, code);
	}
}

static size_t mreq_on_read(char *buf, size_t size, size_t nitems, void *userp)
{
	struct mreq *r = userp;
	size_t room = size * nitems;
	size_t n = r->len - r->sent;
	if (n > room)
		n = room;
	memcpy(buf, r->data + r->sent, n);
	r->sent += n;
	return n;
}

/* An envelope address goes on a command line: printable, no <>. */
static bool address_is_usable(const char *a)
{
	size_t n = strlen(a);
	if (n > MAIL_LIVE_ADDRESS_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)a[i];
		if (ch < ' ' || ch == 0x7f || ch == '<' || ch == '>')
			return false;
	}
	return true;
}

static void mail_port_send(void *ctx, const struct mail_message *m,
                           mail_done_fn *done, void *arg)
{
	struct mail_live *ml = ctx;
	ASSERT(m != NULL);
	ASSERT(m->from != NULL);
	ASSERT(m->to != NULL);
	ASSERT(m->data != NULL || m->len == 0);
	ASSERT(done != NULL);

	struct mreq *r = calloc(1, sizeof *r);
	ASSERT(r != NULL); /* out of memory in the harness is fatal */
	r->ml = ml;
	r->done = done;
	r->arg = arg;
	r->next = ml->reqs;
	if (ml->reqs != NULL)
		ml->reqs->prev = r;
	ml->reqs = r;
	ml->pending++;

	if (!address_is_usable(m->from) || !address_is_usable(m->to) ||
	    m->len > MAIL_LIVE_MESSAGE_MAX) {
		mreq_fail_early(r, OUTCOME_ERROR);
		return;
	}
	char from[MAIL_LIVE_ADDRESS_MAX + 3], to[MAIL_LIVE_ADDRESS_MAX + 3];
	snprintf(from, sizeof from, "<%s>", m->from);
	snprintf(to, sizeof to, "<%s>", m->to);
	r->data = malloc(m->len > 0 ? m->len : 1);
	r->rcpt = curl_slist_append(NULL, to);
	CURL *easy = curl_easy_init();
	if (r->data == NULL || r->rcpt == NULL || easy == NULL) {
		if (easy != NULL)
			curl_easy_cleanup(easy);
		mreq_fail_early(r, OUTCOME_CONN_LOST);
		return;
	}
	if (m->len > 0)
		memcpy(r->data, m->data, m->len);
	r->len = m->len;

	curl_easy_setopt(easy, CURLOPT_URL, ml->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(easy, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, r->rcpt);
	curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(easy, CURLOPT_READFUNCTION, mreq_on_read);
	curl_easy_setopt(easy, CURLOPT_READDATA, r);
	curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->len);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ml->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, ml->timeout_ms);
	r->easy = easy;
	if (curl_loop_start(ml->cl, easy, mreq_on_response, r) != RESULT_OK) {
		r->easy = NULL; /* curl_loop cleaned it up */
		mreq_fail_early(r, OUTCOME_CONN_LOST);
	}
}

void mail_live_port(struct mail_live *ml, struct mail_port *out)
{
	ASSERT(ml != NULL);
	ASSERT(out != NULL);
	out->ctx = ml;
	out->send = mail_port_send;
}
