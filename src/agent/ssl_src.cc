// Asio's TLS part, compiled once for the separately compiled Asio of atipay_xrpc (whose
// src/xrpc/src.cc compiles the rest). If src.cc ever compiles the TLS sources too, drop this.
#include <boost/asio/ssl/impl/src.hpp>
