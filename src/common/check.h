#pragma once

// CN_CHECK(condition) << nothing: aborts with the location when an invariant is broken.
// Invariants crash; inputs return errors (absl::Status). Never use CN_CHECK on input data.

#include <cstdio>
#include <cstdlib>

#define CN_CHECK(condition)                                                                  \
  do {                                                                                       \
    if (!(condition)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)
