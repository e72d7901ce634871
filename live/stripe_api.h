/* live/stripe_api.h - the fake Stripe's resources, free of transport:
 * routes a method and path, checks parameters as Stripe does and runs the
 * request against the store (live/stripe_store.h), answering Stripe's JSON
 * and error objects. Idempotency, auth and faults are the HTTP layer's
 * (live/fake_stripe.c); not thread-safe. */
#ifndef LIVE_STRIPE_API_H
#define LIVE_STRIPE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "live/stripe_store.h"

#define STRIPE_API_FIELDS_MAX 256    /* form fields in one request */
#define STRIPE_API_DEPTH_MAX 4       /* nesting of a[b][c] names */
#define STRIPE_API_METADATA_MAX 50   /* Stripe's metadata keys per object */
#define STRIPE_API_PATH_MAX 256
#define STRIPE_API_VERSION "2024-06-20"

enum stripe_api_method { STRIPE_API_GET, STRIPE_API_POST, STRIPE_API_DELETE };

enum stripe_api_route {
	STRIPE_ROUTE_CUSTOMERS_CREATE, STRIPE_ROUTE_CUSTOMERS_LIST,
	STRIPE_ROUTE_CUSTOMERS_SEARCH, STRIPE_ROUTE_CUSTOMERS_RETRIEVE,
	STRIPE_ROUTE_CUSTOMERS_UPDATE, STRIPE_ROUTE_CUSTOMERS_DELETE,
	STRIPE_ROUTE_PI_CREATE, STRIPE_ROUTE_PI_LIST, STRIPE_ROUTE_PI_RETRIEVE,
	STRIPE_ROUTE_PI_CONFIRM, STRIPE_ROUTE_EVENTS_LIST,
	STRIPE_ROUTE_EVENTS_RETRIEVE, STRIPE_ROUTE_COUNT
};

struct stripe_api_target {
	enum stripe_api_route route;
	char id[STRIPE_STORE_ID_MAX];   /* the path's object id, "" when none */
};

/* Finds the route of method and path. false with *status 404 (unknown
 * URL) or 405 (known URL, other method). */
bool stripe_api_route(enum stripe_api_method method, const char *path,
                      struct stripe_api_target *out, int *status);
/* The operation's name for fault rules (sim/fault.h, target stripe):
 * "customers.create", "payment_intents.confirm", "events.list" ... */
const char *stripe_api_op(enum stripe_api_route route);
/* True for the routes that change state (idempotent under a key). */
bool stripe_api_mutates(enum stripe_api_route route);

/* Parses an application/x-www-form-urlencoded text (a body or a query
 * string; '+' is a space) into *out, a new object: "a[b]=v" nests objects,
 * "a[]=v" appends to an array, values are strings. false with the reason
 * in err, *out untouched. */
bool stripe_api_form_parse(const char *text, size_t len, json_t **out,
                           char *err, size_t errsize);

struct stripe_api_request {
	struct stripe_api_target target;
	const json_t *params;            /* from stripe_api_form_parse */
	int64_t now_s;                   /* "created" of what it makes */
	const char *idempotency_key;     /* recorded in events; may be NULL */
};

/* Runs rq against st. Returns the HTTP status and sets *body to a new
 * object: the resource, a list, or {"error": {...}}. NULL body only when
 * out of memory (then the status is 500). */
int stripe_api_execute(struct stripe_store *st, const struct stripe_api_request *rq,
                       json_t **body);

/* {"error": {"type", "code", "param", "message"}}, code and param left out
 * when NULL. A new reference; NULL when out of memory. */
json_t *stripe_api_error(const char *type, const char *code, const char *param,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
