// The lexicon code the XRPC tests run against: the generated library (atipay_lexicons) when it
// is built, otherwise the hand-written stand-ins; plus the test-only com.example methods.
#ifndef ATIPAY_TESTS_XRPC_LEXICONS_H_
#define ATIPAY_TESTS_XRPC_LEXICONS_H_

#include "tests/xrpc/fake_lexicons.h"  // IWYU pragma: export

#ifdef ATIPAY_XRPC_GENERATED_LEXICONS
#include "com/atiproto/payment/cart/clone.h"  // IWYU pragma: export
#include "com/atiproto/payment/cart/list.h"   // IWYU pragma: export
#include "com/atiproto/repo/item/count.h"     // IWYU pragma: export
#endif

namespace atipay::testing {
#ifdef ATIPAY_XRPC_GENERATED_LEXICONS
inline constexpr bool kGeneratedLexicons = true;
#else
inline constexpr bool kGeneratedLexicons = false;
#endif
}  // namespace atipay::testing

#endif  // ATIPAY_TESTS_XRPC_LEXICONS_H_
