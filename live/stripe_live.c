/* live/stripe_live.c - customer creation over HTTP with libcurl and
 * jansson. Each request owns its easy handle (through curl_loop) and is
 * listed here so destroy can cancel it. The key only ever goes to curl's
 * bearer option; nothing here prints. */
#include "live/stripe_live.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/assert.h"
#include "live/curl_loop.h"
#include "sim/sched.h"

#define STRIPE_LIVE_BODY_MAX 2048 /* bytes of the request's form body */

struct sreq {
	struct stripe_live *sl;
	struct sreq *prev, *next;      /* sl->reqs */
	CURL *easy;                    /* NULL once curl_loop is done with it */
	struct curl_slist *headers;
	stripe_done_fn *done;
	void *arg;
	struct sched_timer timer;      /* a failure decided before sending */
	enum outcome oc;
	int http_status;
	const char *error_type;
	bool search;                   /* a customer search, not a create */
};

struct stripe_live {
	struct curl_loop *cl;
	struct sched *s;
	char url[STRIPE_LIVE_URL_MAX + sizeof "/v1/customers"];
	char search_url[STRIPE_LIVE_URL_MAX + sizeof "/v1/customers/search"];
	char key[STRIPE_LIVE_KEY_MAX];
	long timeout_ms;
	int in_callback;
	struct sreq *reqs;
	uint64_t pending;
};

static void set_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s", msg);
}

/* A key is printable ASCII without spaces: it goes into a header. */
static bool key_is_usable(const char *k, size_t n)
{
	if (n == 0 || n >= STRIPE_LIVE_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (k[i] <= ' ' || k[i] > '~')
			return false;
	}
	return true;
}

enum result stripe_live_key_load(const char *key_file, char *key,
                                 size_t keysize, char *err, size_t errsize)
{
	char buf[STRIPE_LIVE_KEY_MAX + 2];
	const char *env = getenv(STRIPE_LIVE_KEY_ENV);
	size_t n;
	if (env != NULL) {
		n = strlen(env);
		if (!key_is_usable(env, n) || n >= keysize) {
			set_err(err, errsize, "$" STRIPE_LIVE_KEY_ENV
			        " is empty, too long or has spaces or control characters");
			return RESULT_REJECT;
		}
		memcpy(key, env, n + 1);
		return RESULT_OK;
	}
	if (key_file == NULL) {
		set_err(err, errsize, "no Stripe key: set $" STRIPE_LIVE_KEY_ENV
		        " or give a key file");
		return RESULT_REJECT;
	}
	FILE *f = fopen(key_file, "r");
	if (f == NULL) {
		set_err(err, errsize, "cannot open the Stripe key file");
		return RESULT_REJECT;
	}
	bool got = fgets(buf, sizeof buf, f) != NULL;
	fclose(f);
	n = got ? strcspn(buf, "\r\n") : 0;
	buf[n] = '\0';
	enum result rc = RESULT_REJECT;
	if (!key_is_usable(buf, n) || n >= keysize) {
		set_err(err, errsize, "the Stripe key file's first line is not a "
		        "usable key");
	} else {
		memcpy(key, buf, n + 1);
		rc = RESULT_OK;
	}
	explicit_bzero(buf, sizeof buf);
	return rc;
}

struct stripe_live *stripe_live_create(struct curl_loop *cl, struct sched *s,
                                       const struct stripe_live_config *cfg,
                                       char *err, size_t errsize)
{
	ASSERT(cl != NULL);
	ASSERT(s != NULL);
	ASSERT(cfg != NULL);

	if (cfg->base_url == NULL || strlen(cfg->base_url) >= STRIPE_LIVE_URL_MAX ||
	    (strncmp(cfg->base_url, "http://", 7) != 0 &&
	     strncmp(cfg->base_url, "https://", 8) != 0)) {
		set_err(err, errsize, "Stripe base URL must be http:// or https://");
		return NULL;
	}
	if (cfg->api_key == NULL ||
	    !key_is_usable(cfg->api_key, strlen(cfg->api_key))) {
		set_err(err, errsize, "Stripe key missing or unusable");
		return NULL;
	}
	if (cfg->timeout_us < 1000) {
		set_err(err, errsize, "Stripe timeout must be at least 1 ms");
		return NULL;
	}
	struct stripe_live *sl = calloc(1, sizeof *sl);
	if (sl == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	sl->cl = cl;
	sl->s = s;
	size_t n = strlen(cfg->base_url);
	while (n > 0 && cfg->base_url[n - 1] == '/')
		n--;
	snprintf(sl->url, sizeof sl->url, "%.*s/v1/customers", (int)n,
	         cfg->base_url);
	snprintf(sl->search_url, sizeof sl->search_url, "%.*s/v1/customers/search",
	         (int)n, cfg->base_url);
	snprintf(sl->key, sizeof sl->key, "%s", cfg->api_key);
	sl->timeout_ms = (long)(cfg->timeout_us / 1000);
	return sl;
}

static void sreq_free(struct sreq *r)
{
	struct stripe_live *sl = r->sl;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		sl->reqs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	curl_slist_free_all(r->headers);
	free(r);
}

void stripe_live_destroy(struct stripe_live *sl)
{
	if (sl == NULL)
		return;
	ASSERT(sl->in_callback == 0);
	while (sl->reqs != NULL) {
		struct sreq *r = sl->reqs;
		if (r->easy != NULL)
			curl_loop_cancel(sl->cl, r->easy);
		sched_cancel(sl->s, r->timer);
		sreq_free(r);
	}
	explicit_bzero(sl->key, sizeof sl->key);
	free(sl);
}

uint64_t stripe_live_pending(const struct stripe_live *sl)
{
	return sl->pending;
}

static void sreq_finish(struct sreq *r, enum outcome oc,
                        const struct stripe_reply *reply)
{
	struct stripe_live *sl = r->sl;
	sl->pending--;
	sl->in_callback++;
	r->done(r->arg, oc, reply);
	sl->in_callback--;
	sreq_free(r);
}

/* A request refused before sending. */
static void sreq_on_early_failure(void *arg)
{
	struct sreq *r = arg;
	struct stripe_reply reply = {
		.http_status = r->http_status,
		.error_type = r->error_type,
		.customer_id = "",
	};
	sreq_finish(r, r->oc, r->oc == OUTCOME_ERROR ? &reply : NULL);
}

static void sreq_fail_early(struct sreq *r, enum outcome oc,
                            const char *error_type)
{
	r->oc = oc;
	r->http_status = 0;
	r->error_type = error_type;
	r->timer = sched_after(r->sl->s, 0, sreq_on_early_failure, r);
}

static enum outcome outcome_of_curl(CURLcode code)
{
	switch (code) {
	case CURLE_OK:
		return OUTCOME_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return OUTCOME_TIMEOUT;
	default:
		/* Refused, reset, closed, TLS or name failures: no answer. */
		return OUTCOME_CONN_LOST;
	}
}

static bool header_says_true(CURL *easy, const char *name)
{
	struct curl_header *h = NULL;
	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return false;
	return strcmp(h->value, "true") == 0;
}

static void sreq_on_response(void *arg, CURL *easy,
                             const struct curl_loop_response *resp)
{
	struct sreq *r = arg;
	r->easy = NULL; /* curl_loop cleans it up after we return */

	struct stripe_reply reply = {
		.http_status = (int)resp->status,
		.error_type = "",
		.customer_id = "",
	};
	if (resp->body_too_big) {
		reply.error_type = "response_too_large";
		sreq_finish(r, OUTCOME_ERROR, &reply);
		return;
	}
	enum outcome oc = outcome_of_curl(resp->code);
	if (oc != OUTCOME_OK) {
		sreq_finish(r, oc, NULL);
		return;
	}
	reply.idempotent_replay = header_says_true(easy, "Idempotent-Replayed");
	json_error_t jerr;
	json_t *doc = json_loadb(resp->body, resp->body_len, 0, &jerr);
	if (resp->status >= 200 && resp->status < 300 && r->search) {
		/* The oldest customer found, "" for none. Lists come newest
		 * first, so of two made in the same second the later one is. */
		const json_t *data = json_object_get(doc, "data");
		const char *best = NULL;
		json_int_t best_created = 0;
		size_t i;
		const json_t *c;
		json_array_foreach(data, i, c) {
			const char *id = json_string_value(json_object_get(c, "id"));
			json_int_t created = json_integer_value(json_object_get(c, "created"));
			if (id != NULL && (best == NULL || created <= best_created)) {
				best = id;
				best_created = created;
			}
		}
		if (json_is_array(data)) {
			reply.customer_id = best != NULL ? best : "";
		} else {
			oc = OUTCOME_ERROR;
			reply.error_type = "invalid_response";
		}
	} else if (resp->status >= 200 && resp->status < 300) {
		const char *id = json_string_value(json_object_get(doc, "id"));
		if (id != NULL) {
			reply.customer_id = id;
		} else {
			oc = OUTCOME_ERROR;
			reply.error_type = "invalid_response";
		}
	} else {
		oc = OUTCOME_ERROR;
		const char *type = json_string_value(
			json_object_get(json_object_get(doc, "error"), "type"));
		if (type != NULL)
			reply.error_type = type;
	}
	sreq_finish(r, oc, &reply);
	json_decref(doc);
}

/* An Idempotency-Key goes into a header: printable, bounded. */
static bool idem_key_is_usable(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > STRIPE_LIVE_IDEM_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)k[i] < ' ' || k[i] == 0x7f)
			return false;
	}
	return true;
}

/* Appends "name=escaped(value)" to the form body; false past its bound. */
static bool form_add(CURL *easy, char *body, size_t *len, const char *name,
                     const char *value)
{
	char *esc = curl_easy_escape(easy, value, 0);
	if (esc == NULL)
		return false;
	size_t cap = STRIPE_LIVE_BODY_MAX - *len;
	int n = snprintf(body + *len, cap, "%s%s=%s", *len > 0 ? "&" : "", name,
	                 esc);
	curl_free(esc);
	if (n < 0 || (size_t)n >= cap)
		return false;
	*len += (size_t)n;
	return true;
}

/* What every request sets (url is copied by curl), then hands easy to the
 * loop. */
static void sreq_start(struct sreq *r, CURL *easy, const char *url)
{
	struct stripe_live *sl = r->sl;
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
	curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, sl->key);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "faultline");
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, sl->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, sl->timeout_ms);
	r->easy = easy;
	if (curl_loop_start(sl->cl, easy, sreq_on_response, r) != RESULT_OK) {
		r->easy = NULL; /* curl_loop cleaned it up */
		sreq_fail_early(r, OUTCOME_CONN_LOST, "");
	}
}

static struct sreq *sreq_new(struct stripe_live *sl, stripe_done_fn *done, void *arg)
{
	struct sreq *r = calloc(1, sizeof *r);
	ASSERT(r != NULL); /* out of memory in the harness is fatal */
	r->sl = sl;
	r->done = done;
	r->arg = arg;
	r->next = sl->reqs;
	if (sl->reqs != NULL)
		sl->reqs->prev = r;
	sl->reqs = r;
	sl->pending++;
	return r;
}

static void stripe_port_customer_create(void *ctx,
                                        const struct stripe_customer_params *p,
                                        stripe_done_fn *done, void *arg)
{
	struct stripe_live *sl = ctx;
	ASSERT(p != NULL);
	ASSERT(done != NULL);

	struct sreq *r = sreq_new(sl, done, arg);
	if (p->idempotency_key != NULL && !idem_key_is_usable(p->idempotency_key)) {
		sreq_fail_early(r, OUTCOME_ERROR, "invalid_request_error");
		return;
	}
	CURL *easy = curl_easy_init();
	if (easy == NULL) {
		sreq_fail_early(r, OUTCOME_CONN_LOST, "");
		return;
	}
	char body[STRIPE_LIVE_BODY_MAX];
	size_t len = 0;
	body[0] = '\0';
	bool ok = (p->email == NULL || form_add(easy, body, &len, "email", p->email)) &&
	          (p->user_id == NULL ||
	           form_add(easy, body, &len, "metadata%5Buser_id%5D", p->user_id));
	char idem[sizeof "Idempotency-Key: " + STRIPE_LIVE_IDEM_KEY_MAX];
	struct curl_slist *h = curl_slist_append(NULL,
		"Content-Type: application/x-www-form-urlencoded");
	if (h != NULL && p->idempotency_key != NULL) {
		snprintf(idem, sizeof idem, "Idempotency-Key: %s", p->idempotency_key);
		struct curl_slist *h2 = curl_slist_append(h, idem);
		if (h2 == NULL) {
			curl_slist_free_all(h);
			h = NULL;
		}
	}
	r->headers = h;
	if (!ok || h == NULL) {
		curl_easy_cleanup(easy);
		sreq_fail_early(r, ok ? OUTCOME_CONN_LOST : OUTCOME_ERROR,
		                ok ? "" : "invalid_request_error");
		return;
	}
	curl_easy_setopt(easy, CURLOPT_COPYPOSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, r->headers);
	sreq_start(r, easy, sl->url);
}

/* GET /v1/customers/search?query=metadata['user_id']:'<id>'. A user id
 * with a quote or a backslash, which the query would need escaped, is
 * refused before sending. */
static void stripe_port_customer_find(void *ctx, const char *user_id, stripe_done_fn *done,
                                      void *arg)
{
	struct stripe_live *sl = ctx;
	ASSERT(done != NULL);
	struct sreq *r = sreq_new(sl, done, arg);
	r->search = true;
	if (user_id == NULL || user_id[0] == '\0' || strlen(user_id) > STRIPE_LIVE_BODY_MAX / 4 ||
	    strpbrk(user_id, "'\\") != NULL) {
		sreq_fail_early(r, OUTCOME_ERROR, "invalid_request_error");
		return;
	}
	CURL *easy = curl_easy_init();
	if (easy == NULL) {
		sreq_fail_early(r, OUTCOME_CONN_LOST, "");
		return;
	}
	char query[STRIPE_LIVE_BODY_MAX];
	snprintf(query, sizeof query, "metadata['user_id']:'%s'", user_id);
	char *esc = curl_easy_escape(easy, query, 0);
	char url[sizeof sl->search_url + 3 * STRIPE_LIVE_BODY_MAX + 32];
	int n = esc != NULL ? snprintf(url, sizeof url, "%s?query=%s&limit=10", sl->search_url, esc)
	                    : -1;
	curl_free(esc);
	if (n < 0 || (size_t)n >= sizeof url) {
		curl_easy_cleanup(easy);
		sreq_fail_early(r, OUTCOME_ERROR, "invalid_request_error");
		return;
	}
	curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	sreq_start(r, easy, url);
}

void stripe_live_port(struct stripe_live *sl, struct stripe_port *out)
{
	ASSERT(sl != NULL);
	ASSERT(out != NULL);
	out->ctx = sl;
	out->customer_create = stripe_port_customer_create;
	out->customer_find = stripe_port_customer_find;
}
