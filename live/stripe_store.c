/* live/stripe_store.c - one JSON object maps every id to its object and
 * one array per kind holds the ids in creation order; removal is a linear
 * walk of that array, which the per-kind bound keeps short enough for a
 * test double. */
#include "live/stripe_store.h"

#include <string.h>

#include "core/assert.h"
#include "sim/prng.h"

#define STRIPE_STORE_ID_TRIES 8   /* fresh draws when an id exists already */

struct stripe_store {
	struct prng rng;
	json_t *by_id;                          /* id -> object, every kind */
	json_t *order[STRIPE_KIND_COUNT];       /* ids, oldest first */
};

static const char *const kind_prefix[STRIPE_KIND_COUNT] = {"cus_", "pi_", "evt_"};
static const char *const kind_object[STRIPE_KIND_COUNT] = {
	"customer", "payment_intent", "event"};
static const int kind_chars[STRIPE_KIND_COUNT] = {14, 24, 24};

struct stripe_store *stripe_store_create(uint64_t id_seed)
{
	struct stripe_store *st = calloc(1, sizeof *st);
	if (st == NULL)
		return NULL;
	prng_init(&st->rng, id_seed);
	st->by_id = json_object();
	bool ok = st->by_id != NULL;
	for (int k = 0; k < STRIPE_KIND_COUNT; k++) {
		st->order[k] = json_array();
		ok = ok && st->order[k] != NULL;
	}
	if (!ok) {
		stripe_store_destroy(st);
		return NULL;
	}
	return st;
}

void stripe_store_destroy(struct stripe_store *st)
{
	if (st == NULL)
		return;
	json_decref(st->by_id);
	for (int k = 0; k < STRIPE_KIND_COUNT; k++)
		json_decref(st->order[k]);
	free(st);
}

static void make_id(struct stripe_store *st, enum stripe_kind kind, char *out)
{
	static const char base62[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t n = strlen(kind_prefix[kind]);
	memcpy(out, kind_prefix[kind], n);
	for (int i = 0; i < kind_chars[kind]; i++)
		out[n + (size_t)i] = base62[prng_below(&st->rng, 62)];
	out[n + (size_t)kind_chars[kind]] = '\0';
}

json_t *stripe_store_add(struct stripe_store *st, enum stripe_kind kind,
                         json_t *obj, int64_t created_s)
{
	ASSERT(st != NULL);
	ASSERT(kind < STRIPE_KIND_COUNT);
	ASSERT(json_is_object(obj));
	if (json_array_size(st->order[kind]) >= STRIPE_STORE_OBJECTS_MAX)
		goto fail;
	char id[STRIPE_STORE_ID_MAX];
	int tries = 0;
	do {
		if (tries++ == STRIPE_STORE_ID_TRIES)
			goto fail;
		make_id(st, kind, id);
	} while (json_object_get(st->by_id, id) != NULL);
	if (json_object_set_new(obj, "id", json_string(id)) != 0 ||
	    json_object_set_new(obj, "object", json_string(kind_object[kind])) != 0 ||
	    json_object_set_new(obj, "created", json_integer(created_s)) != 0 ||
	    json_object_set_new(obj, "livemode", json_false()) != 0 ||
	    json_array_append_new(st->order[kind], json_string(id)) != 0)
		goto fail;
	if (json_object_set_new(st->by_id, id, obj) != 0) {
		json_array_remove(st->order[kind], json_array_size(st->order[kind]) - 1);
		return NULL;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/* The object with id, if it is of kind. */
json_t *stripe_store_get(const struct stripe_store *st, enum stripe_kind kind,
                         const char *id)
{
	ASSERT(st != NULL);
	ASSERT(kind < STRIPE_KIND_COUNT);
	if (id == NULL || strncmp(id, kind_prefix[kind], strlen(kind_prefix[kind])) != 0)
		return NULL;
	return json_object_get(st->by_id, id);
}

/* The position of id in kind's order, or -1. */
static long order_find(const struct stripe_store *st, enum stripe_kind kind,
                       const char *id)
{
	const json_t *order = st->order[kind];
	size_t n = json_array_size(order);
	for (size_t i = n; i > 0; i--) {
		if (strcmp(json_string_value(json_array_get(order, i - 1)), id) == 0)
			return (long)(i - 1);
	}
	return -1;
}

bool stripe_store_remove(struct stripe_store *st, enum stripe_kind kind,
                         const char *id)
{
	long at = stripe_store_get(st, kind, id) != NULL ? order_find(st, kind, id) : -1;
	if (at < 0)
		return false; /* none, or deleted before */
	json_t *tomb = json_pack("{s:s, s:s, s:b}", "id", id, "object",
	                         kind_object[kind], "deleted", 1);
	if (tomb == NULL || json_object_set_new(st->by_id, id, tomb) != 0)
		json_object_del(st->by_id, id); /* out of memory: forget it wholly */
	json_array_remove(st->order[kind], (size_t)at);
	return true;
}

size_t stripe_store_count(const struct stripe_store *st, enum stripe_kind kind)
{
	ASSERT(st != NULL);
	ASSERT(kind < STRIPE_KIND_COUNT);
	return json_array_size(st->order[kind]);
}

json_t *stripe_store_page(const struct stripe_store *st, enum stripe_kind kind,
                          size_t limit, const char *starting_after,
                          const char *ending_before, stripe_store_keep_fn *keep,
                          void *arg, bool *has_more, bool *missing)
{
	ASSERT(st != NULL);
	ASSERT(kind < STRIPE_KIND_COUNT);
	ASSERT(limit >= 1 && limit <= 100);
	*missing = false;
	*has_more = false;
	const json_t *order = st->order[kind];
	long n = (long)json_array_size(order);
	const char *cursor = ending_before != NULL ? ending_before : starting_after;
	long at = cursor != NULL ? order_find(st, kind, cursor) : n;
	if (at < 0) {
		*missing = true;
		return NULL;
	}
	json_t *data = json_array();
	if (data == NULL) {
		*missing = true;
		return NULL;
	}
	/* With ending_before, walk up from the cursor and hand the page out
	 * newest first; else walk down. */
	bool up = ending_before != NULL;
	long step = up ? 1 : -1;
	for (long i = at + step; i >= 0 && i < n; i += step) {
		json_t *o = json_object_get(st->by_id,
			json_string_value(json_array_get(order, (size_t)i)));
		if (keep != NULL && !keep(arg, o))
			continue;
		if (json_array_size(data) == limit) {
			*has_more = true;
			break;
		}
		if (up)
			json_array_insert(data, 0, o);
		else
			json_array_append(data, o);
	}
	return data;
}
