#pragma once

// Test-only assertions about verification results, shared by the SGX and TDX verifier tests.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "absl/strings/string_view.h"
#include "src/dcap/verifier.h"

namespace cn::dcap {

// `result` is a rejection with `code` whose message contains `message_part`.
inline void ExpectRejected(const VerificationResult& result, ErrorCode code,
                           absl::string_view message_part = "") {
  ASSERT_FALSE(result.verified()) << "verified with status "
                                  << TcbStatusName(result.verdict().tcb_status);
  EXPECT_EQ(ErrorCodeName(result.rejection().code), ErrorCodeName(code))
      << result.rejection().message;
  EXPECT_THAT(result.rejection().message, ::testing::HasSubstr(std::string(message_part)));
}

}  // namespace cn::dcap
