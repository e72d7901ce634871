/* proxy/proxy_int.h - what the files of the proxy share: connections, links, their
 * state and the helpers both stages use. Private to proxy/proxy*.c. */
#ifndef PROXY_PROXY_INT_H
#define PROXY_PROXY_INT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "proxy/proxy.h"
#include "core/assert.h"
#include "proxy/pg_wire.h"
#include "proxy/resp_wire.h"
#include "sim/prng.h"

/* Up links carry client -> server, down links server -> client. With no
 * toxic a link is one zero-copy move (or a direct write) per read.
 * Connections are never freed inside their own callbacks: they are marked
 * dead, unlinked, and freed from a separate event (proxy_on_reap). */

#define LINK_CHUNKS_MAX 1024            /* release-queue entries per link */
#define PROXY_CONNECT_TIMEOUT_MS 5000   /* to reach the server */
#define PROXY_FLUSH_TIMEOUT_MS 2000     /* a closing connection's last bytes */
#define PROXY_ACCEPT_PAUSE_MS 100       /* after accept failed (out of fds) */
#define PROXY_IDLE_SWEEP_MS_MAX 1000    /* how often idle connections are
                                         * looked for, at most */
#define PROXY_BW_SLICE_MS 100           /* bandwidth releases slices this long */
#define PROXY_FAKE_MAX 512              /* bytes of one injected reply */
#define PROXY_BACKLOG 128
#define PROXY_READ_MAX 16384            /* bytes taken from a socket per read */
#define PROXY_HOST_MAX 256

enum proto { PROTO_NONE, PROTO_RESP, PROTO_PG };

/* What the proxy does with the bytes of one frame. */
enum act { ACT_FORWARD, ACT_DISCARD };

/* A command awaiting its reply, in the order the server will answer. */
enum slot_kind {
	SLOT_PASS,  /* forwarded: its reply goes to the client */
	SLOT_DROP,  /* forwarded: its reply is swallowed, then "then" */
	SLOT_FAKE,  /* not forwarded: the proxy's own answer, from fakes */
	SLOT_STALL, /* not forwarded: from here on nothing reaches the client */
	SLOT_CLOSE, /* not forwarded: close once the replies before it went */
};

struct slot {
	uint8_t kind;
	uint8_t then;        /* SLOT_DROP: TOXIC_ACTION_STALL or CLOSE */
	bool pg_ready;       /* SLOT_FAKE: append ReadyForQuery */
	uint16_t fake_len;   /* SLOT_FAKE: bytes at the front of fakes */
};

struct proto_state {
	enum proto proto;
	union {
		struct resp_parser resp;
		struct pg_wire_parser pg;
	} req, rep;
	size_t up_held;      /* bytes of the current client frame at the front
	                      * of the client input, not yet acted on */
	size_t down_held;
	bool up_named;
	bool down_named;
	enum act up_act;
	enum act down_act;
	bool down_reply;     /* the server frame is a reply (not push data) */
	bool raw_after;      /* the client frame makes replies untrackable */
	bool up_stalled;     /* client bytes are discarded from now on */
	bool down_stalled;   /* server bytes are discarded from now on */
	bool up_raw;         /* parsing given up: bytes pass as they are */
	bool down_raw;
	char txn_status;     /* pg: the last ReadyForQuery status */
	uint32_t slot_head;
	uint32_t slot_count;
	struct slot slots[PROXY_INFLIGHT_MAX];
	struct evbuffer *fakes;
};

struct chunk {
	uint64_t due_us;
	uint32_t len;
};

/* The combined effect of the toxics active on one link. */
struct effects {
	uint64_t latency_us;
	uint64_t jitter_us;
	uint32_t rate_kb_s;      /* 0: unlimited */
	bool slicer;
	uint32_t slice_avg, slice_var, slice_delay_us;
	bool drop;               /* timeout toxic: data falls on the ground */
	uint64_t timeout_at_us;  /* timeout toxic: close then; 0 never */
	bool reset;
	uint64_t reset_ms;
	uint64_t slow_close_ms;
	bool limit;
	bool delays;             /* latency, bandwidth or slicer */
};

struct conn;

struct link {
	struct conn *c;
	bool up;
	uint32_t active;                        /* bit per toxic slot drawn */
	uint64_t limit_base[PROXY_TOXICS_MAX];  /* accepted when each limit_data
	                                         * toxic became active */
	uint64_t since_us[PROXY_TOXICS_MAX];    /* when each became active */
	uint64_t accepted;       /* bytes taken from the source, after drops */
	struct effects fx;
	struct evbuffer *staged;  /* protocol stage output; NULL until parsing */
	struct evbuffer *delayed; /* bytes waiting in the release queue */
	struct chunk *chunks;     /* LINK_CHUNKS_MAX, allocated on first use */
	uint32_t chunk_head;
	uint32_t chunk_count;
	uint64_t last_due_us;
	uint64_t bw_free_us;
	uint64_t reset_at_us;     /* 0: no reset armed */
	bool limit_hit;
	bool reading;             /* the source is being read */
	struct event *read_ev;    /* the source socket readable; see link_on_readable */
	struct event *release_ev;
	struct event *deadline_ev;
};

struct conn {
	struct proxy *p;
	struct conn *prev, *next;
	struct bufferevent *client;
	struct bufferevent *server;
	struct link up, down;
	struct proto_state *ps;
	uint64_t last_active_us;
	uint64_t close_not_before_us;
	uint64_t close_deadline_us;
	struct event *close_ev;
	bool server_connected;
	bool client_eof;
	bool server_eof;
	bool server_shut;      /* the client's FIN was passed on */
	bool closing;
	bool dead;
};

struct toxic {
	struct toxic_spec spec;
	uint64_t matched;  /* protocol toxics: matching commands seen */
};

struct proxy {
	struct event_base *base;
	char name[PROXY_NAME_MAX];
	char listen_text[PROXY_ADDR_MAX];
	char upstream_text[PROXY_ADDR_MAX];
	struct sockaddr_storage listen_sa;
	socklen_t listen_salen;
	struct sockaddr_storage up_sa;
	socklen_t up_salen;
	uint16_t listen_port;
	struct evconnlistener *listener;
	struct event *accept_pause_ev;
	struct event *reap_ev;
	struct event *idle_ev;
	bool enabled;
	uint32_t conns_max;
	uint32_t idle_timeout_ms;
	struct toxic *toxics[PROXY_TOXICS_MAX];
	uint8_t order[PROXY_TOXICS_MAX]; /* slots in the order added */
	uint32_t ntoxics;
	enum proto proto;
	struct conn *conns;
	size_t nconns;
	struct conn *dead;
	struct prng rng;
	struct proxy_stats stats;
	char last_error[PROXY_ADDR_MAX + 256];
};

enum close_how { CLOSE_FLUSH, CLOSE_NOW, CLOSE_RESET };

void proxy_conn_check_closed(struct conn *c);
void proxy_conn_close(struct conn *c, enum close_how how);
void proxy_link_flow(struct link *l);
void proxy_link_pump(struct link *l);
void proxy_conn_pump_down(struct conn *c);
void proxy_conn_pump_up(struct conn *c);
enum result proxy_conn_start_parsing(struct conn *c, bool from_start);

#endif
