/* live/deliver_event.c - Stripe event bodies built with jansson, and the
 * reader of real events files. Ids are base-62 from the seed, so one seed
 * names the same objects every run. */
#include "live/deliver_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/assert.h"
#include "sim/prng.h"

#define DELIVER_ID_CHARS 24u
#define DELIVER_ID_MAX 128u
#define DELIVER_EVENTS_PER_INTENT 4u

struct deliver_slot {
	struct deliver_event ev;
	char *id, *type, *intent, *order, *body; /* owned copies behind ev */
	int64_t created;
};

struct deliver_events {
	struct deliver_slot *v;
	size_t n, cap;
	size_t nobjects;
	size_t *first_of;      /* first event index of each object */
};

static char *dup_str(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static void deliver_id(struct prng *p, const char *prefix, char *out, size_t size)
{
	static const char alphabet[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	size_t k = (size_t)snprintf(out, size, "%s_", prefix);
	ASSERT(k + DELIVER_ID_CHARS < size);
	for (size_t i = 0; i < DELIVER_ID_CHARS; i++)
		out[k + i] = alphabet[prng_below(p, 62)];
	out[k + DELIVER_ID_CHARS] = '\0';
}

void deliver_events_destroy(struct deliver_events *ev)
{
	if (ev == NULL)
		return;
	for (size_t i = 0; i < ev->n; i++) {
		struct deliver_slot *s = &ev->v[i];
		free(s->id);
		free(s->type);
		free(s->intent);
		free(s->order);
		free(s->body);
	}
	free(ev->v);
	free(ev->first_of);
	free(ev);
}

/* Appends one event; body is taken (freed on failure too). */
static enum result events_push(struct deliver_events *ev, const char *id,
                               const char *type, const char *intent,
                               const char *order, char *body, int64_t created)
{
	if (body == NULL)
		return RESULT_NOMEM;
	if (ev->n >= DELIVER_EVENTS_MAX) {
		free(body);
		return RESULT_NOMEM;
	}
	if (ev->n == ev->cap) {
		size_t cap = ev->cap ? ev->cap * 2 : 16;
		struct deliver_slot *nv = realloc(ev->v, cap * sizeof *nv);
		if (nv == NULL) {
			free(body);
			return RESULT_NOMEM;
		}
		ev->v = nv;
		ev->cap = cap;
	}
	struct deliver_slot *s = &ev->v[ev->n];
	memset(s, 0, sizeof *s);
	s->id = dup_str(id);
	s->type = dup_str(type);
	s->intent = dup_str(intent);
	s->order = dup_str(order);
	s->body = body;
	s->created = created;
	if (s->id == NULL || s->type == NULL || s->intent == NULL || s->order == NULL) {
		free(s->id);
		free(s->type);
		free(s->intent);
		free(s->order);
		free(body);
		return RESULT_NOMEM;
	}
	ev->n++;
	return RESULT_OK;
}

/* Points each slot's public view at its owned strings. Called once the
 * array stops moving. */
static void events_seal(struct deliver_events *ev)
{
	for (size_t i = 0; i < ev->n; i++) {
		struct deliver_slot *s = &ev->v[i];
		s->ev.id = s->id;
		s->ev.type = s->type;
		s->ev.intent = s->intent;
		s->ev.order = s->order;
		s->ev.body = s->body;
		s->ev.body_len = strlen(s->body);
	}
}

static char *event_body(const char *id, const char *type, int64_t created,
                        json_t *object)
{
	json_t *root = json_pack("{s:s, s:s, s:s, s:I, s:{s:o}, s:b, s:i, s:{s:n, s:n}, s:s}",
	                         "id", id, "object", "event",
	                         "api_version", DELIVER_API_VERSION,
	                         "created", (json_int_t)created,
	                         "data", "object", object,
	                         "livemode", 0, "pending_webhooks", 1,
	                         "request", "id", "idempotency_key",
	                         "type", type);
	if (root == NULL)
		return NULL;
	char *s = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return s;
}

static json_t *intent_object(const struct deliver_build *b, const char *pi,
                             const char *order, const char *status,
                             const char *charge, int64_t created)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:I, s:b, s:{s:s}, s:[s], s:s?}",
	                 "id", pi, "object", "payment_intent",
	                 "amount", (json_int_t)b->amount,
	                 "amount_received", (json_int_t)(charge != NULL ? b->amount : 0),
	                 "currency", b->currency, "status", status,
	                 "created", (json_int_t)created, "livemode", 0,
	                 "metadata", "order_id", order,
	                 "payment_method_types", "card",
	                 "latest_charge", charge);
}

static json_t *charge_object(const struct deliver_build *b, const char *ch,
                             const char *pi, const char *order, bool refunded,
                             int64_t created)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:b, s:b, s:b, s:I, s:b, s:{s:s}}",
	                 "id", ch, "object", "charge",
	                 "amount", (json_int_t)b->amount,
	                 "amount_refunded", (json_int_t)(refunded ? b->amount : 0),
	                 "currency", b->currency, "payment_intent", pi,
	                 "status", "succeeded", "paid", 1, "captured", 1,
	                 "refunded", refunded, "created", (json_int_t)created,
	                 "livemode", 0, "metadata", "order_id", order);
}

static enum result events_index_objects(struct deliver_events *ev, size_t nobjects)
{
	ev->nobjects = nobjects;
	ev->first_of = calloc(nobjects ? nobjects : 1, sizeof *ev->first_of);
	if (ev->first_of == NULL)
		return RESULT_NOMEM;
	for (size_t i = ev->n; i-- > 0;)
		ev->first_of[ev->v[i].ev.object] = i;
	return RESULT_OK;
}

struct deliver_events *deliver_events_build(const struct deliver_build *b)
{
	ASSERT(b != NULL);
	ASSERT(b->intents >= 1);
	ASSERT(b->intents <= DELIVER_INTENTS_MAX);
	ASSERT(b->amount > 0);

	struct deliver_events *ev = calloc(1, sizeof *ev);
	if (ev == NULL)
		return NULL;
	struct prng p;
	prng_init(&p, b->seed);
	int64_t t = b->created_s;
	for (unsigned i = 0; i < b->intents; i++) {
		char pi[DELIVER_ID_MAX], ch[DELIVER_ID_MAX], order[DELIVER_ID_MAX];
		char ids[DELIVER_EVENTS_PER_INTENT][DELIVER_ID_MAX];
		deliver_id(&p, "pi", pi, sizeof pi);
		deliver_id(&p, "ch", ch, sizeof ch);
		snprintf(order, sizeof order, "order_%u", i + 1);
		for (unsigned k = 0; k < DELIVER_EVENTS_PER_INTENT; k++)
			deliver_id(&p, "evt", ids[k], sizeof ids[k]);
		size_t first = ev->n;
		enum result rc = events_push(ev, ids[0], "payment_intent.created", pi, order,
			event_body(ids[0], "payment_intent.created", t,
			           intent_object(b, pi, order, "requires_payment_method", NULL, t)), t);
		if (rc == RESULT_OK)
			rc = events_push(ev, ids[1], "payment_intent.succeeded", pi, order,
				event_body(ids[1], "payment_intent.succeeded", t + 1,
				           intent_object(b, pi, order, "succeeded", ch, t)), t + 1);
		if (rc == RESULT_OK)
			rc = events_push(ev, ids[2], "charge.succeeded", pi, order,
				event_body(ids[2], "charge.succeeded", t + 1,
				           charge_object(b, ch, pi, order, false, t + 1)), t + 1);
		if (rc == RESULT_OK && b->refunds)
			rc = events_push(ev, ids[3], "charge.refunded", pi, order,
				event_body(ids[3], "charge.refunded", t + 2,
				           charge_object(b, ch, pi, order, true, t + 1)), t + 2);
		if (rc != RESULT_OK)
			goto fail;
		for (size_t k = first; k < ev->n; k++) {
			ev->v[k].ev.object = i;
			ev->v[k].ev.rank = (unsigned)(k - first);
		}
		t += 3;
	}
	if (events_index_objects(ev, b->intents) != RESULT_OK)
		goto fail;
	events_seal(ev);
	return ev;

fail:
	deliver_events_destroy(ev);
	return NULL;
}

static const char *json_str_at(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s != NULL ? s : "";
}

/* Groups loaded events by intent (an event without one is its own object)
 * and ranks each group by created, then position. */
static enum result events_group(struct deliver_events *ev)
{
	size_t nobjects = 0;
	for (size_t i = 0; i < ev->n; i++) {
		struct deliver_slot *s = &ev->v[i];
		size_t o = nobjects;
		unsigned rank = 0;
		for (size_t j = 0; j < i && s->intent[0] != '\0'; j++) {
			if (strcmp(ev->v[j].intent, s->intent) == 0) {
				o = ev->v[j].ev.object;
				break;
			}
		}
		if (o == nobjects)
			nobjects++;
		for (size_t j = 0; j < i; j++) {
			struct deliver_slot *q = &ev->v[j];
			if (q->ev.object != o)
				continue;
			if (q->created > s->created)
				q->ev.rank++;
			else
				rank++;
		}
		s->ev.object = o;
		s->ev.rank = rank;
	}
	return events_index_objects(ev, nobjects);
}

enum result deliver_events_load(const char *path, struct deliver_events **out,
                                char *err, size_t errsize)
{
	ASSERT(path != NULL);
	ASSERT(out != NULL);
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errsize, "%s:%d:%d: not JSON: %s", path, je.line, je.column,
		         je.text);
		return RESULT_REJECT;
	}
	json_t *list = root;
	bool newest_first = false;
	if (json_is_object(root)) {
		list = json_object_get(root, "data");
		newest_first = true;
	}
	if (!json_is_array(list) || json_array_size(list) == 0) {
		snprintf(err, errsize, "%s: want a non-empty array of events or {\"data\": [...]}",
		         path);
		json_decref(root);
		return RESULT_REJECT;
	}
	size_t n = json_array_size(list);
	if (n > DELIVER_EVENTS_MAX) {
		snprintf(err, errsize, "%s: %zu events, at most %u", path, n, DELIVER_EVENTS_MAX);
		json_decref(root);
		return RESULT_REJECT;
	}
	struct deliver_events *ev = calloc(1, sizeof *ev);
	if (ev == NULL)
		goto nomem;
	for (size_t k = 0; k < n; k++) {
		size_t i = newest_first ? n - 1 - k : k;
		json_t *e = json_array_get(list, i);
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *type = json_string_value(json_object_get(e, "type"));
		if (!json_is_object(e) || id == NULL || type == NULL || id[0] == '\0') {
			snprintf(err, errsize, "%s: event %zu: want an object with string \"id\" and \"type\"",
			         path, i);
			deliver_events_destroy(ev);
			json_decref(root);
			return RESULT_REJECT;
		}
		json_t *obj = json_object_get(json_object_get(e, "data"), "object");
		const char *intent = strcmp(json_str_at(obj, "object"), "payment_intent") == 0 ?
		                     json_str_at(obj, "id") : json_str_at(obj, "payment_intent");
		const char *order = json_str_at(json_object_get(obj, "metadata"), "order_id");
		json_int_t created = json_integer_value(json_object_get(e, "created"));
		if (events_push(ev, id, type, intent, order, json_dumps(e, JSON_COMPACT),
		                (int64_t)created) != RESULT_OK)
			goto nomem;
	}
	if (events_group(ev) != RESULT_OK)
		goto nomem;
	events_seal(ev);
	json_decref(root);
	*out = ev;
	return RESULT_OK;

nomem:
	deliver_events_destroy(ev);
	json_decref(root);
	snprintf(err, errsize, "%s: out of memory", path);
	return RESULT_NOMEM;
}

size_t deliver_events_count(const struct deliver_events *ev)
{
	return ev->n;
}

const struct deliver_event *deliver_events_get(const struct deliver_events *ev, size_t i)
{
	ASSERT(i < ev->n);
	return &ev->v[i].ev;
}

size_t deliver_events_objects(const struct deliver_events *ev)
{
	return ev->nobjects;
}

const struct deliver_event *deliver_events_of_object(const struct deliver_events *ev,
                                                     size_t o)
{
	return &ev->v[deliver_events_first_of_object(ev, o)].ev;
}

size_t deliver_events_first_of_object(const struct deliver_events *ev, size_t o)
{
	ASSERT(o < ev->nobjects);
	return ev->first_of[o];
}
