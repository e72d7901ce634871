/* live/deliver_event.h - the Stripe events `faultline deliver` sends: built
 * here in Stripe's event shape (payment intents with their charge and an
 * optional refund) or read from a JSON file of real events. Each event knows
 * the object it belongs to (intent, order) and its rank in that object's
 * life, which the delivery plan reorders. No I/O but the file read. */
#ifndef LIVE_DELIVER_EVENT_H
#define LIVE_DELIVER_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/result.h"

#define DELIVER_EVENTS_MAX 4096u        /* events per run */
#define DELIVER_INTENTS_MAX 1024u       /* payment intents built */
#define DELIVER_EVENT_FILE_MAX (16u << 20) /* bytes of an events file */
#define DELIVER_API_VERSION "2024-06-20"

struct deliver_event {
	const char *id;        /* "evt_..." */
	const char *type;      /* "payment_intent.created", ... */
	const char *intent;    /* the payment intent it concerns, "" if none */
	const char *order;     /* metadata.order_id, "" if none */
	const char *body;      /* the JSON sent, NUL-terminated */
	size_t body_len;
	size_t object;         /* index of its object (one per intent) */
	unsigned rank;         /* 0 for the object's first event, 1, ... */
};

struct deliver_build {
	uint64_t seed;         /* names the ids */
	unsigned intents;      /* 1 .. DELIVER_INTENTS_MAX */
	bool refunds;          /* add charge.refunded */
	long amount;           /* minor units, > 0 */
	const char *currency;  /* "usd" */
	int64_t created_s;     /* unix time of the first event */
};

struct deliver_events;

/* Per intent: payment_intent.created, payment_intent.succeeded,
 * charge.succeeded and, with refunds, charge.refunded, in that rank order.
 * NULL when out of memory. */
struct deliver_events *deliver_events_build(const struct deliver_build *b);

/* Reads a JSON array of Stripe events, or a list object {"data": [...]}
 * as the API's events list answers (newest first there: that order is
 * reversed so the oldest is first). Each needs a string "id" and "type";
 * the intent is data.object.id for a payment_intent, else
 * data.object.payment_intent; the order is data.object.metadata.order_id.
 * Events of one intent are ranked by "created", then file order.
 * RESULT_REJECT with the file and the reason in err. */
MUST_USE enum result deliver_events_load(const char *path,
                                         struct deliver_events **out,
                                         char *err, size_t errsize);

void deliver_events_destroy(struct deliver_events *ev);  /* accepts NULL */

size_t deliver_events_count(const struct deliver_events *ev);
/* Borrowed; valid until destroy. i < count. */
const struct deliver_event *deliver_events_get(const struct deliver_events *ev,
                                               size_t i);
size_t deliver_events_objects(const struct deliver_events *ev);
/* The first event of object o (for its intent and order). */
const struct deliver_event *deliver_events_of_object(const struct deliver_events *ev,
                                                     size_t o);
/* The index (for deliver_events_get) of that event. o < objects. */
size_t deliver_events_first_of_object(const struct deliver_events *ev, size_t o);

#endif
