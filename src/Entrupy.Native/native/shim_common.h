// Shared helpers for the C ABI: every exported function returns 0 on success or -1 with a message
// retrievable by entrupy_last_error() on the same thread; no C++ exception ever crosses the boundary.
#pragma once
#include <string>

#define ENTRUPY_API extern "C" __attribute__((visibility("default")))

namespace entrupy {
void set_last_error(const std::string& message);
}

// Runs body; converts any C++ exception into -1 plus a thread-local message.
#define ENTRUPY_GUARD(body)                                          \
  try {                                                              \
    body;                                                            \
    return 0;                                                        \
  } catch (const std::exception& e) {                                \
    entrupy::set_last_error(e.what());                               \
    return -1;                                                       \
  } catch (...) {                                                    \
    entrupy::set_last_error("unknown native error");                 \
    return -1;                                                       \
  }
