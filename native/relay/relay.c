// The built-in balancer's native data path: accept, connect, PROXY v2 header, and byte forwarding
// with backpressure and half-close, on Node's own event loop (no thread, no locks).
//
// Policy stays in TypeScript (src/balancer/native-engine.ts): admission, the choice of front, health,
// retries and counters per front. This file calls into JS at most four times per connection:
// accepted (JS answers with a backend slot or refuses), connected, failed (JS answers with the next
// slot or gives up) and closed. Everything per byte happens here.
//
// Sockets live in an epoll instance of our own, edge-triggered, which libuv watches as one more file
// descriptor (a uv_poll_t). Each socket enters epoll once, for every event it will ever need, and
// leaves it by being closed: no MOD when reading pauses or resumes, no DEL before close (libuv does
// both for its own handles). That and reading the client only once its front is connected put a
// short connection at about 16 system calls, against 22 for HAProxy and 24 through net.Socket.
//
// Memory: a read buffer (64 KiB) is held only while its bytes wait for the other side to accept
// them; otherwise it goes back to a small pool. An idle Lightning peer costs this file's ~300 bytes
// of bookkeeping and the kernel's two sockets.
#define _GNU_SOURCE  // accept4
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE 65536
#define POOL_KEEP 256
#define MAX_BACKENDS 4096
#define MAX_TLV_BYTES 1024
#define HEADER_FIXED 16
#define HEADER_MAX (HEADER_FIXED + 36 + MAX_TLV_BYTES)
#define EVENTS_PER_WAIT 256
#define ACCEPTS_PER_EVENT 64
#define TICK_MS 100
/** The id half of an event's data that marks a listener (its token is then the listener's index). */
#define LISTENER_ID 0xffffffffu

typedef struct relay relay_t;
typedef struct conn conn_t;

typedef struct side {
  int fd;            // -1 when closed or not opened
  uint32_t token;    // tells this socket's events from a former socket's with the same conn id
  int read_eof;      // this socket sent us its end of stream
  int hup;           // epoll said the peer is gone or done: read to the end, not to a short read
  int shut;          // we ended our writing on this socket
  int shut_pending;  // its shutdown waits for `pending` to be written
  char* pending;     // bytes for this socket the kernel did not take yet (a pool buffer)
  size_t pending_at, pending_len;
} side_t;

struct conn {
  relay_t* relay;
  uint32_t id;
  int slot;          // backend being tried or carrying the connection
  int admitted;      // JS accepted it: it gets exactly one `closed` call
  int connecting;
  int connected;
  int closing;
  side_t client, up;
  uint64_t idle_deadline;     // 0 once the client sent a byte
  uint64_t connect_deadline;  // 0 when not connecting
  int timed;                  // in the relay's deadline list
  conn_t *timed_prev, *timed_next;
  conn_t* next_dead;          // closed, waiting to be freed (see reap)
  struct sockaddr_in6 src, dst;  // IPv4 stored IPv4-mapped
  int addresses_known;
};

typedef struct listener {
  int fd;
  int fixed;         // bound to one address: the header's destination needs no getsockname
  int paused;        // out of descriptors: accepting resumes on the next tick
  struct sockaddr_in6 local;
} listener_t;

typedef struct backend {
  int valid;
  struct sockaddr_storage addr;
  socklen_t len;
} backend_t;

struct relay {
  napi_env env;
  uv_loop_t* loop;
  napi_ref on_accept, on_connected, on_failed, on_closed, resource;
  napi_async_context context;
  int epfd;
  uv_poll_t poll;
  uv_timer_t tick;
  int tick_running;
  int proxy_protocol;
  uint8_t tlvs[MAX_TLV_BYTES];
  size_t tlv_len;
  uint64_t idle_ms, connect_ms;
  backend_t* backends;
  conn_t** conns;
  uint32_t conn_capacity;
  uint32_t* free_ids;
  uint32_t free_count;
  uint32_t next_token;
  listener_t** listeners;
  int listener_count;
  conn_t* timed_head;
  conn_t* dead;      // closed connections, freed when the current event has been handled
  char* pool[POOL_KEEP];
  int pool_count;
  double bytes_from_clients, bytes_to_clients, idle_timeouts, open_connections;
  int handles_open;  // poll and tick: closed asynchronously by libuv on dispose
  int disposed;
  int collected;     // JS dropped its handle: the struct itself may go
};

static const uint8_t SIGNATURE[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const uint32_t SOCKET_EVENTS = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

static void conn_close(conn_t* c);
static void connect_failed(conn_t* c);
static void pump(conn_t* c, side_t* from);
static void reap(relay_t* r);

// ---------------------------------------------------------------------------------------------
// Buffers

static char* pool_get(relay_t* r) {
  if (r->pool_count > 0) return r->pool[--r->pool_count];
  return malloc(BUFFER_SIZE);
}

static void pool_put(relay_t* r, char* b) {
  if (!b) return;
  if (r->pool_count < POOL_KEEP) r->pool[r->pool_count++] = b;
  else free(b);
}

// ---------------------------------------------------------------------------------------------
// Calls into JS

/** Calls one of the callbacks; an exception becomes an uncaught exception of the process. */
static int call_js(relay_t* r, napi_ref fn_ref, size_t argc, napi_value* argv, int32_t* result) {
  napi_env env = r->env;
  napi_value fn, recv, ret;
  if (r->disposed || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return -1;
  napi_get_reference_value(env, r->resource, &recv);  // MakeCallback needs an object as `this`
  napi_status status = napi_make_callback(env, r->context, recv, fn, argc, argv, &ret);
  if (status != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
    return -1;
  }
  if (result && napi_get_value_int32(env, ret, result) != napi_ok) *result = -1;
  return 0;
}

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

/** `fn(id, value)`, returning its int32 answer (-1 when it has none). */
static int32_t call_js2(relay_t* r, napi_ref fn, double id, double value) {
  napi_handle_scope scope;
  napi_open_handle_scope(r->env, &scope);
  napi_value argv[2] = {num(r->env, id), num(r->env, value)};
  int32_t answer = -1;
  if (call_js(r, fn, 2, argv, &answer) != 0) answer = -1;
  napi_close_handle_scope(r->env, scope);
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Deadlines: one list of the connections that have one (idle or connecting), walked every tick.

static void on_tick(uv_timer_t* t);

static void timed_update(conn_t* c) {
  relay_t* r = c->relay;
  int want = !c->closing && (c->idle_deadline || c->connect_deadline);
  if (want == c->timed) return;
  if (want) {
    c->timed_prev = NULL;
    c->timed_next = r->timed_head;
    if (r->timed_head) r->timed_head->timed_prev = c;
    r->timed_head = c;
    if (!r->tick_running) {
      uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
      r->tick_running = 1;
    }
  } else {
    if (c->timed_prev) c->timed_prev->timed_next = c->timed_next;
    else r->timed_head = c->timed_next;
    if (c->timed_next) c->timed_next->timed_prev = c->timed_prev;
  }
  c->timed = want;
}

static void resume_listeners(relay_t* r);

static void on_tick(uv_timer_t* t) {
  relay_t* r = (relay_t*)t->data;
  uint64_t now = uv_now(r->loop);
  resume_listeners(r);
  conn_t* c = r->timed_head;
  while (c) {
    conn_t* next = c->timed_next;
    if (c->idle_deadline && now >= c->idle_deadline) {
      r->idle_timeouts++;
      conn_close(c);
    } else if (c->connect_deadline && now >= c->connect_deadline) {
      connect_failed(c);  // the next attempt sets its own deadline, or the connection closes
    }
    c = next;
  }
  reap(r);
  int paused = 0;
  for (int i = 0; i < r->listener_count; i++)
    if (r->listeners[i] && r->listeners[i]->paused) paused = 1;
  if (!r->timed_head && !paused) {
    uv_timer_stop(&r->tick);
    r->tick_running = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Connection lifetime

static void close_side(relay_t* r, side_t* s) {
  if (s->fd >= 0) close(s->fd);  // closing also takes it out of epoll
  s->fd = -1;
  s->token = 0;
  pool_put(r, s->pending);
  s->pending = NULL;
}

/**
 * Ends the connection now (both sockets); JS hears `closed` once if it admitted it. The struct
 * outlives this call: whoever called may still be reading it (a flush that ended in a close returns
 * to the event handler that called it). It is freed by `reap`, once the event is handled.
 */
static void conn_close(conn_t* c) {
  if (c->closing) return;
  c->closing = 1;
  relay_t* r = c->relay;
  timed_update(c);
  if (c->admitted) call_js2(r, r->on_closed, c->id, c->connected ? c->slot : -1);
  close_side(r, &c->client);
  close_side(r, &c->up);
  if (c->admitted) r->open_connections--;
  c->next_dead = r->dead;
  r->dead = c;
}

/** Frees the closed connections and gives their ids back; called where an event's handling ends. */
static void reap(relay_t* r) {
  while (r->dead) {
    conn_t* c = r->dead;
    r->dead = c->next_dead;
    if (r->conns) r->conns[c->id] = NULL;
    if (r->free_ids) r->free_ids[r->free_count++] = c->id;
    free(c);
  }
}

static uint32_t new_token(relay_t* r) {
  if (++r->next_token == 0) r->next_token = 1;
  return r->next_token;
}

static int watch(relay_t* r, conn_t* c, side_t* s) {
  s->token = new_token(r);
  struct epoll_event ev = {.events = SOCKET_EVENTS, .data.u64 = ((uint64_t)s->token << 32) | c->id};
  return epoll_ctl(r->epfd, EPOLL_CTL_ADD, s->fd, &ev);
}

// ---------------------------------------------------------------------------------------------
// Forwarding

static side_t* other_side(conn_t* c, side_t* s) {
  return s == &c->client ? &c->up : &c->client;
}

/** Both sockets sent their end and got ours: nothing is left to forward. */
static void maybe_finished(conn_t* c) {
  if (c->client.read_eof && c->up.read_eof && c->client.shut && c->up.shut && !c->client.pending && !c->up.pending) conn_close(c);
}

/**
 * Passes an end of stream on to `to`. When `to` has already sent its own end and has been told of
 * ours, closing both sockets sends the FIN a shutdown would, without the system call: the common case
 * when a short connection ends from both sides. Nothing is unread on either socket, so the close
 * cannot turn into a reset.
 */
static void finish_writing(conn_t* c, side_t* to) {
  side_t* from = other_side(c, to);
  if (to->pending) {
    to->shut_pending = 1;  // after the bytes still waiting for it
    return;
  }
  if (to->shut) return;
  if (to->read_eof && from->shut && !from->pending) {
    conn_close(c);
    return;
  }
  if (shutdown(to->fd, SHUT_WR) != 0) {
    conn_close(c);
    return;
  }
  to->shut = 1;
  maybe_finished(c);
}

/**
 * Writes `len` bytes of `b` (a pool buffer) to `to`. Returns 1 when all were taken; otherwise `to`
 * keeps the rest and the buffer until epoll says it can take more (0), or the connection is closed (-1).
 */
static int send_to(conn_t* c, side_t* to, char* b, size_t at, size_t len) {
  relay_t* r = c->relay;
  while (at < len) {
    ssize_t n = send(to->fd, b + at, len - at, MSG_NOSIGNAL);
    if (n > 0) {
      at += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      to->pending = b;
      to->pending_at = at;
      to->pending_len = len;
      return 0;
    }
    pool_put(r, b);
    conn_close(c);
    return -1;
  }
  pool_put(r, b);
  return 1;
}

/** epoll says `to` can take more: writes what waits for it, then lets its source go on. */
static void flush(conn_t* c, side_t* to) {
  char* b = to->pending;
  if (!b) return;
  to->pending = NULL;
  if (send_to(c, to, b, to->pending_at, to->pending_len) != 1) return;
  if (to->shut_pending) {
    to->shut_pending = 0;
    finish_writing(c, to);
    if (c->closing) return;
  }
  side_t* from = other_side(c, to);
  if (!from->read_eof && from->fd >= 0) pump(c, from);
}

/**
 * Moves what `from` has to the other socket, until `from` has nothing more, or the other socket is
 * full (then `from` waits: edge-triggered epoll will not repeat what it has already said, so the
 * flush of the other side calls this again).
 */
static void pump(conn_t* c, side_t* from) {
  relay_t* r = c->relay;
  side_t* to = other_side(c, from);
  while (!c->closing && !to->pending && !from->read_eof) {
    char* b = pool_get(r);
    if (!b) {
      conn_close(c);
      return;
    }
    ssize_t n = recv(from->fd, b, BUFFER_SIZE, 0);
    if (n > 0) {
      if (from == &c->client) {
        r->bytes_from_clients += (double)n;
        if (c->idle_deadline) {
          c->idle_deadline = 0;
          timed_update(c);
        }
      } else {
        r->bytes_to_clients += (double)n;
      }
      if (send_to(c, to, b, 0, (size_t)n) != 1) return;
      // A short read emptied the socket: a later arrival is a new edge. Unless the peer has also
      // ended (hup): its end may already sit behind these bytes, and no edge would announce it.
      if (n < BUFFER_SIZE && !from->hup) return;
      continue;
    }
    pool_put(r, b);
    if (n == 0) {
      from->read_eof = 1;
      finish_writing(c, to);
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) conn_close(c);
    return;
  }
}

// ---------------------------------------------------------------------------------------------
// PROXY protocol v2

static int is_v4_mapped(const struct in6_addr* a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return memcmp(a->s6_addr, prefix, 12) == 0;
}

/** Any socket address as IPv6 (IPv4 becomes IPv4-mapped), so one shape serves both families. */
static int to_in6(const struct sockaddr_storage* ss, struct sockaddr_in6* out) {
  memset(out, 0, sizeof *out);
  out->sin6_family = AF_INET6;
  if (ss->ss_family == AF_INET6) {
    *out = *(const struct sockaddr_in6*)ss;
    return 0;
  }
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* v4 = (const struct sockaddr_in*)ss;
    out->sin6_addr.s6_addr[10] = 0xff;
    out->sin6_addr.s6_addr[11] = 0xff;
    memcpy(&out->sin6_addr.s6_addr[12], &v4->sin_addr, 4);
    out->sin6_port = v4->sin_port;
    return 0;
  }
  return -1;
}

/** The header for `c` into `out` (room for HEADER_MAX bytes); returns its length. */
static size_t build_header(conn_t* c, uint8_t* out) {
  relay_t* r = c->relay;
  memcpy(out, SIGNATURE, 12);
  out[12] = 0x21;  // version 2, PROXY
  size_t at = HEADER_FIXED;
  if (!c->addresses_known) {
    out[13] = 0x00;  // UNSPEC
  } else if (is_v4_mapped(&c->src.sin6_addr) && is_v4_mapped(&c->dst.sin6_addr)) {
    out[13] = 0x11;  // TCP over IPv4
    memcpy(out + at, &c->src.sin6_addr.s6_addr[12], 4);
    memcpy(out + at + 4, &c->dst.sin6_addr.s6_addr[12], 4);
    memcpy(out + at + 8, &c->src.sin6_port, 2);
    memcpy(out + at + 10, &c->dst.sin6_port, 2);
    at += 12;
  } else {
    out[13] = 0x21;  // TCP over IPv6 (an IPv4 end in its mapped form: one family per header)
    memcpy(out + at, c->src.sin6_addr.s6_addr, 16);
    memcpy(out + at + 16, c->dst.sin6_addr.s6_addr, 16);
    memcpy(out + at + 32, &c->src.sin6_port, 2);
    memcpy(out + at + 34, &c->dst.sin6_port, 2);
    at += 36;
  }
  memcpy(out + at, r->tlvs, r->tlv_len);
  at += r->tlv_len;
  size_t body = at - HEADER_FIXED;
  out[14] = (uint8_t)(body >> 8);
  out[15] = (uint8_t)(body & 0xff);
  return at;
}

// ---------------------------------------------------------------------------------------------
// Connecting

static void start_connect(conn_t* c, int slot);

/** The current attempt failed before any byte was forwarded: JS names the next front, or gives up. */
static void connect_failed(conn_t* c) {
  relay_t* r = c->relay;
  if (c->closing) return;
  close_side(r, &c->up);
  c->connecting = 0;
  c->connect_deadline = 0;
  int32_t next = call_js2(r, r->on_failed, c->id, c->slot);
  if (c->closing) return;
  if (next < 0) conn_close(c);
  else start_connect(c, next);
}

static void upstream_connected(conn_t* c) {
  relay_t* r = c->relay;
  c->connecting = 0;
  c->connected = 1;
  c->connect_deadline = 0;
  timed_update(c);
  call_js2(r, r->on_connected, c->id, c->slot);
  if (c->closing) return;
  int one = 1;
  setsockopt(c->up.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // The client is read for the first time only now: whatever it sent while we connected (a BOLT 8
  // act one, usually) goes out right behind the header, in the same buffer and the same write.
  char* b = pool_get(r);
  if (!b) {
    conn_close(c);
    return;
  }
  size_t header_len = r->proxy_protocol ? build_header(c, (uint8_t*)b) : 0;
  ssize_t n = recv(c->client.fd, b + header_len, BUFFER_SIZE - header_len, 0);
  size_t len = header_len;
  if (n > 0) {
    len += (size_t)n;
    r->bytes_from_clients += (double)n;
    c->idle_deadline = 0;
    timed_update(c);
  } else if (n == 0) {
    c->client.read_eof = 1;
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    pool_put(r, b);
    conn_close(c);
    return;
  }
  int sent = len > 0 ? send_to(c, &c->up, b, 0, len) : (pool_put(r, b), 1);
  if (sent < 0) return;
  // Whatever arrives from now on is announced by epoll (adding a socket that already has data
  // reports it at once).
  if (watch(r, c, &c->client) != 0) {
    conn_close(c);
    return;
  }
  if (c->client.read_eof) finish_writing(c, &c->up);
}

static void start_connect(conn_t* c, int slot) {
  relay_t* r = c->relay;
  c->slot = slot;
  if (slot < 0 || slot >= MAX_BACKENDS || !r->backends[slot].valid) {
    connect_failed(c);
    return;
  }
  backend_t* b = &r->backends[slot];
  int fd = socket(b->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    connect_failed(c);
    return;
  }
  c->up.fd = fd;
  c->up.read_eof = c->up.hup = c->up.shut = c->up.shut_pending = 0;
  c->connecting = 1;
  if ((connect(fd, (struct sockaddr*)&b->addr, b->len) != 0 && errno != EINPROGRESS) || watch(r, c, &c->up) != 0) {
    connect_failed(c);
    return;
  }
  // The outcome arrives as an epoll event (writable: connected; error or hang-up: refused).
  c->connect_deadline = uv_now(r->loop) + r->connect_ms;
  timed_update(c);
}

// ---------------------------------------------------------------------------------------------
// Events

static void on_upstream_event(conn_t* c, uint32_t events) {
  if (c->connecting) {
    // A connect that failed sets the socket's error, which epoll reports as EPOLLERR; writable
    // without it is connected (no getsockopt(SO_ERROR) needed to tell).
    if (events & (EPOLLERR | EPOLLHUP)) {
      connect_failed(c);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    upstream_connected(c);
    if (c->closing) return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->up.hup = 1;
  if (events & EPOLLOUT) flush(c, &c->up);
  if (!c->closing && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) pump(c, &c->up);
}

static void on_client_event(conn_t* c, uint32_t events) {
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->client.hup = 1;
  if (events & EPOLLOUT) flush(c, &c->client);
  if (!c->closing && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) pump(c, &c->client);
}

static conn_t* conn_new(relay_t* r) {
  if (r->free_count == 0) {
    uint32_t grown = r->conn_capacity ? r->conn_capacity * 2 : 1024;
    conn_t** conns = realloc(r->conns, grown * sizeof(conn_t*));
    if (conns) r->conns = conns;
    uint32_t* ids = realloc(r->free_ids, grown * sizeof(uint32_t));
    if (ids) r->free_ids = ids;
    if (!conns || !ids) return NULL;
    for (uint32_t i = r->conn_capacity; i < grown; i++) r->conns[i] = NULL;
    // Low ids first: JS keeps per-connection state in arrays indexed by id.
    for (uint32_t i = grown; i > r->conn_capacity; i--) r->free_ids[r->free_count++] = i - 1;
    r->conn_capacity = grown;
  }
  conn_t* c = calloc(1, sizeof(conn_t));
  if (!c) return NULL;
  c->id = r->free_ids[--r->free_count];
  r->conns[c->id] = c;
  c->relay = r;
  c->slot = -1;
  c->client.fd = -1;
  c->up.fd = -1;
  return c;
}

static void accepted(relay_t* r, listener_t* l, int fd, struct sockaddr_storage* peer) {
  conn_t* c = conn_new(r);
  if (!c) {
    close(fd);
    return;
  }
  c->client.fd = fd;
  char address[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (to_in6(peer, &c->src) == 0) {
    if (l->fixed) {
      c->dst = l->local;
      c->addresses_known = 1;
    } else {
      struct sockaddr_storage local;
      socklen_t len = sizeof local;
      if (getsockname(fd, (struct sockaddr*)&local, &len) == 0 && to_in6(&local, &c->dst) == 0) c->addresses_known = 1;
    }
    if (is_v4_mapped(&c->src.sin6_addr)) inet_ntop(AF_INET, &c->src.sin6_addr.s6_addr[12], address, sizeof address);
    else inet_ntop(AF_INET6, &c->src.sin6_addr, address, sizeof address);
    port = ntohs(c->src.sin6_port);
  }
  napi_handle_scope scope;
  napi_open_handle_scope(r->env, &scope);
  napi_value argv[3];
  argv[0] = num(r->env, c->id);
  napi_create_string_latin1(r->env, address, NAPI_AUTO_LENGTH, &argv[1]);
  argv[2] = num(r->env, port);
  int32_t slot = -1;
  if (call_js(r, r->on_accept, 3, argv, &slot) != 0) slot = -1;
  napi_close_handle_scope(r->env, scope);
  if (slot < 0 || c->closing) {
    conn_close(c);  // refused (JS counted why): not admitted, so no `closed` call
    return;
  }
  c->admitted = 1;
  r->open_connections++;
  c->idle_deadline = r->idle_ms ? uv_now(r->loop) + r->idle_ms : 0;
  start_connect(c, slot);
}

static void on_listener_event(relay_t* r, uint32_t index) {
  if ((int)index >= r->listener_count || !r->listeners[index]) return;
  listener_t* l = r->listeners[index];
  for (int i = 0; i < ACCEPTS_PER_EVENT && r->listeners[index] == l; i++) {
    struct sockaddr_storage peer;
    socklen_t len = sizeof peer;
    int fd = accept4(l->fd, (struct sockaddr*)&peer, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      accepted(r, l, fd, &peer);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Out of descriptors: the listener stays readable, so it leaves epoll until the next tick
      // instead of waking us in a loop. Clients wait in the backlog meanwhile.
      struct epoll_event ev = {.events = 0, .data.u64 = ((uint64_t)index << 32) | LISTENER_ID};
      epoll_ctl(r->epfd, EPOLL_CTL_MOD, l->fd, &ev);
      l->paused = 1;
      if (!r->tick_running) {
        uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS);
        r->tick_running = 1;
      }
    }
    return;  // EAGAIN: all taken; level-triggered, so anything left is reported again
  }
}

static void resume_listeners(relay_t* r) {
  for (int i = 0; i < r->listener_count; i++) {
    listener_t* l = r->listeners[i];
    if (!l || !l->paused) continue;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)i << 32) | LISTENER_ID};
    epoll_ctl(r->epfd, EPOLL_CTL_MOD, l->fd, &ev);
    l->paused = 0;
  }
}

static void on_epoll_ready(uv_poll_t* handle, int status, int events) {
  relay_t* r = (relay_t*)handle->data;
  struct epoll_event ready[EVENTS_PER_WAIT];
  int n;
  do {
    n = epoll_wait(r->epfd, ready, EVENTS_PER_WAIT, 0);
    for (int i = 0; i < n; i++) {
      uint32_t id = (uint32_t)ready[i].data.u64;
      uint32_t token = (uint32_t)(ready[i].data.u64 >> 32);
      if (id == LISTENER_ID) {
        on_listener_event(r, token);
        continue;
      }
      // A closed connection's id may already serve a new one: the token tells them apart.
      conn_t* c = id < r->conn_capacity ? r->conns[id] : NULL;
      if (!c || c->closing) continue;
      if (token == c->up.token) on_upstream_event(c, ready[i].events);
      else if (token == c->client.token) on_client_event(c, ready[i].events);
    }
    reap(r);
  } while (n == EVENTS_PER_WAIT && !r->disposed);
}

// ---------------------------------------------------------------------------------------------
// Relay object and its JS API

static void relay_release(relay_t* r) {
  for (int i = 0; i < r->pool_count; i++) free(r->pool[i]);
  r->pool_count = 0;
  free(r->backends);
  free(r->conns);
  free(r->free_ids);
  free(r->listeners);
  r->backends = NULL;
  r->conns = NULL;
  r->free_ids = NULL;
  r->listeners = NULL;
  r->conn_capacity = 0;
  r->listener_count = 0;
}

/** The struct stays until both libuv has closed its handles and JS has dropped its handle. */
static void relay_maybe_free(relay_t* r) {
  if (r->disposed && r->handles_open == 0 && r->collected) free(r);
}

static void on_handle_closed(uv_handle_t* h) {
  relay_t* r = (relay_t*)h->data;
  r->handles_open--;
  relay_maybe_free(r);
}

static void on_relay_collected(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  relay_t* r = (relay_t*)data;
  r->collected = 1;
  relay_maybe_free(r);
}

static napi_value throw_error(napi_env env, const char* code, const char* message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static relay_t* relay_arg(napi_env env, napi_value v) {
  void* data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    throw_error(env, "ERR_INVALID_ARG", "expected a relay handle");
    return NULL;
  }
  relay_t* r = (relay_t*)data;
  if (r->disposed) {
    throw_error(env, "ERR_RELAY_DISPOSED", "relay is disposed");
    return NULL;
  }
  return r;
}

#define ARGS(n)                                                       \
  size_t argc = n;                                                    \
  napi_value argv[n];                                                 \
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) \
    return NULL;

/** create(onAccept, onConnected, onFailed, onClosed) -> relay */
static napi_value js_create(napi_env env, napi_callback_info info) {
  ARGS(4);
  for (int i = 0; i < 4; i++) {
    napi_valuetype type;
    napi_typeof(env, argv[i], &type);
    if (type != napi_function) return throw_error(env, "ERR_INVALID_ARG", "create expects four functions");
  }
  relay_t* r = calloc(1, sizeof(relay_t));
  if (!r) return throw_error(env, "ERR_NO_MEMORY", "out of memory");
  r->backends = calloc(MAX_BACKENDS, sizeof(backend_t));
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (!r->backends || r->epfd < 0) {
    int e = errno;
    if (r->epfd >= 0) close(r->epfd);
    free(r->backends);
    free(r);
    return throw_error(env, uv_err_name(-e), strerror(e));
  }
  r->env = env;
  napi_get_uv_event_loop(env, &r->loop);
  uv_poll_init(r->loop, &r->poll, r->epfd);
  r->poll.data = r;
  uv_poll_start(&r->poll, UV_READABLE, on_epoll_ready);
  uv_timer_init(r->loop, &r->tick);
  r->tick.data = r;
  uv_unref((uv_handle_t*)&r->tick);  // deadlines alone do not keep the process alive
  r->handles_open = 2;
  napi_create_reference(env, argv[0], 1, &r->on_accept);
  napi_create_reference(env, argv[1], 1, &r->on_connected);
  napi_create_reference(env, argv[2], 1, &r->on_failed);
  napi_create_reference(env, argv[3], 1, &r->on_closed);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &r->resource);
  napi_create_string_utf8(env, "lncluster.relay", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &r->context);
  r->proxy_protocol = 1;
  r->idle_ms = 30000;
  r->connect_ms = 3000;
  napi_value out;
  napi_create_external(env, r, on_relay_collected, NULL, &out);
  return out;
}

/** configure(relay, proxyProtocol, tlvs: Uint8Array, idleMs, connectMs) */
static napi_value js_configure(napi_env env, napi_callback_info info) {
  ARGS(5);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  bool proxy = true;
  napi_get_value_bool(env, argv[1], &proxy);
  void* data = NULL;
  size_t length = 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) return throw_error(env, "ERR_INVALID_ARG", "tlvs must be a Uint8Array");
  if (length > MAX_TLV_BYTES) return throw_error(env, "ERR_INVALID_ARG", "tlvs longer than 1024 bytes");
  double idle = 0, connect = 0;
  napi_get_value_double(env, argv[3], &idle);
  napi_get_value_double(env, argv[4], &connect);
  if (!(idle >= 0) || !(connect > 0)) return throw_error(env, "ERR_INVALID_ARG", "timeouts must be positive");
  r->proxy_protocol = proxy;
  if (length > 0) memcpy(r->tlvs, data, length);
  r->tlv_len = length;
  r->idle_ms = (uint64_t)idle;
  r->connect_ms = (uint64_t)connect;
  return NULL;
}

/** setBackend(relay, slot, ip, port) -> boolean (false: not a numeric address); port 0 clears. */
static napi_value js_set_backend(napi_env env, napi_callback_info info) {
  ARGS(4);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  int32_t slot = -1, port = 0;
  napi_get_value_int32(env, argv[1], &slot);
  napi_get_value_int32(env, argv[3], &port);
  if (slot < 0 || slot >= MAX_BACKENDS) return throw_error(env, "ERR_INVALID_ARG", "backend slot out of range");
  char host[64] = "";
  size_t hl = 0;
  if (napi_get_value_string_latin1(env, argv[2], host, sizeof host, &hl) != napi_ok) return throw_error(env, "ERR_INVALID_ARG", "ip must be a string");
  backend_t* b = &r->backends[slot];
  napi_value out;
  b->valid = 0;
  if (port <= 0 || port > 65535) {
    napi_get_boolean(env, port == 0, &out);
    return out;
  }
  memset(&b->addr, 0, sizeof b->addr);
  if (uv_ip4_addr(host, port, (struct sockaddr_in*)&b->addr) == 0) {
    b->len = sizeof(struct sockaddr_in);
    b->valid = 1;
  } else if (uv_ip6_addr(host, port, (struct sockaddr_in6*)&b->addr) == 0) {
    b->len = sizeof(struct sockaddr_in6);
    b->valid = 1;
  }
  napi_get_boolean(env, b->valid, &out);
  return out;
}

/** listen(relay, host, port, backlog, reusePort) -> [id, boundHost, boundPort, family] */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(5);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  char host[64] = "";
  size_t hl = 0;
  int32_t port = 0, backlog = 511;
  bool reuse_port = false;
  napi_get_value_string_latin1(env, argv[1], host, sizeof host, &hl);
  napi_get_value_int32(env, argv[2], &port);
  napi_get_value_int32(env, argv[3], &backlog);
  napi_get_value_bool(env, argv[4], &reuse_port);
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  if (uv_ip4_addr(host, port, (struct sockaddr_in*)&addr) != 0 && uv_ip6_addr(host, port, (struct sockaddr_in6*)&addr) != 0) return throw_error(env, "EINVAL", "listen address must be a numeric IP");
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_error(env, uv_err_name(-errno), strerror(errno));
  int one = 1, zero = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);  // '::' is dual-stack
  // Accepted sockets inherit TCP_NODELAY from their listener on Linux: one call here instead of one
  // per client (Lightning messages are small and often several in a row; Nagle would hold them).
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  socklen_t alen = addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (struct sockaddr*)&addr, alen) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    return throw_error(env, uv_err_name(-e), strerror(e));
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  getsockname(fd, (struct sockaddr*)&bound, &blen);
  listener_t* l = calloc(1, sizeof(listener_t));
  int id = -1;
  for (int i = 0; i < r->listener_count; i++)
    if (!r->listeners[i]) id = i;
  if (l && id < 0) {
    listener_t** grown = realloc(r->listeners, (size_t)(r->listener_count + 1) * sizeof(listener_t*));
    if (grown) {
      r->listeners = grown;
      id = r->listener_count++;
    }
  }
  if (!l || id < 0) {
    free(l);
    close(fd);
    return throw_error(env, "ERR_NO_MEMORY", "out of memory");
  }
  l->fd = fd;
  to_in6(&bound, &l->local);
  static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
  int wildcard = bound.ss_family == AF_INET ? ((struct sockaddr_in*)&bound)->sin_addr.s_addr == htonl(INADDR_ANY) : memcmp(&((struct sockaddr_in6*)&bound)->sin6_addr, &any6, 16) == 0;
  l->fixed = !wildcard;
  // Level-triggered: a listener with connections left in its backlog is reported again.
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)id << 32) | LISTENER_ID};
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int e = errno;
    free(l);
    close(fd);
    return throw_error(env, uv_err_name(-e), strerror(e));
  }
  r->listeners[id] = l;
  char text[INET6_ADDRSTRLEN] = "";
  if (bound.ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in*)&bound)->sin_addr, text, sizeof text);
  else inet_ntop(AF_INET6, &((struct sockaddr_in6*)&bound)->sin6_addr, text, sizeof text);
  int bound_port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in*)&bound)->sin_port : ((struct sockaddr_in6*)&bound)->sin6_port);
  napi_value out, v;
  napi_create_array_with_length(env, 4, &out);
  napi_set_element(env, out, 0, num(env, id));
  napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, out, 1, v);
  napi_set_element(env, out, 2, num(env, bound_port));
  napi_create_string_latin1(env, bound.ss_family == AF_INET ? "IPv4" : "IPv6", NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, out, 3, v);
  return out;
}

static void close_listener(relay_t* r, int id) {
  listener_t* l = r->listeners[id];
  r->listeners[id] = NULL;
  close(l->fd);
  free(l);
}

/** closeListener(relay, id): stops accepting there; open connections stay. */
static napi_value js_close_listener(napi_env env, napi_callback_info info) {
  ARGS(2);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  int32_t id = -1;
  napi_get_value_int32(env, argv[1], &id);
  if (id >= 0 && id < r->listener_count && r->listeners[id]) close_listener(r, id);
  return NULL;
}

/** counters(relay) -> [bytesFromClients, bytesToClients, idleTimeouts, openConnections] */
static napi_value js_counters(napi_env env, napi_callback_info info) {
  ARGS(1);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  napi_value out;
  napi_create_array_with_length(env, 4, &out);
  napi_set_element(env, out, 0, num(env, r->bytes_from_clients));
  napi_set_element(env, out, 1, num(env, r->bytes_to_clients));
  napi_set_element(env, out, 2, num(env, r->idle_timeouts));
  napi_set_element(env, out, 3, num(env, r->open_connections));
  return out;
}

static void destroy_all(relay_t* r) {
  for (uint32_t i = 0; i < r->conn_capacity; i++)
    if (r->conns[i]) conn_close(r->conns[i]);
}

/** destroyAll(relay): cuts every open connection. */
static napi_value js_destroy_all(napi_env env, napi_callback_info info) {
  ARGS(1);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  destroy_all(r);
  reap(r);
  return NULL;
}

/** dispose(relay): closes listeners and connections; the relay cannot be used afterwards. */
static napi_value js_dispose(napi_env env, napi_callback_info info) {
  ARGS(1);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  for (int i = 0; i < r->listener_count; i++)
    if (r->listeners[i]) close_listener(r, i);
  destroy_all(r);
  reap(r);
  r->disposed = 1;
  uv_poll_stop(&r->poll);
  uv_close((uv_handle_t*)&r->poll, on_handle_closed);
  uv_close((uv_handle_t*)&r->tick, on_handle_closed);
  close(r->epfd);
  relay_release(r);
  napi_async_destroy(env, r->context);
  napi_delete_reference(env, r->on_accept);
  napi_delete_reference(env, r->on_connected);
  napi_delete_reference(env, r->on_failed);
  napi_delete_reference(env, r->on_closed);
  napi_delete_reference(env, r->resource);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"configure", NULL, js_configure, NULL, NULL, NULL, napi_default, NULL},
      {"setBackend", NULL, js_set_backend, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"closeListener", NULL, js_close_listener, NULL, NULL, NULL, napi_default, NULL},
      {"counters", NULL, js_counters, NULL, NULL, NULL, napi_default, NULL},
      {"destroyAll", NULL, js_destroy_all, NULL, NULL, NULL, napi_default, NULL},
      {"dispose", NULL, js_dispose, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
