/* proxy/control_api.c - Toxiproxy's HTTP API over evhttp, on a set of
 * proxies: routes, status codes and JSON shapes as Toxiproxy's. Not the
 * proxying (proxy.c) nor the toxic JSON (toxic.c). */
#include "proxy/control_api.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <jansson.h>

#include "core/assert.h"
#include "core/version.h"
#include "proxy/http_guard.h"
#include "proxy/toxic.h"

/* Proxies are {"name", "listen", "upstream", "enabled", "toxics"}, errors
 * {"error", "status"}; 201 on proxy creation and populate, 204 on delete and
 * reset. Browsers (User-Agent "Mozilla/...") are refused, as Toxiproxy does,
 * so a web page cannot drive the API. */

#define CONTROL_SEGMENTS_MAX 4 /* /proxies/NAME/toxics/NAME */
#define CONTROL_HOST_MAX 256

struct entry {
	struct proxy *p;
	char listen_req[PROXY_ADDR_MAX]; /* the listen address as asked, to
	                                  * tell whether populate changes it */
};

struct control_api {
	struct event_base *base;
	uint64_t seed;
	struct entry proxies[CONTROL_PROXIES_MAX];
	size_t nproxies;
	struct evhttp *http;
	char listen_text[PROXY_ADDR_MAX];
	uint16_t port;
	bool allow_remote;
	struct http_guard *guard;
};

static void set_err(char *err, size_t errsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

/* ---- the set of proxies ------------------------------------------------- */

static int entry_find(const struct control_api *api, const char *name)
{
	for (size_t i = 0; i < api->nproxies; i++) {
		if (strcmp(proxy_name(api->proxies[i].p), name) == 0)
			return (int)i;
	}
	return -1;
}

size_t control_api_proxy_count(const struct control_api *api)
{
	return api->nproxies;
}

struct proxy *control_api_proxy_at(const struct control_api *api, size_t i)
{
	ASSERT(i < api->nproxies);
	return api->proxies[i].p;
}

struct proxy *control_api_find(const struct control_api *api, const char *name)
{
	int i = entry_find(api, name);
	return i < 0 ? NULL : api->proxies[i].p;
}

static bool is_valid_name(const char *s)
{
	if (s[0] == '\0' || strlen(s) >= PROXY_NAME_MAX)
		return false;
	for (const char *c = s; *c != '\0'; c++) {
		if (*c <= ' ' || *c > '~' || *c == '/')
			return false;
	}
	return true;
}

enum result control_api_add_proxy(struct control_api *api, const struct proxy_config *cfg,
                                  char *err, size_t errsize)
{
	ASSERT(api != NULL);
	ASSERT(cfg != NULL);
	const char *name = cfg->name != NULL && cfg->name[0] != '\0' ? cfg->name : "proxy";
	if (!is_valid_name(name)) {
		set_err(err, errsize, "invalid proxy name '%s'", name);
		return RESULT_REJECT;
	}
	if (entry_find(api, name) >= 0) {
		set_err(err, errsize, "proxy already exists");
		return RESULT_REJECT;
	}
	if (api->nproxies == CONTROL_PROXIES_MAX) {
		set_err(err, errsize, "too many proxies (at most %d)", CONTROL_PROXIES_MAX);
		return RESULT_NOMEM;
	}
	enum result lr = http_guard_check_listen(cfg->listen != NULL ? cfg->listen : "127.0.0.1:0",
	                                         api->allow_remote, err, errsize);
	if (lr != RESULT_OK)
		return lr;
	struct proxy_config c = *cfg;
	c.name = name;
	c.seed = api->seed;
	struct proxy *p = proxy_create(api->base, &c, err, errsize);
	if (p == NULL)
		return RESULT_ERROR;
	struct entry *e = &api->proxies[api->nproxies++];
	e->p = p;
	snprintf(e->listen_req, sizeof e->listen_req, "%s",
	         cfg->listen != NULL ? cfg->listen : "127.0.0.1:0");
	return RESULT_OK;
}

static void entry_remove(struct control_api *api, size_t i)
{
	ASSERT(i < api->nproxies);
	proxy_destroy(api->proxies[i].p);
	memmove(&api->proxies[i], &api->proxies[i + 1],
	        (api->nproxies - i - 1) * sizeof api->proxies[0]);
	api->nproxies--;
}

/* ---- JSON ---------------------------------------------------------------- */

static json_t *toxics_to_json(const struct proxy *p)
{
	json_t *a = json_array();
	if (a == NULL)
		return NULL;
	for (size_t i = 0; i < proxy_toxic_count(p); i++) {
		if (json_array_append_new(a, toxic_spec_to_json(proxy_toxic_at(p, i))) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *proxy_to_json(const struct proxy *p)
{
	json_t *o = json_object();
	json_t *t = toxics_to_json(p);
	if (o == NULL || t == NULL) {
		json_decref(o);
		json_decref(t);
		return NULL;
	}
	int bad = 0;
	bad |= json_object_set_new(o, "name", json_string(proxy_name(p)));
	bad |= json_object_set_new(o, "listen", json_string(proxy_listen(p)));
	bad |= json_object_set_new(o, "upstream", json_string(proxy_upstream(p)));
	bad |= json_object_set_new(o, "enabled", json_boolean(proxy_is_enabled(p)));
	bad |= json_object_set_new(o, "toxics", t);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A proxy object as asked for in a request. */
struct proxy_req {
	const char *name;
	const char *listen;   /* NULL when absent */
	const char *upstream; /* NULL when absent */
	bool has_enabled;
	bool enabled;
	const json_t *toxics; /* NULL when absent */
};

static enum result proxy_req_read(const json_t *o, struct proxy_req *r, char *err,
                                  size_t errsize)
{
	memset(r, 0, sizeof *r);
	if (!json_is_object(o)) {
		set_err(err, errsize, "bad request body: a proxy must be an object");
		return RESULT_REJECT;
	}
	static const char *const strs[] = {"name", "listen", "upstream"};
	const char **outs[] = {&r->name, &r->listen, &r->upstream};
	for (size_t i = 0; i < 3; i++) {
		const json_t *v = json_object_get(o, strs[i]);
		if (v == NULL)
			continue;
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) >= PROXY_ADDR_MAX) {
			set_err(err, errsize, "bad request body: %s must be a short string", strs[i]);
			return RESULT_REJECT;
		}
		*outs[i] = json_string_value(v);
	}
	const json_t *en = json_object_get(o, "enabled");
	if (en != NULL) {
		if (!json_is_boolean(en)) {
			set_err(err, errsize, "bad request body: enabled must be true or false");
			return RESULT_REJECT;
		}
		r->has_enabled = true;
		r->enabled = json_is_true(en);
	}
	const json_t *tx = json_object_get(o, "toxics");
	if (tx != NULL && !json_is_null(tx)) {
		if (!json_is_array(tx)) {
			set_err(err, errsize, "bad request body: toxics must be an array");
			return RESULT_REJECT;
		}
		r->toxics = tx;
	}
	return RESULT_OK;
}

/* Adds each toxic of a JSON array to p, replacing one of the same name. */
static enum result toxics_apply(struct proxy *p, const json_t *toxics, char *err,
                                size_t errsize)
{
	if (json_array_size(toxics) > PROXY_TOXICS_MAX) {
		set_err(err, errsize, "too many toxics (at most %d)", PROXY_TOXICS_MAX);
		return RESULT_REJECT;
	}
	size_t i;
	const json_t *t;
	json_array_foreach(toxics, i, t) {
		struct toxic_spec spec;
		enum result rc = toxic_spec_from_json(t, NULL, &spec, err, errsize);
		if (rc != RESULT_OK)
			return rc;
		(void)proxy_remove_toxic(p, spec.name);
		rc = proxy_add_toxic(p, &spec, err, errsize);
		if (rc != RESULT_OK)
			return rc;
	}
	return RESULT_OK;
}

/* Checks new addresses before an existing proxy is replaced: a listen
 * address off loopback (without allow_remote) and an upstream that does not
 * resolve are refused while the old proxy still runs. */
static enum result addrs_check(const struct control_api *api, const char *listen,
                               const char *upstream, char *err, size_t errsize)
{
	enum result rc = http_guard_check_listen(listen, api->allow_remote, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	char host[CONTROL_HOST_MAX];
	uint16_t port;
	rc = proxy_addr_split(upstream, host, sizeof host, &port, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, NULL, &hints, &res);
	if (res != NULL)
		freeaddrinfo(res);
	if (gai != 0) {
		set_err(err, errsize, "cannot resolve '%s': %s", upstream, gai_strerror(gai));
		return RESULT_REJECT;
	}
	return RESULT_OK;
}

/* Creates a proxy and gives it toxics; the proxy is left without them (and
 * rc says why) when one is refused. */
static enum result entry_add_with(struct control_api *api, const struct proxy_config *cfg,
                                  const struct toxic_spec *toxics, size_t ntox, char *err,
                                  size_t errsize)
{
	enum result rc = control_api_add_proxy(api, cfg, err, errsize);
	struct proxy *p = rc == RESULT_OK ? control_api_find(api, cfg->name) : NULL;
	for (size_t k = 0; rc == RESULT_OK && k < ntox; k++)
		rc = proxy_add_toxic(p, &toxics[k], err, errsize);
	return rc;
}

/* Destroys entry i and creates it again with new addresses (Toxiproxy drops
 * the connections of a proxy whose listen or upstream changes). Toxics and
 * the enabled state carry over. A refused change leaves the proxy as it
 * was: the addresses are checked first, and when the new one still cannot
 * be created (its port is taken) the old one comes back on its own port. */
static enum result entry_recreate(struct control_api *api, size_t i, const char *listen,
                                  const char *upstream, char *err, size_t errsize)
{
	struct proxy *old = api->proxies[i].p;
	size_t ntox = proxy_toxic_count(old);
	char name[PROXY_NAME_MAX];
	char up[PROXY_ADDR_MAX];
	char lis[PROXY_ADDR_MAX];
	snprintf(name, sizeof name, "%s", proxy_name(old));
	snprintf(up, sizeof up, "%s", upstream != NULL ? upstream : proxy_upstream(old));
	snprintf(lis, sizeof lis, "%s", listen != NULL ? listen : api->proxies[i].listen_req);
	enum result rc = addrs_check(api, lis, up, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	struct toxic_spec *saved = calloc(ntox + 1, sizeof *saved);
	if (saved == NULL) {
		set_err(err, errsize, "out of memory");
		return RESULT_NOMEM;
	}
	for (size_t k = 0; k < ntox; k++)
		saved[k] = *proxy_toxic_at(old, k);
	char old_up[PROXY_ADDR_MAX], old_bound[PROXY_ADDR_MAX], old_req[PROXY_ADDR_MAX];
	snprintf(old_up, sizeof old_up, "%s", proxy_upstream(old));
	snprintf(old_bound, sizeof old_bound, "%s", proxy_listen(old));
	snprintf(old_req, sizeof old_req, "%s", api->proxies[i].listen_req);
	bool enabled = proxy_is_enabled(old);
	entry_remove(api, i);
	struct proxy_config cfg = {.name = name, .listen = lis, .upstream = up,
	                           .disabled = !enabled};
	rc = entry_add_with(api, &cfg, saved, ntox, err, errsize);
	if (rc != RESULT_OK) {
		int j = entry_find(api, name);
		if (j >= 0)
			entry_remove(api, (size_t)j);
		struct proxy_config back = {.name = name, .listen = old_bound, .upstream = old_up,
		                            .disabled = !enabled};
		char err2[256];
		if (entry_add_with(api, &back, saved, ntox, err2, sizeof err2) == RESULT_OK) {
			j = entry_find(api, name);
			ASSERT(j >= 0);
			snprintf(api->proxies[j].listen_req, sizeof api->proxies[j].listen_req, "%s",
			         old_req);
		}
	}
	free(saved);
	return rc;
}

/* Creates or updates one proxy of a populate document. */
static enum result populate_one(struct control_api *api, const json_t *o, char *err,
                                size_t errsize)
{
	struct proxy_req r;
	enum result rc = proxy_req_read(o, &r, err, errsize);
	if (rc != RESULT_OK)
		return rc;
	if (r.name == NULL || r.name[0] == '\0' || r.upstream == NULL || r.upstream[0] == '\0') {
		set_err(err, errsize, "missing required field: %s",
		        r.name == NULL || r.name[0] == '\0' ? "name" : "upstream");
		return RESULT_REJECT;
	}
	const char *listen = r.listen != NULL ? r.listen : "127.0.0.1:0";
	int i = entry_find(api, r.name);
	if (i >= 0 && (strcmp(api->proxies[i].listen_req, listen) != 0 ||
	               strcmp(proxy_upstream(api->proxies[i].p), r.upstream) != 0)) {
		/* Refused addresses leave the running proxy alone. */
		rc = addrs_check(api, listen, r.upstream, err, errsize);
		if (rc != RESULT_OK)
			return rc;
		entry_remove(api, (size_t)i);
		i = -1;
	}
	if (i < 0) {
		struct proxy_config cfg = {.name = r.name, .listen = listen, .upstream = r.upstream,
		                           .disabled = r.has_enabled && !r.enabled};
		rc = control_api_add_proxy(api, &cfg, err, errsize);
		if (rc != RESULT_OK)
			return rc;
		i = entry_find(api, r.name);
		ASSERT(i >= 0);
	} else if (r.has_enabled) {
		proxy_set_enabled(api->proxies[i].p, r.enabled);
	}
	if (r.toxics != NULL)
		return toxics_apply(api->proxies[i].p, r.toxics, err, errsize);
	return RESULT_OK;
}

static enum result populate_json(struct control_api *api, const json_t *doc, json_t *created,
                                 char *err, size_t errsize)
{
	const json_t *list = doc;
	if (json_is_object(doc))
		list = json_object_get(doc, "proxies");
	if (!json_is_array(list)) {
		set_err(err, errsize, "bad request body: want a JSON array of proxies");
		return RESULT_REJECT;
	}
	if (json_array_size(list) > CONTROL_PROXIES_MAX) {
		set_err(err, errsize, "too many proxies (at most %d)", CONTROL_PROXIES_MAX);
		return RESULT_REJECT;
	}
	size_t i;
	const json_t *o;
	json_array_foreach(list, i, o) {
		enum result rc = populate_one(api, o, err, errsize);
		if (rc != RESULT_OK) {
			char why[256];
			snprintf(why, sizeof why, "%s", err != NULL ? err : "");
			set_err(err, errsize, "proxy %zu: %s", i + 1, why);
			return rc;
		}
		if (created != NULL) {
			const json_t *name = json_object_get(o, "name");
			json_array_append_new(created, proxy_to_json(
			        control_api_find(api, json_string_value(name))));
		}
	}
	return RESULT_OK;
}

enum result control_api_populate(struct control_api *api, const char *json, size_t len,
                                 char *err, size_t errsize)
{
	ASSERT(api != NULL);
	ASSERT(json != NULL);
	json_error_t jerr;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		set_err(err, errsize, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		return RESULT_REJECT;
	}
	enum result rc = populate_json(api, doc, NULL, err, errsize);
	json_decref(doc);
	return rc;
}

/* ---- HTTP ------------------------------------------------------------- */

static const char *status_reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Sends body (stolen; NULL for none) with status code. */
static void reply_json(struct evhttp_request *req, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	if (buf == NULL) {
		json_decref(body);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	if (body != NULL) {
		char *text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (text == NULL) {
			evbuffer_free(buf);
			evhttp_send_error(req, 500, "out of memory");
			return;
		}
		evbuffer_add(buf, text, strlen(text));
		evbuffer_add(buf, "\n", 1);
		free(text);
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		                  "application/json");
	}
	evhttp_send_reply(req, code, status_reason(code), buf);
	evbuffer_free(buf);
}

static void reply_error(struct evhttp_request *req, int code, const char *msg)
{
	json_t *o = json_pack("{s:s, s:i}", "error", msg, "status", code);
	reply_json(req, code, o);
}

static json_t *body_json(struct evhttp_request *req, char *err, size_t errsize)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	if (len == 0) {
		set_err(err, errsize, "bad request body: empty");
		return NULL;
	}
	const char *data = (const char *)evbuffer_pullup(in, -1);
	json_error_t jerr;
	json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL)
		set_err(err, errsize, "bad request body: %s", jerr.text);
	return doc;
}

static int http_status_of(enum result rc, const char *err)
{
	if (rc == RESULT_NOMEM)
		return 409;
	if (rc == RESULT_REJECT)
		return strstr(err, "already exists") != NULL ? 409 : 400;
	/* An address that does not resolve is the client's mistake. */
	if (strstr(err, "cannot resolve") != NULL)
		return 400;
	return 500;
}

static void route_proxy_create(struct control_api *api, struct evhttp_request *req)
{
	char err[512];
	json_t *doc = body_json(req, err, sizeof err);
	if (doc == NULL) {
		reply_error(req, 400, err);
		return;
	}
	struct proxy_req r;
	enum result rc = proxy_req_read(doc, &r, err, sizeof err);
	if (rc == RESULT_OK && (r.name == NULL || r.name[0] == '\0')) {
		set_err(err, sizeof err, "missing required field: name");
		rc = RESULT_REJECT;
	}
	if (rc == RESULT_OK && (r.upstream == NULL || r.upstream[0] == '\0')) {
		set_err(err, sizeof err, "missing required field: upstream");
		rc = RESULT_REJECT;
	}
	if (rc == RESULT_OK) {
		struct proxy_config cfg = {.name = r.name, .listen = r.listen, .upstream = r.upstream,
		                           .disabled = r.has_enabled && !r.enabled};
		rc = control_api_add_proxy(api, &cfg, err, sizeof err);
	}
	struct proxy *p = rc == RESULT_OK ? control_api_find(api, r.name) : NULL;
	if (rc == RESULT_OK && r.toxics != NULL)
		rc = toxics_apply(p, r.toxics, err, sizeof err);
	json_decref(doc);
	if (rc != RESULT_OK) {
		reply_error(req, http_status_of(rc, err), err);
		return;
	}
	reply_json(req, 201, proxy_to_json(p));
}

static void route_proxy_update(struct control_api *api, struct evhttp_request *req, int i)
{
	char err[512];
	json_t *doc = body_json(req, err, sizeof err);
	if (doc == NULL) {
		reply_error(req, 400, err);
		return;
	}
	struct proxy_req r;
	enum result rc = proxy_req_read(doc, &r, err, sizeof err);
	struct proxy *p = api->proxies[i].p;
	if (rc == RESULT_OK && r.name != NULL && strcmp(r.name, proxy_name(p)) != 0) {
		set_err(err, sizeof err, "to rename a proxy, delete it and create it again");
		rc = RESULT_REJECT;
	}
	bool moved = (r.listen != NULL && strcmp(r.listen, api->proxies[i].listen_req) != 0 &&
	              strcmp(r.listen, proxy_listen(p)) != 0) ||
	             (r.upstream != NULL && strcmp(r.upstream, proxy_upstream(p)) != 0);
	char name[PROXY_NAME_MAX];
	snprintf(name, sizeof name, "%s", proxy_name(p));
	if (rc == RESULT_OK && moved)
		rc = entry_recreate(api, (size_t)i, r.listen, r.upstream, err, sizeof err);
	p = control_api_find(api, name);
	if (rc == RESULT_OK && r.has_enabled) {
		proxy_set_enabled(p, r.enabled);
		if (r.enabled && !proxy_is_enabled(p)) {
			set_err(err, sizeof err, "%s", proxy_last_error(p));
			rc = RESULT_ERROR;
		}
	}
	json_decref(doc);
	if (rc != RESULT_OK) {
		reply_error(req, http_status_of(rc, err), err);
		return;
	}
	reply_json(req, 200, proxy_to_json(p));
}

static void route_toxic_create(struct evhttp_request *req, struct proxy *p)
{
	char err[512];
	json_t *doc = body_json(req, err, sizeof err);
	if (doc == NULL) {
		reply_error(req, 400, err);
		return;
	}
	struct toxic_spec spec;
	enum result rc = toxic_spec_from_json(doc, NULL, &spec, err, sizeof err);
	json_decref(doc);
	if (rc == RESULT_OK)
		rc = proxy_add_toxic(p, &spec, err, sizeof err);
	if (rc != RESULT_OK) {
		reply_error(req, http_status_of(rc, err), err);
		return;
	}
	reply_json(req, 200, toxic_spec_to_json(proxy_find_toxic(p, spec.name)));
}

static void route_toxic_update(struct evhttp_request *req, struct proxy *p,
                               const struct toxic_spec *cur)
{
	char err[512];
	json_t *doc = body_json(req, err, sizeof err);
	if (doc == NULL) {
		reply_error(req, 400, err);
		return;
	}
	struct toxic_spec spec;
	enum result rc = toxic_spec_from_json(doc, cur, &spec, err, sizeof err);
	json_decref(doc);
	if (rc == RESULT_OK)
		rc = proxy_update_toxic(p, &spec, err, sizeof err);
	if (rc != RESULT_OK) {
		reply_error(req, http_status_of(rc, err), err);
		return;
	}
	reply_json(req, 200, toxic_spec_to_json(proxy_find_toxic(p, spec.name)));
}

static void route_populate(struct control_api *api, struct evhttp_request *req)
{
	char err[512];
	json_t *doc = body_json(req, err, sizeof err);
	if (doc == NULL) {
		reply_error(req, 400, err);
		return;
	}
	json_t *created = json_array();
	enum result rc = populate_json(api, doc, created, err, sizeof err);
	json_decref(doc);
	int code = rc == RESULT_OK ? 201 : http_status_of(rc, err);
	json_t *out = json_object();
	json_object_set_new(out, "proxies", created);
	if (rc != RESULT_OK) {
		json_object_set_new(out, "error", json_string(err));
		json_object_set_new(out, "status", json_integer(code));
	}
	reply_json(req, code, out);
}

static void route_reset(struct control_api *api, struct evhttp_request *req)
{
	for (size_t i = 0; i < api->nproxies; i++) {
		proxy_reset(api->proxies[i].p);
		if (!proxy_is_enabled(api->proxies[i].p)) {
			reply_error(req, 500, proxy_last_error(api->proxies[i].p));
			return;
		}
	}
	reply_json(req, 204, NULL);
}

/* Splits the path into at most CONTROL_SEGMENTS_MAX decoded segments.
 * Returns the count, or -1 when the path is not one of ours. */
static int path_split(const char *path, char seg[][PROXY_ADDR_MAX])
{
	if (path == NULL || path[0] != '/' || strlen(path) >= CONTROL_PATH_MAX)
		return -1;
	int n = 0;
	const char *s = path + 1;
	while (*s != '\0') {
		const char *slash = strchr(s, '/');
		size_t len = slash != NULL ? (size_t)(slash - s) : strlen(s);
		if (len == 0 && slash == NULL)
			break; /* a trailing slash */
		if (len == 0 || n == CONTROL_SEGMENTS_MAX)
			return -1;
		char raw[CONTROL_PATH_MAX];
		memcpy(raw, s, len);
		raw[len] = '\0';
		size_t dlen = 0;
		char *dec = evhttp_uridecode(raw, 0, &dlen);
		if (dec == NULL)
			return -1;
		bool ok = dlen == strlen(dec) && dlen < PROXY_ADDR_MAX;
		if (ok)
			memcpy(seg[n++], dec, dlen + 1);
		free(dec);
		if (!ok)
			return -1;
		if (slash == NULL)
			break;
		s = slash + 1;
	}
	return n;
}

static void api_on_request(struct evhttp_request *req, void *arg)
{
	struct control_api *api = arg;
	const char *ua = evhttp_find_header(evhttp_request_get_input_headers(req), "User-Agent");
	if (ua != NULL && strncmp(ua, "Mozilla/", 8) == 0) {
		reply_error(req, 403, "User agent not allowed");
		return;
	}
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	bool get = m == EVHTTP_REQ_GET;
	bool post = m == EVHTTP_REQ_POST;
	bool patch = m == EVHTTP_REQ_PATCH;
	bool del = m == EVHTTP_REQ_DELETE;

	char seg[CONTROL_SEGMENTS_MAX][PROXY_ADDR_MAX];
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	int n = path_split(uri != NULL ? evhttp_uri_get_path(uri) : NULL, seg);
	if (n == 1 && strcmp(seg[0], "version") == 0) {
		if (!get)
			goto method;
		reply_json(req, 200, json_pack("{s:s}", "version", FAULTLINE_VERSION));
		return;
	}
	if (n == 1 && strcmp(seg[0], "reset") == 0) {
		if (!post)
			goto method;
		route_reset(api, req);
		return;
	}
	if (n == 1 && strcmp(seg[0], "populate") == 0) {
		if (!post)
			goto method;
		route_populate(api, req);
		return;
	}
	if (n < 1 || strcmp(seg[0], "proxies") != 0 || (n >= 3 && strcmp(seg[2], "toxics") != 0)) {
		reply_error(req, 404, "not found");
		return;
	}
	if (n == 1) {
		if (get) {
			json_t *o = json_object();
			for (size_t i = 0; i < api->nproxies; i++)
				json_object_set_new(o, proxy_name(api->proxies[i].p),
				                    proxy_to_json(api->proxies[i].p));
			reply_json(req, 200, o);
		} else if (post) {
			route_proxy_create(api, req);
		} else {
			goto method;
		}
		return;
	}
	int i = entry_find(api, seg[1]);
	if (i < 0) {
		reply_error(req, 404, "proxy not found");
		return;
	}
	struct proxy *p = api->proxies[i].p;
	if (n == 2) {
		if (get)
			reply_json(req, 200, proxy_to_json(p));
		else if (post || patch)
			route_proxy_update(api, req, i);
		else if (del) {
			entry_remove(api, (size_t)i);
			reply_json(req, 204, NULL);
		} else
			goto method;
		return;
	}
	if (n == 3) {
		if (get)
			reply_json(req, 200, toxics_to_json(p));
		else if (post)
			route_toxic_create(req, p);
		else
			goto method;
		return;
	}
	const struct toxic_spec *t = proxy_find_toxic(p, seg[3]);
	if (t == NULL) {
		reply_error(req, 404, "toxic not found");
		return;
	}
	if (get)
		reply_json(req, 200, toxic_spec_to_json(t));
	else if (post || patch)
		route_toxic_update(req, p, t);
	else if (del) {
		bool removed = proxy_remove_toxic(p, seg[3]);
		ASSERT(removed);
		reply_json(req, 204, NULL);
	} else
		goto method;
	return;
method:
	reply_error(req, 405, "method not allowed");
}

/* ---- life ------------------------------------------------------------------- */

struct control_api *control_api_create(struct event_base *base,
                                       const struct control_api_config *cfg, char *err,
                                       size_t errsize)
{
	ASSERT(base != NULL);
	ASSERT(cfg != NULL);
	struct control_api *api = calloc(1, sizeof *api);
	if (api == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	api->base = base;
	api->seed = cfg->seed;
	api->allow_remote = cfg->allow_remote;
	if (cfg->listen == NULL)
		return api;
	if (http_guard_check_listen(cfg->listen, cfg->allow_remote, err, errsize) != RESULT_OK)
		goto fail;

	char host[CONTROL_HOST_MAX];
	uint16_t port;
	if (proxy_addr_split(cfg->listen, host, sizeof host, &port, err, errsize) != RESULT_OK)
		goto fail;
	api->http = evhttp_new(base);
	struct http_guard_config gc = {.deadline_us = cfg->head_timeout_us,
	                               .conns_max = CONTROL_CONNS_MAX,
	                               .on_request = api_on_request, .arg = api};
	if (api->http == NULL || (api->guard = http_guard_create(base, api->http, &gc)) == NULL) {
		set_err(err, errsize, "out of memory");
		goto fail;
	}
	evhttp_set_max_body_size(api->http, CONTROL_BODY_MAX);
	/* Read and drop an oversized body, so the client gets its 413 rather
	 * than a reset. */
	evhttp_set_flags(api->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(api->http, CONTROL_HEADERS_MAX);
	evhttp_set_timeout(api->http, CONTROL_IDLE_S);
	/* PUT is let in only to be answered 405 like any other wrong method. */
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	                                          EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	                                          EVHTTP_REQ_PUT);
	struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(api->http, host, port);
	if (sock == NULL) {
		set_err(err, errsize, "cannot listen on %s", cfg->listen);
		goto fail;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) != 0) {
		set_err(err, errsize, "cannot read the address of %s", cfg->listen);
		goto fail;
	}
	char ip[64] = "";
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		evutil_inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		api->port = ntohs(s6->sin6_port);
		snprintf(api->listen_text, sizeof api->listen_text, "[%s]:%u", ip,
		         (unsigned)api->port);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		evutil_inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		api->port = ntohs(s4->sin_port);
		snprintf(api->listen_text, sizeof api->listen_text, "%s:%u", ip, (unsigned)api->port);
	}
	return api;
fail:
	control_api_destroy(api);
	return NULL;
}

void control_api_destroy(struct control_api *api)
{
	if (api == NULL)
		return;
	if (api->http != NULL)
		evhttp_free(api->http);
	http_guard_destroy(api->guard);
	while (api->nproxies > 0)
		entry_remove(api, api->nproxies - 1);
	free(api);
}

const char *control_api_listen(const struct control_api *api)
{
	return api->listen_text;
}

uint16_t control_api_port(const struct control_api *api)
{
	return api->port;
}
