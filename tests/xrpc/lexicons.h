// The lexicon code the XRPC tests run against: the generated atiproto library, plus the
// test-only com.example methods.
#ifndef ATIPAY_TESTS_XRPC_LEXICONS_H_
#define ATIPAY_TESTS_XRPC_LEXICONS_H_

#include "com/atiproto/payment/cart/clone.h"  // IWYU pragma: export
#include "com/atiproto/payment/cart/list.h"   // IWYU pragma: export
#include "com/atiproto/repo/item/count.h"     // IWYU pragma: export
#include "tests/xrpc/example_lexicons.h"      // IWYU pragma: export

#endif  // ATIPAY_TESTS_XRPC_LEXICONS_H_
