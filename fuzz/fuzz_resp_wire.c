/* fuzz/fuzz_resp_wire.c - fuzz target over the proxy's RESP framing
 * (proxy/resp_wire.h), requests and replies: malformed, partial and
 * oversized frames. The same stream is parsed whole and cut into random
 * pieces (a slow client, a split TCP segment); both must report the same
 * events at the same offsets, and every event must keep the contract
 * (NAMED once before DONE, DONE's frame length, sticky BAD, progress).
 * Input: mode, split seed, zero-run length (2 bytes), zero-run position
 * (2), then the stream (with the run of zeros inserted at that position). */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/assert.h"
#include "proxy/resp_wire.h"
#include "sim/prng.h"

#define FUZZ_RESP_EVENTS_MAX 1024       /* events compared per parse */
#define FUZZ_RESP_ZEROS_MAX (RESP_INLINE_MAX + 1024) /* a run of zero bytes,
                                          * to either side of the inline limit */
#define FUZZ_RESP_ZEROS_NEAR 256         /* spread of a run around that limit */
#define FUZZ_RESP_ZEROS_SHORT 1024       /* a short run */
#define FUZZ_RESP_IDLE_MAX 2
#define FUZZ_RESP_LONG 8192             /* a segment cut in large pieces */            /* calls in a row that use nothing */

struct fuzz_resp_event {
	enum resp_status st;
	uint64_t at;            /* stream offset after the call */
	enum resp_kind kind;
	bool error;
	uint64_t frame_len;
	char name[RESP_NAME_MAX + 1];
	const char *why;
};

struct fuzz_resp_log {
	struct fuzz_resp_event ev[FUZZ_RESP_EVENTS_MAX];
	size_t n;
	uint64_t total;         /* every event, kept or not */
	uint64_t consumed;      /* bytes used before the end or BAD */
	bool bad;
};

struct fuzz_resp_run {
	struct resp_parser p;
	struct fuzz_resp_log *log;
	enum resp_side side;
	uint64_t offset;        /* bytes used so far */
	uint64_t frame_start;   /* offset where the current frame began */
	bool named;
};

static struct fuzz_resp_log fuzz_resp_whole, fuzz_resp_pieces;
static const uint8_t fuzz_resp_zeros[FUZZ_RESP_ZEROS_MAX];

static void fuzz_resp_record(struct fuzz_resp_run *r, enum resp_status st)
{
	const struct resp_frame *f = resp_parser_frame(&r->p);
	struct fuzz_resp_log *log = r->log;
	log->total++;
	if (log->n == FUZZ_RESP_EVENTS_MAX)
		return;
	struct fuzz_resp_event *e = &log->ev[log->n++];
	memset(e, 0, sizeof *e);
	e->st = st;
	e->at = r->offset;
	if (st == RESP_BAD) {
		e->why = resp_parser_error(&r->p);
		return;
	}
	e->kind = f->kind;
	e->error = f->error;
	e->frame_len = f->len;
	memcpy(e->name, f->name, sizeof e->name);
}

/* The contract of one event, whatever the cut. */
static void fuzz_resp_check_event(struct fuzz_resp_run *r, enum resp_status st)
{
	const struct resp_frame *f = resp_parser_frame(&r->p);
	switch (st) {
	case RESP_NAMED:
		ASSERT(!r->named);
		r->named = true;
		ASSERT(memchr(f->name, '\0', sizeof f->name) != NULL);
		for (size_t i = 0; f->name[i] != '\0'; i++)
			ASSERT(f->name[i] < 'a' || f->name[i] > 'z');
		if (r->side == RESP_SIDE_REQUESTS)
			ASSERT(f->kind == RESP_KIND_COMMAND || f->kind == RESP_KIND_EMPTY);
		else
			ASSERT(f->kind == RESP_KIND_REPLY || f->kind == RESP_KIND_PUSH);
		ASSERT(!f->error || r->side == RESP_SIDE_REPLIES);
		break;
	case RESP_DONE:
		ASSERT(r->named);
		ASSERT(f->len == r->offset - r->frame_start);
		ASSERT(f->len > 0);
		r->named = false;
		r->frame_start = r->offset;
		break;
	case RESP_BAD:
		ASSERT(resp_parser_error(&r->p) != NULL);
		break;
	case RESP_MORE:
		break;
	}
}

/* Feeds buf in pieces of at most piece bytes (0: all at once). Returns
 * false once the parser refused the stream. */
static bool fuzz_resp_feed(struct fuzz_resp_run *r, const uint8_t *buf, size_t len, struct prng *cut)
{
	size_t pos = 0;
	while (pos < len) {
		size_t piece = len - pos;
		if (cut != NULL)
			piece = fuzz_piece_len(cut, piece, len > FUZZ_RESP_LONG);
		size_t done = 0;
		int idle = 0;
		/* Each pass uses a byte or reports an event; an event that uses
		 * nothing is followed by one that does. */
		for (size_t calls = 0; calls <= 2 * piece + 2; calls++) {
			size_t used = (size_t)-1;
			enum resp_status st = resp_parse(&r->p, buf + pos + done, piece - done, &used);
			ASSERT(used <= piece - done);
			done += used;
			r->offset += used;
			idle = used == 0 ? idle + 1 : 0;
			ASSERT(idle <= FUZZ_RESP_IDLE_MAX);
			fuzz_resp_check_event(r, st);
			if (st == RESP_MORE) {
				ASSERT(done == piece);
				break;
			}
			fuzz_resp_record(r, st);
			if (st == RESP_BAD) {
				/* Sticky: nothing more is read. */
				size_t again = 1;
				ASSERT(resp_parse(&r->p, buf, len, &again) == RESP_BAD);
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

static void fuzz_resp_parse(enum resp_side side, const uint8_t *const seg[3], const size_t seg_len[3],
                            struct prng *cut, struct fuzz_resp_log *log)
{
	static struct fuzz_resp_run r;
	memset(&r, 0, sizeof r);
	/* The events are written before they are read: clear the rest only. */
	memset((char *)log + offsetof(struct fuzz_resp_log, n), 0,
	       sizeof *log - offsetof(struct fuzz_resp_log, n));
	r.log = log;
	r.side = side;
	resp_parser_init(&r.p, side);
	for (int s = 0; s < 3; s++) {
		if (!fuzz_resp_feed(&r, seg[s], seg_len[s], cut))
			break;
	}
	/* The events that need no more bytes: a DONE after NAMED. */
	size_t used = 1;
	enum resp_status st = resp_parse(&r.p, NULL, 0, &used);
	ASSERT(used == 0);
	fuzz_resp_check_event(&r, st);
	if (st != RESP_MORE && !log->bad)
		fuzz_resp_record(&r, st);
	log->consumed = r.offset;
}

static void fuzz_resp_compare(const struct fuzz_resp_log *a, const struct fuzz_resp_log *b)
{
	ASSERT(a->total == b->total);
	ASSERT(a->n == b->n);
	ASSERT(a->bad == b->bad);
	ASSERT(a->consumed == b->consumed);
	for (size_t i = 0; i < a->n; i++) {
		const struct fuzz_resp_event *x = &a->ev[i], *y = &b->ev[i];
		ASSERT(x->st == y->st);
		ASSERT(x->at == y->at);
		ASSERT(x->kind == y->kind);
		ASSERT(x->error == y->error);
		ASSERT(x->frame_len == y->frame_len);
		ASSERT(strcmp(x->name, y->name) == 0);
		ASSERT(x->why == y->why);
	}
}

int fuzz_resp_wire_one(const uint8_t *data, size_t size)
{
	struct fuzz_reader in = {data, size};
	uint8_t mode = fuzz_take_u8(&in);
	uint8_t seed = fuzz_take_u8(&in);
	uint16_t run = fuzz_take_u16(&in);
	/* Zeros are parsed a byte at a time on inline lines: a long run only
	 * when asked, and then close to the limit, so the fuzzer stays fast. */
	size_t zeros = 0;
	if ((mode & 0x06) == 0x06)
		zeros = (run & 1) ? RESP_INLINE_MAX - FUZZ_RESP_ZEROS_NEAR / 2 + (run >> 1) % FUZZ_RESP_ZEROS_NEAR
		                  : (size_t)(run >> 1) % FUZZ_RESP_ZEROS_SHORT;
	ASSERT(zeros <= FUZZ_RESP_ZEROS_MAX);
	size_t at = fuzz_take_u16(&in);
	size_t len;
	const uint8_t *stream = fuzz_take_bytes(&in, in.left, &len);
	if (at > len)
		at = len;

	/* The stream, with a run of zero bytes at `at`: a huge bulk body or
	 * line costs the fuzzer two bytes, not a megabyte. */
	const uint8_t *seg[3] = {stream, fuzz_resp_zeros, stream + at};
	size_t seg_len[3] = {at, zeros, len - at};
	enum resp_side side = (mode & 0x01) ? RESP_SIDE_REPLIES : RESP_SIDE_REQUESTS;

	struct prng cut;
	prng_init(&cut, seed);
	fuzz_resp_parse(side, seg, seg_len, NULL, &fuzz_resp_whole);
	fuzz_resp_parse(side, seg, seg_len, &cut, &fuzz_resp_pieces);
	fuzz_resp_compare(&fuzz_resp_whole, &fuzz_resp_pieces);
	return 0;
}

#ifdef FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_resp_wire_one(data, size);
}
#endif
