/* harness/work_dedup.c - the request de-duplication workload: requests and
 * their copies, spread over application instances that share one Redis, and
 * the attribution of each SET NX the server applied to the copy that sent
 * it (so a lost reply is told from a real duplicate). */
#include <stdlib.h>

#include <string.h>
#include <event2/event.h>

#include "core/assert.h"
#include "core/dedup.h"

#include "harness/world_int.h"

/* ---- request-dedup attribution ---------------------------------------------- */

#define DD_TOKEN_MAX 64

/* Which copy owns which dedup token: the first SET a dedup_check sends is
 * issued inside the call, so the token is recorded then; later SETs of the
 * same check (retries) carry the same token. Tokens sit in the order they
 * were recorded; the table that finds them holds a token's number and part
 * of its hash, 8 bytes a slot, so a lookup touches one slot and one token
 * (the 72-byte slots it replaced were a twentieth of a large run's time,
 * most of it cache misses). */
struct dd_token {
	char token[DD_TOKEN_MAX];
	size_t copy;              /* index in h.dd */
};

struct dd_token_slot {
	uint32_t hash;            /* the hash's high half */
	uint32_t token;           /* index in w->dd_tokens plus one; 0: empty */
};

static uint64_t dd_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* The slot that holds token, or the empty one where it would go. Open
 * addressing, at least 2 slots per copy: never full. */
static struct dd_token_slot *dd_token_find(struct world *w, const char *token)
{
	size_t mask = w->dd_token_slots - 1;
	uint64_t h = dd_hash(token);
	uint32_t hi = (uint32_t)(h >> 32);
	for (size_t i = h & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
		struct dd_token_slot *sl = &w->dd_token_index[i];
		if (sl->token == 0 ||
		    (sl->hash == hi && strcmp(w->dd_tokens[sl->token - 1].token, token) == 0))
			return sl;
	}
	ASSERT(!"dedup token table full");
	return NULL;
}

void dd_on_set_applied(struct world *w, const struct kv_cmd *cmd,
                              const struct kv_reply *reply, uint64_t at_us)
{
	if (reply->type != KV_REPLY_STATUS || strlen(cmd->argv[2]) >= DD_TOKEN_MAX)
		return; /* nil: the key existed; errors: nothing written */
	const struct dd_token_slot *sl = dd_token_find(w, cmd->argv[2]);
	if (sl->token == 0)
		return; /* not a token a copy sent */
	struct hist_dd_request *r = &w->h.dd[w->dd_tokens[sl->token - 1].copy];
	if (!r->claimed) {
		r->claimed = true;
		r->claimed_us = at_us;
	}
}

/* The reply a check receives to one of its SETs: OK means Redis confirmed
 * the claim, and the check then has no reason to fail open. */
static void dd_note_set(struct world *w, size_t copy, enum outcome oc,
                        const struct kv_reply *reply)
{
	if (oc == OUTCOME_OK && reply != NULL && reply->type == KV_REPLY_STATUS)
		w->h.dd[copy].set_ok = true;
}

/* A SET on its way to Redis: a copy's claim is counted and its reply
 * watched (dd_note_set). The first SET with a token that is not yet known
 * names it for the copy the harness has just started. */
void dd_watch_set(struct world *w, const struct kv_cmd *cmd, kv_done_fn **done, void **arg)
{
	if (w->h.ndd == 0 || cmd->argc < 3 || !kv_word_is(cmd->argv[0], "set") ||
	    cmd->argv[2][0] == '\0' || strlen(cmd->argv[2]) >= DD_TOKEN_MAX)
		return;
	struct dd_token_slot *sl = dd_token_find(w, cmd->argv[2]);
	if (sl->token != 0) {
		/* a copy asking again with its token */
		size_t copy = w->dd_tokens[sl->token - 1].copy;
		w->h.dd[copy].sets++;
		world_kv_watch(w, copy, dd_note_set, done, arg);
	} else if (w->dd_current != SIZE_MAX && w->ndd_tokens < w->h.ndd) {
		struct dd_token *t = &w->dd_tokens[w->ndd_tokens++];
		memcpy(t->token, cmd->argv[2], strlen(cmd->argv[2]) + 1);
		t->copy = w->dd_current;
		sl->hash = (uint32_t)(dd_hash(cmd->argv[2]) >> 32);
		sl->token = (uint32_t)w->ndd_tokens;
		w->h.dd[t->copy].sets = 1;
		world_kv_watch(w, t->copy, dd_note_set, done, arg);
	}
	w->dd_current = SIZE_MAX;
}

/* ---- request-dedup --------------------------------------------------------- */

struct dd_req {
	struct world *w;
	size_t index;
	uint32_t request;
	char id[32];
};

static void dd_on_done(void *arg, enum result rc, enum dedup_verdict verdict, bool failed_open)
{
	struct dd_req *q = arg;
	struct world *w = q->w;
	world_core_answered(w, "dedup_check");
	struct hist_dd_request *r = &w->h.dd[q->index];
	ASSERT(w->core_busy > 0);
	w->core_busy--;
	r->done = true;
	r->end_us = world_now_us(w);
	r->duplicate = rc == RESULT_OK && verdict == DEDUP_DUPLICATE;
	r->refused = rc == RESULT_REJECT;
	r->refused_as_duplicate = r->refused && verdict == DEDUP_DUPLICATE;
	r->failed_open = failed_open;
	r->healthy = r->healthy &&
	             world_backend_faults(w, FAULT_TARGET_REDIS) == w->dd_reqs[q->request].first_faults;
	if (rc == RESULT_UNHANDLED)
		world_note_unhandled(w, "dedup request died");
	/* Seen from Redis: the copy sent its token again, which a check does
	 * only when a reply was lost. Answered from Redis (not failed open),
	 * it found out what its lost write did. */
	if (r->sets > 1 && !r->refused && (r->duplicate || !failed_open))
		w->out->outcomes[r->duplicate ? WO_DD_DUPLICATE_AFTER_LOST_REPLY
		                              : WO_DD_NEW_AFTER_LOST_REPLY]++;
	world_request_end(w, "request-dedup", q->id, r->start_us,
	            r->refused ? WO_DD_REFUSED : r->duplicate ? WO_DD_DUPLICATE :
	            failed_open ? WO_DD_FAILED_OPEN : WO_DD_NEW);
	world_work_free(w, q);
}

static void dd_start(void *arg)
{
	struct dd_req *q = arg;
	struct world *w = q->w;
	if (w->draining) {
		world_work_free(w, q);
		return;
	}
	struct hist_dd_request *r = &w->h.dd[q->index];
	r->start_us = world_now_us(w);
	r->seq = w->dd_seq++;
	struct dd_request *lr = &w->dd_reqs[q->request];
	if (!lr->started) {
		lr->started = true;
		lr->first_faults = world_backend_faults(w, FAULT_TARGET_REDIS);
	}
	r->healthy = !world_redis_down(w);
	world_request_begin(w, "request-dedup", q->id);
	char key[DEDUP_KEY_MAX + 2];
	world_name1(key, sizeof key, "req-", q->request);
	size_t want = w->sc->dedup.key_octets, len = strlen(key);
	if (r->bad_key) /* empty, or one octet too long */
		want = r->request % 2 == 0 ? 0 : DEDUP_KEY_MAX + 1;
	if (want > len) {
		memset(key + len, 'x', want - len);
		key[len] = '-';
		key[want] = '\0';
	} else if (r->bad_key) {
		key[0] = '\0';
	}
	/* The copies of one request go round the instances: copy c of request
	 * i to instance (i + c) mod n, so with n > 1 a copy and its duplicate
	 * are checked by different processes. */
	uint32_t inst = (uint32_t)((q->request + (q->index % (1 + w->sc->dedup.duplicates))) %
	                           (1 + w->ndd_more));
	w->dd_current = q->index;
	w->core_busy++;
	bool was = world_core_enter(w);
	dedup_check(inst == 0 ? w->dd : w->dd_more[inst - 1], key, dd_on_done, q);
	world_core_leave(w, was);
	w->dd_current = SIZE_MAX;
}

void dd_schedule(struct world *w)
{
	const struct scenario *sc = w->sc;
	uint32_t per = 1 + sc->dedup.duplicates;
	size_t total = (size_t)sc->dedup.requests * per + sc->dedup.bad_keys;
	uint32_t nreq = sc->dedup.requests + sc->dedup.bad_keys;
	ASSERT(total <= WORLD_REQUESTS_MAX);
	w->dd_reqs = calloc(nreq ? nreq : 1, sizeof *w->dd_reqs);
	w->h.dd = calloc(total ? total : 1, sizeof *w->h.dd);
	ASSERT(w->dd_reqs != NULL && w->h.dd != NULL);
	w->h.ndd = total;
	w->h.dd_ttl_us = sc->dedup.ttl_us;
	w->dd_token_slots = 2;
	while (w->dd_token_slots < 2 * total)
		w->dd_token_slots *= 2;
	w->dd_token_index = calloc(w->dd_token_slots, sizeof *w->dd_token_index);
	w->dd_tokens = malloc((total ? total : 1) * sizeof *w->dd_tokens);
	ASSERT(w->dd_token_index != NULL && w->dd_tokens != NULL);
	/* Instances besides w->dd: the same configuration and env (each has
	 * its own sequence of tokens, as separate processes would). */
	if (sc->dedup.instances > 1) {
		w->dd_more = calloc(sc->dedup.instances - 1, sizeof *w->dd_more);
		ASSERT(w->dd_more != NULL);
		struct dedup_config c = {.variant = w->cfg->variants[FIX_DEDUP],
		                         .ttl_ms = sc->dedup.ttl_us / 1000};
		for (uint32_t i = 0; i + 1 < sc->dedup.instances; i++) {
			w->dd_more[i] = dedup_create(&w->env, &c);
			ASSERT(w->dd_more[i] != NULL); /* the same config made w->dd */
			w->ndd_more++;
		}
	}
	size_t k = 0;
	for (uint32_t i = 0; i < sc->dedup.requests; i++) {
		uint64_t first = world_uniform_us(w, sc->dedup.spread_us);
		for (uint32_t c = 0; c < per; c++, k++) {
			struct dd_req *q = world_work_new(w, sizeof *q);
			q->w = w;
			q->index = k;
			q->request = i;
			world_name2(q->id, sizeof q->id, "req-", i, c, "");
			w->h.dd[k].request = i;
			uint64_t at = c == 0 ? first : first + world_uniform_us(w, sc->dedup.duplicate_delay_us);
			world_arrival_add(w, at, dd_start, q);
		}
	}
	/* Requests with a key the contract refuses, once each, after the
	 * others in h.dd; numbered on from the last request. */
	for (uint32_t j = 0; j < sc->dedup.bad_keys; j++, k++) {
		struct dd_req *q = world_work_new(w, sizeof *q);
		q->w = w;
		q->index = k;
		q->request = sc->dedup.requests + j;
		world_name1(q->id, sizeof q->id, "bad-", q->request);
		w->h.dd[k].request = q->request;
		w->h.dd[k].bad_key = true;
		world_arrival_add(w, world_uniform_us(w, sc->dedup.spread_us), dd_start, q);
	}
}

void dd_destroy_instances(struct world *w)
{
	for (uint32_t i = 0; i < w->ndd_more; i++)
		dedup_destroy(w->dd_more[i]);
	w->ndd_more = 0;
}

void dd_count_let_through(struct world *w)
{
	/* True duplicates (a later copy within the TTL of the first) accepted
	 * while the check could not work: the price of failing open, reported
	 * rather than hidden. */
	for (size_t i = 0; i < w->h.ndd; i++) {
		const struct hist_dd_request *r = &w->h.dd[i];
		if (!r->done || r->duplicate || r->bad_key)
			continue;
		/* The copies of a request sit together in h.dd (dd_schedule). */
		size_t per = 1 + w->sc->dedup.duplicates;
		size_t base = (size_t)r->request * per;
		const struct hist_dd_request *first = NULL;
		for (size_t j = base; j < base + per && j < w->h.ndd; j++) {
			const struct hist_dd_request *c = &w->h.dd[j];
			if (c->done && (first == NULL || c->seq < first->seq))
				first = c;
		}
		if (first != NULL && first != r && r->start_us < first->start_us + w->h.dd_ttl_us)
			w->out->duplicates_let_through++;
	}
}
