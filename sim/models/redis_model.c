/* sim/models/redis_model.c - the Redis model: a dense array of entries
 * indexed by a linear-probing hash table, lazy expiry on access plus a small
 * sweep per call (Redis's active expiry, bounded), and the reply rules of
 * Redis 7's t_string.c and expire.c. Not a RESP parser: commands arrive as
 * argument vectors, and nothing here knows about time except now_us. */
#include "sim/models/redis_model.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assert.h"
#include "core/fmt.h"

#define REDIS_NO_TTL (-1)          /* expire_at_ms of a key without a TTL */
#define REDIS_INLINE_MAX 40        /* key NUL value NUL stored in the entry */
#define REDIS_SLOTS_MIN 64u        /* index slots at creation, a power of 2 */
#define REDIS_ENTRIES_MIN 32u
#define REDIS_SWEEP_PER_CALL 2     /* entries the expiry sweep checks per call */
#define REDIS_REPLY_MAX (REDIS_MODEL_VALUE_MAX + 1)
/* A transaction checks the bound once, so it may create KV_TXN_MAX - 1
 * keys past it (see redis_model.h). */
#define REDIS_ENTRIES_MAX (REDIS_MODEL_KEYS_MAX + KV_TXN_MAX)
#define REDIS_LL_DIGITS_MAX 20     /* "-9223372036854775808" */
#define REDIS_ERR_ARGS_MAX 128     /* bytes of arguments quoted in an error */

static const char redis_err_oom[] =
	"OOM command not allowed when used memory > 'maxmemory'.";
static const char redis_err_syntax[] = "ERR syntax error";
static const char redis_err_not_int[] =
	"ERR value is not an integer or out of range";
static const char redis_err_overflow[] =
	"ERR increment or decrement would overflow";
static const char redis_err_too_big[] =
	"ERR string exceeds maximum allowed size (proto-max-bulk-len)";
static const char redis_err_execabort[] =
	"EXECABORT Transaction discarded because of previous errors.";

struct redis_entry {
	uint64_t hash;
	int64_t expire_at_ms;  /* absolute, model clock; REDIS_NO_TTL */
	char *heap;            /* key NUL value NUL once they outgrow inl */
	uint32_t heap_cap;     /* bytes at heap */
	uint16_t key_len;      /* bytes, <= REDIS_MODEL_KEY_MAX */
	uint16_t val_len;      /* bytes, <= REDIS_MODEL_VALUE_MAX */
	char inl[REDIS_INLINE_MAX];
};

/* One index slot: the entry it names (index + 1, 0 when empty) and the low
 * 32 bits of that entry's hash, which give its home slot and a cheap filter
 * before the key compare. */
struct redis_slot {
	uint32_t entry1;
	uint32_t hash_lo;
};

struct redis_model {
	struct redis_entry *entries; /* dense; order is the foreach order */
	uint32_t nentries;
	uint32_t entries_cap;
	struct redis_slot *slots;
	uint32_t slots_mask;         /* slot count - 1; load kept <= 3/4 */
	uint32_t keys_max;           /* bound checked by SET and INCR */
	uint32_t sweep_cursor;       /* next entry the expiry sweep checks */
	int64_t min_expire_ms;       /* lower bound of every TTL; INT64_MAX */
	uint64_t commands;
	bool in_foreach;
	struct kv_reply elements[KV_TXN_MAX];
	char bufs[KV_TXN_MAX][REDIS_REPLY_MAX];
};

/* Where one reply goes: the reply and a buffer for its string. */
struct redis_out {
	struct kv_reply *r;
	char *buf;
};

enum redis_op { OP_GET, OP_SET, OP_INCR, OP_DEL, OP_EXPIRE, OP_PEXPIRE,
                OP_TTL, OP_PTTL };

struct redis_spec {
	const char *name;  /* lower case, as Redis names it in errors */
	enum redis_op op;
	int arity;         /* > 0: exactly; < 0: at least -arity */
	bool denyoom;      /* refused while the model is full */
};

static const struct redis_spec redis_specs[] = {
	{"get", OP_GET, 2, false},
	{"set", OP_SET, -3, true},
	{"incr", OP_INCR, 2, true},
	{"del", OP_DEL, -2, false},
	{"expire", OP_EXPIRE, -3, false},
	{"pexpire", OP_PEXPIRE, -3, false},
	{"ttl", OP_TTL, 2, false},
	{"pttl", OP_PTTL, 2, false},
};
#define REDIS_SPECS_COUNT (sizeof redis_specs / sizeof redis_specs[0])

/* ---- hashing and entries ----------------------------------------------- */

static uint64_t redis_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Eight bytes per step, then a final avalanche so the low bits (the home
 * slot) depend on every byte. Deterministic on every platform. */
static uint64_t redis_hash(const char *s, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ (uint64_t)len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	uint64_t tail = 0;
	for (size_t k = 0; i + k < len; k++)
		tail |= (uint64_t)(unsigned char)s[i + k] << (8 * k);
	h = (h ^ tail) * 0x100000001b3ULL;
	return redis_mix(h);
}

static char *entry_bytes(struct redis_entry *e)
{
	return e->heap != NULL ? e->heap : e->inl;
}

static const char *entry_key(struct redis_entry *e)
{
	return entry_bytes(e);
}

static const char *entry_value(struct redis_entry *e)
{
	return entry_bytes(e) + e->key_len + 1;
}

static bool entry_expired(const struct redis_entry *e, int64_t now_ms)
{
	/* Redis deletes a key once the clock is strictly past its expiry. */
	return e->expire_at_ms != REDIS_NO_TTL && now_ms > e->expire_at_ms;
}

/* Replaces the value; false (and the entry unchanged) when out of memory. */
static bool entry_set_value(struct redis_entry *e, const char *val, size_t len)
{
	ASSERT(len <= REDIS_MODEL_VALUE_MAX);
	size_t need = (size_t)e->key_len + 1 + len + 1;
	if (e->heap == NULL && need > REDIS_INLINE_MAX) {
		char *p = malloc(need);
		if (p == NULL)
			return false;
		memcpy(p, e->inl, (size_t)e->key_len + 1);
		e->heap = p;
		e->heap_cap = (uint32_t)need;
	} else if (e->heap != NULL && need > e->heap_cap) {
		char *p = realloc(e->heap, need);
		if (p == NULL)
			return false;
		e->heap = p;
		e->heap_cap = (uint32_t)need;
	}
	char *v = entry_bytes(e) + e->key_len + 1;
	memcpy(v, val, len);
	v[len] = '\0';
	e->val_len = (uint16_t)len;
	return true;
}

/* ---- the index ------------------------------------------------------------ */

/* Returns the slot naming entry idx. The entry must be indexed. */
static uint32_t redis_slot_of(const struct redis_model *m, uint32_t idx)
{
	uint32_t mask = m->slots_mask;
	uint32_t i = (uint32_t)m->entries[idx].hash & mask;
	for (uint32_t probes = 0; probes <= mask; probes++) {
		if (m->slots[i].entry1 == idx + 1)
			return i;
		ASSERT(m->slots[i].entry1 != 0);
		i = (i + 1) & mask;
	}
	ASSERT(!"entry missing from the index");
	return 0;
}

/* Linear probing deletion without tombstones: later members of the cluster
 * move back into the hole when their home slot allows it. */
static void redis_slot_delete(struct redis_model *m, uint32_t hole)
{
	uint32_t mask = m->slots_mask;
	uint32_t j = hole;
	for (uint32_t step = 0; step < mask; step++) {
		j = (j + 1) & mask;
		struct redis_slot s = m->slots[j];
		if (s.entry1 == 0)
			break;
		uint32_t home = s.hash_lo & mask;
		/* s stays when its home lies cyclically in (hole, j]. */
		bool stays = hole < j ? (home > hole && home <= j)
		                      : (home > hole || home <= j);
		if (!stays) {
			m->slots[hole] = s;
			hole = j;
		}
	}
	m->slots[hole] = (struct redis_slot){0, 0};
}

static void redis_slot_place(struct redis_model *m, uint32_t idx)
{
	uint32_t mask = m->slots_mask;
	uint64_t h = m->entries[idx].hash;
	uint32_t i = (uint32_t)h & mask;
	for (uint32_t probes = 0; probes <= mask; probes++) {
		if (m->slots[i].entry1 == 0) {
			m->slots[i] = (struct redis_slot){idx + 1, (uint32_t)h};
			return;
		}
		i = (i + 1) & mask;
	}
	ASSERT(!"index full");
}

static bool redis_slots_resize(struct redis_model *m, uint32_t count)
{
	struct redis_slot *slots = calloc(count, sizeof *slots);
	if (slots == NULL)
		return false;
	free(m->slots);
	m->slots = slots;
	m->slots_mask = count - 1;
	for (uint32_t i = 0; i < m->nentries; i++)
		redis_slot_place(m, i);
	return true;
}

/* Index of key's entry, expired or not, or -1. */
static int64_t redis_find(const struct redis_model *m, const char *key,
                          size_t len, uint64_t h)
{
	uint32_t mask = m->slots_mask;
	uint32_t i = (uint32_t)h & mask;
	for (uint32_t probes = 0; probes <= mask; probes++) {
		const struct redis_slot *s = &m->slots[i];
		if (s->entry1 == 0)
			return -1;
		if (s->hash_lo == (uint32_t)h) {
			struct redis_entry *e = &m->entries[s->entry1 - 1];
			if (e->hash == h && e->key_len == len &&
			    memcmp(entry_key(e), key, len) == 0)
				return s->entry1 - 1;
		}
		i = (i + 1) & mask;
	}
	return -1;
}

/* Removes entry idx; the last entry moves into its place. */
static void redis_remove(struct redis_model *m, uint32_t idx)
{
	ASSERT(idx < m->nentries);
	redis_slot_delete(m, redis_slot_of(m, idx));
	free(m->entries[idx].heap);
	uint32_t last = m->nentries - 1;
	if (idx != last) {
		uint32_t s = redis_slot_of(m, last);
		m->entries[idx] = m->entries[last];
		m->slots[s].entry1 = idx + 1;
	}
	m->nentries--;
}

/* Adds key with an empty value and no TTL; returns its index, or -1 when
 * out of memory. The key must be absent. */
static int64_t redis_insert(struct redis_model *m, const char *key, size_t len,
                            uint64_t h)
{
	ASSERT(len <= REDIS_MODEL_KEY_MAX);
	ASSERT(m->nentries < REDIS_ENTRIES_MAX);
	if (m->nentries == m->entries_cap) {
		uint32_t cap = m->entries_cap * 2;
		if (cap > REDIS_ENTRIES_MAX)
			cap = REDIS_ENTRIES_MAX;
		struct redis_entry *p = realloc(m->entries, (size_t)cap * sizeof *p);
		if (p == NULL)
			return -1;
		m->entries = p;
		m->entries_cap = cap;
	}
	if (((uint64_t)m->nentries + 1) * 4 > ((uint64_t)m->slots_mask + 1) * 3 &&
	    !redis_slots_resize(m, (m->slots_mask + 1) * 2))
		return -1;

	struct redis_entry *e = &m->entries[m->nentries];
	e->hash = h;
	e->expire_at_ms = REDIS_NO_TTL;
	e->heap = NULL;
	e->heap_cap = 0;
	e->key_len = (uint16_t)len;
	e->val_len = 0;
	size_t need = len + 2;
	if (need > REDIS_INLINE_MAX) {
		e->heap = malloc(need);
		if (e->heap == NULL)
			return -1;
		e->heap_cap = (uint32_t)need;
	}
	char *b = entry_bytes(e);
	memcpy(b, key, len);
	b[len] = '\0';
	b[len + 1] = '\0';
	uint32_t idx = m->nentries++;
	redis_slot_place(m, idx);
	return idx;
}

/* Index of key's live entry, or -1. An expired entry found on the way is
 * deleted, as Redis does on access. */
static int64_t redis_lookup(struct redis_model *m, int64_t now_ms,
                            const char *key, size_t len, uint64_t h)
{
	int64_t idx = redis_find(m, key, len, h);
	if (idx >= 0 && entry_expired(&m->entries[idx], now_ms)) {
		redis_remove(m, (uint32_t)idx);
		return -1;
	}
	return idx;
}

static void redis_set_expire(struct redis_model *m, struct redis_entry *e,
                             int64_t at_ms)
{
	e->expire_at_ms = at_ms;
	if (at_ms != REDIS_NO_TTL && at_ms < m->min_expire_ms)
		m->min_expire_ms = at_ms;
}

/* Redis's active expiry in miniature: a few entries per call, so keys that
 * are never read again (old rate-limit windows) do not pile up. Invisible to
 * commands, which never see expired keys anyway. */
static void redis_sweep(struct redis_model *m, int64_t now_ms)
{
	for (int k = 0; k < REDIS_SWEEP_PER_CALL && m->nentries > 0; k++) {
		if (m->sweep_cursor >= m->nentries)
			m->sweep_cursor = 0;
		if (entry_expired(&m->entries[m->sweep_cursor], now_ms))
			redis_remove(m, m->sweep_cursor);
		else
			m->sweep_cursor++;
	}
}

/* True when the key bound is reached after reclaiming expired keys. The
 * full scan runs only when some TTL may have passed (min_expire_ms), and
 * leaves min_expire_ms exact, so a full model does not rescan per command. */
static bool redis_is_full(struct redis_model *m, int64_t now_ms)
{
	if (m->nentries < m->keys_max)
		return false;
	if (now_ms > m->min_expire_ms) {
		int64_t min = INT64_MAX;
		uint32_t i = 0;
		for (uint32_t steps = 0; steps < REDIS_ENTRIES_MAX && i < m->nentries;
		     steps++) {
			struct redis_entry *e = &m->entries[i];
			if (entry_expired(e, now_ms)) {
				redis_remove(m, i);
				continue;
			}
			if (e->expire_at_ms != REDIS_NO_TTL && e->expire_at_ms < min)
				min = e->expire_at_ms;
			i++;
		}
		m->min_expire_ms = min;
	}
	return m->nentries >= m->keys_max;
}

/* ---- replies -------------------------------------------------------------- */

static void reply_static(struct redis_out o, enum kv_reply_type type,
                         const char *s)
{
	*o.r = (struct kv_reply){.type = type, .str = s, .len = strlen(s)};
}

static void reply_status(struct redis_out o, const char *s)
{
	reply_static(o, KV_REPLY_STATUS, s);
}

static void reply_error(struct redis_out o, const char *s)
{
	reply_static(o, KV_REPLY_ERROR, s);
}

/* A formatted error, cut at REDIS_REPLY_MAX; CR and LF become spaces, as
 * Redis does, so the text stays one protocol line. */
__attribute__((format(printf, 2, 3)))
static void reply_errorf(struct redis_out o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o.buf, REDIS_REPLY_MAX, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len >= REDIS_REPLY_MAX)
		len = REDIS_REPLY_MAX - 1;
	o.buf[len] = '\0';
	for (size_t i = 0; i < len; i++) {
		if (o.buf[i] == '\r' || o.buf[i] == '\n')
			o.buf[i] = ' ';
	}
	*o.r = (struct kv_reply){.type = KV_REPLY_ERROR, .str = o.buf, .len = len};
}

static void reply_int(struct redis_out o, long long v)
{
	*o.r = (struct kv_reply){.type = KV_REPLY_INTEGER, .integer = v, .str = ""};
}

static void reply_nil(struct redis_out o)
{
	*o.r = (struct kv_reply){.type = KV_REPLY_NIL, .str = ""};
}

/* Copies data: a later command of the same transaction may change it. */
static void reply_bulk(struct redis_out o, const char *data, size_t len)
{
	ASSERT(len < REDIS_REPLY_MAX);
	memcpy(o.buf, data, len);
	o.buf[len] = '\0';
	*o.r = (struct kv_reply){.type = KV_REPLY_BULK, .str = o.buf, .len = len};
}

/* ---- argument parsing ----------------------------------------------------- */

/* Redis's string2ll: an optional '-', then digits without a leading zero
 * (or exactly "0"); no spaces, no '+', no overflow. */
static bool redis_parse_ll(const char *s, long long *out)
{
	size_t len = strlen(s);
	if (len == 0 || len > REDIS_LL_DIGITS_MAX)
		return false;
	if (len == 1 && s[0] == '0') {
		*out = 0;
		return true;
	}
	bool neg = s[0] == '-';
	size_t i = neg ? 1 : 0;
	if (i == len || s[i] < '1' || s[i] > '9')
		return false;
	unsigned long long v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return false;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN
		                                              : -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return false;
		*out = (long long)v;
	}
	return true;
}

static int64_t now_ms_of(uint64_t now_us)
{
	/* Redis's clock is milliseconds: mstime() truncates microseconds. */
	return (int64_t)(now_us / 1000);
}

/* ---- commands ------------------------------------------------------------- */

static void cmd_get(struct redis_model *m, int64_t now_ms,
                    const struct kv_cmd *c, struct redis_out o)
{
	size_t klen = strlen(c->argv[1]);
	int64_t idx = redis_lookup(m, now_ms, c->argv[1], klen,
	                           redis_hash(c->argv[1], klen));
	if (idx < 0) {
		reply_nil(o);
		return;
	}
	struct redis_entry *e = &m->entries[idx];
	reply_bulk(o, entry_value(e), e->val_len);
}

enum {
	SET_NX = 1 << 0,
	SET_XX = 1 << 1,
	SET_GET = 1 << 2,
	SET_KEEPTTL = 1 << 3,
	SET_EX = 1 << 4,
	SET_PX = 1 << 5,
	SET_EXAT = 1 << 6,
	SET_PXAT = 1 << 7,
};
#define SET_ANY_EXPIRE (SET_EX | SET_PX | SET_EXAT | SET_PXAT)

/* SET key value [NX | XX] [GET] [EX s | PX ms | EXAT s | PXAT ms | KEEPTTL],
 * parsed the way Redis parses it: an option that conflicts with an earlier
 * one is a syntax error, a repeated one is not. */
static void cmd_set(struct redis_model *m, int64_t now_ms,
                    const struct kv_cmd *c, struct redis_out o)
{
	int flags = 0;
	const char *expire = NULL;
	for (int j = 3; j < c->argc; j++) {
		const char *opt = c->argv[j];
		const char *next = j + 1 < c->argc ? c->argv[j + 1] : NULL;
		int expire_flag = 0;
		if (kv_word_is(opt, "nx") && !(flags & SET_XX)) {
			flags |= SET_NX;
		} else if (kv_word_is(opt, "xx") && !(flags & SET_NX)) {
			flags |= SET_XX;
		} else if (kv_word_is(opt, "get")) {
			flags |= SET_GET;
		} else if (kv_word_is(opt, "keepttl") &&
		           !(flags & SET_ANY_EXPIRE)) {
			flags |= SET_KEEPTTL;
		} else if (kv_word_is(opt, "ex")) {
			expire_flag = SET_EX;
		} else if (kv_word_is(opt, "px")) {
			expire_flag = SET_PX;
		} else if (kv_word_is(opt, "exat")) {
			expire_flag = SET_EXAT;
		} else if (kv_word_is(opt, "pxat")) {
			expire_flag = SET_PXAT;
		} else {
			reply_error(o, redis_err_syntax);
			return;
		}
		if (expire_flag != 0) {
			int others = (SET_ANY_EXPIRE & ~expire_flag) | SET_KEEPTTL;
			if ((flags & others) || next == NULL) {
				reply_error(o, redis_err_syntax);
				return;
			}
			flags |= expire_flag;
			expire = next;
			j++;
		}
	}

	int64_t at_ms = REDIS_NO_TTL;
	if (expire != NULL) {
		long long v;
		if (!redis_parse_ll(expire, &v)) {
			reply_error(o, redis_err_not_int);
			return;
		}
		bool seconds = flags & (SET_EX | SET_EXAT);
		if (v <= 0 || (seconds && v > LLONG_MAX / 1000)) {
			reply_error(o, "ERR invalid expire time in 'set' command");
			return;
		}
		if (seconds)
			v *= 1000;
		if (flags & (SET_EX | SET_PX)) {
			if (v > LLONG_MAX - now_ms) {
				reply_error(o, "ERR invalid expire time in 'set' command");
				return;
			}
			v += now_ms;
		}
		at_ms = v;
	}

	const char *key = c->argv[1];
	size_t klen = strlen(key);
	uint64_t h = redis_hash(key, klen);
	int64_t idx = redis_lookup(m, now_ms, key, klen, h);
	if (flags & SET_GET) {
		if (idx < 0)
			reply_nil(o);
		else
			reply_bulk(o, entry_value(&m->entries[idx]),
			           m->entries[idx].val_len);
	}
	if (((flags & SET_NX) && idx >= 0) || ((flags & SET_XX) && idx < 0)) {
		if (!(flags & SET_GET))
			reply_nil(o);
		return;
	}

	const char *val = c->argv[2];
	size_t vlen = strlen(val);
	bool created = idx < 0;
	if (created) {
		idx = redis_insert(m, key, klen, h);
		if (idx < 0) {
			reply_error(o, redis_err_oom);
			return;
		}
	}
	struct redis_entry *e = &m->entries[idx];
	if (!entry_set_value(e, val, vlen)) {
		if (created)
			redis_remove(m, (uint32_t)idx);
		reply_error(o, redis_err_oom);
		return;
	}
	if (expire != NULL)
		redis_set_expire(m, e, at_ms);
	else if (!(flags & SET_KEEPTTL))
		e->expire_at_ms = REDIS_NO_TTL; /* a plain SET drops the TTL */
	if (!(flags & SET_GET))
		reply_status(o, "OK");
}

static void cmd_incr(struct redis_model *m, int64_t now_ms,
                     const struct kv_cmd *c, struct redis_out o)
{
	const char *key = c->argv[1];
	size_t klen = strlen(key);
	uint64_t h = redis_hash(key, klen);
	int64_t idx = redis_lookup(m, now_ms, key, klen, h);
	long long v = 0;
	if (idx >= 0 && !redis_parse_ll(entry_value(&m->entries[idx]), &v)) {
		reply_error(o, redis_err_not_int);
		return;
	}
	if (v == LLONG_MAX) {
		reply_error(o, redis_err_overflow);
		return;
	}
	v++;
	char text[REDIS_LL_DIGITS_MAX + 1];
	struct fmt f;
	fmt_init(&f, text, sizeof text);
	fmt_i64(&f, v);
	ASSERT(!f.cut);
	int n = (int)f.len;
	bool created = idx < 0;
	if (created) {
		idx = redis_insert(m, key, klen, h);
		if (idx < 0) {
			reply_error(o, redis_err_oom);
			return;
		}
	}
	/* The TTL stays: INCR alters the value, it does not replace the key. */
	if (!entry_set_value(&m->entries[idx], text, (size_t)n)) {
		if (created)
			redis_remove(m, (uint32_t)idx);
		reply_error(o, redis_err_oom);
		return;
	}
	reply_int(o, v);
}

static void cmd_del(struct redis_model *m, int64_t now_ms,
                    const struct kv_cmd *c, struct redis_out o)
{
	long long deleted = 0;
	for (int j = 1; j < c->argc; j++) {
		size_t klen = strlen(c->argv[j]);
		int64_t idx = redis_lookup(m, now_ms, c->argv[j], klen,
		                           redis_hash(c->argv[j], klen));
		if (idx >= 0) {
			redis_remove(m, (uint32_t)idx);
			deleted++;
		}
	}
	reply_int(o, deleted);
}

enum { EXP_NX = 1 << 0, EXP_XX = 1 << 1, EXP_GT = 1 << 2, EXP_LT = 1 << 3 };

/* EXPIRE and PEXPIRE with Redis 7's option checks, in Redis's order:
 * options, then the number, then the key, then NX/XX/GT/LT against the
 * current TTL, and only then "already expired means delete". */
static void cmd_expire(struct redis_model *m, int64_t now_ms,
                       const struct kv_cmd *c, struct redis_out o,
                       bool seconds)
{
	int flags = 0;
	for (int j = 3; j < c->argc; j++) {
		const char *opt = c->argv[j];
		if (kv_word_is(opt, "nx"))
			flags |= EXP_NX;
		else if (kv_word_is(opt, "xx"))
			flags |= EXP_XX;
		else if (kv_word_is(opt, "gt"))
			flags |= EXP_GT;
		else if (kv_word_is(opt, "lt"))
			flags |= EXP_LT;
		else {
			reply_errorf(o, "ERR Unsupported option %.*s",
			             REDIS_ERR_ARGS_MAX, opt);
			return;
		}
	}
	if ((flags & EXP_NX) && (flags & (EXP_XX | EXP_GT | EXP_LT))) {
		reply_error(o, "ERR NX and XX, GT or LT options at the same time "
		               "are not compatible");
		return;
	}
	if ((flags & EXP_GT) && (flags & EXP_LT)) {
		reply_error(o, "ERR GT and LT options at the same time are not "
		               "compatible");
		return;
	}

	const char *bad_time = seconds
		? "ERR invalid expire time in 'expire' command"
		: "ERR invalid expire time in 'pexpire' command";
	long long when;
	if (!redis_parse_ll(c->argv[2], &when)) {
		reply_error(o, redis_err_not_int);
		return;
	}
	if (seconds) {
		if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000) {
			reply_error(o, bad_time);
			return;
		}
		when *= 1000;
	}
	if (when > LLONG_MAX - now_ms) {
		reply_error(o, bad_time);
		return;
	}
	when += now_ms;

	size_t klen = strlen(c->argv[1]);
	int64_t idx = redis_lookup(m, now_ms, c->argv[1], klen,
	                           redis_hash(c->argv[1], klen));
	if (idx < 0) {
		reply_int(o, 0);
		return;
	}
	struct redis_entry *e = &m->entries[idx];
	int64_t cur = e->expire_at_ms;
	bool has_ttl = cur != REDIS_NO_TTL;
	/* GT and LT read "no TTL" as an infinite TTL. */
	if (((flags & EXP_NX) && has_ttl) || ((flags & EXP_XX) && !has_ttl) ||
	    ((flags & EXP_GT) && (!has_ttl || when <= cur)) ||
	    ((flags & EXP_LT) && has_ttl && when >= cur)) {
		reply_int(o, 0);
		return;
	}
	if (when <= now_ms)
		redis_remove(m, (uint32_t)idx); /* a TTL already over deletes */
	else
		redis_set_expire(m, e, when);
	reply_int(o, 1);
}

static void cmd_ttl(struct redis_model *m, int64_t now_ms,
                    const struct kv_cmd *c, struct redis_out o, bool ms)
{
	size_t klen = strlen(c->argv[1]);
	int64_t idx = redis_lookup(m, now_ms, c->argv[1], klen,
	                           redis_hash(c->argv[1], klen));
	if (idx < 0) {
		reply_int(o, -2);
		return;
	}
	int64_t at = m->entries[idx].expire_at_ms;
	if (at == REDIS_NO_TTL) {
		reply_int(o, -1);
		return;
	}
	int64_t ttl = at - now_ms;
	if (ttl < 0)
		ttl = 0;
	/* TTL rounds to the nearest second, as Redis does. */
	reply_int(o, ms ? ttl : (ttl + 500) / 1000);
}

/* ---- dispatch ------------------------------------------------------------- */

static void redis_check_cmd_shape(const struct kv_cmd *c)
{
	ASSERT(c != NULL);
	ASSERT(c->argc >= 1);
	ASSERT(c->argc <= KV_ARGV_MAX);
	for (int j = 0; j < c->argc; j++)
		ASSERT(c->argv[j] != NULL);
}

/* What Redis rejects before a command runs (and so before it is queued in a
 * transaction): unknown name, wrong arity, over-long key or value. Returns
 * the spec, or NULL with the error in o. */
static const struct redis_spec *redis_check(const struct kv_cmd *c,
                                            struct redis_out o)
{
	const struct redis_spec *spec = NULL;
	for (size_t i = 0; i < REDIS_SPECS_COUNT; i++) {
		if (kv_word_is(c->argv[0], redis_specs[i].name)) {
			spec = &redis_specs[i];
			break;
		}
	}
	if (spec == NULL) {
		/* Redis quotes the arguments, each followed by a space, until
		 * about REDIS_ERR_ARGS_MAX bytes are out. */
		char args[REDIS_ERR_ARGS_MAX + 8];
		size_t used = 0;
		args[0] = '\0';
		for (int j = 1; j < c->argc && used < REDIS_ERR_ARGS_MAX; j++) {
			int n = snprintf(args + used, sizeof args - used, "'%.*s' ",
			                 (int)(REDIS_ERR_ARGS_MAX - used), c->argv[j]);
			if (n < 0)
				break;
			used += (size_t)n;
			if (used >= sizeof args)
				used = sizeof args - 1;
		}
		reply_errorf(o, "ERR unknown command '%.*s', with args beginning "
		             "with: %s", REDIS_ERR_ARGS_MAX, c->argv[0], args);
		return NULL;
	}
	if (spec->arity > 0 ? c->argc != spec->arity : c->argc < -spec->arity) {
		reply_errorf(o, "ERR wrong number of arguments for '%s' command",
		             spec->name);
		return NULL;
	}
	int last_key = spec->op == OP_DEL ? c->argc - 1 : 1;
	for (int j = 1; j <= last_key; j++) {
		if (strlen(c->argv[j]) > REDIS_MODEL_KEY_MAX) {
			reply_error(o, redis_err_too_big);
			return NULL;
		}
	}
	if (spec->op == OP_SET && strlen(c->argv[2]) > REDIS_MODEL_VALUE_MAX) {
		reply_error(o, redis_err_too_big);
		return NULL;
	}
	return spec;
}

static void redis_run(struct redis_model *m, int64_t now_ms,
                      const struct redis_spec *spec, const struct kv_cmd *c,
                      struct redis_out o)
{
	switch (spec->op) {
	case OP_GET: cmd_get(m, now_ms, c, o); return;
	case OP_SET: cmd_set(m, now_ms, c, o); return;
	case OP_INCR: cmd_incr(m, now_ms, c, o); return;
	case OP_DEL: cmd_del(m, now_ms, c, o); return;
	case OP_EXPIRE: cmd_expire(m, now_ms, c, o, true); return;
	case OP_PEXPIRE: cmd_expire(m, now_ms, c, o, false); return;
	case OP_TTL: cmd_ttl(m, now_ms, c, o, false); return;
	case OP_PTTL: cmd_ttl(m, now_ms, c, o, true); return;
	}
	ASSERT(!"unknown op");
}

void redis_model_exec(struct redis_model *m, uint64_t now_us,
                      const struct kv_cmd *cmd, struct kv_reply *out)
{
	ASSERT(m != NULL);
	ASSERT(out != NULL);
	ASSERT(!m->in_foreach);
	redis_check_cmd_shape(cmd);
	int64_t now_ms = now_ms_of(now_us);
	m->commands++;
	redis_sweep(m, now_ms);
	struct redis_out o = {out, m->bufs[0]};
	const struct redis_spec *spec = redis_check(cmd, o);
	if (spec == NULL)
		return;
	/* Redis refuses commands that may grow memory once over maxmemory,
	 * whether or not this one would add a key. */
	if (spec->denyoom && redis_is_full(m, now_ms)) {
		reply_error(o, redis_err_oom);
		return;
	}
	redis_run(m, now_ms, spec, cmd, o);
}

void redis_model_exec_multi(struct redis_model *m, uint64_t now_us, int ncmds,
                            const struct kv_cmd *cmds, struct kv_reply *out)
{
	ASSERT(m != NULL);
	ASSERT(out != NULL);
	ASSERT(!m->in_foreach);
	ASSERT(ncmds >= 0);
	ASSERT(ncmds <= KV_TXN_MAX);
	ASSERT(ncmds == 0 || cmds != NULL);
	for (int i = 0; i < ncmds; i++)
		redis_check_cmd_shape(&cmds[i]);
	int64_t now_ms = now_ms_of(now_us);
	m->commands += (uint64_t)ncmds;
	redis_sweep(m, now_ms);

	/* Queueing: Redis answers each rejected command at once and flags the
	 * transaction, and EXEC then discards it whole. */
	const struct redis_spec *specs[KV_TXN_MAX];
	bool denyoom = false;
	bool rejected = false;
	for (int i = 0; i < ncmds; i++) {
		struct redis_out scratch = {&m->elements[i], m->bufs[i]};
		specs[i] = redis_check(&cmds[i], scratch);
		if (specs[i] == NULL)
			rejected = true;
		else if (specs[i]->denyoom)
			denyoom = true;
	}
	if (!rejected && denyoom && redis_is_full(m, now_ms))
		rejected = true;
	if (rejected) {
		reply_error((struct redis_out){out, NULL}, redis_err_execabort);
		return;
	}

	/* atomic: nothing runs between these commands. */
	for (int i = 0; i < ncmds; i++)
		redis_run(m, now_ms, specs[i], &cmds[i],
		          (struct redis_out){&m->elements[i], m->bufs[i]});
	*out = (struct kv_reply){
		.type = KV_REPLY_ARRAY,
		.str = "",
		.elements = (size_t)ncmds,
		.element = m->elements,
	};
}

/* ---- life cycle and inspection --------------------------------------------- */

struct redis_model *redis_model_create_capped(uint32_t keys_max)
{
	ASSERT(keys_max >= 1);
	ASSERT(keys_max <= REDIS_MODEL_KEYS_MAX);
	struct redis_model *m = calloc(1, sizeof *m);
	if (m == NULL)
		return NULL;
	m->entries = malloc(REDIS_ENTRIES_MIN * sizeof *m->entries);
	m->slots = calloc(REDIS_SLOTS_MIN, sizeof *m->slots);
	if (m->entries == NULL || m->slots == NULL) {
		redis_model_destroy(m);
		return NULL;
	}
	m->entries_cap = REDIS_ENTRIES_MIN;
	m->slots_mask = REDIS_SLOTS_MIN - 1;
	m->keys_max = keys_max;
	m->min_expire_ms = INT64_MAX;
	return m;
}

struct redis_model *redis_model_create(void)
{
	return redis_model_create_capped(REDIS_MODEL_KEYS_MAX);
}

static void redis_free_values(struct redis_model *m)
{
	for (uint32_t i = 0; i < m->nentries; i++)
		free(m->entries[i].heap);
	m->nentries = 0;
}

void redis_model_destroy(struct redis_model *m)
{
	if (m == NULL)
		return;
	if (m->entries != NULL)
		redis_free_values(m);
	free(m->entries);
	free(m->slots);
	free(m);
}

void redis_model_flushall(struct redis_model *m)
{
	ASSERT(m != NULL);
	ASSERT(!m->in_foreach);
	redis_free_values(m);
	/* Keep the allocations: a restarted server refills at the same pace. */
	memset(m->slots, 0, ((size_t)m->slots_mask + 1) * sizeof *m->slots);
	m->sweep_cursor = 0;
	m->min_expire_ms = INT64_MAX;
}

void redis_model_foreach(struct redis_model *m, uint64_t now_us,
                         redis_model_key_fn *fn, void *arg)
{
	ASSERT(m != NULL);
	ASSERT(fn != NULL);
	ASSERT(!m->in_foreach);
	int64_t now_ms = now_ms_of(now_us);
	m->in_foreach = true;
	for (uint32_t i = 0; i < m->nentries; i++) {
		struct redis_entry *e = &m->entries[i];
		if (entry_expired(e, now_ms))
			continue;
		int64_t pttl = -1;
		if (e->expire_at_ms != REDIS_NO_TTL)
			pttl = e->expire_at_ms - now_ms; /* >= 0: not expired */
		fn(arg, entry_key(e), entry_value(e), pttl);
	}
	m->in_foreach = false;
}

size_t redis_model_dbsize(struct redis_model *m, uint64_t now_us)
{
	ASSERT(m != NULL);
	int64_t now_ms = now_ms_of(now_us);
	size_t live = 0;
	for (uint32_t i = 0; i < m->nentries; i++) {
		if (!entry_expired(&m->entries[i], now_ms))
			live++;
	}
	return live;
}

size_t redis_model_keys_held(const struct redis_model *m)
{
	ASSERT(m != NULL);
	return m->nentries;
}

uint64_t redis_model_commands(const struct redis_model *m)
{
	ASSERT(m != NULL);
	return m->commands;
}
