/* proxy/pg_wire.h - incremental, bounded framing of the PostgreSQL v3
 * wire protocol for the fault proxy: client bytes into units that each get
 * one ReadyForQuery, server bytes into messages. Pure functions over bytes
 * and caller-owned state (no I/O, no allocation), so a fuzz target can drive
 * them. Not a decoder: only keywords and statement names are kept. */
#ifndef SIM_LIVE_PG_WIRE_H
#define SIM_LIVE_PG_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A unit is the startup packet, a simple Query, or an extended-protocol
 * batch (Parse/Bind/Describe/Execute/Close/Flush) up to its Sync; messages
 * that get no answer of their own (Terminate, COPY data, passwords) are
 * units without a reply. ReadyForQuery ends the reply to one unit. */

#define PG_WIRE_MSG_MAX (64u << 20)   /* one message's body; longer means the
                                       * stream is not what we think it is */
#define PG_WIRE_STARTUP_MAX 10000u    /* a startup packet (PostgreSQL's own
                                       * limit) */
#define PG_WIRE_KEYWORD_MAX 32        /* bytes of a statement's first keyword */
#define PG_WIRE_NAME_MAX 63           /* a prepared statement name (NAMEDATALEN
                                       * - 1); longer names are not tracked */
#define PG_WIRE_STMTS_MAX 32          /* named statements remembered per
                                       * connection; the oldest make room */
#define PG_WIRE_SCAN_MAX 1024         /* query bytes scanned for the keyword */
#define PG_WIRE_HOLD_MAX (256u << 10) /* bytes of a batch read before it must
                                       * be named (so a proxy never holds more) */

#define PG_WIRE_SSL_REQUEST_CODE 80877103u
#define PG_WIRE_GSSENC_REQUEST_CODE 80877104u
#define PG_WIRE_CANCEL_REQUEST_CODE 80877102u

enum pg_wire_side { PG_WIRE_FRONTEND, PG_WIRE_BACKEND };

enum pg_wire_status {
	PG_WIRE_MORE,  /* every byte given was used; the frame goes on */
	PG_WIRE_NAMED, /* the frame's kind, keyword and statement are known;
	                * once per frame, before DONE */
	PG_WIRE_DONE,  /* the frame ended with the last byte used (possibly
	                * zero bytes used, right after NAMED) */
	PG_WIRE_BAD,   /* malformed input; pg_wire_error says why. Sticky */
};

enum pg_wire_kind {
	PG_KIND_NONE,
	/* frontend units */
	PG_KIND_STARTUP,     /* StartupMessage: answered up to ReadyForQuery */
	PG_KIND_SSL_REQUEST, /* SSLRequest or GSSENCRequest: one byte answer,
	                      * which the proxy gives itself ('N') */
	PG_KIND_CANCEL,      /* CancelRequest: no answer */
	PG_KIND_QUERY,       /* simple Query or FunctionCall */
	PG_KIND_EXTENDED,    /* an extended-protocol batch up to Sync */
	PG_KIND_OTHER,       /* Terminate, CopyData/Done/Fail, password... */
	/* backend */
	PG_KIND_MESSAGE,     /* one backend message */
};

struct pg_wire_frame {
	enum pg_wire_kind kind;
	uint64_t len;          /* bytes of the frame used so far */
	uint8_t type;          /* type byte of the frame's first message (0 for
	                        * startup packets) */
	bool expects_reply;    /* frontend: the server answers with exactly one
	                        * ReadyForQuery */
	char txn_status;       /* backend ReadyForQuery, at DONE: 'I', 'T', 'E' */
	char keyword[PG_WIRE_KEYWORD_MAX + 1];  /* first keyword of the statement
	                                         * run, upper case; "" unknown */
	char statement[PG_WIRE_NAME_MAX + 1];   /* extended: the prepared
	                                         * statement bound; "" unnamed */
};

struct pg_wire_stmt {
	bool used;
	char name[PG_WIRE_NAME_MAX + 1];
	char keyword[PG_WIRE_KEYWORD_MAX + 1];
};

/* Caller-owned state; the fields are private to pg_wire.c. */
struct pg_wire_parser {
	enum pg_wire_side side;
	bool typed;            /* past the startup packet */
	bool bad;
	bool named;
	bool done_pending;
	bool fresh;
	bool in_body;
	bool in_batch;
	bool batch_has_parse;
	bool cap_too_long;
	bool kw_too_long;
	uint8_t hdr[8];
	uint8_t hdr_len;
	uint8_t msg_type;
	uint8_t field;         /* which field of the body is being read */
	uint8_t close_what;    /* Close: 'S' statement or 'P' portal */
	uint8_t kw_state;
	uint32_t cap_len;
	uint32_t kw_len;
	uint32_t kw_scanned;
	uint32_t stmt_next;    /* next slot to reuse when the table is full */
	uint64_t msg_left;     /* body bytes still to read */
	const char *error;
	char cap[PG_WIRE_NAME_MAX + 1];
	char parse_name[PG_WIRE_NAME_MAX + 1];
	bool parse_name_ok;
	char kw[PG_WIRE_KEYWORD_MAX + 1];
	char batch_kw[PG_WIRE_KEYWORD_MAX + 1];
	struct pg_wire_stmt unnamed;
	struct pg_wire_stmt stmts[PG_WIRE_STMTS_MAX];
	struct pg_wire_frame frame;
};

/* after_startup: the stream is already past its startup packet (a proxy
 * that begins to parse a connection in the middle). Ignored for backends. */
void pg_wire_init(struct pg_wire_parser *p, enum pg_wire_side side, bool after_startup);

/* Reads from buf (len bytes, borrowed) and stops right after an event.
 * *used is the number of bytes read; on PG_WIRE_BAD, the bytes before the
 * one that made the input invalid. len may be 0. */
enum pg_wire_status pg_wire_parse(struct pg_wire_parser *p, const uint8_t *buf,
                                  size_t len, size_t *used);

/* The frame being read; valid after NAMED and DONE until the next call. */
const struct pg_wire_frame *pg_wire_frame(const struct pg_wire_parser *p);

/* Why the input was refused, or NULL while it is not. */
const char *pg_wire_error(const struct pg_wire_parser *p);

/* The first keyword remembered for prepared statement name ("" is the
 * unnamed statement), or NULL when unknown. */
const char *pg_wire_statement_keyword(const struct pg_wire_parser *p, const char *name);

/* Writes an ErrorResponse (severity ERROR, the given SQLSTATE of 5
 * characters and message) into out. Returns its length, or 0 when it does
 * not fit in cap. */
size_t pg_wire_write_error(uint8_t *out, size_t cap, const char *sqlstate,
                           const char *message);

/* Writes ReadyForQuery with status ('I', 'T' or 'E') into out (6 bytes).
 * Returns 6, or 0 when cap is smaller. */
size_t pg_wire_write_ready(uint8_t *out, size_t cap, char status);

#endif
