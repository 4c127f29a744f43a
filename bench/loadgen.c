/*
 * loadgen.c - socketmap load generator (Postfix's way: K connections, one
 * request in flight on each).
 *
 *   loadgen -s HOST:PORT [-k K] [-n N | -t SECONDS | --once]
 *           [-f KEYFILE | -P PATTERN -r FIRST:END] [-m NAME]
 *           [--random] [--rate R] [--deadline SECONDS] [--label TEXT]
 *
 *   -s   server (IPv4 or [IPv6] literal and port)
 *   -k   connections, each with one request in flight (default 8)
 *   -n   stop after N replies;  -t  stop after SECONDS;  --once  send every
 *        key exactly once (cold runs), then stop
 *   -f   keys, one per line;  -P/-r  keys from a printf pattern with one %u
 *        over FIRST..END-1, e.g. -P d%u.bench.example -r 0:1000
 *   -m   socketmap name before the key (default "postfix")
 *   --random    pick keys at random instead of round robin
 *   --rate      send at most R requests per second in all (paced, still at
 *               most one in flight per connection); default: as fast as
 *               the replies come (closed loop)
 *   --deadline  give up after SECONDS even if -n/--once is not done (300)
 *
 * Signals: SIGUSR1 restarts the measurement window (counts, latencies);
 * SIGTERM, SIGINT or SIGUSR2 stop it.  At the end one line goes to stdout:
 *
 *   label=... k=8 replies=N elapsed_s=... rate=... p50_us=... p90_us=...
 *   p99_us=... p999_us=... max_us=... ok=... notfound=... temp=... perm=...
 *   other=... errors=... unanswered=...
 *
 * Latency is from the write of a request to the read of the last byte of
 * its reply, on CLOCK_MONOTONIC.  Timing starts once all K connections are
 * open.  errors counts connections that failed or closed; unanswered, the
 * requests still in flight at the end.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP 20000
#define REQ_CAP 1100

struct conn {
	int fd;
	bool busy, dead;
	uint64_t sent_ns;
	size_t in_len;
	char in[IN_CAP];
	size_t req_len, req_off;
	char req[REQ_CAP];
};

static volatile sig_atomic_t stop_flag, reset_flag;

static char **keys;
static size_t n_keys, next_key;
static bool random_order, once;
static const char *map_name = "postfix";
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t *lat;
static size_t n_lat, cap_lat;
static unsigned long c_ok, c_notfound, c_temp, c_perm, c_other, c_errors;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		reset_flag = 1;
	else
		stop_flag = 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -s HOST:PORT [-k K] [-n N | -t SECONDS | --once]\n"
	    "               [-f KEYFILE | -P PATTERN -r FIRST:END] [-m NAME]\n"
	    "               [--random] [--rate R] [--deadline SECONDS]\n"
	    "               [--label TEXT]\n");
	exit(2);
}

static void
add_key(const char *k)
{
	static size_t cap;

	if (n_keys == cap) {
		cap = cap ? cap * 2 : 1024;
		if ((keys = realloc(keys, cap * sizeof(*keys))) == NULL)
			exit(1);
	}
	if ((keys[n_keys++] = strdup(k)) == NULL)
		exit(1);
}

static void
load_keys_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1100];

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0')
			add_key(line);
	}
	fclose(f);
}

static void
load_keys_pattern(const char *pat, const char *range)
{
	unsigned long a, b;
	const char *u = strstr(pat, "%u");
	char buf[1100];

	if (u == NULL || sscanf(range, "%lu:%lu", &a, &b) != 2 || b <= a)
		usage();
	for (unsigned long i = a; i < b; i++) {
		snprintf(buf, sizeof(buf), "%.*s%lu%s", (int)(u - pat), pat, i,
		    u + 2);
		add_key(buf);
	}
}

/* The next key; NULL when --once has used them all. */
static const char *
pick_key(void)
{
	if (once)
		return next_key < n_keys ? keys[next_key++] : NULL;
	if (random_order) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		return keys[rng % n_keys];
	}
	return keys[next_key++ % n_keys];
}

static int
connect_to(const char *spec)
{
	char host[256];
	const char *colon = strrchr(spec, ':');
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd, one = 1;
	size_t hl;

	if (colon == NULL || (hl = (size_t)(colon - spec)) >= sizeof(host))
		usage();
	memcpy(host, spec, hl);
	host[hl] = '\0';
	if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			usage();
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			usage();
		sl = sizeof(*s4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM, 0)) < 0) {
		perror("socket");
		exit(1);
	}
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

static void
kill_conn(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	c_errors++;
	close(c->fd);
}

static void
record(uint64_t ns, const char *reply, size_t len)
{
	if (n_lat == cap_lat) {
		cap_lat = cap_lat ? cap_lat * 2 : 65536;
		if ((lat = realloc(lat, cap_lat * sizeof(*lat))) == NULL)
			exit(1);
	}
	lat[n_lat++] = ns;
	if (len >= 3 && memcmp(reply, "OK ", 3) == 0)
		c_ok++;
	else if (len >= 8 && memcmp(reply, "NOTFOUND", 8) == 0)
		c_notfound++;
	else if (len >= 4 && memcmp(reply, "TEMP", 4) == 0)
		c_temp++;
	else if (len >= 4 && memcmp(reply, "PERM", 4) == 0)
		c_perm++;
	else
		c_other++;
}

/* Send the next request on c; false when there is no key left. */
static bool
send_next(struct conn *c, int ep)
{
	const char *key = pick_key();
	size_t plen;
	int hl;

	if (key == NULL)
		return false;
	plen = strlen(map_name) + 1 + strlen(key);
	hl = snprintf(c->req, sizeof(c->req), "%zu:%s %s,", plen, map_name,
	    key);
	if (hl < 0 || (size_t)hl >= sizeof(c->req)) {
		fprintf(stderr, "key too long: %s\n", key);
		exit(1);
	}
	c->req_len = (size_t)hl;
	c->req_off = 0;
	c->busy = true;
	c->sent_ns = now_ns();
	while (c->req_off < c->req_len) {
		ssize_t w = write(c->fd, c->req + c->req_off,
		    c->req_len - c->req_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
			    .data.ptr = c};

			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return true;
		}
		if (w <= 0) {
			kill_conn(c);
			return true;
		}
		c->req_off += (size_t)w;
	}
	return true;
}

/* One complete netstring at the start of c->in: its length, else 0. */
static size_t
framed(struct conn *c, const char **payload, size_t *plen)
{
	size_t len = 0, i = 0;

	while (i < c->in_len && c->in[i] >= '0' && c->in[i] <= '9' && i < 6)
		len = len * 10 + (size_t)(c->in[i++] - '0');
	if (i == c->in_len)
		return 0;
	if (i == 0 || c->in[i] != ':' || len > IN_CAP - 16)
		return (size_t)-1;
	if (c->in_len - i - 1 < len + 1)
		return 0;
	if (c->in[i + 1 + len] != ',')
		return (size_t)-1;
	*payload = c->in + i + 1;
	*plen = len;
	return i + 1 + len + 1;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double
pct_us(double p)
{
	size_t i;

	if (n_lat == 0)
		return 0;
	i = (size_t)(p * (double)(n_lat - 1) + 0.5);
	return (double)lat[i] / 1000.0;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"once", no_argument, NULL, 'O'},
	    {"random", no_argument, NULL, 'R'},
	    {"deadline", required_argument, NULL, 'D'},
	    {"label", required_argument, NULL, 'L'},
	    {"rate", required_argument, NULL, 'A'},
	    {NULL, 0, NULL, 0},
	};
	const char *server = NULL, *file = NULL, *pattern = NULL, *range = NULL;
	const char *label = "-";
	unsigned long k = 8, limit_n = 0;
	double limit_t = 0, deadline = 300, rate = 0;
	struct conn *conns, **idle = NULL;
	size_t n_idle = 0;
	uint64_t next_send = 0, period = 0;
	bool exhausted = false;
	struct epoll_event evs[256];
	uint64_t t0, t_end, t_stop;
	size_t busy = 0;
	int opt, ep;

	while ((opt = getopt_long(argc, argv, "s:k:n:t:f:P:r:m:", lo, NULL)) !=
	    -1) {
		switch (opt) {
		case 's': server = optarg; break;
		case 'k': k = strtoul(optarg, NULL, 10); break;
		case 'n': limit_n = strtoul(optarg, NULL, 10); break;
		case 't': limit_t = strtod(optarg, NULL); break;
		case 'f': file = optarg; break;
		case 'P': pattern = optarg; break;
		case 'r': range = optarg; break;
		case 'm': map_name = optarg; break;
		case 'O': once = true; break;
		case 'R': random_order = true; break;
		case 'D': deadline = strtod(optarg, NULL); break;
		case 'L': label = optarg; break;
		case 'A': rate = strtod(optarg, NULL); break;
		default: usage();
		}
	}
	if (server == NULL || k == 0 || k > 10000 || (file == NULL) == (pattern == NULL) ||
	    (pattern != NULL && range == NULL))
		usage();
	if (file)
		load_keys_file(file);
	else
		load_keys_pattern(pattern, range);
	if (n_keys == 0)
		usage();
	if (!once && limit_n == 0 && limit_t <= 0)
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	if ((conns = calloc(k, sizeof(*conns))) == NULL ||
	    (idle = calloc(k, sizeof(*idle))) == NULL ||
	    (ep = epoll_create1(0)) < 0)
		return 1;
	for (unsigned long i = 0; i < k; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};

		conns[i].fd = connect_to(server);
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	t0 = now_ns();
	t_stop = limit_t > 0 ? t0 + (uint64_t)(limit_t * 1e9) : UINT64_MAX;
	if (deadline > 0 && (limit_t <= 0 || limit_t > deadline))
		t_stop = t0 + (uint64_t)(deadline * 1e9);
	if (rate > 0) {
		period = (uint64_t)(1e9 / rate);
		next_send = t0;
		for (unsigned long i = k; i-- > 0;)
			idle[n_idle++] = &conns[i];
	} else {
		for (unsigned long i = 0; i < k; i++)
			if (send_next(&conns[i], ep) && !conns[i].dead)
				busy++;
	}

	while ((busy > 0 || (rate > 0 && !exhausted)) && !stop_flag) {
		int n;
		uint64_t now = now_ns(), timeout_ns;
		struct timespec ts;

		/* Paced: send what is due on idle connections. */
		while (rate > 0 && !exhausted && n_idle > 0 && now >= next_send &&
		       (limit_n == 0 || n_lat + busy < limit_n)) {
			struct conn *c = idle[--n_idle];

			if (!send_next(c, ep)) {
				exhausted = true;
				break;
			}
			if (!c->dead)
				busy++;
			next_send += period;
			if (now > next_send + 1000000000u)
				next_send = now; /* far behind: no backlog burst */
		}
		if (rate > 0 && limit_n > 0 && n_lat >= limit_n)
			break;

		if (reset_flag) {
			reset_flag = 0;
			n_lat = 0;
			c_ok = c_notfound = c_temp = c_perm = c_other = 0;
			t0 = now;
		}
		if (now >= t_stop)
			break;
		timeout_ns = t_stop - now;
		if (timeout_ns > 100000000u)
			timeout_ns = 100000000u; /* look at the signal flags */
		if (rate > 0 && n_idle > 0 && !exhausted) {
			uint64_t wait = next_send > now ? next_send - now : 0;

			if (wait < timeout_ns)
				timeout_ns = wait;
		}
		/* ns resolution: pacing must not spin on a 0 ms timeout */
		ts.tv_sec = (time_t)(timeout_ns / 1000000000u);
		ts.tv_nsec = (long)(timeout_ns % 1000000000u);
		n = epoll_pwait2(ep, evs, 256, &ts, NULL);
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			const char *payload;
			size_t plen, used;
			ssize_t r;

			if (c->dead)
				continue;
			if (evs[i].events & EPOLLOUT) {
				struct epoll_event ev = {.events = EPOLLIN,
				    .data.ptr = c};
				ssize_t w = write(c->fd, c->req + c->req_off,
				    c->req_len - c->req_off);

				if (w > 0)
					c->req_off += (size_t)w;
				if (c->req_off == c->req_len)
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				else if (w <= 0 && errno != EAGAIN) {
					kill_conn(c);
					busy--;
					continue;
				}
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				kill_conn(c);
				busy--;
				continue;
			}
			c->in_len += (size_t)r;
			used = framed(c, &payload, &plen);
			if (used == 0)
				continue;
			if (used == (size_t)-1) {
				fprintf(stderr, "bad reply framing\n");
				kill_conn(c);
				busy--;
				continue;
			}
			record(now_ns() - c->sent_ns, payload, plen);
			memmove(c->in, c->in + used, c->in_len - used);
			c->in_len -= used;
			c->busy = false;
			busy--;
			if (rate > 0) {
				idle[n_idle++] = c;
				continue;
			}
			if (limit_n > 0 && n_lat + busy >= limit_n)
				continue; /* enough requests out */
			if (send_next(c, ep) && !c->dead)
				busy++;
		}
	}
	t_end = now_ns();
	qsort(lat, n_lat, sizeof(*lat), cmp_u64);
	{
		double el = (double)(t_end - t0) / 1e9;

		printf("label=%s k=%lu replies=%zu elapsed_s=%.3f rate=%.1f "
		       "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f "
		       "max_us=%.1f ok=%lu notfound=%lu temp=%lu perm=%lu "
		       "other=%lu errors=%lu unanswered=%zu\n",
		    label, k, n_lat, el, el > 0 ? (double)n_lat / el : 0,
		    pct_us(0.50), pct_us(0.90), pct_us(0.99), pct_us(0.999),
		    n_lat ? (double)lat[n_lat - 1] / 1000.0 : 0, c_ok,
		    c_notfound, c_temp, c_perm, c_other, c_errors, busy);
	}
	free(idle);
	free(conns);
	return 0;
}
