// The built-in balancer's native data path: accept, connect, PROXY v2 header, and byte forwarding
// with backpressure and half-close, on Node's own libuv loop (no thread, no locks).
//
// Policy stays in TypeScript (src/balancer/native-engine.ts): admission, the choice of front, health,
// retries and counters per front. This file calls into JS at most four times per connection:
// accepted (JS answers with a backend slot or refuses), connected, failed (JS answers with the next
// slot or gives up) and closed. Everything per byte happens here: a `net.Socket` pair costs about
// 100 µs of CPU per short connection in stream objects and events, which is what this replaces.
//
// Memory: a read buffer (64 KiB) is held only while its bytes wait for the other side to accept
// them; otherwise it goes back to a small pool. An idle Lightning peer costs the two uv_tcp_t, one
// timer and this file's bookkeeping, about 1 KiB.
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_SIZE 65536
#define POOL_KEEP 256
#define MAX_BACKENDS 4096
#define MAX_TLV_BYTES 1024
#define HEADER_FIXED 16

typedef struct relay relay_t;
typedef struct conn conn_t;

typedef struct side {
  uv_tcp_t tcp;
  conn_t* conn;
  int is_client;
  int reading;
  int read_eof;      // this socket sent us its end of stream
  int shut_started;  // we asked to end our writing on this socket
  int shut_done;
  int write_pending;
  char* held;        // the buffer a pending write still uses
  int held_malloc;   // held came from malloc, not the pool
  uv_write_t wreq;
  uv_shutdown_t sreq;
  uv_connect_t creq;
} side_t;

struct conn {
  relay_t* relay;
  uint32_t id;
  int slot;          // backend being tried or carrying the connection
  int admitted;      // JS accepted it: it gets exactly one `closed` call
  int connected;
  int closing;
  int handles;       // uv handles of this connection not yet closed
  side_t client;
  side_t* upstream;  // one per attempt; a failed attempt's side closes on its own
  uv_timer_t timer;
  uint64_t idle_deadline;     // 0 once the client sent a byte
  uint64_t connect_deadline;  // 0 when not connecting
  struct sockaddr_in6 src, dst;  // IPv4 stored IPv4-mapped
  int addresses_known;
};

typedef struct listener {
  uv_tcp_t tcp;
  relay_t* relay;
  int id;
  int fixed;         // bound to one address: the header's destination needs no getsockname
  struct sockaddr_in6 local;
  int open;
} listener_t;

typedef struct backend {
  int valid;
  struct sockaddr_storage addr;
} backend_t;

struct relay {
  napi_env env;
  uv_loop_t* loop;
  napi_ref on_accept, on_connected, on_failed, on_closed, resource;
  napi_async_context context;
  int proxy_protocol;
  uint8_t tlvs[MAX_TLV_BYTES];
  size_t tlv_len;
  uint64_t idle_ms, connect_ms;
  backend_t* backends;
  conn_t** conns;
  uint32_t conn_capacity;
  uint32_t* free_ids;
  uint32_t free_count;
  uint32_t next_id;
  listener_t** listeners;
  int listener_count;
  char* pool[POOL_KEEP];
  int pool_count;
  double bytes_from_clients, bytes_to_clients, idle_timeouts, open_connections;
  int handles;       // listeners and connections still open
  int disposed;
  int collected;     // JS dropped its handle: the struct itself may go
};

static const uint8_t SIGNATURE[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

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

static void release_held(relay_t* r, side_t* s) {
  if (!s->held) return;
  if (s->held_malloc) free(s->held);
  else pool_put(r, s->held);
  s->held = NULL;
  s->held_malloc = 0;
}

// ---------------------------------------------------------------------------------------------
// Calls into JS

static void relay_maybe_free(relay_t* r);
static void connect_failed(conn_t* c);

/** Calls one of the callbacks; an exception becomes an uncaught exception of the process. */
static int call_js(relay_t* r, napi_ref fn_ref, size_t argc, napi_value* argv, int32_t* result) {
  napi_env env = r->env;
  napi_value fn, recv, ret;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return -1;
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
  if (result) {
    if (napi_get_value_int32(env, ret, result) != napi_ok) *result = -1;
  }
  return 0;
}

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Connection lifetime

static void conn_free(conn_t* c) {
  relay_t* r = c->relay;
  release_held(r, &c->client);
  r->conns[c->id] = NULL;
  r->free_ids[r->free_count++] = c->id;
  if (c->admitted) r->open_connections--;
  free(c);
  r->handles--;
  relay_maybe_free(r);
}

static void on_conn_handle_closed(uv_handle_t* h) {
  conn_t* c = (conn_t*)h->data;
  if (--c->handles == 0) conn_free(c);
}

static void on_upstream_closed(uv_handle_t* h) {
  side_t* s = (side_t*)h->data;
  conn_t* c = s->conn;
  release_held(c->relay, s);
  free(s);
  if (--c->handles == 0) conn_free(c);
}

static void close_upstream(conn_t* c) {
  side_t* s = c->upstream;
  if (!s) return;
  c->upstream = NULL;
  uv_close((uv_handle_t*)&s->tcp, on_upstream_closed);
}

/** Ends the connection now (both sockets); JS hears `closed` once if it admitted it. */
static void conn_close(conn_t* c) {
  if (c->closing) return;
  c->closing = 1;
  relay_t* r = c->relay;
  if (c->admitted) {
    napi_handle_scope scope;
    napi_open_handle_scope(r->env, &scope);
    napi_value argv[2] = {num(r->env, c->id), num(r->env, c->connected ? c->slot : -1)};
    call_js(r, r->on_closed, 2, argv, NULL);
    napi_close_handle_scope(r->env, scope);
  }
  close_upstream(c);
  uv_close((uv_handle_t*)&c->client.tcp, on_conn_handle_closed);
  uv_close((uv_handle_t*)&c->timer, on_conn_handle_closed);
}

static void arm_timer(conn_t* c);

static void on_timer(uv_timer_t* t) {
  conn_t* c = (conn_t*)t->data;
  if (c->closing) return;
  uint64_t now = uv_now(c->relay->loop);
  if (c->idle_deadline && now >= c->idle_deadline) {
    c->relay->idle_timeouts++;
    conn_close(c);
    return;
  }
  if (c->connect_deadline && now >= c->connect_deadline) {
    c->connect_deadline = 0;
    close_upstream(c);
    connect_failed(c);
    if (c->closing) return;
  }
  arm_timer(c);
}

static void arm_timer(conn_t* c) {
  uint64_t next = 0;
  if (c->idle_deadline) next = c->idle_deadline;
  if (c->connect_deadline && (!next || c->connect_deadline < next)) next = c->connect_deadline;
  if (!next) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t now = uv_now(c->relay->loop);
  uv_timer_start(&c->timer, on_timer, next > now ? next - now : 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Forwarding

static side_t* other_side(side_t* s) {
  return s->is_client ? s->conn->upstream : &s->conn->client;
}

static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)suggested;
  side_t* s = (side_t*)h->data;
  char* b = pool_get(s->conn->relay);
  *buf = uv_buf_init(b, b ? BUFFER_SIZE : 0);
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);

static void start_reading(side_t* s) {
  if (s->reading || s->read_eof || s->conn->closing) return;
  if (uv_read_start((uv_stream_t*)&s->tcp, on_alloc, on_read) == 0) s->reading = 1;
}

static void stop_reading(side_t* s) {
  if (!s->reading) return;
  uv_read_stop((uv_stream_t*)&s->tcp);
  s->reading = 0;
}

/** Both directions have ended: nothing is left to forward. */
static void maybe_finished(conn_t* c) {
  side_t* u = c->upstream;
  if (u && c->client.read_eof && u->read_eof && c->client.shut_done && u->shut_done) conn_close(c);
}

static void on_write(uv_write_t* req, int status) {
  side_t* to = (side_t*)req->data;
  conn_t* c = to->conn;
  to->write_pending = 0;
  release_held(c->relay, to);
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  side_t* from = to->is_client ? c->upstream : &c->client;
  if (from) start_reading(from);
}

/** Writes `len` bytes of `b` to `to`; what the kernel does not take now keeps `b` until it does. */
static void forward(conn_t* c, side_t* from, side_t* to, char* b, size_t len, int b_malloc) {
  relay_t* r = c->relay;
  uv_buf_t out = uv_buf_init(b, (unsigned)len);
  int written = uv_try_write((uv_stream_t*)&to->tcp, &out, 1);
  if (written == (int)len) {
    if (b_malloc) free(b);
    else pool_put(r, b);
    return;
  }
  if (written < 0 && written != UV_EAGAIN) {
    if (b_malloc) free(b);
    else pool_put(r, b);
    conn_close(c);
    return;
  }
  if (written < 0) written = 0;
  to->held = b;
  to->held_malloc = b_malloc;
  to->write_pending = 1;
  to->wreq.data = to;
  out = uv_buf_init(b + written, (unsigned)(len - (size_t)written));
  if (uv_write(&to->wreq, (uv_stream_t*)&to->tcp, &out, 1, on_write) != 0) {
    to->write_pending = 0;
    release_held(r, to);
    conn_close(c);
    return;
  }
  if (from) stop_reading(from);
}

static void on_shutdown(uv_shutdown_t* req, int status) {
  side_t* s = (side_t*)req->data;
  conn_t* c = s->conn;
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  s->shut_done = 1;
  maybe_finished(c);
}

/**
 * Passes an end of stream on to `to`. When `to` has already sent its own end and every byte for
 * either socket has been handed to the kernel (the shutdown of `from` may still be queued), closing
 * both sockets sends the FINs the shutdowns would, without their system calls and callbacks: the
 * common case when a short connection ends from both sides. Nothing is unread on either socket (both
 * sent their end), so the close cannot turn into a reset.
 */
static void finish_writing(conn_t* c, side_t* to) {
  side_t* from = other_side(to);
  if (to->read_eof && !to->write_pending && from && from->shut_started && !from->write_pending) {
    conn_close(c);
    return;
  }
  if (to->shut_started) return;
  to->shut_started = 1;
  to->sreq.data = to;
  if (uv_shutdown(&to->sreq, (uv_stream_t*)&to->tcp, on_shutdown) != 0) conn_close(c);
}

static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  side_t* s = (side_t*)stream->data;
  conn_t* c = s->conn;
  relay_t* r = c->relay;
  if (nread <= 0) {
    pool_put(r, buf->base);
    if (nread == 0 || c->closing) return;
    if (nread != UV_EOF) {
      conn_close(c);
      return;
    }
    s->read_eof = 1;
    s->reading = 0;
    side_t* to = other_side(s);
    if (to) finish_writing(c, to);
    return;
  }
  if (s->is_client) {
    r->bytes_from_clients += (double)nread;
    c->idle_deadline = 0;
  } else {
    r->bytes_to_clients += (double)nread;
  }
  forward(c, s, other_side(s), buf->base, (size_t)nread, 0);
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

/** The header for `c` into `out` (room for HEADER_FIXED + 36 + MAX_TLV_BYTES); returns its length. */
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

static void connect_failed(conn_t* c) {
  relay_t* r = c->relay;
  if (c->closing) return;
  napi_handle_scope scope;
  napi_open_handle_scope(r->env, &scope);
  napi_value argv[2] = {num(r->env, c->id), num(r->env, c->slot)};
  int32_t next = -1;
  if (call_js(r, r->on_failed, 2, argv, &next) != 0) next = -1;
  napi_close_handle_scope(r->env, scope);
  if (c->closing) return;
  if (next < 0) conn_close(c);
  else start_connect(c, next);
}

static void upstream_connected(conn_t* c) {
  relay_t* r = c->relay;
  side_t* u = c->upstream;
  c->connected = 1;
  c->connect_deadline = 0;
  napi_handle_scope scope;
  napi_open_handle_scope(r->env, &scope);
  napi_value argv[2] = {num(r->env, c->id), num(r->env, c->slot)};
  call_js(r, r->on_connected, 2, argv, NULL);
  napi_close_handle_scope(r->env, scope);
  if (c->closing) return;
  uv_tcp_nodelay(&u->tcp, 1);
  // The client is read for the first time only now: whatever it sent while we connected (a BOLT 8
  // act one, usually) leaves together with the header in one write, and its socket enters epoll
  // once instead of being added, paused and modified around the connect.
  char* early = NULL;
  size_t early_len = 0;
  uv_os_fd_t fd;
  if (uv_fileno((uv_handle_t*)&c->client.tcp, &fd) == 0) {
    early = pool_get(r);
    ssize_t n = early ? recv(fd, early, BUFFER_SIZE, 0) : -1;
    if (!early) {
      // No buffer: the bytes stay in the socket for the first read.
    } else if (n > 0) {
      early_len = (size_t)n;
      c->idle_deadline = 0;
      r->bytes_from_clients += (double)n;
    } else {
      int e = n < 0 ? errno : 0;
      pool_put(r, early);
      early = NULL;
      if (n == 0) {
        c->client.read_eof = 1;
      } else if (e != EAGAIN && e != EWOULDBLOCK && e != EINTR) {
        conn_close(c);
        return;
      }
    }
  }
  uint8_t header[HEADER_FIXED + 36 + MAX_TLV_BYTES];
  size_t header_len = r->proxy_protocol ? build_header(c, header) : 0;
  size_t total = header_len + early_len;
  if (total > 0) {
    uv_buf_t parts[2] = {uv_buf_init((char*)header, (unsigned)header_len), uv_buf_init(early, (unsigned)early_len)};
    int written = uv_try_write((uv_stream_t*)&u->tcp, parts, early ? 2 : 1);
    if (written < 0 && written != UV_EAGAIN) {
      pool_put(r, early);
      conn_close(c);
      return;
    }
    if (written < 0) written = 0;
    if ((size_t)written < total) {
      // Rare (a full socket buffer right after connect): the rest waits in a copy of its own.
      size_t rest = total - (size_t)written;
      char* copy = malloc(rest);
      if (!copy) {
        pool_put(r, early);
        conn_close(c);
        return;
      }
      size_t at = 0;
      for (size_t i = (size_t)written; i < total; i++) copy[at++] = i < header_len ? (char)header[i] : early[i - header_len];
      pool_put(r, early);
      forward(c, &c->client, u, copy, rest, 1);
      if (c->closing) return;
    } else {
      pool_put(r, early);
    }
  }
  if (c->client.read_eof) finish_writing(c, u);
  else if (!u->write_pending) start_reading(&c->client);
}

static void on_connect(uv_connect_t* req, int status) {
  side_t* u = (side_t*)req->data;
  conn_t* c = u->conn;
  if (status == UV_ECANCELED || c->closing || c->upstream != u) return;
  if (status < 0) {
    c->connect_deadline = 0;
    close_upstream(c);
    connect_failed(c);
    return;
  }
  upstream_connected(c);
}

static void start_connect(conn_t* c, int slot) {
  relay_t* r = c->relay;
  c->slot = slot;
  if (slot < 0 || slot >= MAX_BACKENDS || !r->backends[slot].valid) {
    connect_failed(c);
    return;
  }
  side_t* u = calloc(1, sizeof(side_t));
  if (!u) {
    conn_close(c);
    return;
  }
  u->conn = c;
  uv_tcp_init(r->loop, &u->tcp);
  u->tcp.data = u;
  c->handles++;
  c->upstream = u;
  u->creq.data = u;
  int err = uv_tcp_connect(&u->creq, &u->tcp, (const struct sockaddr*)&r->backends[slot].addr, on_connect);
  if (err != 0) {
    close_upstream(c);
    connect_failed(c);
    return;
  }
  // Reading is asked for with the connect, so the socket enters epoll once for both events (libuv
  // runs the connect callback before any read; a read asked for after the connect would add it again).
  start_reading(u);
  c->connect_deadline = uv_now(r->loop) + r->connect_ms;
  arm_timer(c);
}

// ---------------------------------------------------------------------------------------------
// Accepting

static conn_t* conn_new(relay_t* r) {
  if (r->free_count == 0) {
    uint32_t grown = r->conn_capacity ? r->conn_capacity * 2 : 1024;
    conn_t** conns = realloc(r->conns, grown * sizeof(conn_t*));
    uint32_t* ids = realloc(r->free_ids, grown * sizeof(uint32_t));
    if (!conns || !ids) {
      if (conns) r->conns = conns;
      if (ids) r->free_ids = ids;
      return NULL;
    }
    r->conns = conns;
    r->free_ids = ids;
    for (uint32_t i = r->conn_capacity; i < grown; i++) r->conns[i] = NULL;
    // Low ids first: JS keeps per-connection state in an array indexed by id.
    for (uint32_t i = grown; i > r->conn_capacity; i--) r->free_ids[r->free_count++] = i - 1;
    r->conn_capacity = grown;
  }
  conn_t* c = calloc(1, sizeof(conn_t));
  if (!c) return NULL;
  c->id = r->free_ids[--r->free_count];
  r->conns[c->id] = c;
  c->relay = r;
  c->slot = -1;
  c->client.conn = c;
  c->client.is_client = 1;
  r->handles++;
  return c;
}

static void on_connection(uv_stream_t* server, int status) {
  listener_t* l = (listener_t*)server->data;
  relay_t* r = l->relay;
  if (status < 0) return;  // EMFILE and the like: libuv keeps the listener alive
  conn_t* c = conn_new(r);
  if (!c) return;
  uv_tcp_init(r->loop, &c->client.tcp);
  c->client.tcp.data = &c->client;
  uv_timer_init(r->loop, &c->timer);
  c->timer.data = c;
  c->handles = 2;
  if (uv_accept(server, (uv_stream_t*)&c->client.tcp) != 0) {
    conn_close(c);
    return;
  }
  struct sockaddr_storage peer;
  int len = sizeof peer;
  char address[INET6_ADDRSTRLEN] = "";
  int port = 0;
  if (uv_tcp_getpeername(&c->client.tcp, (struct sockaddr*)&peer, &len) == 0 && to_in6(&peer, &c->src) == 0) {
    if (l->fixed) {
      c->dst = l->local;
      c->addresses_known = 1;
    } else {
      struct sockaddr_storage local;
      len = sizeof local;
      if (uv_tcp_getsockname(&c->client.tcp, (struct sockaddr*)&local, &len) == 0 && to_in6(&local, &c->dst) == 0) c->addresses_known = 1;
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
  uv_tcp_nodelay(&c->client.tcp, 1);
  c->idle_deadline = r->idle_ms ? uv_now(r->loop) + r->idle_ms : 0;
  start_connect(c, slot);
}

// ---------------------------------------------------------------------------------------------
// Relay object and its JS API

/**
 * Frees what a disposed relay holds once libuv has closed its last handle. The struct itself stays
 * until JS drops its handle too, so a call on a disposed relay finds the `disposed` mark.
 */
static void relay_maybe_free(relay_t* r) {
  if (!r->disposed || r->handles > 0) return;
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
  if (r->collected) free(r);
}

static void on_relay_collected(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  relay_t* r = (relay_t*)data;
  r->collected = 1;
  if (r->disposed && r->handles == 0) free(r);
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
  if (!r->backends) {
    free(r);
    return throw_error(env, "ERR_NO_MEMORY", "out of memory");
  }
  r->env = env;
  napi_get_uv_event_loop(env, &r->loop);
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
  memcpy(r->tlvs, data, length);
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
  if (uv_ip4_addr(host, port, (struct sockaddr_in*)&b->addr) == 0 || uv_ip6_addr(host, port, (struct sockaddr_in6*)&b->addr) == 0) b->valid = 1;
  napi_get_boolean(env, b->valid, &out);
  return out;
}

static void on_listener_closed(uv_handle_t* h) {
  listener_t* l = (listener_t*)h->data;
  relay_t* r = l->relay;
  free(l);
  r->handles--;
  relay_maybe_free(r);
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
  socklen_t alen = addr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (struct sockaddr*)&addr, alen) != 0 || listen(fd, backlog) != 0) {
    int e = errno;
    close(fd);
    return throw_error(env, uv_err_name(-e), strerror(e));
  }
  listener_t* l = calloc(1, sizeof(listener_t));
  if (!l) {
    close(fd);
    return throw_error(env, "ERR_NO_MEMORY", "out of memory");
  }
  l->relay = r;
  uv_tcp_init(r->loop, &l->tcp);
  l->tcp.data = l;
  r->handles++;
  int err = uv_tcp_open(&l->tcp, fd);
  if (err == 0) err = uv_listen((uv_stream_t*)&l->tcp, backlog, on_connection);
  if (err != 0) {
    uv_close((uv_handle_t*)&l->tcp, on_listener_closed);
    return throw_error(env, uv_err_name(err), uv_strerror(err));
  }
  struct sockaddr_storage bound;
  int blen = sizeof bound;
  uv_tcp_getsockname(&l->tcp, (struct sockaddr*)&bound, &blen);
  to_in6(&bound, &l->local);
  static const struct in6_addr any6 = IN6ADDR_ANY_INIT;
  int wildcard = bound.ss_family == AF_INET ? ((struct sockaddr_in*)&bound)->sin_addr.s_addr == htonl(INADDR_ANY) : memcmp(&((struct sockaddr_in6*)&bound)->sin6_addr, &any6, 16) == 0;
  l->fixed = !wildcard;
  l->open = 1;
  // Find a free id (listeners are few: a linear search is fine).
  int id = -1;
  for (int i = 0; i < r->listener_count; i++)
    if (!r->listeners[i]) id = i;
  if (id < 0) {
    listener_t** grown = realloc(r->listeners, (size_t)(r->listener_count + 1) * sizeof(listener_t*));
    if (!grown) {
      uv_close((uv_handle_t*)&l->tcp, on_listener_closed);
      return throw_error(env, "ERR_NO_MEMORY", "out of memory");
    }
    r->listeners = grown;
    id = r->listener_count++;
  }
  r->listeners[id] = l;
  l->id = id;
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

/** closeListener(relay, id): stops accepting there; open connections stay. */
static napi_value js_close_listener(napi_env env, napi_callback_info info) {
  ARGS(2);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  int32_t id = -1;
  napi_get_value_int32(env, argv[1], &id);
  if (id < 0 || id >= r->listener_count || !r->listeners[id]) return NULL;
  listener_t* l = r->listeners[id];
  r->listeners[id] = NULL;
  uv_close((uv_handle_t*)&l->tcp, on_listener_closed);
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

/** destroyAll(relay): cuts every open connection. */
static napi_value js_destroy_all(napi_env env, napi_callback_info info) {
  ARGS(1);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  for (uint32_t i = 0; i < r->conn_capacity; i++)
    if (r->conns[i]) conn_close(r->conns[i]);
  return NULL;
}

/** dispose(relay): closes listeners and connections; memory goes once libuv has closed them. */
static napi_value js_dispose(napi_env env, napi_callback_info info) {
  ARGS(1);
  relay_t* r = relay_arg(env, argv[0]);
  if (!r) return NULL;
  for (int i = 0; i < r->listener_count; i++) {
    if (!r->listeners[i]) continue;
    uv_close((uv_handle_t*)&r->listeners[i]->tcp, on_listener_closed);
    r->listeners[i] = NULL;
  }
  for (uint32_t i = 0; i < r->conn_capacity; i++)
    if (r->conns[i]) conn_close(r->conns[i]);
  r->disposed = 1;
  napi_async_destroy(env, r->context);
  napi_delete_reference(env, r->on_accept);
  napi_delete_reference(env, r->on_connected);
  napi_delete_reference(env, r->on_failed);
  napi_delete_reference(env, r->on_closed);
  napi_delete_reference(env, r->resource);
  relay_maybe_free(r);
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
