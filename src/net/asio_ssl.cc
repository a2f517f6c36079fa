// Asio's TLS part, for the clients that speak HTTPS (DID resolution, the agent's PDS sessions).
// Its own file, so that a program that never uses TLS does not link it.
#include <boost/asio/ssl/impl/src.hpp>
