#include "shim_common.h"

#include <cstring>

namespace {
thread_local std::string last_error;
}

void entrupy::set_last_error(const std::string& message) { last_error = message; }

// Copies the calling thread's last error (UTF-8, NUL-terminated) into buf; returns its full length.
ENTRUPY_API int entrupy_last_error(char* buf, int capacity) {
  int n = static_cast<int>(last_error.size());
  if (buf && capacity > 0) {
    int c = n < capacity - 1 ? n : capacity - 1;
    std::memcpy(buf, last_error.data(), c);
    buf[c] = '\0';
  }
  return n;
}
