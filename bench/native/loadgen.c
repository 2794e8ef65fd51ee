// A lean load generator and backend for the balancer's connections-per-second bench, so that the
// measuring parties spend little of the machine's CPU and the proxies' own cost decides the result.
// The Node.js client and backend of bench/balancer.ts spend about 100 µs of CPU per connection each,
// as much as the proxy under test; these spend a fraction of that.
//
//   loadgen serve N                    N backends on 127.0.0.1: prints "PORTS p1 p2 ...", serves until
//                                      stdin closes. Each connection: an optional PROXY v2 header, then
//                                      one byte; answers "c" and closes.
//   loadgen connect PORT CONC MILLIS   keeps CONC connections in flight against PORT for MILLIS ms:
//                                      connect, send "C", wait for the answer, close. Prints
//                                      {"done":N,"failed":N,"seconds":S}.
//
// Built by bench/balancer.ts with the machine's C compiler (cc -O2); not part of lncluster.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS 256
#define MAX_PORTS 16

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

// ------------------------------------------------------------------------------------------------
// serve

typedef struct {
  int fd;
  int listener;        // 1 for a listening socket
  uint8_t buf[256];    // what arrived so far (header and first byte)
  size_t len;
} served_t;

/** Bytes before the payload: a PROXY v2 header's length when `b` starts with one, 0 when it does not,
 * -1 when more bytes are needed to tell. */
static long header_length(const uint8_t* b, size_t len) {
  if (len == 0) return -1;
  if (b[0] != 0x0d) return 0;
  if (len < 16) return -1;
  return 16 + ((long)b[14] << 8 | b[15]);
}

static int serve(int count) {
  if (count < 1 || count > MAX_PORTS) return 2;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  printf("PORTS");
  for (int i = 0; i < count; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(fd, (struct sockaddr*)&a, sizeof a) != 0 || listen(fd, 4096) != 0) return 1;
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr*)&a, &al);
    printf(" %d", ntohs(a.sin_port));
    served_t* s = calloc(1, sizeof *s);
    s->fd = fd;
    s->listener = 1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  printf("\n");
  fflush(stdout);
  // stdin closing (the bench exiting) ends us.
  served_t in = {.fd = 0, .listener = 2};
  struct epoll_event iev = {.events = EPOLLIN | EPOLLHUP, .data.ptr = &in};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &iev);
  struct epoll_event events[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    for (int i = 0; i < n; i++) {
      served_t* s = events[i].data.ptr;
      if (s->listener == 2) return 0;
      if (s->listener) {
        for (;;) {
          int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          served_t* c = calloc(1, sizeof *c);
          c->fd = fd;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      ssize_t got = recv(s->fd, s->buf + s->len, sizeof s->buf - s->len, 0);
      if (got < 0 && errno == EAGAIN) continue;
      if (got > 0) s->len += (size_t)got;
      long header = header_length(s->buf, s->len);
      if (got > 0 && (header < 0 || (size_t)header >= s->len) && s->len < sizeof s->buf) continue;
      if (got > 0) send(s->fd, "c", 1, MSG_NOSIGNAL);
      close(s->fd);  // no unread bytes: a FIN, not a reset
      free(s);
    }
  }
}

// ------------------------------------------------------------------------------------------------
// connect

static int open_one(int ep, struct sockaddr_in* target) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (connect(fd, (struct sockaddr*)target, sizeof *target) != 0 && errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  // Writable once connected; readable once answered (one-shot each, re-armed by hand).
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return fd;
}

static int run_connect(int port, int concurrency, int millis) {
  struct sockaddr_in target = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ep = epoll_create1(EPOLL_CLOEXEC);
  long done = 0, failed = 0;
  int open = 0;
  double start = now_seconds();
  double end = start + millis / 1000.0;
  for (int i = 0; i < concurrency; i++)
    if (open_one(ep, &target) >= 0) open++;
    else failed++;
  struct epoll_event events[MAX_EVENTS];
  while (open > 0) {
    int n = epoll_wait(ep, events, MAX_EVENTS, 100);
    int running = now_seconds() < end;
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      uint32_t e = events[i].events;
      int finished = 0;
      if (e & EPOLLOUT) {
        int error = 0;
        socklen_t el = sizeof error;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &el);
        if (error || send(fd, "C", 1, MSG_NOSIGNAL) != 1) {
          failed++;
          finished = 1;
        } else {
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
      } else {
        char c;
        ssize_t got = recv(fd, &c, 1, 0);
        if (got < 0 && errno == EAGAIN) continue;
        if (got == 1) done++;
        else failed++;
        finished = 1;
      }
      if (!finished) continue;
      close(fd);
      open--;
      if (running) {
        if (open_one(ep, &target) >= 0) open++;
        else failed++;
      }
    }
    if (!running && n == 0) break;
  }
  printf("{\"done\":%ld,\"failed\":%ld,\"seconds\":%.6f}\n", done, failed, now_seconds() - start);
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
  if (argc >= 5 && strcmp(argv[1], "connect") == 0) return run_connect(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  fprintf(stderr, "usage: loadgen serve N | loadgen connect PORT CONCURRENCY MILLIS\n");
  return 2;
}
