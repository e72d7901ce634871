/* live/smtp_sink.c - the SMTP sink: one bufferevent per session, a line
 * at a time, RFC 5321's mail transaction (MAIL, RCPT..., DATA) as a small
 * state machine; a session that must end is closed once its reply drained.
 * All but the message list belongs to the sink's thread; the list is shared
 * under a mutex, and a socketpair tells the thread to stop. */
#include "live/smtp_sink.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <pthread.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "core/assert.h"

#define SMTP_SINK_HELO_MAX 256 /* bytes kept of the EHLO argument */

struct msg_rec {
	struct smtp_sink_message m;  /* the public view; strings below */
	char *helo, *from, *rcpt[SMTP_SINK_RCPT_MAX], *data;
};

struct session {
	struct smtp_sink *ss;
	struct session *prev, *next;
	struct bufferevent *bev;
	bool in_data;                /* between 354 and the final "." */
	bool closing;                /* close once the output has drained */
	char helo[SMTP_SINK_HELO_MAX];
	bool greeted;
	char *from;                  /* NULL: no transaction */
	char *rcpt[SMTP_SINK_RCPT_MAX];
	int nrcpt;
	char *data;
	size_t len, cap;
	bool too_big;
};

struct smtp_sink {
	struct event_base *base;         /* the sink thread's own */
	pthread_t thread;
	int stop_fds[2];                 /* socketpair: [0] written to stop */
	struct event *stop_ev;
	pthread_mutex_t lock;            /* guards msgs and nmsgs */
	struct evconnlistener *listener;
	int port;
	size_t message_max;
	int sessions_max;
	struct timeval idle;
	char *reject_domain;
	struct session *sessions;
	int nsessions;
	struct msg_rec **msgs;
	size_t nmsgs, capmsgs;
};

static void set_err(char *err, size_t errsize, const char *msg)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s", msg);
}

static void session_reset_txn(struct session *se)
{
	free(se->from);
	se->from = NULL;
	for (int i = 0; i < se->nrcpt; i++)
		free(se->rcpt[i]);
	se->nrcpt = 0;
	free(se->data);
	se->data = NULL;
	se->len = 0;
	se->cap = 0;
	se->too_big = false;
	se->in_data = false;
}

static void session_free(struct session *se)
{
	struct smtp_sink *ss = se->ss;
	if (se->prev != NULL)
		se->prev->next = se->next;
	else
		ss->sessions = se->next;
	if (se->next != NULL)
		se->next->prev = se->prev;
	ss->nsessions--;
	session_reset_txn(se);
	bufferevent_free(se->bev);
	free(se);
}

static void reply(struct session *se, const char *text)
{
	evbuffer_add(bufferevent_get_output(se->bev), text, strlen(text));
}

/* Ends the session after its last reply has gone out. */
static void session_close_after(struct session *se, const char *text)
{
	reply(se, text);
	se->closing = true;
	bufferevent_disable(se->bev, EV_READ);
}

/* The address inside "<...>" after a MAIL FROM: or RCPT TO: prefix, then
 * optional parameters. NULL on bad syntax; the caller frees. */
static char *parse_path(const char *p)
{
	p += strspn(p, " ");
	if (*p != '<')
		return NULL;
	const char *end = strchr(p, '>');
	if (end == NULL)
		return NULL;
	if (end[1] != '\0' && end[1] != ' ')
		return NULL;
	return strndup(p + 1, (size_t)(end - p - 1));
}

static bool address_in_domain(const char *addr, const char *domain)
{
	const char *at = strrchr(addr, '@');
	return domain != NULL && at != NULL && strcasecmp(at + 1, domain) == 0;
}

static void session_store_message(struct session *se)
{
	struct smtp_sink *ss = se->ss;
	struct msg_rec *rec = calloc(1, sizeof *rec);
	pthread_mutex_lock(&ss->lock);
	if (rec != NULL && ss->nmsgs == ss->capmsgs) {
		size_t cap = ss->capmsgs ? ss->capmsgs * 2 : 16;
		struct msg_rec **nm = realloc(ss->msgs, cap * sizeof *nm);
		if (nm == NULL) {
			free(rec);
			rec = NULL;
		} else {
			ss->msgs = nm;
			ss->capmsgs = cap;
		}
	}
	if (rec == NULL) {
		pthread_mutex_unlock(&ss->lock);
		reply(se, "452 4.3.1 out of memory\r\n");
		session_reset_txn(se);
		return;
	}
	rec->helo = strdup(se->helo);
	rec->from = se->from;
	se->from = NULL;
	for (int i = 0; i < se->nrcpt; i++) {
		rec->rcpt[i] = se->rcpt[i];
		rec->m.rcpt[i] = rec->rcpt[i];
	}
	rec->m.nrcpt = se->nrcpt;
	se->nrcpt = 0;
	rec->data = se->data != NULL ? se->data : strdup("");
	rec->m.len = se->len;
	se->data = NULL;
	rec->m.helo = rec->helo != NULL ? rec->helo : "";
	rec->m.from = rec->from;
	rec->m.data = rec->data != NULL ? rec->data : "";
	ss->msgs[ss->nmsgs++] = rec;
	size_t queued = ss->nmsgs;
	pthread_mutex_unlock(&ss->lock);
	char text[64];
	snprintf(text, sizeof text, "250 2.0.0 OK queued as %zu\r\n", queued);
	reply(se, text);
	session_reset_txn(se);
}

/* One line of message data, as received (CRLF included). */
static void session_on_data_line(struct session *se, const char *line,
                                 size_t n)
{
	struct smtp_sink *ss = se->ss;
	if (strcmp(line, ".\r\n") == 0 || strcmp(line, ".\n") == 0) {
		if (se->too_big) {
			reply(se, "552 5.3.4 message too big\r\n");
			session_reset_txn(se);
		} else {
			session_store_message(se);
		}
		return;
	}
	if (line[0] == '.') { /* dot-unstuffing (RFC 5321 4.5.2) */
		line++;
		n--;
	}
	if (se->too_big || n > ss->message_max - se->len) {
		se->too_big = true;
		return;
	}
	if (se->len + n + 1 > se->cap) {
		size_t cap = se->cap ? se->cap : 4096;
		while (cap < se->len + n + 1)
			cap *= 2;
		char *nd = realloc(se->data, cap);
		if (nd == NULL) {
			se->too_big = true;
			return;
		}
		se->data = nd;
		se->cap = cap;
	}
	memcpy(se->data + se->len, line, n);
	se->len += n;
	se->data[se->len] = '\0';
}

static bool verb_is(const char *line, const char *verb)
{
	size_t n = strlen(verb);
	return strncasecmp(line, verb, n) == 0 &&
	       (line[n] == '\0' || line[n] == ' ');
}

static void session_on_command(struct session *se, char *line)
{
	struct smtp_sink *ss = se->ss;
	line[strcspn(line, "\r\n")] = '\0';

	if (verb_is(line, "EHLO") || verb_is(line, "HELO")) {
		const char *arg = line[4] == ' ' ? line + 5 : "";
		/* Kept up to SMTP_SINK_HELO_MAX - 1 bytes, cut silently. */
		size_t n = strnlen(arg, sizeof se->helo - 1);
		memcpy(se->helo, arg, n);
		se->helo[n] = '\0';
		se->greeted = true;
		session_reset_txn(se);
		if (toupper((unsigned char)line[0]) == 'H') {
			reply(se, "250 faultline\r\n");
			return;
		}
		char text[96];
		snprintf(text, sizeof text,
		         "250-faultline\r\n250-8BITMIME\r\n250 SIZE %zu\r\n",
		         ss->message_max);
		reply(se, text);
	} else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
		if (!se->greeted) {
			reply(se, "503 5.5.1 send EHLO first\r\n");
		} else if (se->from != NULL) {
			reply(se, "503 5.5.1 nested MAIL command\r\n");
		} else if (smtp_sink_count(ss) >= SMTP_SINK_MESSAGES_MAX) {
			reply(se, "452 4.3.1 sink full\r\n");
		} else if ((se->from = parse_path(line + 10)) == NULL) {
			reply(se, "501 5.5.4 syntax: MAIL FROM:<address>\r\n");
		} else {
			reply(se, "250 2.1.0 OK\r\n");
		}
	} else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
		char *addr;
		if (se->from == NULL) {
			reply(se, "503 5.5.1 need MAIL first\r\n");
		} else if (se->nrcpt >= SMTP_SINK_RCPT_MAX) {
			reply(se, "452 4.5.3 too many recipients\r\n");
		} else if ((addr = parse_path(line + 8)) == NULL) {
			reply(se, "501 5.5.4 syntax: RCPT TO:<address>\r\n");
		} else if (address_in_domain(addr, ss->reject_domain)) {
			free(addr);
			reply(se, "550 5.1.1 mailbox unavailable\r\n");
		} else {
			se->rcpt[se->nrcpt++] = addr;
			reply(se, "250 2.1.5 OK\r\n");
		}
	} else if (verb_is(line, "DATA")) {
		if (se->nrcpt == 0) {
			reply(se, "503 5.5.1 need RCPT first\r\n");
		} else {
			se->in_data = true;
			reply(se, "354 end data with <CR><LF>.<CR><LF>\r\n");
		}
	} else if (verb_is(line, "RSET")) {
		session_reset_txn(se);
		reply(se, "250 2.0.0 OK\r\n");
	} else if (verb_is(line, "NOOP")) {
		reply(se, "250 2.0.0 OK\r\n");
	} else if (verb_is(line, "QUIT")) {
		session_close_after(se, "221 2.0.0 bye\r\n");
	} else {
		reply(se, "502 5.5.2 command not recognized\r\n");
	}
}

static void session_on_read(struct bufferevent *bev, void *arg)
{
	struct session *se = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[SMTP_SINK_LINE_MAX + 1];

	/* Each pass removes at least one byte: bounded by what is buffered. */
	size_t passes = evbuffer_get_length(in) + 1;
	for (size_t i = 0; i < passes && !se->closing; i++) {
		size_t eol_len = 0;
		struct evbuffer_ptr eol =
			evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		if (eol.pos < 0) {
			if (evbuffer_get_length(in) > SMTP_SINK_LINE_MAX)
				session_close_after(se, "500 5.5.6 line too long\r\n");
			return;
		}
		size_t n = (size_t)eol.pos + eol_len;
		if (n > SMTP_SINK_LINE_MAX) {
			session_close_after(se, "500 5.5.6 line too long\r\n");
			return;
		}
		evbuffer_remove(in, line, n);
		line[n] = '\0';
		if (memchr(line, '\0', n) != NULL) {
			session_close_after(se, "500 5.5.2 NUL in line\r\n");
			return;
		}
		if (se->in_data)
			session_on_data_line(se, line, n);
		else
			session_on_command(se, line);
	}
}

static void session_on_write(struct bufferevent *bev, void *arg)
{
	struct session *se = arg;
	if (se->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		session_free(se);
}

static void session_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *se = arg;
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT) {
		if (!se->closing)
			session_close_after(se, "421 4.4.2 idle timeout\r\n");
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		session_free(se);
}

static void sink_on_accept(struct evconnlistener *lis, evutil_socket_t fd,
                           struct sockaddr *addr, int socklen, void *arg)
{
	struct smtp_sink *ss = arg;
	(void)lis;
	(void)addr;
	(void)socklen;

	if (ss->nsessions >= ss->sessions_max) {
		static const char busy[] = "421 4.3.2 too many sessions\r\n";
		/* Best effort: a fresh socket's buffer takes this at once. */
		ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
		(void)w;
		close(fd);
		return;
	}
	struct session *se = calloc(1, sizeof *se);
	struct bufferevent *bev = bufferevent_socket_new(ss->base, fd,
	                                                 BEV_OPT_CLOSE_ON_FREE);
	if (se == NULL || bev == NULL) {
		free(se);
		if (bev != NULL)
			bufferevent_free(bev);
		else
			close(fd);
		return;
	}
	se->ss = ss;
	se->bev = bev;
	se->next = ss->sessions;
	if (ss->sessions != NULL)
		ss->sessions->prev = se;
	ss->sessions = se;
	ss->nsessions++;
	bufferevent_setcb(bev, session_on_read, session_on_write, session_on_event,
	                  se);
	bufferevent_set_timeouts(bev, &ss->idle, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	reply(se, "220 faultline SMTP sink ready\r\n");
}

static void sink_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_sink *ss = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(ss->base);
}

static void *sink_thread_main(void *arg)
{
	struct smtp_sink *ss = arg;
	/* The listener and the stop event keep the loop alive until the stop
	 * byte arrives. */
	event_base_loop(ss->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct smtp_sink *smtp_sink_create(const struct smtp_sink_config *cfg,
                                   char *err, size_t errsize)
{
	ASSERT(cfg != NULL);
	if (cfg->port < 0 || cfg->port > 65535 || cfg->message_max == 0 ||
	    cfg->sessions_max < 1 || cfg->sessions_max > SMTP_SINK_SESSIONS_MAX ||
	    cfg->idle_timeout_us == 0) {
		set_err(err, errsize, "SMTP sink configuration out of range");
		return NULL;
	}
	struct smtp_sink *ss = calloc(1, sizeof *ss);
	if (ss == NULL) {
		set_err(err, errsize, "out of memory");
		return NULL;
	}
	ss->stop_fds[0] = ss->stop_fds[1] = -1;
	ss->message_max = cfg->message_max;
	ss->sessions_max = cfg->sessions_max;
	ss->idle.tv_sec = (time_t)(cfg->idle_timeout_us / 1000000);
	ss->idle.tv_usec = (suseconds_t)(cfg->idle_timeout_us % 1000000);
	if (cfg->reject_domain != NULL &&
	    (ss->reject_domain = strdup(cfg->reject_domain)) == NULL) {
		set_err(err, errsize, "out of memory");
		goto fail_ss;
	}
	if (pthread_mutex_init(&ss->lock, NULL) != 0) {
		set_err(err, errsize, "SMTP sink cannot create its lock");
		goto fail_ss;
	}
	ss->base = event_base_new();
	if (ss->base == NULL) {
		set_err(err, errsize, "out of memory");
		goto fail_lock;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ss->stop_fds) != 0) {
		set_err(err, errsize, "SMTP sink cannot create its stop channel");
		goto fail_base;
	}
	ss->stop_ev = event_new(ss->base, ss->stop_fds[1], EV_READ, sink_on_stop, ss);
	if (ss->stop_ev == NULL || event_add(ss->stop_ev, NULL) != 0) {
		set_err(err, errsize, "out of memory");
		goto fail_stop;
	}
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)cfg->port);
	ss->listener = evconnlistener_new_bind(ss->base, sink_on_accept, ss,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, -1,
		(struct sockaddr *)&sin, sizeof sin);
	if (ss->listener == NULL) {
		set_err(err, errsize, "SMTP sink cannot listen on 127.0.0.1");
		goto fail_stop;
	}
	socklen_t len = sizeof sin;
	if (getsockname(evconnlistener_get_fd(ss->listener),
	                (struct sockaddr *)&sin, &len) != 0) {
		set_err(err, errsize, "SMTP sink cannot read its port");
		goto fail_listener;
	}
	ss->port = ntohs(sin.sin_port);
	if (pthread_create(&ss->thread, NULL, sink_thread_main, ss) != 0) {
		set_err(err, errsize, "SMTP sink cannot start its thread");
		goto fail_listener;
	}
	return ss;

fail_listener:
	evconnlistener_free(ss->listener);
fail_stop:
	if (ss->stop_ev != NULL)
		event_free(ss->stop_ev);
	close(ss->stop_fds[0]);
	close(ss->stop_fds[1]);
fail_base:
	event_base_free(ss->base);
fail_lock:
	pthread_mutex_destroy(&ss->lock);
fail_ss:
	free(ss->reject_domain);
	free(ss);
	return NULL;
}

void smtp_sink_clear(struct smtp_sink *ss)
{
	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < ss->nmsgs; i++) {
		struct msg_rec *rec = ss->msgs[i];
		free(rec->helo);
		free(rec->from);
		for (int j = 0; j < rec->m.nrcpt; j++)
			free(rec->rcpt[j]);
		free(rec->data);
		free(rec);
	}
	ss->nmsgs = 0;
	pthread_mutex_unlock(&ss->lock);
}

void smtp_sink_destroy(struct smtp_sink *ss)
{
	if (ss == NULL)
		return;
	static const char stop = 's';
	ssize_t w = write(ss->stop_fds[0], &stop, 1);
	ASSERT(w == 1); /* a fresh socketpair always takes one byte */
	pthread_join(ss->thread, NULL);
	/* The thread is gone: everything is ours again. */
	while (ss->sessions != NULL)
		session_free(ss->sessions);
	evconnlistener_free(ss->listener);
	event_free(ss->stop_ev);
	close(ss->stop_fds[0]);
	close(ss->stop_fds[1]);
	event_base_free(ss->base);
	smtp_sink_clear(ss);
	pthread_mutex_destroy(&ss->lock);
	free(ss->msgs);
	free(ss->reject_domain);
	free(ss);
}

int smtp_sink_port(const struct smtp_sink *ss)
{
	return ss->port;
}

size_t smtp_sink_count(const struct smtp_sink *ss)
{
	struct smtp_sink *w = (struct smtp_sink *)ss; /* the lock mutates */
	pthread_mutex_lock(&w->lock);
	size_t n = w->nmsgs;
	pthread_mutex_unlock(&w->lock);
	return n;
}

const struct smtp_sink_message *smtp_sink_message(const struct smtp_sink *ss,
                                                  size_t i)
{
	struct smtp_sink *w = (struct smtp_sink *)ss; /* the lock mutates */
	pthread_mutex_lock(&w->lock);
	ASSERT(i < w->nmsgs);
	const struct smtp_sink_message *m = &w->msgs[i]->m;
	pthread_mutex_unlock(&w->lock);
	return m;
}
