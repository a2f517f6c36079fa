// Everything generated lexicon code needs from the runtime, in one include.
#ifndef ATIPAY_LEX_GENERATED_H_
#define ATIPAY_LEX_GENERATED_H_

// Bumped whenever the generated code's use of the runtime changes incompatibly.
#define ATIPAY_LEX_GENERATED_API 1

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "lex/box.h"
#include "lex/data_model.h"
#include "lex/method.h"
#include "lex/params.h"
#include "lex/path.h"
#include "lex/validate.h"

#endif  // ATIPAY_LEX_GENERATED_H_
