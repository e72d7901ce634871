/* proxy/resp_wire.h - incremental RESP framing for the fault proxy: a
 * client's bytes into commands, a server's into replies (RESP2 and RESP3).
 * Pure functions over bytes and caller-owned state (no I/O, no allocation,
 * every length bounded), so a fuzz target can drive them. Not a decoder:
 * apart from a command's name, values are skipped unread. */
#ifndef SIM_LIVE_RESP_WIRE_H
#define SIM_LIVE_RESP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESP_NAME_MAX 32                       /* bytes of a command name kept */
#define RESP_INLINE_MAX (64u * 1024)           /* one inline command line, as
                                                * Redis's own limit */
#define RESP_ARGS_MAX (1024u * 1024)           /* arguments of one command, as
                                                * Redis's own limit */
#define RESP_BULK_MAX (512ull * 1024 * 1024)   /* one bulk string: Redis's
                                                * proto-max-bulk-len default */
#define RESP_LINE_MAX (1024u * 1024)           /* a simple string, error or
                                                * number line in a reply */
#define RESP_AGG_MAX (1ull << 32)              /* elements of one aggregate */
#define RESP_DEPTH_MAX 32                      /* nesting of aggregates */
#define RESP_DIGITS_MAX 19                     /* digits of a length or count */

enum resp_side { RESP_SIDE_REQUESTS, RESP_SIDE_REPLIES };

enum resp_status {
	RESP_MORE,  /* every byte given was used; the frame goes on */
	RESP_NAMED, /* the frame's kind (and a command's name) became known
	             * with the last byte used; once per frame, before DONE */
	RESP_DONE,  /* the frame ended with the last byte used (possibly zero
	             * bytes used, right after NAMED) */
	RESP_BAD,   /* malformed input; resp_parser_error says why. Sticky:
	             * every later call returns RESP_BAD and uses nothing */
};

enum resp_kind {
	RESP_KIND_NONE,    /* not known yet */
	RESP_KIND_COMMAND, /* a command: the server answers it with one reply */
	RESP_KIND_EMPTY,   /* a blank inline line or "*0": the server ignores it
	                    * and sends no reply */
	RESP_KIND_REPLY,   /* one reply, any RESP3 attribute before it included */
	RESP_KIND_PUSH,    /* RESP3 push data: out of band, answers no command */
};

struct resp_frame {
	enum resp_kind kind;
	bool error;                   /* replies: a top-level '-' or '!' */
	uint64_t len;                 /* bytes of the frame used so far */
	char name[RESP_NAME_MAX + 1]; /* commands: the name in upper case; ""
	                               * when longer than RESP_NAME_MAX */
};

/* Caller-owned state; the fields are private to resp_wire.c. */
struct resp_parser {
	enum resp_side side;
	uint8_t state;
	uint8_t num_digits;
	bool num_neg;
	bool num_started;
	bool bad;
	bool named;
	bool done_pending;
	bool fresh;            /* the next call starts a new frame */
	bool capture;          /* collecting the command name */
	bool name_too_long;
	uint8_t num_for;       /* what the number being read is for */
	uint8_t quote;         /* inline: the quote around the first token */
	uint8_t agg_mult;      /* replies: 2 for maps and attributes */
	bool agg_attr;         /* replies: the aggregate is an attribute */
	uint32_t name_len;
	uint32_t line_len;
	uint64_t num;
	uint64_t args_left;
	uint64_t arg_index;
	uint64_t bulk_left;
	uint32_t depth;
	uint64_t left[RESP_DEPTH_MAX + 1]; /* values still wanted per level */
	const char *error;
	struct resp_frame frame;
};

void resp_parser_init(struct resp_parser *p, enum resp_side side);

/* Reads from buf (len bytes, borrowed) and stops right after an event.
 * *used is the number of bytes read (the rest belongs to later calls); on
 * RESP_BAD it counts the bytes before the offending one. len may be 0. */
enum resp_status resp_parse(struct resp_parser *p, const uint8_t *buf, size_t len,
                            size_t *used);

/* The frame being read; valid after NAMED and DONE until the next call. */
const struct resp_frame *resp_parser_frame(const struct resp_parser *p);

/* Why the input was refused, or NULL while it is not. */
const char *resp_parser_error(const struct resp_parser *p);

#endif
