/* http.c: see http.h. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "http.h"

struct toll_http_conn {
	struct toll_http_url u;
	int fd; /* -1: not connected */
};

/* ---- URL ------------------------------------------------------------------ */

static int
lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch + 32 : ch;
}

/* n bytes of a and the lowercase b equal, ignoring case */
static int
eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != b[i])
			return 0;
	return 1;
}

int
toll_http_parse_url(const char *url, struct toll_http_url *u, char *err, size_t errlen)
{
	size_t n = strlen(url);

	memset(u, 0, sizeof(*u));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || (unsigned char)url[i] >= 0x7f)
			return toll_errf(err, errlen, TOLL_EINVAL, "url: a space or control character at %zu", i);
	if (n >= 8 && eq_nocase(url, "https://", 8))
		return toll_errf(err, errlen, TOLL_EINVAL,
				 "url: https is not built in: run a local TLS relay (stunnel, nginx) and give its"
				 " http://127.0.0.1:PORT/ address (docs/notifications.md)");
	if (n < 7 || !eq_nocase(url, "http://", 7))
		return toll_errf(err, errlen, TOLL_EINVAL, "url: wants http://HOST[:PORT]/PATH");
	const char *a = url + 7;
	size_t alen = strcspn(a, "/?#");
	const char *rest = a + alen;
	if (memchr(a, '@', alen) != NULL)
		return toll_errf(err, errlen, TOLL_EINVAL, "url: no user or password in the address");
	const char *host = a, *colon;
	size_t hlen;
	if (alen > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', alen);
		if (close == NULL)
			return toll_errf(err, errlen, TOLL_EINVAL, "url: '[' without ']'");
		host = a + 1;
		hlen = (size_t)(close - host);
		colon = close + 1 < a + alen ? close + 1 : NULL;
		if (colon != NULL && *colon != ':')
			return toll_errf(err, errlen, TOLL_EINVAL, "url: after ']' only :PORT");
	} else {
		colon = memchr(a, ':', alen);
		hlen = colon != NULL ? (size_t)(colon - a) : alen;
	}
	if (hlen == 0 || hlen >= sizeof(u->host))
		return toll_errf(err, errlen, TOLL_EINVAL, "url: no host, or a host longer than %zu",
				 sizeof(u->host) - 1);
	memcpy(u->host, host, hlen);
	if (colon != NULL) {
		const char *p = colon + 1;
		size_t plen = (size_t)(a + alen - p);
		long port = 0;
		if (plen == 0 || plen > 5)
			return toll_errf(err, errlen, TOLL_EINVAL, "url: a port is 1 to 65535");
		for (size_t i = 0; i < plen; i++) {
			if (p[i] < '0' || p[i] > '9')
				return toll_errf(err, errlen, TOLL_EINVAL, "url: a port is 1 to 65535");
			port = port * 10 + (p[i] - '0');
		}
		if (port < 1 || port > 65535)
			return toll_errf(err, errlen, TOLL_EINVAL, "url: a port is 1 to 65535");
		snprintf(u->port, sizeof(u->port), "%ld", port);
	} else {
		snprintf(u->port, sizeof(u->port), "80");
	}
	memcpy(u->hostport, a, alen); /* alen < host + ":65535" + brackets: fits */
	if (*rest == '#')
		rest = "";
	size_t tlen = strcspn(rest, "#");
	if (tlen + 2 > sizeof(u->target))
		return toll_errf(err, errlen, TOLL_EINVAL, "url: path longer than %zu", sizeof(u->target) - 2);
	if (tlen == 0 || rest[0] == '?')
		u->target[0] = '/';
	memcpy(u->target + strlen(u->target), rest, tlen);
	return 0;
}

/* ---- the response head ---------------------------------------------------- */

static int
is_tchar(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Does the comma-separated list v[0..n) hold the token tok (lowercase)? */
static int
has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < n) {
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < n && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && eq_nocase(v + s, tok, tl))
			return 1;
	}
	return 0;
}

static int
status_line(const char *p, size_t n, struct toll_http_head *h)
{
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
		return TOLL_EFORMAT;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return TOLL_EFORMAT;
	if (n > 12 && p[12] != ' ')
		return TOLL_EFORMAT;
	h->minor = p[7] - '0';
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	return h->status >= 100 && h->status <= 599 ? 0 : TOLL_EFORMAT;
}

int
toll_http_parse_head(const void *buf, size_t len, struct toll_http_head *h)
{
	const char *p = buf;
	size_t off = 0;
	int line = 0, keep_alive = 0;

	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	if (len == 0)
		return TOLL_ESHORT;
	/* not an HTTP/1 answer: say so without waiting for a newline */
	if (memcmp(p, "HTTP/1.", len < 7 ? len : 7) != 0)
		return TOLL_EFORMAT;
	for (;; line++) {
		size_t e = off;
		while (e < len && p[e] != '\n')
			e++;
		if (e >= len)
			return TOLL_ESHORT;
		size_t n = e - off;
		if (n > 0 && p[off + n - 1] == '\r')
			n--;
		const char *l = p + off;
		off = e + 1;
		if (line == 0) {
			if (status_line(l, n, h) != 0)
				return TOLL_EFORMAT;
			continue;
		}
		if (n == 0)
			break;
		/* name: value; no folded lines */
		size_t c = 0;
		while (c < n && is_tchar((unsigned char)l[c]))
			c++;
		if (c == 0 || c >= n || l[c] != ':')
			return TOLL_EFORMAT;
		const char *v = l + c + 1;
		size_t vn = n - c - 1;
		while (vn > 0 && (v[0] == ' ' || v[0] == '\t'))
			v++, vn--;
		while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
			vn--;
		if (c == 14 && eq_nocase(l, "content-length", 14)) {
			int64_t cl = 0;
			if (vn == 0 || vn > 15)
				return TOLL_EFORMAT;
			for (size_t i = 0; i < vn; i++) {
				if (v[i] < '0' || v[i] > '9')
					return TOLL_EFORMAT;
				cl = cl * 10 + (v[i] - '0');
			}
			if (h->content_length >= 0 && h->content_length != cl)
				return TOLL_EFORMAT;
			h->content_length = cl;
		} else if (c == 17 && eq_nocase(l, "transfer-encoding", 17)) {
			if (!(vn == 8 && eq_nocase(v, "identity", 8)))
				h->chunked = 1; /* any coding: not a body we read */
		} else if (c == 10 && eq_nocase(l, "connection", 10)) {
			if (has_token(v, vn, "close"))
				h->close = 1;
			if (has_token(v, vn, "keep-alive"))
				keep_alive = 1;
		}
	}
	if (h->minor == 0 && !keep_alive)
		h->close = 1;
	h->head_len = off;
	return 0;
}

/* ---- the connection --------------------------------------------------------- */

int
toll_http_conn_new(const struct toll_http_url *u, struct toll_http_conn **out)
{
	struct toll_http_conn *c = calloc(1, sizeof(*c));
	*out = NULL;
	if (c == NULL)
		return TOLL_ENOMEM;
	c->u = *u;
	c->fd = -1;
	*out = c;
	return 0;
}

static void
conn_close(struct toll_http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void
toll_http_conn_free(struct toll_http_conn *c)
{
	if (c == NULL)
		return;
	conn_close(c);
	free(c);
}

/* Wait for events on fd until deadline: 0, TOLL_ETIMEDOUT, or
 * TOLL_EAGAIN when asked to stop. */
static int
wait_fd(int fd, short events, int64_t deadline, const atomic_int *stop)
{
	for (;;) {
		if (stop != NULL && atomic_load(stop))
			return TOLL_EAGAIN;
		int64_t left = deadline - toll_mono_ms();
		if (left <= 0)
			return TOLL_ETIMEDOUT;
		struct pollfd pfd = {.fd = fd, .events = events};
		int r = poll(&pfd, 1, left > 100 ? 100 : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return TOLL_ESYS;
	}
}

static int
conn_open(struct toll_http_conn *c, int64_t deadline, const atomic_int *stop, char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	int last = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	int g = getaddrinfo(c->u.host, c->u.port, &hints, &res);
	if (g != 0)
		return toll_errf(err, errlen, TOLL_ECLOSED, "%s: %s", c->u.host, gai_strerror(g));
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			last = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS) {
				last = errno;
				close(fd);
				continue;
			}
			int rc = wait_fd(fd, POLLOUT, deadline, stop);
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (rc == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
				/* connected */
			} else {
				last = rc == TOLL_ETIMEDOUT ? ETIMEDOUT : rc == 0 ? soerr : EINTR;
				close(fd);
				if (rc != 0)
					break; /* out of time, or stopping */
				continue;
			}
		}
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		break;
	}
	freeaddrinfo(res);
	if (c->fd < 0)
		return toll_errf(err, errlen, TOLL_ECLOSED, "connect %s:%s: %s", c->u.host, c->u.port,
				 last ? strerror(last) : "no address");
	return 0;
}

static int
send_all(int fd, const char *p, size_t n, int64_t deadline, const atomic_int *stop)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = wait_fd(fd, POLLOUT, deadline, stop);
			if (rc != 0)
				return rc;
			continue;
		}
		return TOLL_ECLOSED;
	}
	return 0;
}

/* Receive into buf[*got..cap): 0 (at least a byte), TOLL_ECLOSED on EOF or
 * a reset, TOLL_ETIMEDOUT, TOLL_EAGAIN (stop). */
static int
recv_some(int fd, char *buf, size_t cap, size_t *got, int64_t deadline, const atomic_int *stop)
{
	for (;;) {
		ssize_t r = recv(fd, buf + *got, cap - *got, 0);
		if (r > 0) {
			*got += (size_t)r;
			return 0;
		}
		if (r == 0)
			return TOLL_ECLOSED;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return TOLL_ECLOSED;
		int rc = wait_fd(fd, POLLIN, deadline, stop);
		if (rc != 0)
			return rc;
	}
}

static void
keep_snippet(char *snippet, size_t snippet_len, size_t *have, const char *p, size_t n)
{
	if (snippet_len == 0)
		return;
	for (size_t i = 0; i < n && *have + 1 < snippet_len; i++) {
		unsigned char ch = (unsigned char)p[i];
		snippet[(*have)++] = ch >= ' ' && ch < 0x7f ? (char)ch : ' ';
	}
	snippet[*have] = 0;
}

/* Read the answer on c->fd.  *any: a byte of it arrived. */
static int
read_answer(struct toll_http_conn *c, int64_t deadline, const atomic_int *stop, int *status, char *snippet,
	    size_t snippet_len, int *any, char *err, size_t errlen)
{
	char *buf = malloc(TOLL_HTTP_HEAD_MAX);
	size_t got = 0, have = 0;
	struct toll_http_head h;
	int rc;

	if (buf == NULL)
		return TOLL_ENOMEM;
	for (;;) {
		rc = got > 0 ? toll_http_parse_head(buf, got, &h) : TOLL_ESHORT;
		if (rc == 0 && h.status < 200) {
			/* an interim answer (100 Continue...): the final one follows */
			memmove(buf, buf + h.head_len, got - h.head_len);
			got -= h.head_len;
			continue;
		}
		if (rc == 0)
			break;
		if (rc == TOLL_EFORMAT || got == TOLL_HTTP_HEAD_MAX) {
			rc = toll_errf(err, errlen, TOLL_EFORMAT, "the answer is not an HTTP/1.x response head");
			goto out;
		}
		rc = recv_some(c->fd, buf, TOLL_HTTP_HEAD_MAX, &got, deadline, stop);
		if (rc != 0) {
			toll_errf(err, errlen, rc, "%s", rc == TOLL_ECLOSED ? "connection closed before an answer"
						   : rc == TOLL_ETIMEDOUT ? "no answer in time" : "stopping");
			goto out;
		}
		*any = 1;
	}
	*status = h.status;
	if (snippet_len > 0)
		snippet[0] = 0;
	size_t extra = got - h.head_len;
	keep_snippet(snippet, snippet_len, &have, buf + h.head_len, extra);
	int no_body = h.status == 204 || h.status == 304;
	int reusable = !h.close && (no_body || (!h.chunked && h.content_length >= 0 &&
						h.content_length <= TOLL_HTTP_BODY_KEEP));
	if (reusable && !no_body) {
		size_t need = (size_t)h.content_length;
		if (extra > need) {
			reusable = 0; /* bytes past the answer: not a connection to keep */
		} else {
			need -= extra;
			while (need > 0) {
				size_t n = 0;
				rc = recv_some(c->fd, buf, need < TOLL_HTTP_HEAD_MAX ? need : TOLL_HTTP_HEAD_MAX, &n,
					       deadline, stop);
				if (rc != 0) {
					/* the status is known: the body is not needed */
					reusable = 0;
					break;
				}
				keep_snippet(snippet, snippet_len, &have, buf, n);
				need -= n;
			}
		}
	} else if (reusable && extra > 0) {
		reusable = 0;
	}
	if (!reusable)
		conn_close(c);
	rc = 0;
out:
	free(buf);
	return rc;
}

int
toll_http_post(struct toll_http_conn *c, const char *extra_headers, const void *body, size_t len,
	       int64_t timeout_ms, const atomic_int *stop, int *status, char *snippet, size_t snippet_len,
	       int *sent, char *err, size_t errlen)
{
	int64_t deadline = toll_mono_ms() + timeout_ms;
	size_t hl = strlen(c->u.target) + strlen(c->u.hostport) + strlen(extra_headers) + 128;
	char *req = malloc(hl + len);
	int rc = 0;

	*sent = 0;
	*status = 0;
	if (snippet_len > 0)
		snippet[0] = 0;
	if (req == NULL)
		return TOLL_ENOMEM;
	int n = snprintf(req, hl, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n%s\r\n", c->u.target,
			 c->u.hostport, len, extra_headers);
	if (n < 0 || (size_t)n >= hl) {
		free(req);
		return toll_errf(err, errlen, TOLL_EINVAL, "request head too long");
	}
	memcpy(req + n, body, len);
	for (int round = 0; round < 2; round++) {
		int reused = c->fd >= 0, any = 0;
		if (!reused) {
			rc = conn_open(c, deadline, stop, err, errlen);
			if (rc != 0)
				break; /* nothing sent */
		}
		rc = send_all(c->fd, req, (size_t)n + len, deadline, stop);
		if (rc == TOLL_ECLOSED && reused) {
			conn_close(c); /* the server closed the idle connection: again, on a new one */
			continue;
		}
		if (rc != 0) {
			conn_close(c);
			toll_errf(err, errlen, rc, "%s", rc == TOLL_ECLOSED ? "connection lost while sending"
						   : rc == TOLL_ETIMEDOUT ? "could not send in time" : "stopping");
			if (rc == TOLL_ECLOSED)
				rc = TOLL_ESYS; /* maybe partly sent: not "nothing sent" */
			break;
		}
		*sent = 1;
		rc = read_answer(c, deadline, stop, status, snippet, snippet_len, &any, err, errlen);
		if (rc == TOLL_ECLOSED && reused && !any) {
			conn_close(c);
			*sent = 0;
			continue;
		}
		if (rc != 0)
			conn_close(c);
		break;
	}
	free(req);
	return rc;
}
