/* proxy/toxic.h - the faults the proxy applies to connections, as plain
 * data: the Toxiproxy toxic types (latency, bandwidth, slow_close, timeout,
 * reset_peer, slicer, limit_data) and faultline's protocol-aware
 * redis_command and pg_command. Defaults, validation, and the Toxiproxy JSON
 * form in and out. Not for applying them to bytes: see proxy.c. */
#ifndef SIM_LIVE_TOXIC_H
#define SIM_LIVE_TOXIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/result.h"

enum toxic_type {
	TOXIC_LATENCY,
	TOXIC_BANDWIDTH,
	TOXIC_SLOW_CLOSE,
	TOXIC_TIMEOUT,
	TOXIC_RESET_PEER,
	TOXIC_SLICER,
	TOXIC_LIMIT_DATA,
	TOXIC_REDIS_COMMAND, /* acts on one Redis command (RESP) */
	TOXIC_PG_COMMAND,    /* acts on one PostgreSQL query or batch */
	TOXIC_TYPE_COUNT
};

/* upstream: client -> server; downstream: server -> client. */
enum toxic_stream { TOXIC_UPSTREAM, TOXIC_DOWNSTREAM };

/* What a protocol toxic does to the command it fires on. */
enum toxic_action {
	TOXIC_ACTION_ERROR,      /* not forwarded; the proxy answers an error */
	TOXIC_ACTION_DROP_REPLY, /* forwarded; its reply is swallowed, then the
	                          * connection stalls or closes ("then") */
	TOXIC_ACTION_STALL,      /* not forwarded; the connection hangs */
	TOXIC_ACTION_CLOSE,      /* not forwarded; the connection is closed once
	                          * the replies before it were delivered */
	TOXIC_ACTION_COUNT
};

#define TOXIC_NAME_MAX 64        /* bytes of a name, with its NUL */
#define TOXIC_COMMAND_MAX 64     /* bytes of a command to match, with NUL */
#define TOXIC_MESSAGE_MAX 128    /* bytes of an injected error, with NUL */
#define TOXIC_TIME_MS_MAX (24u * 3600 * 1000) /* any duration: one day */
#define TOXIC_SLICE_MAX (1u << 20)            /* slicer sizes, bytes */
#define TOXIC_SLICE_DELAY_US_MAX (60u * 1000 * 1000)
#define TOXIC_RATE_MAX (1u << 30)             /* bandwidth, KB/s */
#define TOXIC_NTH_MAX (1u << 30)

struct toxic_spec {
	char name[TOXIC_NAME_MAX]; /* "" until named: "<type>_<stream>" */
	enum toxic_type type;
	enum toxic_stream stream;
	double toxicity;           /* probability, 0..1, that it applies: per
	                            * connection for stream toxics, per matching
	                            * command for protocol toxics */
	struct {
		uint32_t latency_ms;
		uint32_t jitter_ms;    /* uniform in [-jitter, +jitter] */
	} latency;
	struct {
		uint32_t rate_kb_s;    /* 1 KB = 1000 bytes; 0 = unlimited */
	} bandwidth;
	struct {
		uint32_t delay_ms;
	} slow_close;
	struct {
		uint32_t timeout_ms;   /* 0: data stops but the connection stays */
	} timeout;
	struct {
		uint32_t timeout_ms;   /* after data arrives; 0: at once */
	} reset_peer;
	struct {
		uint32_t average_size;   /* bytes */
		uint32_t size_variation; /* bytes, below average_size */
		uint32_t delay_us;       /* between slices */
	} slicer;
	struct {
		uint64_t bytes;          /* then the connection is closed */
	} limit_data;
	struct {
		char command[TOXIC_COMMAND_MAX]; /* a command (EXPIRE), keyword
		                                  * (COMMIT) or prepared statement
		                                  * name, any case; "*" for any */
		uint32_t nth;                    /* 0: every match; N: only the Nth
		                                  * match through the proxy */
		enum toxic_action action;
		enum toxic_action then;          /* after DROP_REPLY: STALL or CLOSE */
		char message[TOXIC_MESSAGE_MAX]; /* the injected error's text */
		char sqlstate[6];                /* pg_command: the error's SQLSTATE */
	} command;
};

const char *toxic_type_name(enum toxic_type type);
/* True and *out set when name is a toxic type. */
bool toxic_type_parse(const char *name, enum toxic_type *out);
bool toxic_type_is_protocol(enum toxic_type type);
const char *toxic_stream_name(enum toxic_stream stream);
const char *toxic_action_name(enum toxic_action action);

/* Fills t with the defaults of type: toxicity 1, stream downstream
 * (upstream for protocol toxics), name "", attributes as Toxiproxy's, and
 * for protocol toxics command "*", action error, then stall, message
 * "ERR injected" (redis) or "injected by faultline" (pg), SQLSTATE XX000. */
void toxic_spec_init(struct toxic_spec *t, enum toxic_type type);

/* Sets the name "<type>_<stream>" when t->name is "". */
void toxic_spec_default_name(struct toxic_spec *t);

/* Checks every field against its bounds; RESULT_REJECT with the reason in
 * err otherwise. */
MUST_USE enum result toxic_spec_check(const struct toxic_spec *t, char *err, size_t errsize);

/* Reads a Toxiproxy toxic object ({"name", "type", "stream", "toxicity",
 * "attributes": {...}}). base NULL creates: "type" is required and absent
 * fields take the type's defaults. base non-NULL updates base: absent
 * fields keep its values and the type cannot change. Writes *out only on
 * RESULT_OK; RESULT_REJECT with the reason in err. Unknown keys are
 * ignored, as Toxiproxy does. */
MUST_USE enum result toxic_spec_from_json(const json_t *obj, const struct toxic_spec *base,
                                          struct toxic_spec *out, char *err, size_t errsize);

/* The Toxiproxy JSON object of t (a new reference), or NULL when out of
 * memory. */
json_t *toxic_spec_to_json(const struct toxic_spec *t);

/* True when a protocol toxic t matches a command named name, or one whose
 * prepared statement is alt (may be NULL or ""), ignoring case. */
bool toxic_command_matches(const struct toxic_spec *t, const char *name, const char *alt);

#endif
