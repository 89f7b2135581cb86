/* test_http.c: the webhook client's URL and response head parsers
 * (common/http): good heads in their variants, heads cut anywhere
 * (TOLL_ESHORT, never a wrong answer), and what is refused. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http.h"
#include "unit.h"

static int
parse(const char *s, struct toll_http_head *h)
{
	return toll_http_parse_head(s, strlen(s), h);
}

START_TEST(test_url_good)
{
	struct toll_http_url u;
	char err[300];

	ck_assert_int_eq(toll_http_parse_url("http://127.0.0.1:8080/hooks/toll?x=1", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_str_eq(u.port, "8080");
	ck_assert_str_eq(u.hostport, "127.0.0.1:8080");
	ck_assert_str_eq(u.target, "/hooks/toll?x=1");
	ck_assert_int_eq(toll_http_parse_url("HTTP://sms.example", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "sms.example");
	ck_assert_str_eq(u.port, "80");
	ck_assert_str_eq(u.target, "/");
	ck_assert_int_eq(toll_http_parse_url("http://[::1]:9/a#frag", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.port, "9");
	ck_assert_str_eq(u.hostport, "[::1]:9");
	ck_assert_str_eq(u.target, "/a");
	ck_assert_int_eq(toll_http_parse_url("http://h?q", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.target, "/?q");
}
END_TEST

START_TEST(test_url_refused)
{
	static const char *const bad[] = {
		"https://h/", "ftp://h/", "h:80/", "http://", "http://:80/", "http://h:0/", "http://h:65536/",
		"http://h:8x/", "http://u:p@h/", "http://h/a b", "http://h/\r\nX: y", "http://[::1/", "http://[::1]x/",
		"http://h:/",
	};
	struct toll_http_url u;
	char err[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(toll_http_parse_url(bad[i], &u, err, sizeof(err)) == TOLL_EINVAL, "%s", bad[i]);
	toll_http_parse_url("https://h/", &u, err, sizeof(err));
	ck_assert_ptr_nonnull(strstr(err, "relay"));
}
END_TEST

START_TEST(test_head_good)
{
	struct toll_http_head h;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";

	ck_assert_int_eq(parse(s, &h), 0);
	ck_assert_int_eq(h.status, 200);
	ck_assert_int_eq(h.minor, 1);
	ck_assert_int_eq(h.content_length, 11);
	ck_assert_int_eq(h.chunked, 0);
	ck_assert_int_eq(h.close, 0);
	ck_assert_uint_eq(h.head_len, strlen(s) - 11);
	ck_assert_int_eq(parse("HTTP/1.1 500\r\n\r\n", &h), 0); /* no reason phrase */
	ck_assert_int_eq(h.status, 500);
	ck_assert_int_eq(h.content_length, -1);
	ck_assert_int_eq(parse("HTTP/1.1 204 No Content\nconnection: Close\n\n", &h), 0); /* bare LF */
	ck_assert_int_eq(h.close, 1);
	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\n\r\n", &h), 0);
	ck_assert_int_eq(h.close, 1);
	ck_assert_int_eq(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", &h), 0);
	ck_assert_int_eq(h.close, 0);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", &h), 0);
	ck_assert_int_eq(h.chunked, 1);
	ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length:  5 \r\n\r\n", &h), 0);
	ck_assert_int_eq(h.content_length, 5);
	ck_assert_int_eq(parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", &h), 0);
	ck_assert_int_eq(h.status, 100);
	ck_assert_uint_eq(h.head_len, 25);
}
END_TEST

START_TEST(test_head_cut_anywhere)
{
	const char *s = "HTTP/1.1 201 Created\r\nX-A: b\r\nContent-Length: 0\r\n\r\n";
	struct toll_http_head h;
	size_t n = strlen(s);

	for (size_t cut = 0; cut < n; cut++)
		ck_assert_msg(toll_http_parse_head(s, cut, &h) == TOLL_ESHORT, "cut at %zu", cut);
	ck_assert_int_eq(toll_http_parse_head(s, n, &h), 0);
	ck_assert_int_eq(h.status, 201);
}
END_TEST

START_TEST(test_head_refused)
{
	static const char *const bad[] = {
		"HTTP/2 200\r\n\r\n", "HTTP/1.1 20\r\n\r\n", "HTTP/1.1 2000\r\n\r\n", "HTTP/1.1 099\r\n\r\n",
		"HTTP/1.1 600 x\r\n\r\n", "HTTP/1.1 200OK\r\n\r\n", "SSH-2.0-OpenSSH\r\n", "\x16\x03\x01",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: empty\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
	};
	struct toll_http_head h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &h) == TOLL_EFORMAT, "%s", bad[i]);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_url_good);
	tcase_add_test(tc, test_url_refused);
	tcase_add_test(tc, test_head_good);
	tcase_add_test(tc, test_head_cut_anywhere);
	tcase_add_test(tc, test_head_refused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(http_suite());
}
