/* http.h: a minimal HTTP/1.1 client, for central's notification webhook
 * (central/notify.c, docs/notifications.md): one POST at a time on a
 * connection kept alive between requests, plain TCP.  TLS is not here: a
 * webhook over https goes through a local relay (stunnel, nginx), see the
 * docs.
 *
 * What the server answers is data from outside: the response head is
 * parsed by toll_http_parse_head from a bounded buffer, by explicit
 * lengths, never as a C string; a body is read only when its length is
 * given and small, and otherwise the connection is closed. */
#ifndef TOLL_HTTP_H
#define TOLL_HTTP_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define TOLL_HTTP_HEAD_MAX 16384 /* bytes of a response head, at most */
#define TOLL_HTTP_BODY_KEEP 65536 /* larger bodies are not read: the connection closes */

/* http://HOST[:PORT][/PATH[?QUERY]]; HOST a name, an IPv4 address or
 * [IPv6]; PORT 80 when not given. */
struct toll_http_url {
	char host[256];
	char port[6];
	char hostport[270]; /* for the Host header, as written in the URL */
	char target[1024];  /* the request target: path and query, "/" at least */
};

/* 0, or TOLL_EINVAL with the reason in err (https:// says to use a relay). */
int toll_http_parse_url(const char *url, struct toll_http_url *u, char *err, size_t errlen);

struct toll_http_head {
	int status;		/* 100..599 */
	int minor;		/* HTTP/1.minor */
	int64_t content_length; /* -1: not given */
	int chunked;		/* Transfer-Encoding names chunked */
	int close;		/* Connection: close, or HTTP/1.0 without keep-alive */
	size_t head_len;	/* bytes of the head, its empty line included */
};

/* Parse the response head at the start of buf[0..len): 0 with *h filled;
 * TOLL_ESHORT when the head has not ended yet (read more); TOLL_EFORMAT
 * when these bytes are not an HTTP/1.x response head (a bad status line,
 * a header line without a colon, a Content-Length that is not a number
 * or given twice with two values). */
int toll_http_parse_head(const void *buf, size_t len, struct toll_http_head *h);

/* A connection to one URL (opened on first use, kept alive while the
 * server allows it). */
struct toll_http_conn;
int toll_http_conn_new(const struct toll_http_url *u, struct toll_http_conn **out);
void toll_http_conn_free(struct toll_http_conn *c);

/* POST body (len bytes) with extra header lines (each ending "\r\n"; Host,
 * Content-Length and Connection are added here) within timeout_ms, giving
 * up early when *stop becomes non-zero.  A kept-alive connection the
 * server closed meanwhile is opened again and the request sent once more.
 *   0: *status is the answer's status (the final one, after any 1xx), and
 *      snippet (when snippet_len > 0) its body's first bytes as text;
 *   TOLL_ECLOSED: no connection (refused, unreachable, unknown host);
 *      nothing was sent;
 *   TOLL_ETIMEDOUT, TOLL_EFORMAT (the answer is not HTTP), TOLL_ECLOSED
 *      (closed before answering), TOLL_ESYS: after sending, with *sent 1
 *      when the whole request went out (the server may have acted on it).
 * err gets the detail. */
int toll_http_post(struct toll_http_conn *c, const char *extra_headers, const void *body, size_t len,
		   int64_t timeout_ms, const atomic_int *stop, int *status, char *snippet, size_t snippet_len,
		   int *sent, char *err, size_t errlen);

#endif
