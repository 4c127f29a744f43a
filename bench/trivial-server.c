/*
 * trivial-server.c - the baseline for the warm socketmap benchmark.
 *
 * A minimal single-threaded epoll server speaking Postfix's socketmap
 * framing (netstrings "<name> <key>"), answering every request with a
 * reply of the same shape and length as mta-stsd's answer for a cached
 * bench domain,
 *
 *     "OK secure match=mx1.<key> servername=hostname"
 *
 * without any lookup.  It does per request what any socketmap server must
 * (read, frame, write) and nothing else, so "daemon rate / this rate" is
 * the share of the per-request budget left after the lookup itself.
 *
 *   trivial-server [-l ADDR] -p PORT      (ADDR default 127.0.0.1)
 *
 * Prints "listening on ADDR:PORT" (PORT 0 picks one) and runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define IN_CAP  16384
#define OUT_CAP 65536
#define MAX_EV  256

struct conn {
	int fd;
	size_t in_len;
	char in[IN_CAP];
	size_t out_len;
	char out[OUT_CAP];
};

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
conn_close(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Append one netstring reply for the request payload p[0..n). */
static int
answer(struct conn *c, const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	const char *key = sp ? sp + 1 : p;
	size_t klen = sp ? n - (size_t)(sp + 1 - p) : n;
	char body[IN_CAP + 64];
	int blen, hlen;

	blen = snprintf(body, sizeof(body),
	    "OK secure match=mx1.%.*s servername=hostname", (int)klen, key);
	if (blen < 0 || (size_t)blen >= sizeof(body))
		return -1;
	if (c->out_len + (size_t)blen + 16 > OUT_CAP)
		return -1;
	hlen = snprintf(c->out + c->out_len, 16, "%d:", blen);
	memcpy(c->out + c->out_len + hlen, body, (size_t)blen);
	c->out[c->out_len + (size_t)hlen + (size_t)blen] = ',';
	c->out_len += (size_t)hlen + (size_t)blen + 1;
	return 0;
}

/* Frame and answer every complete request; -1 on bad framing. */
static int
process(struct conn *c)
{
	size_t off = 0;

	for (;;) {
		size_t len = 0, i = off;

		while (i < c->in_len && c->in[i] >= '0' && c->in[i] <= '9' &&
		       i - off < 6)
			len = len * 10 + (size_t)(c->in[i++] - '0');
		if (i == c->in_len)
			break; /* header incomplete */
		if (i == off || c->in[i] != ':' || len > IN_CAP - 16)
			return -1;
		if (c->in_len - i - 1 < len + 1)
			break; /* body incomplete */
		if (c->in[i + 1 + len] != ',')
			return -1;
		if (answer(c, c->in + i + 1, len) != 0)
			return -1;
		off = i + 1 + len + 1;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return 0;
}

static int
flush(struct conn *c)
{
	size_t done = 0;

	while (done < c->out_len) {
		ssize_t w = write(c->fd, c->out + done, c->out_len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break; /* a benchmark client reads its replies */
		if (w <= 0)
			return -1;
		done += (size_t)w;
	}
	memmove(c->out, c->out + done, c->out_len - done);
	c->out_len -= done;
	return 0;
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	int port = -1, opt, lfd, ep, one = 1;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct epoll_event ev = {.events = EPOLLIN}, evs[MAX_EV];

	while ((opt = getopt(argc, argv, "l:p:")) != -1) {
		if (opt == 'l')
			addr = optarg;
		else if (opt == 'p')
			port = atoi(optarg);
		else {
			fprintf(stderr, "usage: trivial-server [-l ADDR] -p PORT\n");
			return 2;
		}
	}
	if (port < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: trivial-server [-l ADDR] -p PORT\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sin.sin_port = htons((unsigned short)port);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		die("socket");
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, SOMAXCONN) != 0)
		die("bind/listen");
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	printf("listening on %s:%d\n", addr, ntohs(sin.sin_port));
	fflush(stdout);
	if ((ep = epoll_create1(0)) < 0)
		die("epoll_create1");
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, MAX_EV, -1);

		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (c == NULL) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL,
					    SOCK_NONBLOCK)) >= 0) {
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY,
					    &one, sizeof(one));
					if ((c = calloc(1, sizeof(*c))) == NULL) {
						close(fd);
						continue;
					}
					c->fd = fd;
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			ssize_t r = read(c->fd, c->in + c->in_len,
			    IN_CAP - c->in_len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				conn_close(ep, c);
				continue;
			}
			c->in_len += (size_t)r;
			if (process(c) != 0 || flush(c) != 0)
				conn_close(ep, c);
		}
	}
}
