// The single translation unit that compiles Asio and Beast (separate compilation), so no other
// file pays for their definitions.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
