/* live/serve.c - the HTTP face of the core: three routes on evhttp, each
 * request a small context that walks the core's asynchronous calls and
 * answers once with JSON and an honest status. External input is checked
 * here and refused with 4xx, never asserted on. Not the fault proxy, not a
 * Stripe fake (live/fake_stripe.c is). */
#include "live/serve.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "core/assert.h"
#include "core/customer.h"
#include "core/dedup.h"
#include "core/quote_email.h"
#include "core/ratelimit.h"
#include "core/stripe_sig.h"
#include "core/webhook.h"
#include "live/curl_loop.h"
#include "live/fake_stripe.h"
#include "live/mail_live.h"
#include "live/pg_live.h"
#include "proxy/http_guard.h"
#include "proxy/proxy.h"
#include "live/redis_live.h"
#include "live/smtp_sink.h"
#include "live/stripe_live.h"
#include "sim/prng.h"
#include "sim/sched.h"
#include "live/world_live.h"

#define SERVE_FAKE_KEY "sk_test_faultline_serve"
#define SERVE_REDIS_TIMEOUT_US 500000
#define SERVE_PG_TIMEOUT_US 5000000
#define SERVE_PG_CONNECT_US 2000000
#define SERVE_PG_POOL 8
#define SERVE_PG_WAITERS 1024
#define SERVE_HTTP_TIMEOUT_US 10000000  /* Stripe and SMTP calls */
#define SERVE_CURL_TRANSFERS 64
#define SERVE_FAKE_PROCESS_US 20000
#define SERVE_SINK_MESSAGE_MAX (1u << 20)
#define SERVE_SINK_SESSIONS 64
#define SERVE_SINK_IDLE_US 30000000
#define SERVE_WEBHOOK_PATH "/api/stripe/webhook"
#define SERVE_INTENT_PATH "/api/stripe/create-payment-intent"
#define SERVE_QUOTE_PATH "/api/quotes/email"

enum route { ROUTE_WEBHOOK, ROUTE_INTENT, ROUTE_QUOTE };

struct serve {
	struct event_base *base;
	struct sched *s;
	struct prng rng;
	struct redis_live *redis;
	struct pg_live *pg;
	struct curl_loop *cl;
	struct fake_stripe *fake;
	struct stripe_live *stripe;
	struct smtp_sink *sink;
	struct mail_live *mail;
	struct core_env env;
	struct ratelimit *rl;
	struct dedup *dd;
	struct customer *cu;
	struct quote_email *qe;
	struct webhook *wh;
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	char listen[PROXY_ADDR_MAX];
	char describe[1024];
	uint64_t inflight;
	struct http_guard *guard;
};

/* One request on its way through the core. */
struct sreq {
	struct serve *sv;
	struct evhttp_request *req;
	enum route route;
	char user_id[SERVE_ID_MAX + 1];
	char request_id[SERVE_ID_MAX + 1];
	char email[SERVE_EMAIL_MAX + 1];
	bool has_email;
	char *body;                   /* the request body, NUL-terminated */
	size_t body_len;
	json_t *json;                 /* the parsed body (quote fields live in it) */
};

/* ---- env -------------------------------------------------------------------- */

static uint64_t serve_now_us(void *ctx)
{
	struct serve *sv = ctx;
	return sched_now_us(sv->s);
}

/* Stripe signs with the real Unix time: signatures are checked against it. */
static int64_t serve_wall_s(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static void serve_after(void *ctx, uint64_t delay_us, clock_fn *fn, void *arg)
{
	struct serve *sv = ctx;
	sched_after(sv->s, delay_us, fn, arg);
}

static uint64_t serve_random(void *ctx)
{
	struct serve *sv = ctx;
	return prng_next(&sv->rng);
}

static void serve_log(void *ctx, enum log_level level, const char *tag, const char *msg)
{
	(void)ctx;
	static const char *const levels[] = {"debug", "info", "warn", "error"};
	fprintf(stderr, "%s [%s] %s\n", levels[level], tag != NULL ? tag : "-", msg);
}

/* ---- replies ------------------------------------------------------------------ */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/* Answers req with status and body (a reference stolen). */
static void send_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "application/json");
	char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct evbuffer *b = evbuffer_new();
	if (b == NULL) {
		free(text);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evbuffer_add_printf(b, "%s\n", text != NULL ? text : "{}");
	free(text);
	evhttp_send_reply(req, status, reason_of(status), b);
	evbuffer_free(b);
}

static void send_error(struct evhttp_request *req, int status, const char *why)
{
	send_json(req, status, json_pack("{s:s}", "error", why));
}

static void sreq_free(struct sreq *r)
{
	ASSERT(r->sv->inflight > 0);
	r->sv->inflight--;
	json_decref(r->json);
	free(r->body);
	free(r);
}

static void sreq_reply(struct sreq *r, int status, json_t *body)
{
	send_json(r->req, status, body);
	sreq_free(r);
}

static void sreq_error(struct sreq *r, int status, const char *why)
{
	sreq_reply(r, status, json_pack("{s:s}", "error", why));
}

/* ---- POST /api/stripe/webhook ------------------------------------------------------- */

static void webhook_on_done(void *arg, int http_status)
{
	struct sreq *r = arg;
	if (http_status >= 200 && http_status < 300)
		sreq_reply(r, http_status, json_pack("{s:b}", "received", 1));
	else if (http_status >= 400 && http_status < 500)
		sreq_error(r, http_status, "bad signature or malformed event");
	else
		sreq_error(r, http_status, "the event could not be applied; retry");
}

static void route_webhook(struct sreq *r)
{
	const char *sig = evhttp_find_header(evhttp_request_get_input_headers(r->req),
	                                     "Stripe-Signature");
	/* A missing header is a malformed signature: the core says 400. */
	webhook_handle(r->sv->wh, sig != NULL ? sig : "", r->body, r->body_len, webhook_on_done, r);
}

/* ---- JSON input ------------------------------------------------------------------------ */

/* A printable text field of at most max bytes; NULL with *why set when it
 * is there but wrong; NULL with *why NULL when absent or null. */
static const char *text_field(json_t *obj, const char *key, size_t max, const char **why)
{
	*why = NULL;
	json_t *v = json_object_get(obj, key);
	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*why = "must be a string";
		return NULL;
	}
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > max) {
		*why = n == 0 ? "must not be empty" : "is too long";
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			*why = "must not hold control characters";
			return NULL;
		}
	}
	return s;
}

/* Parses the body as one JSON object; false after answering 400. */
static bool parse_object(struct sreq *r, size_t flags)
{
	json_error_t je;
	r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES | flags, &je);
	if (r->json == NULL || !json_is_object(r->json)) {
		char why[200];
		snprintf(why, sizeof why, "the body is not a JSON object%s%.160s",
		         r->json == NULL ? ": " : "", r->json == NULL ? je.text : "");
		sreq_error(r, 400, why);
		return false;
	}
	return true;
}

/* ---- POST /api/stripe/create-payment-intent ---------------------------------------------- */

static void intent_on_customer(void *arg, enum result rc, const char *customer_id)
{
	struct sreq *r = arg;
	switch (rc) {
	case RESULT_OK:
		sreq_reply(r, 201, json_pack("{s:s}", "customer_id", customer_id));
		return;
	case RESULT_REJECT:
		sreq_error(r, 400, "user_id or email refused");
		return;
	case RESULT_ERROR:
	case RESULT_RETRY:
		sreq_error(r, 503, "customer could not be created; retry");
		return;
	default:
		sreq_error(r, 500, "customer creation failed");
		return;
	}
}

static void intent_on_dedup(void *arg, enum result rc, enum dedup_verdict verdict,
                            bool failed_open)
{
	struct sreq *r = arg;
	(void)failed_open;
	if (rc == RESULT_REJECT) {
		sreq_error(r, 400, "request_id refused");
		return;
	}
	if (rc == RESULT_UNHANDLED) {
		sreq_error(r, 500, "de-duplication failed");
		return;
	}
	if (rc != RESULT_OK) {
		sreq_error(r, 503, "de-duplication unavailable; retry");
		return;
	}
	if (verdict == DEDUP_DUPLICATE) {
		sreq_error(r, 409, "duplicate request");
		return;
	}
	customer_get_or_create(r->sv->cu, r->user_id, r->has_email ? r->email : NULL,
	                       intent_on_customer, r);
}

static void intent_on_ratelimit(void *arg, enum result rc, enum ratelimit_verdict verdict)
{
	struct sreq *r = arg;
	if (rc == RESULT_REJECT) {
		sreq_error(r, 400, "user_id refused");
		return;
	}
	if (rc == RESULT_UNHANDLED) {
		sreq_error(r, 500, "rate limiter failed");
		return;
	}
	if (rc != RESULT_OK) {
		sreq_error(r, 503, "rate limiter unavailable; retry");
		return;
	}
	if (verdict == RATELIMIT_REJECT) {
		struct evkeyvalq *h = evhttp_request_get_output_headers(r->req);
		evhttp_add_header(h, "Retry-After", "60");
		sreq_error(r, 429, "rate limited");
		return;
	}
	dedup_check(r->sv->dd, r->request_id, intent_on_dedup, r);
}

static void route_intent(struct sreq *r)
{
	if (!parse_object(r, 0))
		return;
	const char *why;
	const char *user = text_field(r->json, "user_id", SERVE_ID_MAX, &why);
	if (user == NULL) {
		char msg[96];
		snprintf(msg, sizeof msg, "user_id %s", why != NULL ? why : "is required");
		sreq_error(r, 400, msg);
		return;
	}
	const char *req_id = text_field(r->json, "request_id", SERVE_ID_MAX, &why);
	if (req_id == NULL) {
		char msg[96];
		snprintf(msg, sizeof msg, "request_id %s", why != NULL ? why : "is required");
		sreq_error(r, 400, msg);
		return;
	}
	const char *email = text_field(r->json, "email", SERVE_EMAIL_MAX, &why);
	if (email == NULL && why != NULL) {
		char msg[96];
		snprintf(msg, sizeof msg, "email %s", why);
		sreq_error(r, 400, msg);
		return;
	}
	snprintf(r->user_id, sizeof r->user_id, "%s", user);
	snprintf(r->request_id, sizeof r->request_id, "%s", req_id);
	if (email != NULL) {
		snprintf(r->email, sizeof r->email, "%s", email);
		r->has_email = true;
	}
	ratelimit_hit(r->sv->rl, r->user_id, intent_on_ratelimit, r);
}

/* ---- POST /api/quotes/email ------------------------------------------------------------ */

static void quote_on_done(void *arg, enum quote_email_status st)
{
	struct sreq *r = arg;
	switch (st) {
	case QUOTE_EMAIL_SENT:
		sreq_reply(r, 202, json_pack("{s:s}", "status", "sent"));
		return;
	case QUOTE_EMAIL_ALREADY_SENT:
		sreq_reply(r, 200, json_pack("{s:s}", "status", "already_sent"));
		return;
	case QUOTE_EMAIL_INVALID:
		sreq_error(r, 422, "invalid customer data: nothing sent");
		return;
	case QUOTE_EMAIL_FAILED:
		sreq_error(r, 502, "the mail could not be sent");
		return;
	case QUOTE_EMAIL_UNHANDLED:
	default:
		sreq_error(r, 500, "the request failed");
		return;
	}
}

/* A string (any bytes, NUL included) or null; false when it is neither. */
static bool bytes_field(json_t *obj, const char *key, const char **s, size_t *len)
{
	json_t *v = json_object_get(obj, key);
	*s = NULL;
	*len = 0;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_string(v))
		return false;
	*s = json_string_value(v);
	*len = json_string_length(v);
	return true;
}

static void route_quote(struct sreq *r)
{
	/* Names may carry any bytes, NUL included: the core judges them. */
	if (!parse_object(r, JSON_ALLOW_NUL))
		return;
	json_t *ref = json_object_get(r->json, "quote_ref");
	if (!json_is_string(ref) || json_string_length(ref) == 0 ||
	    strlen(json_string_value(ref)) != json_string_length(ref)) {
		sreq_error(r, 400, "quote_ref must be a non-empty string without NUL");
		return;
	}
	struct quote q = {.ref = json_string_value(ref)};
	if (!bytes_field(r->json, "customer_name", &q.customer_name, &q.name_len) ||
	    !bytes_field(r->json, "customer_email", &q.customer_email, &q.email_len)) {
		sreq_error(r, 400, "customer_name and customer_email must be strings or null");
		return;
	}
	quote_email_send(r->sv->qe, &q, quote_on_done, r);
}

/* ---- dispatch ------------------------------------------------------------------------- */

static bool route_of(const char *uri, enum route *out)
{
	static const struct {
		const char *path;
		enum route route;
	} routes[] = {
		{SERVE_WEBHOOK_PATH, ROUTE_WEBHOOK},
		{SERVE_INTENT_PATH, ROUTE_INTENT},
		{SERVE_QUOTE_PATH, ROUTE_QUOTE},
	};
	size_t n = strcspn(uri, "?#");
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		if (strlen(routes[i].path) == n && strncmp(uri, routes[i].path, n) == 0) {
			*out = routes[i].route;
			return true;
		}
	}
	return false;
}

static void serve_on_request(struct evhttp_request *req, void *arg)
{
	struct serve *sv = arg;
	const char *uri = evhttp_request_get_uri(req);
	enum route route;
	if (uri == NULL || !route_of(uri, &route)) {
		send_error(req, 404, "no such route");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "POST");
		send_error(req, 405, "only POST");
		return;
	}
	if (sv->sock == NULL || sv->inflight >= SERVE_INFLIGHT_MAX) {
		send_error(req, 503, sv->sock == NULL ? "shutting down" : "too many requests in flight");
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len > SERVE_BODY_MAX) { /* evhttp's own limit should hold */
		send_error(req, 413, "body too large");
		return;
	}
	struct sreq *r = calloc(1, sizeof *r);
	char *body = malloc(len + 1);
	if (r == NULL || body == NULL) {
		free(r);
		free(body);
		send_error(req, 503, "out of memory");
		return;
	}
	if (len > 0)
		evbuffer_copyout(in, body, len);
	body[len] = '\0';
	r->sv = sv;
	r->req = req;
	r->route = route;
	r->body = body;
	r->body_len = len;
	sv->inflight++;
	switch (route) {
	case ROUTE_WEBHOOK:
		route_webhook(r);
		return;
	case ROUTE_INTENT:
		route_intent(r);
		return;
	case ROUTE_QUOTE:
		route_quote(r);
		return;
	}
}

/* ---- life -------------------------------------------------------------------------- */

static enum result serve_listen_on(struct serve *sv, const struct serve_config *cfg, char *err,
                                   size_t errsize)
{
	char host[256];
	uint16_t port;
	const char *listen = cfg->listen;
	if (proxy_addr_split(listen, host, sizeof host, &port, err, errsize) != RESULT_OK)
		return RESULT_REJECT;
	sv->http = evhttp_new(sv->base);
	struct http_guard_config gc = {.deadline_us = cfg->head_timeout_us,
	                               .conns_max = SERVE_CONNS_MAX,
	                               .on_request = serve_on_request, .arg = sv};
	if (sv->http == NULL || (sv->guard = http_guard_create(sv->base, sv->http, &gc)) == NULL) {
		snprintf(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	evhttp_set_max_body_size(sv->http, SERVE_BODY_MAX);
	evhttp_set_max_headers_size(sv->http, SERVE_HEADERS_MAX);
	evhttp_set_timeout(sv->http, SERVE_IDLE_S);
	/* Every method reaches the handler, which answers 405 with Allow. */
	evhttp_set_allowed_methods(sv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                                     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	sv->sock = evhttp_bind_socket_with_handle(sv->http, host, port);
	if (sv->sock == NULL) {
		snprintf(err, errsize, "cannot listen on %s:%u (in use, or not an address of this "
		                       "machine)", host, port);
		return RESULT_REJECT;
	}
	struct sockaddr_storage ss;
	ev_socklen_t sl = sizeof ss;
	evutil_socket_t fd = evhttp_bound_socket_get_fd(sv->sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else if (ss.ss_family == AF_INET6)
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	snprintf(sv->listen, sizeof sv->listen, "%s:%u", host, port);
	return RESULT_OK;
}

static enum result serve_core(struct serve *sv, const struct serve_config *cfg, char *err,
                              size_t errsize)
{
	const enum variant *v = cfg->variants;
	struct ratelimit_config rc = {.variant = v[FIX_RATELIMIT], .limit = cfg->rate_limit,
	                              .window_ms = cfg->rate_window_ms, .fail_open = true};
	struct dedup_config dc = {.variant = v[FIX_DEDUP], .ttl_ms = cfg->dedup_ttl_ms};
	struct customer_config cc = {.variant = v[FIX_CUSTOMER], .retries_max = 5, .backoff_ms = 100};
	struct quote_email_config qc = {.variant = v[FIX_QUOTE_EMAIL],
	                                .from_address = "quotes@faultline.invalid",
	                                .from_name = "Faultline Quotes"};
	struct webhook_config wc = {.variant = v[FIX_WEBHOOK], .secret = cfg->webhook_secret,
	                            .tolerance_s = STRIPE_SIG_TOLERANCE_S};
	sv->rl = ratelimit_create(&sv->env, &rc);
	sv->dd = dedup_create(&sv->env, &dc);
	sv->cu = customer_create(&sv->env, &cc);
	sv->qe = quote_email_create(&sv->env, &qc);
	sv->wh = webhook_create(&sv->env, &wc);
	if (sv->rl == NULL || sv->dd == NULL || sv->cu == NULL || sv->qe == NULL || sv->wh == NULL) {
		snprintf(err, errsize, "the core refused the settings (rate limit %u per %llu ms, "
		                       "dedup TTL %llu ms, or the webhook secret)", cfg->rate_limit,
		         (unsigned long long)cfg->rate_window_ms, (unsigned long long)cfg->dedup_ttl_ms);
		return RESULT_REJECT;
	}
	return RESULT_OK;
}

static enum result serve_adapters(struct serve *sv, const struct serve_config *cfg, char *err,
                                  size_t errsize)
{
	sv->redis = redis_live_create(sv->base, sv->s, cfg->redis_url, SERVE_REDIS_TIMEOUT_US, err,
	                              errsize);
	if (sv->redis == NULL)
		return RESULT_REJECT;
	struct pg_live_config pc = {.conninfo = cfg->pg_conninfo, .pool_size = SERVE_PG_POOL,
	                            .wait_queue_max = SERVE_PG_WAITERS,
	                            .acquire_timeout_us = SERVE_PG_TIMEOUT_US,
	                            .statement_timeout_us = SERVE_PG_TIMEOUT_US,
	                            .connect_timeout_us = SERVE_PG_CONNECT_US};
	if ((sv->pg = pg_live_create(sv->base, sv->s, &pc, err, errsize)) == NULL)
		return RESULT_REJECT;
	if ((sv->cl = curl_loop_create(sv->base, SERVE_CURL_TRANSFERS)) == NULL)
		return RESULT_NOMEM;
	const char *stripe_url = cfg->stripe_url, *stripe_key = cfg->stripe_key;
	if (stripe_url == NULL) {
		struct fake_stripe_config fc = {.port = 0, .api_key = SERVE_FAKE_KEY,
		                                .id_seed = cfg->seed,
		                                .process_us = SERVE_FAKE_PROCESS_US,
		                                .head_timeout_us = cfg->head_timeout_us};
		if ((sv->fake = fake_stripe_create(sv->base, sv->s, &fc, err, errsize)) == NULL)
			return RESULT_REJECT;
		stripe_url = fake_stripe_url(sv->fake);
		stripe_key = SERVE_FAKE_KEY;
	}
	struct stripe_live_config sc = {.base_url = stripe_url, .api_key = stripe_key,
	                                 .timeout_us = SERVE_HTTP_TIMEOUT_US};
	if ((sv->stripe = stripe_live_create(sv->cl, sv->s, &sc, err, errsize)) == NULL)
		return RESULT_REJECT;
	char sink_url[64];
	const char *smtp = cfg->smtp_url;
	if (smtp == NULL) {
		struct smtp_sink_config kc = {.port = 0, .message_max = SERVE_SINK_MESSAGE_MAX,
		                              .sessions_max = SERVE_SINK_SESSIONS,
		                              .idle_timeout_us = SERVE_SINK_IDLE_US};
		if ((sv->sink = smtp_sink_create(&kc, err, errsize)) == NULL)
			return RESULT_REJECT;
		snprintf(sink_url, sizeof sink_url, "smtp://127.0.0.1:%d", smtp_sink_port(sv->sink));
		smtp = sink_url;
	}
	struct mail_live_config mc = {.url = smtp, .timeout_us = SERVE_HTTP_TIMEOUT_US};
	if ((sv->mail = mail_live_create(sv->cl, sv->s, &mc, err, errsize)) == NULL)
		return RESULT_REJECT;
	redis_live_port(sv->redis, &sv->env.kv);
	pg_live_port(sv->pg, &sv->env.sql);
	stripe_live_port(sv->stripe, &sv->env.stripe);
	mail_live_port(sv->mail, &sv->env.mail);
	snprintf(sv->describe, sizeof sv->describe, "redis %s, postgres (pool of %d), stripe %s%s, "
	         "mail %s%s", cfg->redis_url, SERVE_PG_POOL, sv->fake ? "built-in fake at " : "",
	         stripe_url, sv->sink ? "built-in sink at " : "", smtp);
	return RESULT_OK;
}

struct serve *serve_create(struct event_base *base, const struct serve_config *cfg,
                           bool *unreachable, char *err, size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(cfg != NULL);
	*unreachable = false;
	if (cfg->webhook_secret == NULL || cfg->webhook_secret[0] == '\0') {
		snprintf(err, errsize, "no webhook secret ($FAULTLINE_WEBHOOK_SECRET or "
		                       "--webhook-secret-file)");
		return NULL;
	}
	/* Loopback only unless allowed: refused before any server is reached. */
	if (http_guard_check_listen(cfg->listen, cfg->allow_remote, err, errsize) != RESULT_OK)
		return NULL;
	enum result ck = world_live_check(cfg->redis_url, cfg->pg_conninfo, err, errsize);
	if (ck != RESULT_OK) {
		*unreachable = ck == RESULT_ERROR;
		return NULL;
	}
	struct serve *sv = calloc(1, sizeof *sv);
	if (sv == NULL) {
		snprintf(err, errsize, "out of memory");
		return NULL;
	}
	sv->base = base;
	prng_init(&sv->rng, cfg->seed);
	if ((sv->s = sched_create(base, SCHED_REAL, NULL)) == NULL) {
		snprintf(err, errsize, "out of memory");
		goto fail;
	}
	sv->env.clock = (struct clock_port){.ctx = sv, .now_us = serve_now_us,
	                                    .wall_s = serve_wall_s, .after = serve_after,
	                                    .random = serve_random};
	sv->env.log = (struct log_port){.ctx = sv, .write = serve_log};
	if (serve_adapters(sv, cfg, err, errsize) != RESULT_OK ||
	    serve_core(sv, cfg, err, errsize) != RESULT_OK ||
	    serve_listen_on(sv, cfg, err, errsize) != RESULT_OK)
		goto fail;
	return sv;
fail:
	serve_destroy(sv);
	return NULL;
}

void serve_stop(struct serve *sv)
{
	ASSERT(sv != NULL);
	if (sv->sock != NULL) {
		evhttp_del_accept_socket(sv->http, sv->sock);
		sv->sock = NULL;
	}
}

uint64_t serve_inflight(const struct serve *sv)
{
	return sv->inflight;
}

const char *serve_listen(const struct serve *sv)
{
	return sv->listen;
}

const char *serve_describe(const struct serve *sv)
{
	return sv->describe;
}

void serve_destroy(struct serve *sv)
{
	if (sv == NULL)
		return;
	bool idle = sv->inflight == 0;
	/* With requests still in the core, their callbacks must never come:
	 * the adapters go first, and the core objects are left behind (their
	 * destroy asserts on work in flight). */
	if (idle) {
		ratelimit_destroy(sv->rl);
		dedup_destroy(sv->dd);
		customer_destroy(sv->cu);
		quote_email_destroy(sv->qe);
		webhook_destroy(sv->wh);
	}
	redis_live_destroy(sv->redis);
	pg_live_destroy(sv->pg);
	stripe_live_destroy(sv->stripe);
	mail_live_destroy(sv->mail);
	curl_loop_destroy(sv->cl);
	fake_stripe_destroy(sv->fake);
	smtp_sink_destroy(sv->sink);
	if (sv->http != NULL)
		evhttp_free(sv->http);
	http_guard_destroy(sv->guard);
	sched_destroy(sv->s);
	free(sv);
}
