/* fuzz/fuzz_pg_wire.c - fuzz target over the proxy's PostgreSQL framing
 * (proxy/pg_wire.h), frontend and backend: malformed, partial and
 * oversized messages, startup packets, extended-protocol batches. The same
 * stream is parsed whole and cut into random pieces; both must report the
 * same events at the same offsets, and every event keeps the contract
 * (NAMED once before DONE, DONE's frame length, strings terminated, sticky
 * BAD, progress). The ErrorResponse writer's output must parse back as one
 * message. Input: mode, split seed, zero-run length (2 bytes), zero-run
 * position (2), writer capacity (2), then the stream. */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/assert.h"
#include "proxy/pg_wire.h"
#include "sim/prng.h"

#define FUZZ_PG_EVENTS_MAX 1024         /* events compared per parse */
#define FUZZ_PG_ZEROS_MAX (600u * 1024) /* past PG_WIRE_HOLD_MAX */
#define FUZZ_PG_IDLE_MAX 2
#define FUZZ_PG_LONG 8192             /* a segment cut in large pieces */              /* calls in a row that use nothing */
#define FUZZ_PG_WRITE_MAX 512           /* bytes of a written ErrorResponse */

struct fuzz_pg_event {
	enum pg_wire_status st;
	uint64_t at;
	enum pg_wire_kind kind;
	uint64_t frame_len;
	uint8_t type;
	bool expects_reply;
	char txn_status;
	char keyword[PG_WIRE_KEYWORD_MAX + 1];
	char statement[PG_WIRE_NAME_MAX + 1];
	const char *why;
};

struct fuzz_pg_log {
	struct fuzz_pg_event ev[FUZZ_PG_EVENTS_MAX];
	size_t n;
	uint64_t total;
	uint64_t consumed;
	bool bad;
	char kw_unnamed[PG_WIRE_KEYWORD_MAX + 2]; /* "" unknown, else "=" keyword */
};

struct fuzz_pg_run {
	struct pg_wire_parser p;
	struct fuzz_pg_log *log;
	enum pg_wire_side side;
	uint64_t offset;
	uint64_t frame_start;
	bool named;
};

static struct fuzz_pg_log fuzz_pg_whole, fuzz_pg_pieces;
static const uint8_t fuzz_pg_zeros[FUZZ_PG_ZEROS_MAX];

static bool fuzz_pg_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void fuzz_pg_record(struct fuzz_pg_run *r, enum pg_wire_status st)
{
	const struct pg_wire_frame *f = pg_wire_frame(&r->p);
	struct fuzz_pg_log *log = r->log;
	log->total++;
	if (log->n == FUZZ_PG_EVENTS_MAX)
		return;
	struct fuzz_pg_event *e = &log->ev[log->n++];
	memset(e, 0, sizeof *e);
	e->st = st;
	e->at = r->offset;
	if (st == PG_WIRE_BAD) {
		e->why = pg_wire_error(&r->p);
		return;
	}
	e->kind = f->kind;
	e->frame_len = f->len;
	e->type = f->type;
	e->expects_reply = f->expects_reply;
	e->txn_status = f->txn_status;
	memcpy(e->keyword, f->keyword, sizeof e->keyword);
	memcpy(e->statement, f->statement, sizeof e->statement);
}

static void fuzz_pg_check_event(struct fuzz_pg_run *r, enum pg_wire_status st)
{
	const struct pg_wire_frame *f = pg_wire_frame(&r->p);
	switch (st) {
	case PG_WIRE_NAMED:
		ASSERT(!r->named);
		r->named = true;
		ASSERT(fuzz_pg_terminated(f->keyword, sizeof f->keyword));
		ASSERT(fuzz_pg_terminated(f->statement, sizeof f->statement));
		for (size_t i = 0; f->keyword[i] != '\0'; i++)
			ASSERT(f->keyword[i] < 'a' || f->keyword[i] > 'z');
		if (r->side == PG_WIRE_BACKEND)
			ASSERT(f->kind == PG_KIND_MESSAGE);
		else
			ASSERT(f->kind >= PG_KIND_STARTUP && f->kind <= PG_KIND_OTHER);
		/* Only units that get one ReadyForQuery say so. */
		if (f->expects_reply)
			ASSERT(f->kind == PG_KIND_STARTUP || f->kind == PG_KIND_QUERY ||
			       f->kind == PG_KIND_EXTENDED);
		break;
	case PG_WIRE_DONE:
		ASSERT(r->named);
		ASSERT(f->len == r->offset - r->frame_start);
		ASSERT(f->len > 0);
		r->named = false;
		r->frame_start = r->offset;
		break;
	case PG_WIRE_BAD:
		ASSERT(pg_wire_error(&r->p) != NULL);
		break;
	case PG_WIRE_MORE:
		break;
	}
}

static bool fuzz_pg_feed(struct fuzz_pg_run *r, const uint8_t *buf, size_t len, struct prng *cut)
{
	size_t pos = 0;
	while (pos < len) {
		size_t piece = len - pos;
		if (cut != NULL)
			piece = fuzz_piece_len(cut, piece, len > FUZZ_PG_LONG);
		size_t done = 0;
		int idle = 0;
		for (size_t calls = 0; calls <= 2 * piece + 2; calls++) {
			size_t used = (size_t)-1;
			enum pg_wire_status st = pg_wire_parse(&r->p, buf + pos + done, piece - done, &used);
			ASSERT(used <= piece - done);
			done += used;
			r->offset += used;
			idle = used == 0 ? idle + 1 : 0;
			ASSERT(idle <= FUZZ_PG_IDLE_MAX);
			fuzz_pg_check_event(r, st);
			if (st == PG_WIRE_MORE) {
				ASSERT(done == piece);
				break;
			}
			fuzz_pg_record(r, st);
			if (st == PG_WIRE_BAD) {
				size_t again = 1;
				ASSERT(pg_wire_parse(&r->p, buf, len, &again) == PG_WIRE_BAD);
				ASSERT(again == 0);
				r->log->bad = true;
				return false;
			}
		}
		ASSERT(done == piece);
		pos += piece;
	}
	return true;
}

static void fuzz_pg_parse(enum pg_wire_side side, bool after_startup, const uint8_t *const seg[3],
                          const size_t seg_len[3], struct prng *cut, struct fuzz_pg_log *log)
{
	static struct fuzz_pg_run r;
	memset(&r, 0, sizeof r);
	/* The events are written before they are read: clear the rest only. */
	memset((char *)log + offsetof(struct fuzz_pg_log, n), 0,
	       sizeof *log - offsetof(struct fuzz_pg_log, n));
	r.log = log;
	r.side = side;
	pg_wire_init(&r.p, side, after_startup);
	for (int s = 0; s < 3; s++) {
		if (!fuzz_pg_feed(&r, seg[s], seg_len[s], cut))
			break;
	}
	size_t used = 1;
	enum pg_wire_status st = pg_wire_parse(&r.p, NULL, 0, &used);
	ASSERT(used == 0);
	fuzz_pg_check_event(&r, st);
	if (st != PG_WIRE_MORE && !log->bad)
		fuzz_pg_record(&r, st);
	log->consumed = r.offset;
	/* The statement table ends the same whatever the cut. */
	const char *kw = pg_wire_statement_keyword(&r.p, "");
	if (kw != NULL) {
		ASSERT(fuzz_pg_terminated(kw, PG_WIRE_KEYWORD_MAX + 1));
		log->kw_unnamed[0] = '=';
		memcpy(log->kw_unnamed + 1, kw, strlen(kw) + 1);
	}
}

static void fuzz_pg_compare(const struct fuzz_pg_log *a, const struct fuzz_pg_log *b)
{
	ASSERT(a->total == b->total);
	ASSERT(a->n == b->n);
	ASSERT(a->bad == b->bad);
	ASSERT(a->consumed == b->consumed);
	ASSERT(strcmp(a->kw_unnamed, b->kw_unnamed) == 0);
	for (size_t i = 0; i < a->n; i++) {
		const struct fuzz_pg_event *x = &a->ev[i], *y = &b->ev[i];
		ASSERT(x->st == y->st);
		ASSERT(x->at == y->at);
		ASSERT(x->kind == y->kind);
		ASSERT(x->frame_len == y->frame_len);
		ASSERT(x->type == y->type);
		ASSERT(x->expects_reply == y->expects_reply);
		ASSERT(x->txn_status == y->txn_status);
		ASSERT(strcmp(x->keyword, y->keyword) == 0);
		ASSERT(strcmp(x->statement, y->statement) == 0);
		ASSERT(x->why == y->why);
	}
}

/* The proxy's own ErrorResponse and ReadyForQuery parse back as exactly
 * one backend message each. */
static void fuzz_pg_check_writers(const uint8_t *text, size_t len, size_t cap)
{
	char sqlstate[6] = "XX000";
	char message[FUZZ_PG_WRITE_MAX];
	size_t ml = 0;
	for (size_t i = 0; i < len && ml + 1 < sizeof message; i++) {
		if (text[i] != 0)
			message[ml++] = (char)text[i];
	}
	message[ml] = '\0';
	for (size_t i = 0; i < 5 && i < ml; i++)
		sqlstate[i] = message[i];

	static uint8_t out[FUZZ_PG_WRITE_MAX + 64];
	size_t n = pg_wire_write_error(out, cap % sizeof out, sqlstate, message);
	ASSERT(n <= cap % sizeof out);
	if (n == 0)
		return;
	struct pg_wire_parser p;
	pg_wire_init(&p, PG_WIRE_BACKEND, false);
	size_t used = 0;
	ASSERT(pg_wire_parse(&p, out, n, &used) == PG_WIRE_NAMED);
	ASSERT(pg_wire_frame(&p)->type == 'E');
	size_t rest = 0;
	ASSERT(pg_wire_parse(&p, out + used, n - used, &rest) == PG_WIRE_DONE);
	ASSERT(used + rest == n);
	ASSERT(pg_wire_frame(&p)->len == n);

	static const char states[] = {'I', 'T', 'E'};
	n = pg_wire_write_ready(out, sizeof out, states[cap % 3]);
	ASSERT(n == 6);
	pg_wire_init(&p, PG_WIRE_BACKEND, false);
	ASSERT(pg_wire_parse(&p, out, n, &used) == PG_WIRE_NAMED);
	ASSERT(pg_wire_parse(&p, out + used, n - used, &rest) == PG_WIRE_DONE);
	ASSERT(pg_wire_frame(&p)->txn_status == states[cap % 3]);
}

int fuzz_pg_wire_one(const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size};
	uint8_t mode = fuzz_take_u8(&in);
	uint8_t seed = fuzz_take_u8(&in);
	uint16_t run = fuzz_take_u16(&in);
	/* Bodies are skipped in one step, so even a long run is cheap. */
	size_t zeros = (mode & 0x04) ? (size_t)run * 16 % (FUZZ_PG_ZEROS_MAX + 1) : 0;
	size_t at = fuzz_take_u16(&in);
	size_t cap = fuzz_take_u16(&in);
	size_t len;
	const uint8_t *stream = fuzz_take_bytes(&in, in.left, &len);
	if (at > len)
		at = len;

	const uint8_t *seg[3] = {stream, fuzz_pg_zeros, stream + at};
	size_t seg_len[3] = {at, zeros, len - at};
	enum pg_wire_side side = (mode & 0x01) ? PG_WIRE_BACKEND : PG_WIRE_FRONTEND;
	bool after_startup = (mode & 0x02) != 0;

	struct prng cut;
	prng_init(&cut, seed);
	fuzz_pg_parse(side, after_startup, seg, seg_len, NULL, &fuzz_pg_whole);
	fuzz_pg_parse(side, after_startup, seg, seg_len, &cut, &fuzz_pg_pieces);
	fuzz_pg_compare(&fuzz_pg_whole, &fuzz_pg_pieces);
	fuzz_pg_check_writers(stream, len, cap);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_pg_wire_one(data, size);
}
#endif
