/* live/stripe_api.c - routing, parameter checks and the life of each
 * object: customers (create, update with metadata merged, delete to a
 * tombstone, list, search), payment intents (create, confirm to succeeded
 * or a card decline) and the events those changes record. Errors carry the
 * codes stripe-node and stripe-python map to their exception classes. */
#include "live/stripe_api.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"

#define API_LIMIT_DEFAULT 10
#define API_LIMIT_MAX 100
#define API_AMOUNT_MAX 99999999LL       /* Stripe's eight digits */
#define API_TEXT_MAX 5000               /* a free text parameter */
#define API_METADATA_KEY_MAX 40
#define API_METADATA_VALUE_MAX 500
#define API_QUERY_CLAUSES_MAX 10
#define API_SEGMENTS_MAX 4

static const char *const route_ops[STRIPE_ROUTE_COUNT] = {
	[STRIPE_ROUTE_CUSTOMERS_CREATE] = "customers.create",
	[STRIPE_ROUTE_CUSTOMERS_LIST] = "customers.list",
	[STRIPE_ROUTE_CUSTOMERS_SEARCH] = "customers.search",
	[STRIPE_ROUTE_CUSTOMERS_RETRIEVE] = "customers.retrieve",
	[STRIPE_ROUTE_CUSTOMERS_UPDATE] = "customers.update",
	[STRIPE_ROUTE_CUSTOMERS_DELETE] = "customers.delete",
	[STRIPE_ROUTE_PI_CREATE] = "payment_intents.create",
	[STRIPE_ROUTE_PI_LIST] = "payment_intents.list",
	[STRIPE_ROUTE_PI_RETRIEVE] = "payment_intents.retrieve",
	[STRIPE_ROUTE_PI_CONFIRM] = "payment_intents.confirm",
	[STRIPE_ROUTE_EVENTS_LIST] = "events.list",
	[STRIPE_ROUTE_EVENTS_RETRIEVE] = "events.retrieve",
};

const char *stripe_api_op(enum stripe_api_route route)
{
	ASSERT(route < STRIPE_ROUTE_COUNT);
	return route_ops[route];
}

bool stripe_api_mutates(enum stripe_api_route route)
{
	switch (route) {
	case STRIPE_ROUTE_CUSTOMERS_CREATE:
	case STRIPE_ROUTE_CUSTOMERS_UPDATE:
	case STRIPE_ROUTE_CUSTOMERS_DELETE:
	case STRIPE_ROUTE_PI_CREATE:
	case STRIPE_ROUTE_PI_CONFIRM:
		return true;
	default:
		return false;
	}
}

/* ---- routing ------------------------------------------------------------ */

/* Splits "/v1/a/b/c" into at most API_SEGMENTS_MAX segments after "v1". */
static int path_split(const char *path, char seg[API_SEGMENTS_MAX][STRIPE_STORE_ID_MAX])
{
	if (strncmp(path, "/v1/", 4) != 0)
		return -1;
	const char *p = path + 4;
	int n = 0;
	while (*p != '\0') {
		size_t len = strcspn(p, "/");
		if (len == 0 || len >= STRIPE_STORE_ID_MAX || n == API_SEGMENTS_MAX)
			return -1;
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

bool stripe_api_route(enum stripe_api_method method, const char *path,
                      struct stripe_api_target *out, int *status)
{
	char seg[API_SEGMENTS_MAX][STRIPE_STORE_ID_MAX];
	int n = path != NULL && strlen(path) < STRIPE_API_PATH_MAX ? path_split(path, seg) : -1;
	*status = 404;
	out->id[0] = '\0';
	/* Which routes this path names, by method. */
	int get = -1, post = -1, del = -1;
	if (n == 1 && strcmp(seg[0], "customers") == 0) {
		get = STRIPE_ROUTE_CUSTOMERS_LIST, post = STRIPE_ROUTE_CUSTOMERS_CREATE;
	} else if (n == 2 && strcmp(seg[0], "customers") == 0 &&
	           strcmp(seg[1], "search") == 0) {
		get = STRIPE_ROUTE_CUSTOMERS_SEARCH;
	} else if (n == 2 && strcmp(seg[0], "customers") == 0) {
		get = STRIPE_ROUTE_CUSTOMERS_RETRIEVE, post = STRIPE_ROUTE_CUSTOMERS_UPDATE;
		del = STRIPE_ROUTE_CUSTOMERS_DELETE;
	} else if (n == 1 && strcmp(seg[0], "payment_intents") == 0) {
		get = STRIPE_ROUTE_PI_LIST, post = STRIPE_ROUTE_PI_CREATE;
	} else if (n == 2 && strcmp(seg[0], "payment_intents") == 0) {
		get = STRIPE_ROUTE_PI_RETRIEVE;
	} else if (n == 3 && strcmp(seg[0], "payment_intents") == 0 &&
	           strcmp(seg[2], "confirm") == 0) {
		post = STRIPE_ROUTE_PI_CONFIRM;
	} else if (n == 1 && strcmp(seg[0], "events") == 0) {
		get = STRIPE_ROUTE_EVENTS_LIST;
	} else if (n == 2 && strcmp(seg[0], "events") == 0) {
		get = STRIPE_ROUTE_EVENTS_RETRIEVE;
	} else {
		return false;
	}
	int r = method == STRIPE_API_GET ? get : method == STRIPE_API_POST ? post : del;
	if (r < 0) {
		*status = 405;
		return false;
	}
	out->route = (enum stripe_api_route)r;
	if (n >= 2)
		memcpy(out->id, seg[1], sizeof out->id);
	return true;
}

/* ---- forms ------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes len bytes of s (percent escapes, '+' as space) into a new
 * string; NULL on a bad escape, an encoded NUL or out of memory. */
static char *form_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
			int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || hi * 16 + lo == 0) {
				free(out);
				return NULL;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return out;
}

/* Splits "a[b][]" into its segments ("a", "b", ""); -1 when malformed. */
static int name_split(char *name, char *seg[STRIPE_API_DEPTH_MAX + 1])
{
	int n = 0;
	char *p = name;
	seg[n++] = p;
	p += strcspn(p, "[");
	while (*p == '[') {
		*p++ = '\0';
		char *close = strchr(p, ']');
		if (close == NULL || n > STRIPE_API_DEPTH_MAX)
			return -1;
		*close = '\0';
		seg[n++] = p;
		p = close + 1;
	}
	return *p == '\0' && seg[0][0] != '\0' ? n : -1;
}

/* Sets the field name (decoded) to value in obj: nested objects for
 * "[key]", an array for a final "[]". false when the name is malformed or
 * clashes with an earlier field. */
static bool form_set(json_t *obj, char *name, const char *value, char *err, size_t errsize)
{
	char shown[101];
	snprintf(shown, sizeof shown, "%s", name);
	char *seg[STRIPE_API_DEPTH_MAX + 1];
	int n = name_split(name, seg);
	json_t *at = obj;
	for (int j = 0; j < n; j++) {
		bool last = j == n - 1;
		if (seg[j][0] == '\0')
			break; /* "[]" only as the last segment, handled below */
		json_t *cur = json_object_get(at, seg[j]);
		if (last) {
			if (cur != NULL)
				break;
			return json_object_set_new(at, seg[j], json_string(value)) == 0;
		}
		bool array = j + 2 == n && seg[j + 1][0] == '\0';
		if (cur == NULL) {
			cur = array ? json_array() : json_object();
			if (cur == NULL || json_object_set_new(at, seg[j], cur) != 0)
				return false;
		}
		if (array) {
			if (!json_is_array(cur))
				break;
			return json_array_append_new(cur, json_string(value)) == 0;
		}
		if (!json_is_object(cur))
			break;
		at = cur;
	}
	snprintf(err, errsize, "Invalid parameter name: %s", shown);
	return false;
}

bool stripe_api_form_parse(const char *text, size_t len, json_t **out,
                           char *err, size_t errsize)
{
	json_t *obj = json_object();
	if (obj == NULL) {
		snprintf(err, errsize, "out of memory");
		return false;
	}
	size_t i = 0, fields = 0;
	while (i < len) {
		size_t end = i;
		while (end < len && text[end] != '&')
			end++;
		if (end > i) {
			if (++fields > STRIPE_API_FIELDS_MAX) {
				snprintf(err, errsize, "More than %d parameters.", STRIPE_API_FIELDS_MAX);
				goto fail;
			}
			size_t eq = i;
			while (eq < end && text[eq] != '=')
				eq++;
			char *name = form_decode(text + i, eq - i);
			char *value = eq < end ? form_decode(text + eq + 1, end - eq - 1)
			                       : form_decode("", 0);
			bool ok = name != NULL && value != NULL && name[0] != '\0';
			if (!ok)
				snprintf(err, errsize, "Malformed form field at byte %zu.", i);
			else
				ok = form_set(obj, name, value, err, errsize);
			free(name);
			free(value);
			if (!ok)
				goto fail;
		}
		i = end + 1;
	}
	*out = obj;
	return true;
fail:
	json_decref(obj);
	return false;
}

/* ---- answers ------------------------------------------------------------ */

json_t *stripe_api_error(const char *type, const char *code, const char *param,
                         const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *e = json_pack("{s:s, s:s}", "type", type, "message", msg);
	if (e != NULL && code != NULL)
		json_object_set_new(e, "code", json_string(code));
	if (e != NULL && param != NULL)
		json_object_set_new(e, "param", json_string(param));
	return e != NULL ? json_pack("{s:o}", "error", e) : NULL;
}

/* Sets *body to an invalid_request_error and returns 400. */
static int bad(json_t **body, const char *code, const char *param, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int bad(json_t **body, const char *code, const char *param, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	*body = stripe_api_error("invalid_request_error", code, param, "%s", msg);
	return 400;
}

static int not_found(json_t **body, const char *what, const char *param, const char *id)
{
	*body = stripe_api_error("invalid_request_error", "resource_missing", param,
	                         "No such %s: '%s'", what, id);
	return 404;
}

/* ---- parameters --------------------------------------------------------- */

/* Refuses a top-level parameter not in allowed (NULL-terminated). */
static bool params_known(const json_t *params, const char *const *allowed,
                         json_t **body)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)params, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a != NULL && !ok; a++)
			ok = strcmp(*a, key) == 0;
		if (!ok) {
			(void)bad(body, "parameter_unknown", key, "Received unknown parameter: %s", key);
			return false;
		}
	}
	return true;
}

/* A string parameter: *out NULL when absent; false (body set) when it is
 * not a plain value or too long. */
static bool param_text(const json_t *params, const char *name, const char **out,
                       json_t **body)
{
	const json_t *v = json_object_get(params, name);
	*out = NULL;
	if (v == NULL)
		return true;
	if (!json_is_string(v)) {
		(void)bad(body, "parameter_invalid_string", name, "Invalid string: %s must be a "
		    "plain value", name);
		return false;
	}
	if (strlen(json_string_value(v)) > API_TEXT_MAX) {
		(void)bad(body, "parameter_invalid_string", name, "Invalid string: %s is longer "
		    "than %d characters", name, API_TEXT_MAX);
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* An integer parameter in [min, max]; *present false when absent. */
static bool param_int(const json_t *params, const char *name, long long min,
                      long long max, long long *out, bool *present, json_t **body)
{
	const char *s;
	*present = false;
	if (!param_text(params, name, &s, body))
		return false;
	if (s == NULL)
		return true;
	char *end;
	long long v = strtoll(s, &end, 10);
	bool digits = s[0] != '\0' && *end == '\0' && (isdigit((unsigned char)s[0]) ||
	              (s[0] == '-' && isdigit((unsigned char)s[1])));
	if (!digits || strlen(s) > 19) {
		(void)bad(body, "parameter_invalid_integer", name, "Invalid integer: %.64s", s);
		return false;
	}
	if (v < min || v > max) {
		(void)bad(body, "parameter_invalid_integer", name, "Invalid %s: must be between "
		    "%lld and %lld", name, min, max);
		return false;
	}
	*out = v;
	*present = true;
	return true;
}

/* Merges the "metadata" parameter into obj's metadata: an empty value
 * drops a key, metadata="" drops them all. */
static bool metadata_apply(json_t *obj, const json_t *params, json_t **body)
{
	const json_t *m = json_object_get(params, "metadata");
	json_t *meta = json_object_get(obj, "metadata");
	if (m == NULL)
		return true;
	if (json_is_string(m) && json_string_value(m)[0] == '\0') {
		json_object_clear(meta);
		return true;
	}
	if (!json_is_object(m)) {
		(void)bad(body, "parameter_invalid_string", "metadata", "Invalid object: metadata "
		    "must be a hash (metadata[key]=value)");
		return false;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)m, key, v) {
		if (!json_is_string(v) || strlen(key) > API_METADATA_KEY_MAX ||
		    strlen(json_string_value(v)) > API_METADATA_VALUE_MAX) {
			(void)bad(body, NULL, "metadata", "Invalid metadata[%.40s]: keys up to %d "
			    "characters, values plain strings up to %d", key,
			    API_METADATA_KEY_MAX, API_METADATA_VALUE_MAX);
			return false;
		}
	}
	json_t *merged = json_deep_copy(meta);
	if (merged == NULL)
		return false;
	json_object_foreach((json_t *)m, key, v) {
		if (json_string_value(v)[0] == '\0')
			json_object_del(merged, key);
		else
			json_object_set_new(merged, key, json_string(json_string_value(v)));
	}
	if (json_object_size(merged) > STRIPE_API_METADATA_MAX) {
		json_decref(merged);
		(void)bad(body, NULL, "metadata", "Invalid metadata: at most %d keys",
		    STRIPE_API_METADATA_MAX);
		return false;
	}
	json_object_set_new(obj, "metadata", merged);
	return true;
}

/* Records an event of type about obj (copied as it is now). */
static void event_record(struct stripe_store *st, const struct stripe_api_request *rq,
                         const char *type, const json_t *obj)
{
	json_t *ev = json_pack("{s:s, s:{s:O}, s:i, s:{s:n, s:s?}, s:s}",
	                       "api_version", STRIPE_API_VERSION, "data", "object", obj,
	                       "pending_webhooks", 0, "request", "id", "idempotency_key",
	                       rq->idempotency_key, "type", type);
	if (ev != NULL) {
		json_t *copy = json_deep_copy(json_object_get(json_object_get(ev, "data"),
		                                              "object"));
		json_object_set_new(json_object_get(ev, "data"), "object", copy);
		(void)stripe_store_add(st, STRIPE_EVENT, ev, rq->now_s);
	}
}

/* ---- customers ---------------------------------------------------------- */

static const char *const customer_fields[] = {"email", "name", "description", "phone",
                                              "metadata", "expand", NULL};

/* Sets the customer's text fields from params; "" clears one. */
static bool customer_apply(json_t *c, const json_t *params, json_t **body)
{
	for (int i = 0; i < 4; i++) {
		const char *name = customer_fields[i], *v;
		if (!param_text(params, name, &v, body))
			return false;
		if (v == NULL)
			continue;
		if (i == 0 && v[0] != '\0' && strchr(v, '@') == NULL) {
			(void)bad(body, "email_invalid", "email", "Invalid email address: %.64s", v);
			return false;
		}
		json_object_set_new(c, name, v[0] != '\0' ? json_string(v) : json_null());
	}
	return metadata_apply(c, params, body);
}

static int customer_create(struct stripe_store *st, const struct stripe_api_request *rq,
                           json_t **body)
{
	if (!params_known(rq->params, customer_fields, body))
		return 400;
	json_t *c = json_pack("{s:n, s:i, s:n, s:n, s:b, s:n, s:n, s:{}, s:n, s:n, "
	                      "s:[], s:n, s:s, s:n}", "address", "balance", 0, "currency",
	                      "default_source", "delinquent", 0, "description", "email",
	                      "metadata", "name", "phone", "preferred_locales",
	                      "shipping", "tax_exempt", "none", "test_clock");
	if (c == NULL)
		return 500;
	if (!customer_apply(c, rq->params, body)) {
		json_decref(c);
		return 400;
	}
	if (stripe_store_add(st, STRIPE_CUSTOMER, c, rq->now_s) == NULL) {
		*body = stripe_api_error("api_error", NULL, NULL, "The fake Stripe holds "
		                         "%u customers, its bound.", STRIPE_STORE_OBJECTS_MAX);
		return 500;
	}
	event_record(st, rq, "customer.created", c);
	*body = json_incref(c);
	return 200;
}

/* The live customer named by the path, or a 404 in *body. */
static json_t *customer_find(struct stripe_store *st, const struct stripe_api_request *rq,
                             json_t **body, int *status)
{
	json_t *c = stripe_store_get(st, STRIPE_CUSTOMER, rq->target.id);
	if (c == NULL || json_is_true(json_object_get(c, "deleted"))) {
		*status = not_found(body, "customer", "id", rq->target.id);
		return NULL;
	}
	return c;
}

static int customer_update(struct stripe_store *st, const struct stripe_api_request *rq,
                           json_t **body)
{
	int status;
	json_t *c = customer_find(st, rq, body, &status);
	if (c == NULL)
		return status;
	if (!params_known(rq->params, customer_fields, body))
		return 400;
	/* Checked on a copy: a bad parameter changes nothing. */
	json_t *next = json_deep_copy(c);
	if (next == NULL)
		return 500;
	if (!customer_apply(next, rq->params, body)) {
		json_decref(next);
		return 400;
	}
	json_object_update(c, next);
	json_decref(next);
	event_record(st, rq, "customer.updated", c);
	*body = json_incref(c);
	return 200;
}

static int customer_delete(struct stripe_store *st, const struct stripe_api_request *rq,
                           json_t **body)
{
	int status;
	json_t *c = customer_find(st, rq, body, &status);
	if (c == NULL)
		return status;
	event_record(st, rq, "customer.deleted", c);
	bool gone = stripe_store_remove(st, STRIPE_CUSTOMER, rq->target.id);
	ASSERT(gone);
	*body = json_pack("{s:s, s:s, s:b}", "id", rq->target.id, "object", "customer",
	                  "deleted", 1);
	return 200;
}

/* ---- lists and search ------------------------------------------------------ */

struct list_filter {
	const char *field;     /* a top-level field to match, or NULL */
	const char *value;
	bool prefix;           /* value ends in ".*": match the start */
};

static bool list_keep(void *arg, const json_t *obj)
{
	const struct list_filter *f = arg;
	const char *v = json_string_value(json_object_get(obj, f->field));
	if (v == NULL)
		return false;
	if (f->prefix)
		return strncmp(v, f->value, strlen(f->value) - 1) == 0;
	return strcmp(v, f->value) == 0;
}

static int list(struct stripe_store *st, const struct stripe_api_request *rq,
                enum stripe_kind kind, const char *url, const char *filter,
                json_t **body)
{
	const char *const allowed[] = {"limit", "starting_after", "ending_before", "expand",
	                               "created", filter, NULL};
	if (!params_known(rq->params, allowed, body))
		return 400;
	long long limit = API_LIMIT_DEFAULT;
	bool present;
	const char *after, *before, *value = NULL;
	if (!param_int(rq->params, "limit", 1, API_LIMIT_MAX, &limit, &present, body) ||
	    !param_text(rq->params, "starting_after", &after, body) ||
	    !param_text(rq->params, "ending_before", &before, body) ||
	    (filter != NULL && !param_text(rq->params, filter, &value, body)))
		return 400;
	if (after != NULL && before != NULL)
		return bad(body, NULL, "ending_before", "You may only specify one of these "
		           "parameters: ending_before, starting_after.");
	size_t n = strlen(value != NULL ? value : "");
	struct list_filter f = {filter, value, n >= 2 && strcmp(value + n - 2, ".*") == 0};
	bool more, missing;
	json_t *data = stripe_store_page(st, kind, (size_t)limit, after, before,
	                                 value != NULL ? list_keep : NULL, &f, &more, &missing);
	if (data == NULL)
		return not_found(body, kind == STRIPE_EVENT ? "event" : kind == STRIPE_CUSTOMER ?
		                 "customer" : "payment_intent", after != NULL ? "starting_after" :
		                 "ending_before", after != NULL ? after : before);
	*body = json_pack("{s:s, s:s, s:o, s:b}", "object", "list", "url", url, "data", data,
	                  "has_more", more);
	return *body != NULL ? 200 : 500;
}

struct search_clause {
	char field[64];        /* "email", "name" or a metadata key */
	bool metadata;
	char value[256];
};

struct search {
	struct search_clause c[API_QUERY_CLAUSES_MAX];
	int n;
};

/* Reads field:'value' (or "value"), metadata['key']:'value', joined by
 * " AND ". false when the query says anything else. */
static bool search_parse(const char *q, struct search *s)
{
	s->n = 0;
	const char *p = q;
	while (s->n < API_QUERY_CLAUSES_MAX) {
		struct search_clause *c = &s->c[s->n];
		c->metadata = strncmp(p, "metadata[", 9) == 0;
		if (c->metadata) {
			p += 9;
			char quote = *p++;
			const char *end = quote == '\'' || quote == '"' ? strchr(p, quote) : NULL;
			if (end == NULL || (size_t)(end - p) >= sizeof c->field || end[1] != ']')
				return false;
			memcpy(c->field, p, (size_t)(end - p));
			c->field[end - p] = '\0';
			p = end + 2;
		} else {
			size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
			if (len == 0 || len >= sizeof c->field)
				return false;
			memcpy(c->field, p, len);
			c->field[len] = '\0';
			if (strcmp(c->field, "email") != 0 && strcmp(c->field, "name") != 0 &&
			    strcmp(c->field, "phone") != 0)
				return false;
			p += len;
		}
		if (*p++ != ':')
			return false;
		char quote = *p++;
		const char *end = quote == '\'' || quote == '"' ? strchr(p, quote) : NULL;
		if (end == NULL || (size_t)(end - p) >= sizeof c->value)
			return false;
		memcpy(c->value, p, (size_t)(end - p));
		c->value[end - p] = '\0';
		p = end + 1;
		s->n++;
		if (*p == '\0')
			return true;
		if (strncmp(p, " AND ", 5) != 0)
			return false;
		p += 5;
	}
	return false;
}

static bool search_keep(void *arg, const json_t *obj)
{
	const struct search *s = arg;
	for (int i = 0; i < s->n; i++) {
		const json_t *in = s->c[i].metadata ? json_object_get(obj, "metadata") : obj;
		const char *v = json_string_value(json_object_get(in, s->c[i].field));
		if (v == NULL || strcmp(v, s->c[i].value) != 0)
			return false;
	}
	return true;
}

static int customer_search(struct stripe_store *st, const struct stripe_api_request *rq,
                           json_t **body)
{
	static const char *const allowed[] = {"query", "limit", "page", "expand", NULL};
	if (!params_known(rq->params, allowed, body))
		return 400;
	const char *q, *page;
	long long limit = API_LIMIT_DEFAULT;
	bool present;
	if (!param_text(rq->params, "query", &q, body) ||
	    !param_text(rq->params, "page", &page, body) ||
	    !param_int(rq->params, "limit", 1, API_LIMIT_MAX, &limit, &present, body))
		return 400;
	if (q == NULL)
		return bad(body, "parameter_missing", "query", "Missing required param: query.");
	struct search s;
	if (!search_parse(q, &s))
		return bad(body, NULL, "query", "The fake Stripe searches customers by "
		           "email:'x', name:'x', phone:'x' or metadata['key']:'x', joined by "
		           "AND; got: %.200s", q);
	if (page != NULL)
		return bad(body, NULL, "page", "Invalid page: %.64s", page);
	bool more, missing;
	json_t *data = stripe_store_page(st, STRIPE_CUSTOMER, (size_t)limit, NULL, NULL,
	                                 search_keep, &s, &more, &missing);
	if (data == NULL)
		return 500;
	*body = json_pack("{s:s, s:s, s:o, s:b, s:n}", "object", "search_result", "url",
	                  "/v1/customers/search", "data", data, "has_more", more,
	                  "next_page");
	return *body != NULL ? 200 : 500;
}

/* ---- payment intents ----------------------------------------------------- */

/* Test payment methods that decline, as Stripe's test tokens do. */
static bool pm_declines(const char *pm)
{
	return strcmp(pm, "pm_card_chargeDeclined") == 0 ||
	       strcmp(pm, "pm_card_visa_chargeDeclined") == 0;
}

/* Confirms pi with payment method pm (NULL: the one it has). */
static int pi_confirm_now(struct stripe_store *st, const struct stripe_api_request *rq,
                          json_t *pi, const char *pm, json_t **body)
{
	const char *state = json_string_value(json_object_get(pi, "status"));
	if (state == NULL || (strcmp(state, "requires_payment_method") != 0 &&
	                      strcmp(state, "requires_confirmation") != 0))
		return bad(body, "payment_intent_unexpected_state", NULL, "This PaymentIntent's "
		           "status is %s, so it cannot be confirmed.", state ? state : "unknown");
	if (pm != NULL)
		json_object_set_new(pi, "payment_method", json_string(pm));
	/* pi's own string from here: it stays while pi does. */
	pm = json_string_value(json_object_get(pi, "payment_method"));
	if (pm == NULL)
		return bad(body, "parameter_missing", "payment_method", "You cannot confirm this "
		           "PaymentIntent because it's missing a payment method.");
	if (pm_declines(pm)) {
		json_t *e = stripe_api_error("card_error", "card_declined", NULL,
		                             "Your card was declined.");
		json_t *inner = json_object_get(e, "error");
		if (inner == NULL)
			return 500;
		json_object_set_new(inner, "decline_code", json_string("generic_decline"));
		json_object_set_new(pi, "status", json_string("requires_payment_method"));
		json_object_set_new(pi, "last_payment_error", json_deep_copy(inner));
		event_record(st, rq, "payment_intent.payment_failed", pi);
		json_object_set_new(inner, "payment_intent", json_deep_copy(pi));
		*body = e;
		return 402;
	}
	json_object_set_new(pi, "status", json_string("succeeded"));
	json_object_set(pi, "amount_received", json_object_get(pi, "amount"));
	json_object_set_new(pi, "last_payment_error", json_null());
	event_record(st, rq, "payment_intent.succeeded", pi);
	*body = json_incref(pi);
	return 200;
}

static int pi_create(struct stripe_store *st, const struct stripe_api_request *rq,
                     json_t **body)
{
	static const char *const allowed[] = {"amount", "currency", "customer", "metadata",
	                                      "description", "payment_method", "confirm",
	                                      "receipt_email", "payment_method_types",
	                                      "automatic_payment_methods", "return_url",
	                                      "expand", NULL};
	if (!params_known(rq->params, allowed, body))
		return 400;
	long long amount;
	bool present;
	const char *currency, *customer, *desc, *pm, *confirm, *email;
	if (!param_int(rq->params, "amount", 1, API_AMOUNT_MAX, &amount, &present, body))
		return 400;
	if (!present)
		return bad(body, "parameter_missing", "amount", "Missing required param: amount.");
	if (!param_text(rq->params, "currency", &currency, body) ||
	    !param_text(rq->params, "customer", &customer, body) ||
	    !param_text(rq->params, "description", &desc, body) ||
	    !param_text(rq->params, "payment_method", &pm, body) ||
	    !param_text(rq->params, "confirm", &confirm, body) ||
	    !param_text(rq->params, "receipt_email", &email, body))
		return 400;
	if (currency == NULL)
		return bad(body, "parameter_missing", "currency", "Missing required param: "
		           "currency.");
	char cur[4];
	if (strlen(currency) != 3 || !isalpha((unsigned char)currency[0]) ||
	    !isalpha((unsigned char)currency[1]) || !isalpha((unsigned char)currency[2]))
		return bad(body, NULL, "currency", "Invalid currency: %.16s", currency);
	for (int i = 0; i < 4; i++)
		cur[i] = (char)tolower((unsigned char)currency[i]);
	bool confirm_now = confirm != NULL && strcmp(confirm, "true") == 0;
	if (confirm != NULL && !confirm_now && strcmp(confirm, "false") != 0)
		return bad(body, "parameter_invalid_boolean", "confirm", "Invalid boolean: %.16s",
		           confirm);
	if (customer != NULL) {
		json_t *c = stripe_store_get(st, STRIPE_CUSTOMER, customer);
		if (c == NULL || json_is_true(json_object_get(c, "deleted")))
			return bad(body, "resource_missing", "customer", "No such customer: '%.64s'",
			           customer);
	}
	json_t *pi = json_pack("{s:I, s:i, s:i, s:s, s:s, s:s, s:s?, s:s?, s:n, s:{}, "
	                       "s:s?, s:[s], s:s?, s:s, s:n}", "amount", (json_int_t)amount,
	                       "amount_capturable", 0, "amount_received", 0, "capture_method",
	                       "automatic", "confirmation_method", "automatic", "currency", cur,
	                       "customer", customer, "description", desc, "last_payment_error",
	                       "metadata", "payment_method", pm, "payment_method_types", "card",
	                       "receipt_email", email, "status", pm != NULL ?
	                       "requires_confirmation" : "requires_payment_method",
	                       "canceled_at");
	if (pi == NULL)
		return 500;
	if (!metadata_apply(pi, rq->params, body)) {
		json_decref(pi);
		return 400;
	}
	if (stripe_store_add(st, STRIPE_PAYMENT_INTENT, pi, rq->now_s) == NULL) {
		*body = stripe_api_error("api_error", NULL, NULL, "The fake Stripe holds %u "
		                         "payment intents, its bound.", STRIPE_STORE_OBJECTS_MAX);
		return 500;
	}
	char secret[STRIPE_STORE_ID_MAX + 32];
	snprintf(secret, sizeof secret, "%s_secret_faultline",
	         json_string_value(json_object_get(pi, "id")));
	json_object_set_new(pi, "client_secret", json_string(secret));
	event_record(st, rq, "payment_intent.created", pi);
	if (confirm_now)
		return pi_confirm_now(st, rq, pi, NULL, body);
	*body = json_incref(pi);
	return 200;
}

static int pi_confirm(struct stripe_store *st, const struct stripe_api_request *rq,
                      json_t **body)
{
	static const char *const allowed[] = {"payment_method", "return_url", "expand",
	                                      "receipt_email", "payment_method_types", NULL};
	json_t *pi = stripe_store_get(st, STRIPE_PAYMENT_INTENT, rq->target.id);
	if (pi == NULL)
		return not_found(body, "payment_intent", "intent", rq->target.id);
	if (!params_known(rq->params, allowed, body))
		return 400;
	const char *pm;
	if (!param_text(rq->params, "payment_method", &pm, body))
		return 400;
	return pi_confirm_now(st, rq, pi, pm, body);
}

/* ---- dispatch ----------------------------------------------------------- */

static int retrieve(struct stripe_store *st, const struct stripe_api_request *rq,
                    enum stripe_kind kind, const char *what, const char *param,
                    json_t **body)
{
	static const char *const allowed[] = {"expand", NULL};
	json_t *o = stripe_store_get(st, kind, rq->target.id);
	if (o == NULL)
		return not_found(body, what, param, rq->target.id);
	if (!params_known(rq->params, allowed, body))
		return 400;
	*body = json_incref(o);
	return 200;
}

int stripe_api_execute(struct stripe_store *st, const struct stripe_api_request *rq,
                       json_t **body)
{
	ASSERT(st != NULL);
	ASSERT(rq != NULL);
	ASSERT(json_is_object(rq->params));
	*body = NULL;
	int status = 500;
	switch (rq->target.route) {
	case STRIPE_ROUTE_CUSTOMERS_CREATE: status = customer_create(st, rq, body); break;
	case STRIPE_ROUTE_CUSTOMERS_LIST:
		status = list(st, rq, STRIPE_CUSTOMER, "/v1/customers", "email", body);
		break;
	case STRIPE_ROUTE_CUSTOMERS_SEARCH: status = customer_search(st, rq, body); break;
	case STRIPE_ROUTE_CUSTOMERS_RETRIEVE:
		status = retrieve(st, rq, STRIPE_CUSTOMER, "customer", "id", body);
		break;
	case STRIPE_ROUTE_CUSTOMERS_UPDATE: status = customer_update(st, rq, body); break;
	case STRIPE_ROUTE_CUSTOMERS_DELETE: status = customer_delete(st, rq, body); break;
	case STRIPE_ROUTE_PI_CREATE: status = pi_create(st, rq, body); break;
	case STRIPE_ROUTE_PI_LIST:
		status = list(st, rq, STRIPE_PAYMENT_INTENT, "/v1/payment_intents", "customer",
		              body);
		break;
	case STRIPE_ROUTE_PI_RETRIEVE:
		status = retrieve(st, rq, STRIPE_PAYMENT_INTENT, "payment_intent", "intent", body);
		break;
	case STRIPE_ROUTE_PI_CONFIRM: status = pi_confirm(st, rq, body); break;
	case STRIPE_ROUTE_EVENTS_LIST:
		status = list(st, rq, STRIPE_EVENT, "/v1/events", "type", body);
		break;
	case STRIPE_ROUTE_EVENTS_RETRIEVE:
		status = retrieve(st, rq, STRIPE_EVENT, "event", "id", body);
		break;
	case STRIPE_ROUTE_COUNT:
		ASSERT(!"no such route");
	}
	if (*body == NULL) {
		*body = stripe_api_error("api_error", NULL, NULL, "Out of memory.");
		return 500;
	}
	return status;
}
