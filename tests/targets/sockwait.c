/* A thread blocked reading a TCP socket connected over 127.0.0.1. Prints
 * "ready CLIENT_PORT SERVER_PORT" and waits for
 * a line on stdin; then the server sends a byte, the reader wakes and the
 * program exits 0. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static int client;

__attribute__((noinline)) static void wait_for_reply(void)
{
	char c;
	if (recv(client, &c, 1, 0) != 1)
		_exit(3);
	__asm__ volatile("" ::: "memory");
}

static void *reader(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "sock-reader");
	wait_for_reply();
	return NULL;
}

int main(void)
{
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	if (bind(srv, (struct sockaddr *)&a, sizeof(a)) || listen(srv, 1) ||
	    getsockname(srv, (struct sockaddr *)&a, &len))
		return 2;
	client = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(client, (struct sockaddr *)&a, sizeof(a)))
		return 2;
	int conn = accept(srv, NULL, NULL);
	struct sockaddr_in mine;
	len = sizeof(mine);
	getsockname(client, (struct sockaddr *)&mine, &len);
	pthread_t t;
	pthread_create(&t, NULL, reader, NULL);
	printf("ready %d %d\n", ntohs(mine.sin_port), ntohs(a.sin_port));
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	if (write(conn, "x", 1) != 1)
		return 2;
	pthread_join(t, NULL);
	return 0;
}
