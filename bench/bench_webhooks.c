/* bench/bench_webhooks.c - a load generator for `faultline serve`: N
 * keep-alive connections, each sending signed payment_intent.succeeded
 * deliveries (every event COPIES times) and waiting for each answer, for
 * SECONDS. One thread on epoll, so that the client costs a small share of a
 * core, as pgbench's does. Prints deliveries answered per second. Not a test.
 *
 *   bench_webhooks HOST PORT SECRET COPIES SECONDS CONNECTIONS */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#define BENCH_CONNS_MAX 256
#define BENCH_REQ_MAX 1024
#define BENCH_RESP_MAX 8192

struct bench_conn {
	int fd;
	unsigned k;            /* connection number, part of every event id */
	unsigned long event;   /* events sent so far on this connection */
	unsigned copy;         /* copies of the current event sent */
	char req[BENCH_REQ_MAX];
	size_t req_len, req_off;
	char resp[BENCH_RESP_MAX];
	size_t resp_len;
	unsigned long answered, bad;
};

static const char *secret;
static unsigned copies;
static char run_id[16];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The next request of c into c->req: a new event every COPIES answers. */
static void bench_build(struct bench_conn *c)
{
	char body[512];
	int blen = snprintf(body, sizeof body,
	                    "{\"id\": \"evt_%s_%u_%lu\", \"object\": \"event\", "
	                    "\"type\": \"payment_intent.succeeded\", \"data\": {\"object\": "
	                    "{\"id\": \"pi_%s_%u_%lu\", \"object\": \"payment_intent\"}}}",
	                    run_id, c->k, c->event, run_id, c->k, c->event);
	if (blen < 0 || (size_t)blen >= sizeof body)
		abort();
	char signed_part[640];
	long t = (long)time(NULL);
	int slen = snprintf(signed_part, sizeof signed_part, "%ld.%s", t, body);
	if (slen < 0 || (size_t)slen >= sizeof signed_part)
		abort();
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signed_part,
	         (size_t)slen, mac, &maclen) == NULL)
		abort();
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	for (unsigned i = 0; i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	int n = snprintf(c->req, sizeof c->req,
	                 "POST /api/stripe/webhook HTTP/1.1\r\nHost: bench\r\n"
	                 "Content-Type: application/json\r\nStripe-Signature: t=%ld,v1=%s\r\n"
	                 "Content-Length: %d\r\n\r\n%s",
	                 t, hex, blen, body);
	if (n < 0 || (size_t)n >= sizeof c->req)
		abort();
	c->req_len = (size_t)n;
	c->req_off = 0;
	c->resp_len = 0;
}

/* Length of a complete response at the start of c->resp, 0 while it is
 * incomplete, -1 when it cannot be read. Sets *status. */
static long bench_response_len(struct bench_conn *c, int *status)
{
	char *end = memmem(c->resp, c->resp_len, "\r\n\r\n", 4);
	if (end == NULL)
		return c->resp_len >= sizeof c->resp ? -1 : 0;
	size_t head = (size_t)(end - c->resp) + 4;
	if (c->resp_len < 12 || memcmp(c->resp, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(c->resp + 9);
	long body = 0;
	for (char *p = c->resp; p < end; p++) {
		if ((p == c->resp || p[-1] == '\n') && strncasecmp(p, "Content-Length:", 15) == 0) {
			body = strtol(p + 15, NULL, 10);
			break;
		}
	}
	if (body < 0 || head + (size_t)body > sizeof c->resp)
		return -1;
	return c->resp_len >= head + (size_t)body ? (long)(head + (size_t)body) : 0;
}

static int bench_connect(const char *host, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Writes what is left of the request; false when the connection broke. */
static bool bench_write(struct bench_conn *c)
{
	while (c->req_off < c->req_len) {
		ssize_t w = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
		if (w < 0)
			return errno == EAGAIN || errno == EINTR;
		c->req_off += (size_t)w;
	}
	return true;
}

/* Reads what arrived; false when the connection broke or the answer was
 * unreadable. Starts the next request after each complete answer. */
static bool bench_read(struct bench_conn *c)
{
	for (;;) {
		ssize_t r = recv(c->fd, c->resp + c->resp_len, sizeof c->resp - c->resp_len, 0);
		if (r == 0)
			return false;
		if (r < 0)
			return errno == EAGAIN || errno == EINTR;
		c->resp_len += (size_t)r;
		int status = 0;
		long len = bench_response_len(c, &status);
		if (len < 0)
			return false;
		if (len == 0)
			continue;
		c->answered++;
		if (status / 100 != 2)
			c->bad++;
		if (++c->copy >= copies) {
			c->copy = 0;
			c->event++;
		}
		bench_build(c);
		return bench_write(c);
	}
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: bench_webhooks HOST PORT SECRET COPIES SECONDS CONNECTIONS\n");
		return 2;
	}
	const char *host = argv[1];
	int port = atoi(argv[2]);
	secret = argv[3];
	copies = (unsigned)atoi(argv[4]);
	double seconds = atof(argv[5]);
	unsigned nconns = (unsigned)atoi(argv[6]);
	if (port <= 0 || copies < 1 || seconds <= 0 || nconns < 1 || nconns > BENCH_CONNS_MAX) {
		fprintf(stderr, "bench_webhooks: bad arguments\n");
		return 2;
	}
	snprintf(run_id, sizeof run_id, "%08lx", (unsigned long)(now_s() * 1e6) ^ (unsigned long)getpid());

	int ep = epoll_create1(0);
	struct bench_conn *conns = calloc(nconns, sizeof *conns);
	if (ep < 0 || conns == NULL)
		return 1;
	for (unsigned k = 0; k < nconns; k++) {
		struct bench_conn *c = &conns[k];
		c->k = k;
		c->fd = bench_connect(host, port);
		if (c->fd < 0) {
			fprintf(stderr, "bench_webhooks: connect: %s\n", strerror(errno));
			return 1;
		}
		bench_build(c);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
			return 1;
	}
	double t0 = now_s(), stop = t0 + seconds;
	unsigned live = nconns;
	while (live > 0 && now_s() < stop) {
		struct epoll_event evs[BENCH_CONNS_MAX];
		int n = epoll_wait(ep, evs, BENCH_CONNS_MAX, 100);
		for (int i = 0; i < n; i++) {
			struct bench_conn *c = evs[i].data.ptr;
			if (c->fd < 0)
				continue;
			bool ok = true;
			if (evs[i].events & EPOLLOUT)
				ok = bench_write(c);
			if (ok && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				ok = bench_read(c);
			if (!ok) {
				fprintf(stderr, "bench_webhooks: connection %u lost\n", c->k);
				close(c->fd);
				c->fd = -1;
				live--;
			}
		}
	}
	double wall = now_s() - t0;
	unsigned long answered = 0, bad = 0;
	for (unsigned k = 0; k < nconns; k++) {
		answered += conns[k].answered;
		bad += conns[k].bad;
		if (conns[k].fd >= 0)
			close(conns[k].fd);
	}
	if (bad > 0)
		fprintf(stderr, "non-2xx answers: %lu\n", bad);
	printf("%.1f\n", (double)answered / wall);
	free(conns);
	close(ep);
	return live == nconns ? 0 : 1;
}
