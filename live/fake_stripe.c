/* live/fake_stripe.c - evhttp in front of the fake's resources. Each
 * request becomes a call: auth, route and parameters are checked at once;
 * a fault rule may answer it, hold it silent or reset its connection; a
 * POST or DELETE begins under its Idempotency-Key in the Stripe model and
 * executes process_us later from a scheduler timer (the key's "in flight"
 * window), its answer saved under the key. */
#include "live/fake_stripe.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "core/assert.h"
#include "proxy/http_guard.h"
#include "live/stripe_api.h"
#include "live/stripe_store.h"
#include "sim/fault.h"
#include "sim/models/stripe_model.h"
#include "sim/prng.h"
#include "sim/sched.h"

/* What becomes of a call once it has (or has not) executed. */
enum fcall_end { END_REPLY, END_HOLD, END_RESET };

struct fcall {
	struct fake_stripe *fs;
	struct fcall *prev, *next;      /* fs->calls */
	struct evhttp_request *req;
	struct stripe_api_target target;
	json_t *params;
	char *key;                      /* Idempotency-Key, or NULL */
	enum fcall_end end;
	bool apply;                     /* executes (else only the fault) */
	bool spoil;                     /* bad-reply: a 200's "id" sent empty */
	bool begun;                     /* token names a pending model request */
	uint32_t token;
	struct sched_timer timer;
	bool timer_set;
};

struct fake_stripe {
	struct event_base *base;
	struct sched *s;
	struct evhttp *http;
	struct http_guard *guard;
	struct stripe_model *model;     /* the Idempotency-Key table */
	struct stripe_store *store;
	char key[FAKE_STRIPE_KEY_MAX];
	size_t key_len;
	uint64_t process_us, hold_us;
	uint64_t start_us;              /* fault windows count from here */
	struct fault_plan *plan;        /* NULL: no faults */
	struct prng rng;
	uint64_t fired;
	uint64_t request_seq;           /* Request-Id header */
	int port;
	char url[64];
	struct fcall *calls;
	int ncalls;
};

static void set_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s", msg);
}

/* "created" is Unix time, as clients show it; key expiry uses the
 * scheduler's clock. */
static int64_t now_s(const struct fake_stripe *fs)
{
	(void)fs;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

/* Sends text (may be NULL: an empty body) with status. */
static void reply_text(struct fake_stripe *fs, struct evhttp_request *req, int status,
                       const char *text, const char *idem_key, bool replayed)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	char rid[32];
	snprintf(rid, sizeof rid, "req_faultline%llu", (unsigned long long)++fs->request_seq);
	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Request-Id", rid);
	evhttp_add_header(out, "Stripe-Version", STRIPE_API_VERSION);
	if (idem_key != NULL)
		evhttp_add_header(out, "Idempotency-Key", idem_key);
	if (replayed)
		evhttp_add_header(out, "Idempotent-Replayed", "true");
	struct evbuffer *body = evbuffer_new();
	if (body != NULL && text != NULL)
		evbuffer_add(body, text, strlen(text));
	evhttp_send_reply(req, status, NULL, body);
	if (body != NULL)
		evbuffer_free(body);
}

/* Sends doc (stolen) with status. */
static void reply_json(struct fake_stripe *fs, struct evhttp_request *req, int status,
                       json_t *doc, const char *idem_key)
{
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	reply_text(fs, req, status, text, idem_key, false);
	free(text);
	json_decref(doc);
}

static void reply_error(struct fake_stripe *fs, struct evhttp_request *req, int status,
                        const char *type, const char *code, const char *message)
{
	reply_json(fs, req, status, stripe_api_error(type, code, NULL, "%s", message), NULL);
}

/* ---- calls ---------------------------------------------------------------- */

static void fcall_free(struct fcall *c)
{
	struct fake_stripe *fs = c->fs;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		fs->calls = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	fs->ncalls--;
	json_decref(c->params);
	free(c->key);
	free(c);
}

static void fcall_after(struct fcall *c, uint64_t delay_us, sched_fn *fn)
{
	c->timer = sched_after(c->fs->s, delay_us, fn, c);
	c->timer_set = true;
}

/* Closes the call's connection with a TCP reset, unanswered. */
static void fcall_on_reset(void *arg)
{
	struct fcall *c = arg;
	struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
	if (conn == NULL) {
		/* The client left first; evhttp kept the request for a reply. */
		evhttp_request_free(c->req);
	} else {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
		evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		if (fd >= 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		evhttp_connection_free(conn); /* frees c->req too */
	}
	fcall_free(c);
}

/* Answers, holds or resets, as the call's fault says. text NULL: no body. */
static void fcall_deliver(struct fcall *c, int status, const char *text, bool replayed)
{
	switch (c->end) {
	case END_REPLY: {
		/* bad-reply: Stripe did the work; the answer that arrives has
		 * lost the object's id. */
		json_t *doc = c->spoil && status == 200 && text != NULL ? json_loads(text, 0, NULL) : NULL;
		char *spoilt = NULL;
		if (json_is_object(doc) && json_object_set_new(doc, "id", json_string("")) == 0)
			spoilt = json_dumps(doc, JSON_COMPACT);
		json_decref(doc);
		reply_text(c->fs, c->req, status, spoilt != NULL ? spoilt : text, c->key, replayed);
		free(spoilt);
		fcall_free(c);
		return;
	}
	case END_HOLD:
		fcall_after(c, c->fs->hold_us, fcall_on_reset);
		return;
	case END_RESET:
		fcall_after(c, 0, fcall_on_reset);
		return;
	}
}

/* Stripe saves what an endpoint that began executing answered; a request
 * refused by validation (400, 404) saves nothing. */
static bool status_saved(int status)
{
	return status != 400 && status != 404;
}

static void fcall_on_execute(void *arg)
{
	struct fcall *c = arg;
	struct fake_stripe *fs = c->fs;
	c->timer_set = false;
	struct stripe_api_request rq = {
		.target = c->target, .params = c->params, .now_s = now_s(fs),
		.idempotency_key = c->key,
	};
	json_t *body;
	int status = stripe_api_execute(fs->store, &rq, &body);
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (c->begun) {
		stripe_model_request_finish(fs->model, c->token, sched_now_us(fs->s), status,
		                            text != NULL && status_saved(status), text);
		c->begun = false;
	}
	fcall_deliver(c, status, text, false);
	free(text);
}

/* The model refused the key, or replays its answer. */
static void fcall_answered(struct fcall *c, const struct stripe_model_answer *a)
{
	if (a->idempotent_replay) {
		fcall_deliver(c, a->http_status, a->body, true);
		return;
	}
	json_t *doc;
	if (a->http_status == 409)
		doc = stripe_api_error("idempotency_error", "idempotency_key_in_use", NULL,
		                       "There is currently another in-progress request using "
		                       "this Idempotency-Key. Try again later.");
	else if (strcmp(a->error_type, "idempotency_error") == 0)
		doc = stripe_api_error("idempotency_error", NULL, NULL, "Keys for idempotent "
		                       "requests can only be used with the same parameters they "
		                       "were first used with. Try using a key other than '%.64s'.",
		                       c->key);
	else if (a->http_status == 429)
		doc = stripe_api_error("invalid_request_error", "rate_limit", NULL,
		                       "Too many requests in flight or keys remembered.");
	else if (a->http_status == 400)
		doc = stripe_api_error("invalid_request_error", NULL, "Idempotency-Key",
		                       "Idempotency keys are 1 to %d characters.",
		                       STRIPE_MODEL_KEY_LEN_MAX);
	else
		doc = stripe_api_error("api_error", NULL, NULL, "Out of memory.");
	char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	fcall_deliver(c, a->http_status, text, false);
	free(text);
}

/* Begins the call's execution: at once for a read, under its key and
 * process_us later for a change. */
static void fcall_on_begin(void *arg)
{
	struct fcall *c = arg;
	struct fake_stripe *fs = c->fs;
	c->timer_set = false;
	if (!c->apply) {
		fcall_deliver(c, 0, NULL, false);
		return;
	}
	if (!stripe_api_mutates(c->target.route)) {
		fcall_on_execute(c);
		return;
	}
	char *fp = json_dumps(c->params, JSON_COMPACT | JSON_SORT_KEYS);
	char *print = fp != NULL ? malloc(strlen(fp) + 32) : NULL;
	if (print != NULL)
		sprintf(print, "%s %s", stripe_api_op(c->target.route), fp);
	free(fp);
	if (print == NULL) {
		struct stripe_model_answer a = {500, "api_error", NULL, false};
		fcall_answered(c, &a);
		return;
	}
	/* The id in the path is part of the request: name it too. */
	char *full = malloc(strlen(print) + sizeof c->target.id + 2);
	if (full != NULL)
		sprintf(full, "%s %s", c->target.id, print);
	free(print);
	struct stripe_model_answer a = {500, "api_error", NULL, false};
	bool answered = full == NULL ||
		stripe_model_request_begin(fs->model, sched_now_us(fs->s), c->key, full,
		                           &c->token, &a);
	free(full);
	if (answered) {
		fcall_answered(c, &a);
		return;
	}
	c->begun = true;
	fcall_after(c, fs->process_us, fcall_on_execute);
}

/* ---- requests ------------------------------------------------------------- */

static bool authorized(const struct fake_stripe *fs, struct evhttp_request *req,
                       bool *missing)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req),
	                                   "Authorization");
	*missing = h == NULL;
	if (h == NULL)
		return false;
	if (strncmp(h, "Bearer ", 7) == 0) {
		h += 7;
		return strlen(h) == fs->key_len && CRYPTO_memcmp(h, fs->key, fs->key_len) == 0;
	}
	if (strncmp(h, "Basic ", 6) != 0 || strlen(h + 6) > 2 * FAKE_STRIPE_KEY_MAX)
		return false;
	/* Basic: the key is the user name, the password empty ("sk_test_x:"). */
	unsigned char dec[2 * FAKE_STRIPE_KEY_MAX];
	int n = EVP_DecodeBlock(dec, (const unsigned char *)h + 6, (int)strlen(h + 6));
	if (n <= 0)
		return false;
	while (n > 0 && dec[n - 1] == '\0')
		n--; /* EVP_DecodeBlock pads */
	return (size_t)n == fs->key_len + 1 && dec[fs->key_len] == ':' &&
	       CRYPTO_memcmp(dec, fs->key, fs->key_len) == 0;
}

/* The call's parameters: the query of a GET or DELETE, the body of a POST. */
static bool read_params(struct evhttp_request *req, bool post, json_t **out,
                        char *err, size_t errsize)
{
	if (post) {
		char form[FAKE_STRIPE_BODY_MAX + 1];
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(in);
		if (n > FAKE_STRIPE_BODY_MAX) { /* evhttp's own limit should hold */
			snprintf(err, errsize, "Body too large.");
			return false;
		}
		evbuffer_copyout(in, form, n);
		form[n] = '\0';
		return stripe_api_form_parse(form, n, out, err, errsize);
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	return stripe_api_form_parse(q != NULL ? q : "", q != NULL ? strlen(q) : 0, out,
	                             err, errsize);
}

/* Asks the plan about the call: sets end and apply; true when a fault
 * answers it at once (done). */
static bool fault_decide(struct fake_stripe *fs, struct fcall *c, uint64_t *delay_us)
{
	*delay_us = 0;
	c->end = END_REPLY;
	c->apply = true;
	if (fs->plan == NULL)
		return false;
	uint64_t t = sched_now_us(fs->s) - fs->start_us;
	const char *op = stripe_api_op(c->target.route);
	if (fault_plan_down(fs->plan, FAULT_TARGET_STRIPE, t, NULL)) {
		fs->fired++;
		c->end = END_RESET, c->apply = false;
		return false;
	}
	struct fault_decision d;
	if (!fault_plan_decide(fs->plan, &fs->rng, FAULT_TARGET_STRIPE, op, t, &d))
		return false;
	fs->fired++;
	const struct fault_rule *r = d.rule;
	switch (r->kind) {
	case FAULT_SERVER_ERROR: {
		int status = r->status != 0 ? r->status : 500;
		const char *type = r->error[0] != '\0' ? r->error :
		                   status == 429 || status < 500 ? "invalid_request_error" :
		                   "api_error";
		reply_error(fs, c->req, status, type, status == 429 ? "rate_limit" : NULL,
		            status == 429 ? "Too many requests hit the API too quickly "
		            "(a fault rule)." : "The fake Stripe answers an error (a fault rule).");
		return true;
	}
	case FAULT_LATENCY:
		*delay_us = d.latency_us;
		return false;
	case FAULT_TIMEOUT_APPLIED:
		c->end = END_HOLD;
		return false;
	case FAULT_STALL:
		c->end = END_HOLD, c->apply = r->stall_applied;
		return false;
	case FAULT_TIMEOUT_NOT_APPLIED:
		c->end = END_HOLD, c->apply = false;
		return false;
	case FAULT_CONN_LOST:
		c->end = END_RESET; /* applied, then the connection dies */
		return false;
	case FAULT_BAD_REPLY:
		c->spoil = true; /* applied, answered without the id */
		return false;
	default:                /* error, and kinds without an HTTP meaning */
		c->end = END_RESET, c->apply = false;
		return false;
	}
}

static void fake_stripe_on_request(struct evhttp_request *req, void *arg)
{
	struct fake_stripe *fs = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	bool missing;
	if (!authorized(fs, req, &missing)) {
		reply_error(fs, req, 401, "invalid_request_error", NULL, missing ?
		            "You did not provide an API key. Send it as "
		            "'Authorization: Bearer sk_test_...'." :
		            "Invalid API key provided.");
		return;
	}
	enum stripe_api_method m = cmd == EVHTTP_REQ_POST ? STRIPE_API_POST :
	                           cmd == EVHTTP_REQ_DELETE ? STRIPE_API_DELETE :
	                           STRIPE_API_GET;
	struct stripe_api_target target;
	int status;
	if ((cmd != EVHTTP_REQ_GET && m == STRIPE_API_GET) ||
	    !stripe_api_route(m, path, &target, &status)) {
		if (cmd != EVHTTP_REQ_GET && m == STRIPE_API_GET)
			status = 405;
		reply_error(fs, req, status, "invalid_request_error", NULL, status == 405 ?
		            "Method not allowed." : "Unrecognized request URL.");
		return;
	}
	char err[160];
	json_t *params;
	if (!read_params(req, m == STRIPE_API_POST, &params, err, sizeof err)) {
		reply_error(fs, req, 400, "invalid_request_error", NULL, err);
		return;
	}
	const char *key = evhttp_find_header(evhttp_request_get_input_headers(req),
	                                     "Idempotency-Key");
	if (fs->ncalls >= FAKE_STRIPE_PENDING_MAX) {
		json_decref(params);
		reply_error(fs, req, 429, "invalid_request_error", "rate_limit",
		            "Too many requests.");
		return;
	}
	struct fcall *c = calloc(1, sizeof *c);
	ASSERT(c != NULL); /* out of memory in the harness is fatal */
	c->fs = fs;
	c->req = req;
	c->target = target;
	c->params = params;
	c->key = key != NULL && stripe_api_mutates(target.route) ? strdup(key) : NULL;
	ASSERT(key == NULL || !stripe_api_mutates(target.route) || c->key != NULL);
	c->next = fs->calls;
	if (fs->calls != NULL)
		fs->calls->prev = c;
	fs->calls = c;
	fs->ncalls++;
	uint64_t delay_us;
	if (fault_decide(fs, c, &delay_us)) {
		fcall_free(c);
		return;
	}
	if (delay_us > 0 || c->end == END_RESET)
		fcall_after(c, delay_us, fcall_on_begin); /* a reset never inside evhttp */
	else
		fcall_on_begin(c);
}

/* ---- life cycle ----------------------------------------------------------- */

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
	fs->hold_us = cfg->hold_us != 0 ? cfg->hold_us : FAKE_STRIPE_HOLD_US;
	fs->start_us = sched_now_us(s);
	prng_init(&fs->rng, cfg->fault_seed);
	if (cfg->faults != NULL) {
		fs->plan = malloc(sizeof *fs->plan);
		if (fs->plan != NULL) {
			*fs->plan = *cfg->faults;
			fault_plan_reset(fs->plan);
		}
	}
	fs->model = stripe_model_create(cfg->id_seed);
	fs->store = stripe_store_create(cfg->id_seed);
	fs->http = evhttp_new(base);
	if (fs->model == NULL || fs->store == NULL || fs->http == NULL ||
	    (cfg->faults != NULL && fs->plan == NULL)) {
		set_err(err, errsize, "out of memory");
		goto fail;
	}
	evhttp_set_max_body_size(fs->http, FAKE_STRIPE_BODY_MAX);
	evhttp_set_max_headers_size(fs->http, FAKE_STRIPE_HEADERS_MAX);
	evhttp_set_allowed_methods(fs->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	                                     EVHTTP_REQ_DELETE);
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
	stripe_store_destroy(fs->store);
	free(fs->plan);
	explicit_bzero(fs->key, sizeof fs->key);
	free(fs);
	return NULL;
}

void fake_stripe_destroy(struct fake_stripe *fs)
{
	if (fs == NULL)
		return;
	while (fs->calls != NULL) {
		struct fcall *c = fs->calls;
		if (c->timer_set)
			sched_cancel(fs->s, c->timer);
		if (c->begun) /* never executed: nothing saved, the key is free */
			stripe_model_request_finish(fs->model, c->token, sched_now_us(fs->s),
			                            503, false, NULL);
		reply_error(fs, c->req, 503, "api_error", NULL, "Shutting down.");
		fcall_free(c);
	}
	evhttp_free(fs->http);
	http_guard_destroy(fs->guard);
	stripe_model_destroy(fs->model);
	stripe_store_destroy(fs->store);
	free(fs->plan);
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
	return stripe_store_count(fs->store, STRIPE_CUSTOMER);
}

uint64_t fake_stripe_faults_fired(const struct fake_stripe *fs)
{
	return fs->fired;
}
