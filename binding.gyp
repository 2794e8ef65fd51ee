{
  "targets": [
    {
      "target_name": "lncluster_relay",
      "sources": ["native/relay/relay.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
