#pragma once

// Early-return helpers for absl::Status / absl::StatusOr, the project's error vocabulary.
//
//   RETURN_IF_ERROR(DoThing());
//   ASSIGN_OR_RETURN(Quote quote, ParseQuote(bytes));
//
// Both evaluate their argument exactly once and return the error unchanged.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define CN_STATUS_CONCAT_INNER(a, b) a##b
#define CN_STATUS_CONCAT(a, b) CN_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                                   \
  do {                                                          \
    if (::absl::Status cn_status_ = (expr); !cn_status_.ok()) { \
      return cn_status_;                                        \
    }                                                           \
  } while (false)

#define CN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) {                               \
    return std::move(tmp).status();              \
  }                                              \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  CN_ASSIGN_OR_RETURN_IMPL(CN_STATUS_CONCAT(cn_statusor_, __LINE__), lhs, expr)
