/* sim/models/stripe_model.c - customers and idempotency keys. Key records
 * sit in a ring in the order their first request began, which is the order
 * they expire in, so pruning is a walk from the head; a hash index over
 * record sequence numbers finds a key. Pending requests live in a fixed
 * table named by tokens with a generation, so stale tokens are caught. */
#include "sim/models/stripe_model.h"

#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "sim/prng.h"

#define STRIPE_RING_MIN 64u          /* key records at creation, power of 2 */
#define STRIPE_CUSTOMERS_MIN 64u
#define STRIPE_TOKEN_SLOT_BITS 12    /* log2(STRIPE_MODEL_PENDING_MAX) */
#define STRIPE_TOKEN_GEN_MASK ((1u << (32 - STRIPE_TOKEN_SLOT_BITS)) - 1)
#define STRIPE_ID_HASH_CHARS 11      /* 62^11 > 2^64: one word, exactly */
#define STRIPE_ID_TAIL_CHARS 3
#define STRIPE_NO_FREE UINT32_MAX

_Static_assert(STRIPE_MODEL_PENDING_MAX == 1u << STRIPE_TOKEN_SLOT_BITS,
               "token layout");
_Static_assert(STRIPE_MODEL_CUSTOMER_ID_LEN ==
               4 + STRIPE_ID_HASH_CHARS + STRIPE_ID_TAIL_CHARS, "id layout");

enum stripe_idem_state { IDEM_DEAD, IDEM_IN_FLIGHT, IDEM_DONE };

/* One Idempotency-Key and, once finished, the response saved under it. */
struct stripe_idem {
	uint64_t hash;
	uint64_t created_us;       /* when the first request with it began */
	char *blob;                /* key NUL email NUL user_id NUL */
	uint16_t key_len;
	uint16_t email_len;
	uint8_t state;             /* enum stripe_idem_state */
	bool generic;              /* a stripe_model_request_*: the email slot
	                            * holds the fingerprint */
	char *saved;               /* generic, IDEM_DONE: the saved body */
	int http_status;           /* IDEM_DONE: the saved response */
	const char *error_type;
	char customer_id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
};

struct stripe_pending {
	uint64_t seq;              /* the key's record, 0 without a key */
	char *blob;                /* without a key: email NUL user_id NUL */
	uint16_t email_len;
	uint32_t gen;              /* bumped at every reuse of the slot */
	uint32_t next_free;
	bool used;
	bool generic;              /* begun by stripe_model_request_begin */
};

struct stripe_customer {
	char id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
	char *blob;                /* email NUL user_id NUL */
	uint16_t email_len;
	uint64_t created_us;
};

struct stripe_model {
	uint64_t id_seed;
	uint64_t ids_made;
	uint64_t last_now_us;      /* the clock only moves forward */

	/* Key records: sequence numbers [head, tail) in ring[seq & mask]. */
	struct stripe_idem *ring;
	uint32_t ring_cap;         /* power of 2, <= STRIPE_MODEL_KEYS_MAX */
	uint64_t head, tail;       /* seq 0 is never used: empty index slot */
	uint64_t *slots;           /* index: record seq, 0 when empty */
	uint32_t slots_mask;
	uint32_t nkeys;            /* records in the index */

	/* Requests in flight, by slot. Grown on demand up to
	 * STRIPE_MODEL_PENDING_MAX: a run has a few in flight, and a full table
	 * made at creation cost more than a short seed. [0, pending_used) have
	 * been used; freed slots are on the free list. */
	struct stripe_pending *pending;
	uint32_t pending_cap, pending_used;
	uint32_t free_head;
	uint32_t npending;

	struct stripe_customer *customers;
	uint32_t ncustomers, customers_cap;
	/* Search by metadata[user_id]: open addressing over user ids, each slot
	 * 1 + the index of that user's oldest customer, 0 when empty. */
	uint32_t *by_user;
	uint32_t by_user_mask;     /* slots - 1; slots a power of 2, or 0 */
	uint32_t nusers;

	char reply_id[STRIPE_MODEL_CUSTOMER_ID_LEN + 1];
};

/* ---- small helpers ------------------------------------------------------- */

/* Makes sure one more request can be taken into pending (the free list or
 * an unused slot); false when out of memory. The caller has checked the
 * STRIPE_MODEL_PENDING_MAX bound. */
static bool pending_room(struct stripe_model *m)
{
	if (m->free_head != STRIPE_NO_FREE || m->pending_used < m->pending_cap)
		return true;
	ASSERT(m->pending_cap < STRIPE_MODEL_PENDING_MAX);
	uint32_t ncap = m->pending_cap ? 2 * m->pending_cap : 16;
	if (ncap > STRIPE_MODEL_PENDING_MAX)
		ncap = STRIPE_MODEL_PENDING_MAX;
	struct stripe_pending *n = realloc(m->pending, ncap * sizeof *n);
	if (n == NULL)
		return false;
	m->pending = n;
	m->pending_cap = ncap;
	return true;
}

static uint64_t stripe_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* One allocation for a list of strings, each followed by its NUL. */
static char *blob_of(const char *a, size_t alen, const char *b, size_t blen,
                     const char *c, size_t clen)
{
	char *p = malloc(alen + blen + clen + 3);
	if (p == NULL)
		return NULL;
	memcpy(p, a, alen);
	p[alen] = '\0';
	memcpy(p + alen + 1, b, blen);
	p[alen + 1 + blen] = '\0';
	memcpy(p + alen + blen + 2, c, clen);
	p[alen + blen + 2 + clen] = '\0';
	return p;
}

static const char *error_type_of(int status)
{
	if (status >= 200 && status < 300)
		return "";
	if (status == 402)
		return "card_error";
	if (status >= 400 && status < 500)
		return "invalid_request_error";
	return "api_error";
}

static void reply_set(struct stripe_reply *r, int status, const char *type,
                      const char *customer_id, bool replay)
{
	*r = (struct stripe_reply){
		.http_status = status,
		.error_type = type,
		.customer_id = customer_id,
		.idempotent_replay = replay,
	};
}

static void stripe_make_id(struct stripe_model *m, char *out)
{
	static const char base62[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	/* splitmix64 of seed + (n + 1) * odd constant is a bijection of n, and
	 * the first word is spelled out in full, so ids never repeat. */
	uint64_t st = m->id_seed + m->ids_made * 0x9e3779b97f4a7c15ULL;
	uint64_t a = prng_splitmix64(&st);
	uint64_t b = prng_splitmix64(&st);
	memcpy(out, "cus_", 4);
	for (int i = 0; i < STRIPE_ID_HASH_CHARS; i++, a /= 62)
		out[4 + i] = base62[a % 62];
	for (int i = 0; i < STRIPE_ID_TAIL_CHARS; i++, b /= 62)
		out[4 + STRIPE_ID_HASH_CHARS + i] = base62[b % 62];
	out[STRIPE_MODEL_CUSTOMER_ID_LEN] = '\0';
	m->ids_made++;
}

/* ---- the key index -------------------------------------------------------- */

static struct stripe_idem *rec_of(const struct stripe_model *m, uint64_t seq)
{
	return &m->ring[seq & (m->ring_cap - 1)];
}

static void index_place(struct stripe_model *m, uint64_t seq)
{
	uint32_t mask = m->slots_mask;
	uint32_t i = (uint32_t)rec_of(m, seq)->hash & mask;
	for (uint32_t probes = 0; probes <= mask; probes++) {
		if (m->slots[i] == 0) {
			m->slots[i] = seq;
			return;
		}
		i = (i + 1) & mask;
	}
	ASSERT(!"key index full");
}

static bool index_resize(struct stripe_model *m, uint32_t count)
{
	uint64_t *slots = calloc(count, sizeof *slots);
	if (slots == NULL)
		return false;
	uint64_t *old = m->slots;
	uint32_t old_count = m->slots_mask + 1;
	m->slots = slots;
	m->slots_mask = count - 1;
	for (uint32_t i = 0; i < old_count; i++) {
		if (old[i] != 0)
			index_place(m, old[i]);
	}
	free(old);
	return true;
}

/* The index slot holding key, or -1. */
static int64_t index_find(const struct stripe_model *m, const char *key,
                          size_t len, uint64_t h)
{
	uint32_t mask = m->slots_mask;
	uint32_t i = (uint32_t)h & mask;
	for (uint32_t probes = 0; probes <= mask; probes++) {
		uint64_t seq = m->slots[i];
		if (seq == 0)
			return -1;
		const struct stripe_idem *r = rec_of(m, seq);
		if (r->hash == h && r->key_len == len && memcmp(r->blob, key, len) == 0)
			return i;
		i = (i + 1) & mask;
	}
	return -1;
}

/* Backward-shift deletion, as in the Redis model: no tombstones. */
static void index_delete_slot(struct stripe_model *m, uint32_t hole)
{
	uint32_t mask = m->slots_mask;
	uint32_t j = hole;
	for (uint32_t step = 0; step < mask; step++) {
		j = (j + 1) & mask;
		uint64_t seq = m->slots[j];
		if (seq == 0)
			break;
		uint32_t home = (uint32_t)rec_of(m, seq)->hash & mask;
		bool stays = hole < j ? (home > hole && home <= j)
		                      : (home > hole || home <= j);
		if (!stays) {
			m->slots[hole] = seq;
			hole = j;
		}
	}
	m->slots[hole] = 0;
}

/* Drops record seq from the index and frees its strings. */
static void idem_forget(struct stripe_model *m, uint64_t seq)
{
	struct stripe_idem *r = rec_of(m, seq);
	ASSERT(r->state != IDEM_DEAD);
	int64_t slot = index_find(m, r->blob, r->key_len, r->hash);
	ASSERT(slot >= 0);
	ASSERT(m->slots[slot] == seq);
	index_delete_slot(m, (uint32_t)slot);
	free(r->blob);
	r->blob = NULL;
	free(r->saved);
	r->saved = NULL;
	r->state = IDEM_DEAD;
	m->nkeys--;
}

static bool idem_expired(const struct stripe_idem *r, uint64_t now_us)
{
	return r->state == IDEM_DONE &&
	       now_us - r->created_us >= STRIPE_MODEL_KEY_TTL_US;
}

/* Forgets keys from the oldest on while they are dead or expired. A key in
 * flight stops the walk; keys behind it are still checked on lookup. */
static void idem_purge(struct stripe_model *m, uint64_t now_us)
{
	for (uint32_t steps = 0; steps < STRIPE_MODEL_KEYS_MAX && m->head < m->tail;
	     steps++) {
		struct stripe_idem *r = rec_of(m, m->head);
		if (r->state == IDEM_DONE && idem_expired(r, now_us))
			idem_forget(m, m->head);
		else if (r->state != IDEM_DEAD)
			break;
		m->head++;
	}
}

/* Doubles the ring, keeping every record at seq & (new mask). */
static bool ring_grow(struct stripe_model *m)
{
	uint32_t cap = m->ring_cap * 2;
	ASSERT(cap <= STRIPE_MODEL_KEYS_MAX);
	struct stripe_idem *ring = calloc(cap, sizeof *ring);
	if (ring == NULL)
		return false;
	for (uint64_t s = m->head; s < m->tail; s++)
		ring[s & (cap - 1)] = *rec_of(m, s);
	free(m->ring);
	m->ring = ring;
	m->ring_cap = cap;
	return true;
}

/* A new record for key, in flight; its seq, or 0 when the table is full
 * (*full) or memory runs out. */
static uint64_t idem_add(struct stripe_model *m, uint64_t now_us,
                         const char *key, size_t klen, uint64_t h,
                         const char *email, size_t elen, const char *user_id,
                         size_t ulen, bool *full)
{
	*full = false;
	if (m->tail - m->head == m->ring_cap) {
		if (m->ring_cap == STRIPE_MODEL_KEYS_MAX) {
			*full = true;
			return 0;
		}
		if (!ring_grow(m))
			return 0;
	}
	if (((uint64_t)m->nkeys + 1) * 2 > (uint64_t)m->slots_mask + 1 &&
	    !index_resize(m, (m->slots_mask + 1) * 2))
		return 0;
	char *blob = blob_of(key, klen, email, elen, user_id, ulen);
	if (blob == NULL)
		return 0;
	uint64_t seq = m->tail++;
	*rec_of(m, seq) = (struct stripe_idem){
		.hash = h,
		.created_us = now_us,
		.blob = blob,
		.key_len = (uint16_t)klen,
		.email_len = (uint16_t)elen,
		.state = IDEM_IN_FLIGHT,
	};
	index_place(m, seq);
	m->nkeys++;
	return seq;
}

/* ---- requests ------------------------------------------------------------- */

/* A request reaches the model at now_us: the clock moves, old keys go. */
static void begin_at(struct stripe_model *m, uint64_t now_us)
{
	ASSERT(now_us >= m->last_now_us);
	m->last_now_us = now_us;
	idem_purge(m, now_us);
}

/* The index slot of key, forgetting it first when it has expired; -1 when
 * unknown. */
static int64_t idem_lookup(struct stripe_model *m, const char *key, size_t klen,
                           uint64_t h, uint64_t now_us)
{
	int64_t slot = index_find(m, key, klen, h);
	if (slot >= 0 && idem_expired(rec_of(m, m->slots[slot]), now_us)) {
		idem_forget(m, m->slots[slot]);
		slot = -1;
	}
	return slot;
}

/* Takes a pending slot (pending_room said there is one) for key record seq
 * (0: none) and blob (taken); returns its token. */
static uint32_t pending_take(struct stripe_model *m, uint64_t seq, char *blob,
                             size_t elen, bool generic)
{
	uint32_t slot;
	if (m->free_head != STRIPE_NO_FREE) {
		slot = m->free_head;
		m->free_head = m->pending[slot].next_free;
	} else {
		ASSERT(m->pending_used < m->pending_cap);
		slot = m->pending_used++;
		m->pending[slot] = (struct stripe_pending){.next_free = STRIPE_NO_FREE};
	}
	struct stripe_pending *pd = &m->pending[slot];
	ASSERT(!pd->used);
	pd->used = true;
	pd->generic = generic;
	pd->seq = seq;
	pd->blob = blob;
	pd->email_len = (uint16_t)elen;
	pd->gen = (pd->gen + 1) & STRIPE_TOKEN_GEN_MASK;
	m->npending++;
	return (pd->gen << STRIPE_TOKEN_SLOT_BITS) | slot;
}

/* The pending request named by token (asserted). */
static struct stripe_pending *pending_of(struct stripe_model *m, uint32_t token)
{
	uint32_t slot = token & (STRIPE_MODEL_PENDING_MAX - 1);
	ASSERT(slot < m->pending_used);
	struct stripe_pending *pd = &m->pending[slot];
	ASSERT(pd->used);
	ASSERT(token >> STRIPE_TOKEN_SLOT_BITS == pd->gen);
	return pd;
}

static void pending_release(struct stripe_model *m, struct stripe_pending *pd)
{
	free(pd->blob);
	pd->blob = NULL;
	pd->seq = 0;
	pd->used = false;
	pd->next_free = m->free_head;
	m->free_head = (uint32_t)(pd - m->pending);
	m->npending--;
}

bool stripe_model_customer_begin(struct stripe_model *m, uint64_t now_us,
                                 const struct stripe_customer_params *p,
                                 uint32_t *token, struct stripe_reply *reply)
{
	ASSERT(m != NULL);
	ASSERT(p != NULL);
	ASSERT(token != NULL);
	ASSERT(reply != NULL);
	begin_at(m, now_us);

	const char *email = p->email != NULL ? p->email : "";
	const char *user_id = p->user_id != NULL ? p->user_id : "";
	const char *key = p->idempotency_key;
	size_t klen = 0;
	uint64_t h = 0;
	if (key != NULL) {
		klen = strnlen(key, STRIPE_MODEL_KEY_LEN_MAX + 1);
		if (klen == 0 || klen > STRIPE_MODEL_KEY_LEN_MAX) {
			reply_set(reply, 400, "invalid_request_error", "", false);
			return true;
		}
		h = stripe_hash(key, klen);
		int64_t slot = idem_lookup(m, key, klen, h, now_us);
		if (slot >= 0) {
			const struct stripe_idem *r = rec_of(m, m->slots[slot]);
			if (r->state == IDEM_IN_FLIGHT) {
				reply_set(reply, 409, "idempotency_error", "", false);
				return true;
			}
			const char *r_email = r->blob + r->key_len + 1;
			const char *r_user = r_email + r->email_len + 1;
			if (r->generic || strcmp(r_email, email) != 0 ||
			    strcmp(r_user, user_id) != 0) {
				reply_set(reply, 400, "idempotency_error", "", false);
				return true;
			}
			/* exactly-once: a retry gets the first answer, not a new
			 * customer. */
			memcpy(m->reply_id, r->customer_id, sizeof m->reply_id);
			reply_set(reply, r->http_status, r->error_type, m->reply_id, true);
			return true;
		}
	}

	size_t elen = strnlen(email, STRIPE_MODEL_EMAIL_MAX + 1);
	size_t ulen = strnlen(user_id, STRIPE_MODEL_USER_ID_MAX + 1);
	if (elen > STRIPE_MODEL_EMAIL_MAX || ulen > STRIPE_MODEL_USER_ID_MAX) {
		reply_set(reply, 400, "invalid_request_error", "", false);
		return true;
	}
	if (m->free_head == STRIPE_NO_FREE && m->pending_used == STRIPE_MODEL_PENDING_MAX) {
		reply_set(reply, 429, "invalid_request_error", "", false);
		return true;
	}
	if (!pending_room(m)) {
		reply_set(reply, 500, "api_error", "", false);
		return true;
	}

	uint64_t seq = 0;
	char *blob = NULL;
	if (key != NULL) {
		bool full;
		seq = idem_add(m, now_us, key, klen, h, email, elen, user_id, ulen,
		               &full);
		if (seq == 0) {
			reply_set(reply, full ? 429 : 500,
			          full ? "invalid_request_error" : "api_error", "", false);
			return true;
		}
	} else {
		blob = blob_of(email, elen, user_id, ulen, "", 0);
		if (blob == NULL) {
			reply_set(reply, 500, "api_error", "", false);
			return true;
		}
	}

	*token = pending_take(m, seq, blob, elen, false);
	return false;
}

static const char *customer_user(const struct stripe_customer *c)
{
	return c->blob + c->email_len + 1;
}

/* The slot of user_id in by_user: the one holding it or the empty one where
 * it would go. The table is never full. */
static uint32_t by_user_slot(const struct stripe_model *m, const char *user_id)
{
	uint32_t i = (uint32_t)stripe_hash(user_id, strlen(user_id)) & m->by_user_mask;
	while (m->by_user[i] != 0 &&
	       strcmp(customer_user(&m->customers[m->by_user[i] - 1]), user_id) != 0)
		i = (i + 1) & m->by_user_mask;
	return i;
}

/* Room for one more user in by_user at half load; false out of memory. */
static bool by_user_room(struct stripe_model *m)
{
	uint32_t slots = m->by_user_mask + 1;
	if (m->by_user != NULL && 2 * (m->nusers + 1) <= slots)
		return true;
	uint32_t nslots = m->by_user != NULL ? 2 * slots : 64;
	uint32_t *old = m->by_user;
	uint32_t old_mask = m->by_user_mask;
	m->by_user = calloc(nslots, sizeof *m->by_user);
	if (m->by_user == NULL) {
		m->by_user = old;
		return false;
	}
	m->by_user_mask = nslots - 1;
	for (uint32_t i = 0; old != NULL && i <= old_mask; i++) {
		if (old[i] != 0)
			m->by_user[by_user_slot(m, customer_user(&m->customers[old[i] - 1]))] = old[i];
	}
	free(old);
	return true;
}

/* Appends a customer; false at the bound or out of memory. */
static bool customer_add(struct stripe_model *m, uint64_t now_us,
                         const char *email, size_t elen, const char *user_id)
{
	if (m->ncustomers == STRIPE_MODEL_CUSTOMERS_MAX)
		return false;
	if (m->ncustomers == m->customers_cap) {
		uint32_t cap = m->customers_cap * 2;
		if (cap > STRIPE_MODEL_CUSTOMERS_MAX)
			cap = STRIPE_MODEL_CUSTOMERS_MAX;
		struct stripe_customer *c = realloc(m->customers, (size_t)cap * sizeof *c);
		if (c == NULL)
			return false;
		m->customers = c;
		m->customers_cap = cap;
	}
	if (user_id[0] != '\0' && !by_user_room(m))
		return false;
	char *blob = blob_of(email, elen, user_id, strlen(user_id), "", 0);
	if (blob == NULL)
		return false;
	struct stripe_customer *c = &m->customers[m->ncustomers++];
	stripe_make_id(m, c->id);
	c->blob = blob;
	c->email_len = (uint16_t)elen;
	c->created_us = now_us;
	if (user_id[0] != '\0') {
		uint32_t slot = by_user_slot(m, user_id);
		if (m->by_user[slot] == 0) {
			m->by_user[slot] = m->ncustomers; /* 1 + its index */
			m->nusers++;
		}
	}
	return true;
}

const char *stripe_model_customer_find(struct stripe_model *m, uint64_t now_us,
                                       const char *user_id)
{
	ASSERT(m != NULL);
	ASSERT(user_id != NULL);
	ASSERT(now_us >= m->last_now_us);
	m->last_now_us = now_us;
	if (m->by_user == NULL || user_id[0] == '\0')
		return "";
	uint32_t slot = by_user_slot(m, user_id);
	if (m->by_user[slot] == 0)
		return "";
	/* The oldest is the first to become searchable: if it is not yet,
	 * no later one is. */
	const struct stripe_customer *c = &m->customers[m->by_user[slot] - 1];
	if (now_us - c->created_us < STRIPE_MODEL_SEARCH_LAG_US)
		return "";
	memcpy(m->reply_id, c->id, sizeof m->reply_id);
	return m->reply_id;
}

void stripe_model_customer_finish(struct stripe_model *m, uint32_t token,
                                  uint64_t now_us, int status, bool save,
                                  struct stripe_reply *reply)
{
	ASSERT(m != NULL);
	ASSERT(reply != NULL);
	ASSERT(now_us >= m->last_now_us);
	ASSERT(status >= 100 && status <= 599);
	ASSERT(status != 200 || save);
	struct stripe_pending *pd = pending_of(m, token);
	ASSERT(!pd->generic);
	m->last_now_us = now_us;

	struct stripe_idem *r = pd->seq != 0 ? rec_of(m, pd->seq) : NULL;
	const char *email = r != NULL ? r->blob + r->key_len + 1 : pd->blob;
	size_t elen = r != NULL ? r->email_len : pd->email_len;
	const char *user_id = email + elen + 1;

	const char *id = "";
	if (status == 200) {
		if (customer_add(m, now_us, email, elen, user_id)) {
			memcpy(m->reply_id, m->customers[m->ncustomers - 1].id,
			       sizeof m->reply_id);
			id = m->reply_id;
		} else {
			status = 500;
		}
	}
	reply_set(reply, status, error_type_of(status), id, false);

	if (r != NULL) {
		ASSERT(r->state == IDEM_IN_FLIGHT);
		if (save) {
			/* Stripe saves the first result of a key, errors too. */
			r->state = IDEM_DONE;
			r->http_status = status;
			r->error_type = reply->error_type;
			memcpy(r->customer_id, id, strlen(id) + 1);
		} else {
			idem_forget(m, pd->seq); /* never executed: the key is free */
		}
	}
	pending_release(m, pd);
}

static void answer_set(struct stripe_model_answer *a, int status,
                       const char *type, const char *body, bool replay)
{
	*a = (struct stripe_model_answer){
		.http_status = status,
		.error_type = type,
		.body = body,
		.idempotent_replay = replay,
	};
}

bool stripe_model_request_begin(struct stripe_model *m, uint64_t now_us,
                                const char *key, const char *fingerprint,
                                uint32_t *token,
                                struct stripe_model_answer *answer)
{
	ASSERT(m != NULL);
	ASSERT(fingerprint != NULL);
	ASSERT(token != NULL);
	ASSERT(answer != NULL);
	begin_at(m, now_us);

	size_t flen = strnlen(fingerprint, STRIPE_MODEL_FINGERPRINT_MAX + 1);
	if (flen > STRIPE_MODEL_FINGERPRINT_MAX) {
		answer_set(answer, 400, "invalid_request_error", NULL, false);
		return true;
	}
	size_t klen = 0;
	uint64_t h = 0;
	if (key != NULL) {
		klen = strnlen(key, STRIPE_MODEL_KEY_LEN_MAX + 1);
		if (klen == 0 || klen > STRIPE_MODEL_KEY_LEN_MAX) {
			answer_set(answer, 400, "invalid_request_error", NULL, false);
			return true;
		}
		h = stripe_hash(key, klen);
		int64_t slot = idem_lookup(m, key, klen, h, now_us);
		if (slot >= 0) {
			const struct stripe_idem *r = rec_of(m, m->slots[slot]);
			if (r->state == IDEM_IN_FLIGHT) {
				answer_set(answer, 409, "idempotency_error", NULL, false);
				return true;
			}
			if (!r->generic || strcmp(r->blob + r->key_len + 1, fingerprint) != 0) {
				answer_set(answer, 400, "idempotency_error", NULL, false);
				return true;
			}
			/* exactly-once: a retry gets the first answer, not a second
			 * execution. */
			answer_set(answer, r->http_status, "", r->saved, true);
			return true;
		}
	}
	if (m->free_head == STRIPE_NO_FREE && m->pending_used == STRIPE_MODEL_PENDING_MAX) {
		answer_set(answer, 429, "invalid_request_error", NULL, false);
		return true;
	}
	if (!pending_room(m)) {
		answer_set(answer, 500, "api_error", NULL, false);
		return true;
	}
	uint64_t seq = 0;
	if (key != NULL) {
		bool full;
		seq = idem_add(m, now_us, key, klen, h, fingerprint, flen, "", 0, &full);
		if (seq == 0) {
			answer_set(answer, full ? 429 : 500,
			           full ? "invalid_request_error" : "api_error", NULL, false);
			return true;
		}
		rec_of(m, seq)->generic = true;
	}
	*token = pending_take(m, seq, NULL, 0, true);
	return false;
}

void stripe_model_request_finish(struct stripe_model *m, uint32_t token,
                                 uint64_t now_us, int status, bool save,
                                 const char *body)
{
	ASSERT(m != NULL);
	ASSERT(now_us >= m->last_now_us);
	ASSERT(status >= 100 && status <= 599);
	struct stripe_pending *pd = pending_of(m, token);
	ASSERT(pd->generic);
	m->last_now_us = now_us;
	if (pd->seq != 0) {
		struct stripe_idem *r = rec_of(m, pd->seq);
		ASSERT(r->state == IDEM_IN_FLIGHT);
		ASSERT(r->generic);
		char *saved = save ? strdup(body != NULL ? body : "") : NULL;
		if (saved != NULL) {
			/* Stripe saves the first result of a key, errors too. */
			r->state = IDEM_DONE;
			r->http_status = status;
			r->error_type = error_type_of(status);
			r->saved = saved;
		} else {
			idem_forget(m, pd->seq); /* never executed: the key is free */
		}
	}
	pending_release(m, pd);
}

/* ---- life cycle and inspection -------------------------------------------- */

struct stripe_model *stripe_model_create(uint64_t id_seed)
{
	struct stripe_model *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->id_seed = id_seed;
	m->head = m->tail = 1;
	m->ring = calloc(STRIPE_RING_MIN, sizeof *m->ring);
	m->slots = calloc(STRIPE_RING_MIN * 2, sizeof *m->slots);
	m->customers = malloc(STRIPE_CUSTOMERS_MIN * sizeof *m->customers);
	if (m->ring == NULL || m->slots == NULL || m->customers == NULL) {
		stripe_model_destroy(m);
		return NULL;
	}
	m->ring_cap = STRIPE_RING_MIN;
	m->slots_mask = STRIPE_RING_MIN * 2 - 1;
	m->customers_cap = STRIPE_CUSTOMERS_MIN;
	m->free_head = STRIPE_NO_FREE;
	return m;
}

void stripe_model_destroy(struct stripe_model *m)
{
	if (m == NULL)
		return;
	if (m->ring != NULL) {
		for (uint64_t s = m->head; s < m->tail; s++) {
			free(rec_of(m, s)->blob);
			free(rec_of(m, s)->saved);
		}
	}
	for (uint32_t i = 0; i < m->pending_used; i++)
		free(m->pending[i].blob);
	free(m->pending);
	for (uint32_t i = 0; i < m->ncustomers; i++)
		free(m->customers[i].blob);
	free(m->customers);
	free(m->by_user);
	free(m->slots);
	free(m->ring);
	free(m);
}

size_t stripe_model_customer_count(const struct stripe_model *m)
{
	ASSERT(m != NULL);
	return m->ncustomers;
}

size_t stripe_model_pending_count(const struct stripe_model *m)
{
	ASSERT(m != NULL);
	return m->npending;
}

void stripe_model_foreach_customer(const struct stripe_model *m,
                                   stripe_model_customer_fn *fn, void *arg)
{
	ASSERT(m != NULL);
	ASSERT(fn != NULL);
	uint32_t n = m->ncustomers;
	for (uint32_t i = 0; i < n; i++) {
		const struct stripe_customer *c = &m->customers[i];
		fn(arg, c->id, c->blob + c->email_len + 1, c->blob, c->created_us);
	}
	ASSERT(m->ncustomers == n); /* fn did not call into m */
}
