{
  "targets": [
    {
      "target_name": "lncluster_relay",
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "conditions": [
        # The relay is written to Linux (epoll, accept4, TCP_NODELAY inherited by accepted sockets).
        # Elsewhere nothing is built and the balancer forwards through net.Socket (data-path auto).
        ["OS=='linux'", { "sources": ["native/relay/relay.c"] }, { "type": "none" }]
      ]
    }
  ]
}
