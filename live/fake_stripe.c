/* live/fake_stripe.c - evhttp in front of the Stripe model. A create
 * begins in the model when the request arrives and, unless answered at
 * once, finishes process_us later from a scheduler timer: that gap is the
 * "in flight" window of the Idempotency-Key contract. Responses are built
 * with jansson; the key is compared in constant time (OpenSSL). */
#include "live/fake_stripe.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "core/assert.h"
#include "proxy/http_guard.h"
#include "sim/models/stripe_model.h"
#include "sim/sched.h"

struct fpending {
	struct fake_stripe *fs;
	struct fpending *prev, *next;   /* fs->pending */
	struct evhttp_request *req;
	uint32_t token;
	char *email, *user_id;          /* for the response body */
	struct sched_timer timer;
};

struct fake_stripe {
	struct event_base *base;
	struct sched *s;
	struct evhttp *http;
	struct http_guard *guard;
	struct stripe_model *model;
	char key[FAKE_STRIPE_KEY_MAX];
	size_t key_len;
	uint64_t process_us;
	int port;
	char url[64];
	struct fpending *pending;
	int npending;
};

static void set_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s", msg);
}

/* Sends doc (stolen) as the JSON body with status. */
static void reply_json(struct evhttp_request *req, int status, json_t *doc,
                       bool replayed)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	evhttp_add_header(out, "Content-Type", "application/json");
	if (replayed)
		evhttp_add_header(out, "Idempotent-Replayed", "true");
	struct evbuffer *body = evbuffer_new();
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (body != NULL && text != NULL)
		evbuffer_add(body, text, strlen(text));
	free(text);
	json_decref(doc);
	evhttp_send_reply(req, status, NULL, body);
	if (body != NULL)
		evbuffer_free(body);
}

static void reply_error(struct evhttp_request *req, int status,
                        const char *type, const char *message)
{
	json_t *doc = json_pack("{s:{s:s, s:s}}", "error", "type", type,
	                        "message", message);
	reply_json(req, status, doc, false);
}

static json_t *customer_json(const char *id, const char *email,
                             const char *user_id, uint64_t created_us)
{
	json_t *meta = json_object();
	if (meta != NULL && user_id != NULL && user_id[0] != '\0')
		json_object_set_new(meta, "user_id", json_string(user_id));
	return json_pack("{s:s, s:s, s:s?, s:o?, s:I}", "id", id, "object",
	                 "customer", "email",
	                 email != NULL && email[0] != '\0' ? email : NULL,
	                 "metadata", meta, "created",
	                 (json_int_t)(created_us / 1000000));
}

struct created_find {
	const char *id;
	uint64_t created_us;
};

static void created_on_customer(void *arg, const char *id, const char *user_id,
                                const char *email, uint64_t created_us)
{
	struct created_find *cf = arg;
	(void)user_id;
	(void)email;
	if (strcmp(id, cf->id) == 0)
		cf->created_us = created_us;
}

/* Answers a create from the model's reply. A replay repeats the first
 * response, its creation time included. */
static void reply_create(struct fake_stripe *fs, struct evhttp_request *req,
                         const struct stripe_reply *r, const char *email,
                         const char *user_id)
{
	if (r->http_status == 200) {
		/* r's strings live until the next call on the model. */
		char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
		snprintf(id, sizeof id, "%s", r->customer_id);
		struct created_find cf = {id, sched_now_us(fs->s)};
		if (r->idempotent_replay)
			stripe_model_foreach_customer(fs->model, created_on_customer,
			                              &cf);
		reply_json(req, 200, customer_json(id, email, user_id, cf.created_us),
		           r->idempotent_replay);
		return;
	}
	const char *msg =
		r->http_status == 409 ? "Another request with this idempotency key "
		                        "is still being processed." :
		strcmp(r->error_type, "idempotency_error") == 0 ?
		                        "This idempotency key was used before with "
		                        "different parameters." :
		                        "The request could not be completed.";
	json_t *doc = json_pack("{s:{s:s, s:s}}", "error", "type", r->error_type,
	                        "message", msg);
	reply_json(req, r->http_status, doc, r->idempotent_replay);
}

static void fpending_free(struct fpending *p)
{
	struct fake_stripe *fs = p->fs;
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		fs->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
	fs->npending--;
	free(p->email);
	free(p->user_id);
	free(p);
}

static void fpending_on_done(void *arg)
{
	struct fpending *p = arg;
	struct fake_stripe *fs = p->fs;
	struct stripe_reply r;
	stripe_model_customer_finish(fs->model, p->token, sched_now_us(fs->s), 200,
	                             true, &r);
	/* If the client left, evhttp frees the detached request here. */
	reply_create(fs, p->req, &r, p->email, p->user_id);
	fpending_free(p);
}

static bool authorized(const struct fake_stripe *fs, struct evhttp_request *req)
{
	static const char prefix[] = "Bearer ";
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	                                   "Authorization");
	if (h == NULL || strncmp(h, prefix, sizeof prefix - 1) != 0)
		return false;
	h += sizeof prefix - 1;
	return strlen(h) == fs->key_len &&
	       CRYPTO_memcmp(h, fs->key, fs->key_len) == 0;
}

/* The value of form field name; evhttp decodes values but not names, so
 * "metadata%5Buser_id%5D" must be decoded here. NULL when absent. */
static const char *form_find(struct evkeyvalq *form, const char *name)
{
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, form, next) {
		char *key = evhttp_uridecode(kv->key, 1, NULL);
		bool match = key != NULL && strcmp(key, name) == 0;
		free(key);
		if (match)
			return kv->value;
	}
	return NULL;
}

static void handle_create(struct fake_stripe *fs, struct evhttp_request *req)
{
	char form[FAKE_STRIPE_BODY_MAX + 1];
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	if (n > FAKE_STRIPE_BODY_MAX) { /* evhttp's own limit should hold */
		reply_error(req, 413, "invalid_request_error", "Body too large.");
		return;
	}
	evbuffer_copyout(in, form, n);
	form[n] = '\0';
	if (memchr(form, '\0', n) != NULL) {
		reply_error(req, 400, "invalid_request_error", "Malformed body.");
		return;
	}
	struct evkeyvalq params;
	TAILQ_INIT(&params);
	if (evhttp_parse_query_str(form, &params) != 0) {
		evhttp_clear_headers(&params);
		reply_error(req, 400, "invalid_request_error", "Malformed body.");
		return;
	}
	struct stripe_customer_params p = {
		.email = form_find(&params, "email"),
		.user_id = form_find(&params, "metadata[user_id]"),
		.idempotency_key = evhttp_find_header(
			evhttp_request_get_input_headers(req), "Idempotency-Key"),
	};
	if (fs->npending >= FAKE_STRIPE_PENDING_MAX) {
		evhttp_clear_headers(&params);
		reply_error(req, 429, "invalid_request_error", "Too many requests.");
		return;
	}
	uint32_t token;
	struct stripe_reply r;
	if (stripe_model_customer_begin(fs->model, sched_now_us(fs->s), &p, &token,
	                                &r)) {
		reply_create(fs, req, &r, p.email, p.user_id);
		evhttp_clear_headers(&params);
		return;
	}
	struct fpending *pe = calloc(1, sizeof *pe);
	ASSERT(pe != NULL); /* out of memory in the harness is fatal */
	pe->fs = fs;
	pe->req = req;
	pe->token = token;
	pe->email = strdup(p.email != NULL ? p.email : "");
	pe->user_id = strdup(p.user_id != NULL ? p.user_id : "");
	ASSERT(pe->email != NULL && pe->user_id != NULL);
	evhttp_clear_headers(&params);
	pe->next = fs->pending;
	if (fs->pending != NULL)
		fs->pending->prev = pe;
	fs->pending = pe;
	fs->npending++;
	pe->timer = sched_after(fs->s, fs->process_us, fpending_on_done, pe);
}

struct list_acc {
	size_t n, cap;
	json_t **items;   /* creation order */
};

static void list_on_customer(void *arg, const char *id, const char *user_id,
                             const char *email, uint64_t created_us)
{
	struct list_acc *acc = arg;
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;
		json_t **ni = realloc(acc->items, cap * sizeof *ni);
		ASSERT(ni != NULL);
		acc->items = ni;
		acc->cap = cap;
	}
	acc->items[acc->n++] = customer_json(id, email, user_id, created_us);
}

static void handle_list(struct fake_stripe *fs, struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq q;
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		evhttp_clear_headers(&q);
		reply_error(req, 400, "invalid_request_error", "Malformed query.");
		return;
	}
	long limit = 10;
	const char *ls = evhttp_find_header(&q, "limit");
	if (ls != NULL) {
		char *end;
		limit = strtol(ls, &end, 10);
		if (*ls == '\0' || *end != '\0' || limit < 1 ||
		    limit > FAKE_STRIPE_LIST_MAX) {
			evhttp_clear_headers(&q);
			reply_error(req, 400, "invalid_request_error",
			            "limit must be between 1 and 100.");
			return;
		}
	}
	const char *after = evhttp_find_header(&q, "starting_after");

	struct list_acc acc = {0, 0, NULL};
	stripe_model_foreach_customer(fs->model, list_on_customer, &acc);
	/* Newest first; start below starting_after when given. */
	size_t start = acc.n;
	if (after != NULL) {
		start = 0;
		for (size_t i = 0; i < acc.n; i++) {
			const char *id = json_string_value(
				json_object_get(acc.items[i], "id"));
			if (id != NULL && strcmp(id, after) == 0) {
				start = i;
				break;
			}
		}
	}
	evhttp_clear_headers(&q);
	json_t *data = json_array();
	size_t i = start;
	for (long k = 0; k < limit && i > 0; k++) {
		i--;
		json_array_append(data, acc.items[i]);
	}
	for (size_t j = 0; j < acc.n; j++)
		json_decref(acc.items[j]);
	free(acc.items);
	json_t *doc = json_pack("{s:s, s:s, s:o, s:b}", "object", "list", "url",
	                        "/v1/customers", "data", data, "has_more", i > 0);
	reply_json(req, 200, doc, false);
}

static void fake_stripe_on_request(struct evhttp_request *req, void *arg)
{
	struct fake_stripe *fs = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (!authorized(fs, req)) {
		reply_error(req, 401, "invalid_request_error",
		            "Invalid API key provided.");
		return;
	}
	if (path == NULL || strcmp(path, "/v1/customers") != 0) {
		reply_error(req, 404, "invalid_request_error",
		            "Unrecognized request URL.");
		return;
	}
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_POST:
		handle_create(fs, req);
		return;
	case EVHTTP_REQ_GET:
		handle_list(fs, req);
		return;
	default:
		reply_error(req, 405, "invalid_request_error",
		            "Method not allowed.");
		return;
	}
}

struct fake_stripe *fake_stripe_create(struct event_base *base, struct sched *s,
                                       const struct fake_stripe_config *cfg,
                                       char *err, size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(s != NULL);
	ASSERT(cfg != NULL);
	if (cfg->port < 0 || cfg->port > 65535 || cfg->api_key == NULL ||
	    cfg->api_key[0] == '\0' || strlen(cfg->api_key) >= FAKE_STRIPE_KEY_MAX) {
		set_err(err, errsize, "fake Stripe configuration out of range");
		return NULL;
	}
	struct fake_stripe *fs = calloc(1, sizeof *fs);
	if (fs == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	fs->base = base;
	fs->s = s;
	fs->key_len = strlen(cfg->api_key);
	memcpy(fs->key, cfg->api_key, fs->key_len + 1);
	fs->process_us = cfg->process_us;
	fs->model = stripe_model_create(cfg->id_seed);
	fs->http = evhttp_new(base);
	if (fs->model == NULL || fs->http == NULL) {
		set_err(err, errsize, "out of memory");
		goto fail;
	}
	evhttp_set_max_body_size(fs->http, FAKE_STRIPE_BODY_MAX);
	evhttp_set_max_headers_size(fs->http, FAKE_STRIPE_HEADERS_MAX);
	evhttp_set_allowed_methods(fs->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_timeout(fs->http, FAKE_STRIPE_IDLE_S);
	struct http_guard_config gc = {.deadline_us = cfg->head_timeout_us,
	                               .conns_max = FAKE_STRIPE_CONNS_MAX,
	                               .on_request = fake_stripe_on_request, .arg = fs};
	if ((fs->guard = http_guard_create(base, fs->http, &gc)) == NULL) {
		set_err(err, errsize, "out of memory");
		goto fail;
	}
	struct evhttp_bound_socket *bound =
		evhttp_bind_socket_with_handle(fs->http, "127.0.0.1",
		                               (ev_uint16_t)cfg->port);
	if (bound == NULL) {
		set_err(err, errsize, "fake Stripe cannot listen on 127.0.0.1");
		goto fail;
	}
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&sin,
	                &len) != 0) {
		set_err(err, errsize, "fake Stripe cannot read its port");
		goto fail;
	}
	fs->port = ntohs(sin.sin_port);
	snprintf(fs->url, sizeof fs->url, "http://127.0.0.1:%d", fs->port);
	return fs;

fail:
	if (fs->http != NULL)
		evhttp_free(fs->http);
	http_guard_destroy(fs->guard);
	stripe_model_destroy(fs->model);
	explicit_bzero(fs->key, sizeof fs->key);
	free(fs);
	return NULL;
}

void fake_stripe_destroy(struct fake_stripe *fs)
{
	if (fs == NULL)
		return;
	while (fs->pending != NULL) {
		struct fpending *p = fs->pending;
		struct stripe_reply r;
		sched_cancel(fs->s, p->timer);
		/* Failed before executing: nothing saved, the key is free. */
		stripe_model_customer_finish(fs->model, p->token, sched_now_us(fs->s),
		                             503, false, &r);
		reply_error(p->req, 503, "api_error", "Shutting down.");
		fpending_free(p);
	}
	evhttp_free(fs->http);
	http_guard_destroy(fs->guard);
	stripe_model_destroy(fs->model);
	explicit_bzero(fs->key, sizeof fs->key);
	free(fs);
}

int fake_stripe_port(const struct fake_stripe *fs)
{
	return fs->port;
}

const char *fake_stripe_url(const struct fake_stripe *fs)
{
	return fs->url;
}

size_t fake_stripe_customer_count(const struct fake_stripe *fs)
{
	return stripe_model_customer_count(fs->model);
}
